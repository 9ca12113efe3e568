"""The shipped template "AudioWalk StyleGAN music video": song -> features -> StyleGAN Latents (your model) ->
Render in Chunks -> StyleGAN Generate -> Save Music Video. Registered in workflow_builder.WORKFLOWS."""
from __future__ import annotations

from audiowalk_core.chunks import DEFAULT_CHUNK_FRAMES, RENDER_WHOLE_SONG

from .workflow_layout import ENGINE_TOP, GROUP_TITLE, NODE_TITLE, group, socket_y
from .workflow_tools import GraphNode

(LOAD_AUDIO, FEATURES, LOAD_STYLEGAN, LATENTS, CHUNKS, GENERATE, SAVE) = (1, 2, 31, 32, 7, 33, 10)
STYLEGAN_LATENT_VALUES = {"seed": 0, "truncation": 0.7, "walk_mode": "improved", "coarse_feature": "bass",
                          "coarse_strength": 1.0, "middle_feature": "mids", "middle_strength": 0.7,
                          "fine_feature": "highs", "fine_strength": 0.5, "noise_feature": "percussive",
                          "noise_base": 0.3, "noise_gain": 1.0, "classes": "0", "class_mode": "interpolate"}


def stylegan_workflow():
    """``(nodes, notes, groups)`` of the StyleGAN template.

    Deck: Read me over Load Song | Load StyleGAN over Render in Chunks | StyleGAN Generate | Save Music Video.
    Engine room: Audio Features -> StyleGAN Latents, whose latents come back up to Render in Chunks along the
    corridor (the BigGAN template's lanes); the model reaches StyleGAN Latents down the gap after Load StyleGAN."""
    from . import workflow_builder as wb

    top, low, engine = GROUP_TITLE + NODE_TITLE, 455, ENGINE_TOP + GROUP_TITLE + NODE_TITLE
    lane = ENGINE_TOP - 60
    nodes = [
        GraphNode(LOAD_AUDIO, "AudioWalkLoadAudio", (0, low), wb.SIZES[wb.LOAD_AUDIO], title="Load Song",
                  values={"audio": wb.SONG, "start_seconds": 0.0, "duration_seconds": 0.0}),
        GraphNode(FEATURES, "AudioWalkAudioFeatures", (360, engine), wb.SIZES[wb.FEATURES], title="Audio Features",
                  values=dict(wb.PIPELINE_VALUES["AudioWalkAudioFeatures"]), links={"audio": (LOAD_AUDIO, 0)}),
        GraphNode(LOAD_STYLEGAN, "AudioWalkLoadStyleGAN", (360, top), (300, 160), title="Load StyleGAN",
                  values={"dtype": "auto", "device": "auto", "noise_mode": "random"}),
        GraphNode(LATENTS, "AudioWalkStyleGANLatents", (720, engine), (280, 440), title="StyleGAN Latents",
                  values=dict(STYLEGAN_LATENT_VALUES),
                  links={"model": (LOAD_STYLEGAN, 0), "features": (FEATURES, 0)},
                  routes={"model": [(675, top + 60), (675, ENGINE_TOP - 25)]}),
        GraphNode(CHUNKS, "AudioWalkRenderChunks", (360, low), wb.SIZES[wb.CHUNKS], title="Render in Chunks",
                  values={"chunk_frames": DEFAULT_CHUNK_FRAMES, "render": RENDER_WHOLE_SONG, "chunk_index": 0},
                  links={"latents": (LATENTS, 0), "audio": (LOAD_AUDIO, 0)},
                  routes={"latents": [(1020, lane + 20), (330, lane + 20), (330, low + 30)]}),
        GraphNode(GENERATE, "AudioWalkStyleGANGenerate", (720, top), (260, 190), title="StyleGAN Generate",
                  values={"start_frame": 0, "frame_count": 0, "batch_size": 8},
                  links={"model": (LOAD_STYLEGAN, 0), "latents": (CHUNKS, 0)},
                  routes={"latents": [(700, 300)]}),
        GraphNode(SAVE, "AudioWalkSaveVideo", (1010, top), (260, 330), title="Save Music Video",
                  values={"filename_prefix": "AudioWalk/stylegan", "crf": 18},
                  links={"images": (GENERATE, 0), "chunk": (CHUNKS, 1)},
                  routes={"chunk": [(995, socket_y(low, 1)), (995, socket_y(top, 1) + 40)]}),
    ]
    groups = [group("1  Your song", "song", 0, low - NODE_TITLE, 300, low + 170),
              group("2  Your StyleGAN renders it chunk by chunk", "biggan", 360, top - NODE_TITLE, 980, low + 190),
              group("3  Video with the music", "video", 1010, top - NODE_TITLE, 1270, top + 330),
              group("4  The music moves your StyleGAN", "walk", 360, engine - NODE_TITLE, 1000, engine + 440)]
    note = wb.read_me("## AudioWalk: StyleGAN music video\n"
                      "Put your StyleGAN2 / StyleGAN3 model in `models/stylegan` (an NVlabs `.pkl`, a rosinality "
                      "`.pt` or a `.safetensors` from `audiowalk convert-stylegan`), pick it in **Load StyleGAN** "
                      "and press **Run**: the demo song becomes an mp4 in `output/AudioWalk/`. Nothing inside a "
                      "pickle is run.\n\n"
                      "Below, **StyleGAN Latents**: bass moves the coarse layers (pose), mids the middle, highs the "
                      "fine ones (texture); drum hits raise the noise inputs.")
    return nodes, [note], groups
