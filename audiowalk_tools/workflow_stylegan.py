"""The shipped template "AudioWalk StyleGAN music video": song -> features -> StyleGAN Latents (your model) ->
Render in Chunks -> StyleGAN Generate -> Save Music Video. Registered in workflow_builder.WORKFLOWS."""
from __future__ import annotations

from audiowalk_core.chunks import DEFAULT_CHUNK_FRAMES, RENDER_WHOLE_SONG

from .workflow_layout import CHUNK_TEXT_ROOM, ENGINE_TOP, GROUP_TITLE, NODE_TITLE, VIDEO_ROOM, group, socket_y
from . import workflow_parts as wb
from .workflow_tools import GraphNode

STYLEGAN_UI_NAME = "AudioWalk StyleGAN music video.json"
STYLEGAN_API_NAME = "audiowalk_stylegan.json"
(LOAD_AUDIO, FEATURES, LOAD_STYLEGAN, LATENTS, CHUNKS, GENERATE, SAVE) = (1, 2, 31, 32, 7, 33, 10)
STYLEGAN_LATENT_VALUES = {"seed": 0, "truncation": 0.7, "walk_mode": "improved", "coarse_feature": "bass",
                          "coarse_strength": 1.0, "middle_feature": "mids", "middle_strength": 0.7,
                          "fine_feature": "highs", "fine_strength": 0.5, "noise_feature": "percussive",
                          "noise_base": 0.3, "noise_gain": 1.0, "classes": "0", "class_mode": "interpolate"}


def stylegan_workflow():
    """``(nodes, notes, groups)`` of the StyleGAN template.

    Deck: Read me over Load Song | Load StyleGAN over Render in Chunks | Save Music Video (its video grows below it,
    left of the minimap) | StyleGAN Latents (what the music moves). Engine room: Audio Features, StyleGAN Generate.
    The latents come back to Render in Chunks down the right margin and along the corridor; the model and the
    features reach StyleGAN Latents along the band below Save Music Video's video."""

    top, low, engine = GROUP_TITLE + NODE_TITLE, 455, ENGINE_TOP + GROUP_TITLE + NODE_TITLE
    c1, c2, c3 = 360, 720, 1030
    lane, band = ENGINE_TOP - 60, ENGINE_TOP - 85  # the corridor; the band below the deck's video
    model_trunk = [(672, socket_y(top, 0)), (672, band)]
    nodes = [
        GraphNode(LOAD_AUDIO, "AudioWalkLoadAudio", (0, low), wb.SIZES[wb.LOAD_AUDIO], title="Load Song",
                  values={"audio": wb.SONG, "start_seconds": 0.0, "duration_seconds": 0.0}),
        GraphNode(FEATURES, "AudioWalkAudioFeatures", (c1, engine), wb.SIZES[wb.FEATURES], title="Audio Features",
                  values=dict(wb.PIPELINE_VALUES["AudioWalkAudioFeatures"]), links={"audio": (LOAD_AUDIO, 0)}),
        GraphNode(LOAD_STYLEGAN, "AudioWalkLoadStyleGAN", (c1, top), (300, 160), title="Load StyleGAN",
                  values={"dtype": "auto", "device": "auto", "noise_mode": "random"}),
        GraphNode(LATENTS, "AudioWalkStyleGANLatents", (c3, top), (245, 440), title="StyleGAN Latents",
                  values=dict(STYLEGAN_LATENT_VALUES),
                  links={"model": (LOAD_STYLEGAN, 0), "features": (FEATURES, 0)},
                  routes={"model": model_trunk + [(1000, band), (1000, socket_y(top, 0) + 16)],
                          "features": [(690, socket_y(engine, 0)), (690, band + 12), (1010, band + 12),
                                       (1010, socket_y(top, 1) + 16)]}),
        GraphNode(CHUNKS, "AudioWalkRenderChunks", (c1, low), (280, 190), title="Render in Chunks",
                  values={"chunk_frames": DEFAULT_CHUNK_FRAMES, "render": RENDER_WHOLE_SONG, "chunk_index": 0},
                  links={"latents": (LATENTS, 0), "audio": (LOAD_AUDIO, 0)},
                  routes={"latents": [(c3 + 270, socket_y(top, 0)), (c3 + 270, lane), (330, lane),
                                      (330, low + 30)]}),
        GraphNode(GENERATE, "AudioWalkStyleGANGenerate", (c2, engine), (260, 190), title="StyleGAN Generate",
                  values={"start_frame": 0, "frame_count": 0, "batch_size": 8},
                  links={"model": (LOAD_STYLEGAN, 0), "latents": (CHUNKS, 0)},
                  routes={"model": model_trunk + [(672, socket_y(engine, 0))],
                          "latents": [(684, socket_y(low, 0)), (684, socket_y(engine, 1))]}),
        GraphNode(SAVE, "AudioWalkSaveVideo", (c2, top), (270, 330), title="Save Music Video",
                  values={"filename_prefix": "AudioWalk/stylegan", "crf": 18},
                  links={"images": (GENERATE, 0), "chunk": (CHUNKS, 1)},
                  routes={"images": [(1005, socket_y(engine, 0)), (1005, lane + 20), (708, lane + 20),
                                     (708, socket_y(top, 0) + 16)],
                          "chunk": [(696, socket_y(low, 1)), (696, socket_y(top, 1) + 16)]}),
    ]
    groups = [group("1  Your song", "song", 0, low - NODE_TITLE, 300, low + 185),
              group("2  Your StyleGAN", "biggan", c1, top - NODE_TITLE, c1 + 300, low + 190 + CHUNK_TEXT_ROOM),
              group("3  Video", "video", c2, top - NODE_TITLE, c2 + 270, top + VIDEO_ROOM),
              group("4  The music moves it", "walk", c3, top - NODE_TITLE, c3 + 245, top + 440),
              group("5  Features and frames", "biggan", c1, engine - NODE_TITLE, c2 + 260, engine + 345)]
    note = wb.read_me("## AudioWalk: StyleGAN music video\n"
                      "Put your StyleGAN2 / StyleGAN3 model in `models/stylegan` (an NVlabs `.pkl`, a rosinality "
                      "`.pt` or a `.safetensors` from `audiowalk convert-stylegan`), pick it in **Load StyleGAN** "
                      "and press **Run**: the demo song becomes an mp4 in `output/AudioWalk/`. Nothing inside a "
                      "pickle is run.\n\n"
                      "**StyleGAN Latents**: bass moves the coarse layers (pose), mids the middle, highs the fine "
                      "ones (texture); drum hits raise the noise inputs.")
    return nodes, [note], groups
