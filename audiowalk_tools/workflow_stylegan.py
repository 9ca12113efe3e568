"""The shipped template "AudioWalk StyleGAN music video": song -> features -> StyleGAN Latents (your model) ->
Render in Chunks -> StyleGAN Generate -> Save Music Video. Registered in workflow_builder.WORKFLOWS."""
from __future__ import annotations

from audiowalk_core.chunks import DEFAULT_CHUNK_FRAMES, RENDER_WHOLE_SONG

from .workflow_tools import GraphNode

(LOAD_AUDIO, FEATURES, LOAD_STYLEGAN, LATENTS, CHUNKS, GENERATE, SAVE) = (1, 2, 31, 32, 7, 33, 10)
STYLEGAN_LATENT_VALUES = {"seed": 0, "truncation": 0.7, "walk_mode": "improved", "coarse_feature": "bass",
                          "coarse_strength": 1.0, "middle_feature": "mids", "middle_strength": 0.7,
                          "fine_feature": "highs", "fine_strength": 0.5, "noise_feature": "percussive",
                          "noise_base": 0.3, "noise_gain": 1.0, "classes": "0", "class_mode": "interpolate"}


def stylegan_workflow():
    """``(nodes, notes, groups)`` of the StyleGAN template (the builder's helpers lay it out)."""
    from . import workflow_builder as wb

    chunks_y = 560
    x = wb._x
    nodes = [
        GraphNode(LOAD_AUDIO, "AudioWalkLoadAudio", (0, chunks_y + wb.SLOT), (wb.WIDE, 160), title="Load Song",
                  values={"audio": wb.SONG, "start_seconds": 0.0, "duration_seconds": 0.0}),
        GraphNode(FEATURES, "AudioWalkAudioFeatures", (x(1), 0), (wb.WIDE, 280), title="Audio Features",
                  values=dict(wb.PIPELINE_VALUES["AudioWalkAudioFeatures"]), links={"audio": (LOAD_AUDIO, 0)}),
        GraphNode(LOAD_STYLEGAN, "AudioWalkLoadStyleGAN", (x(2), 0), (wb.WIDE, 160), title="Load StyleGAN",
                  values={"dtype": "auto", "device": "auto", "noise_mode": "random"}),
        GraphNode(LATENTS, "AudioWalkStyleGANLatents", (x(3), 0), (wb.WIDE, 440), title="StyleGAN Latents",
                  values=dict(STYLEGAN_LATENT_VALUES),
                  links={"model": (LOAD_STYLEGAN, 0), "features": (FEATURES, 0)}),
        GraphNode(CHUNKS, "AudioWalkRenderChunks", (x(4), chunks_y), (wb.WIDE, 170), title="Render in Chunks",
                  values={"chunk_frames": DEFAULT_CHUNK_FRAMES, "render": RENDER_WHOLE_SONG, "chunk_index": 0},
                  links={"latents": (LATENTS, 0), "audio": (LOAD_AUDIO, 0)}),
        GraphNode(GENERATE, "AudioWalkStyleGANGenerate", (x(5), 0), (wb.WIDE, 190), title="StyleGAN Generate",
                  values={"start_frame": 0, "frame_count": 0, "batch_size": 8},
                  links={"model": (LOAD_STYLEGAN, 0), "latents": (CHUNKS, 0)}),
        GraphNode(SAVE, "AudioWalkSaveVideo", (x(6), chunks_y), (300, 330), title="Save Music Video",
                  values={"filename_prefix": "AudioWalk/stylegan", "crf": 18},
                  links={"images": (GENERATE, 0), "chunk": (CHUNKS, 1)}),
    ]
    groups = [wb._group("1  Song and its features", "song", 0, 0, x(1) + wb.WIDE, chunks_y + 200),
              wb._group("2  Your StyleGAN, walked by the music", "walk", x(2), 0, x(3) + wb.WIDE, 500),
              wb._group("3  StyleGAN, one chunk at a time", "biggan", x(4), 0, x(5) + wb.WIDE, chunks_y + 180),
              wb._group("4  Video with the music", "video", x(6), chunks_y, x(6) + 300, chunks_y + 400)]
    note = wb._note("## AudioWalk: StyleGAN music video\n"
                    "Put your StyleGAN2 / StyleGAN3 model in `models/stylegan` (an NVlabs `.pkl` snapshot, a "
                    "rosinality `.pt`, or a `.safetensors` from `audiowalk convert-stylegan`), pick it in **Load "
                    "StyleGAN** and press **Run**: the bundled demo song becomes an mp4 in `output/AudioWalk/`.\n\n"
                    "Nothing inside a pickle is run: the loader reads tensors and plain records only.\n\n"
                    "Bass moves the coarse layers (pose), mids the middle ones, highs the fine ones (texture); "
                    "percussive hits raise the noise inputs. One Run renders the whole song in chunks.\n\n"
                    "Headless: `audiowalk comfy-run audiowalk_stylegan --audio song.mp3 -o out.mp4`.", 500)
    return nodes, [note], groups
