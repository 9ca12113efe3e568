"""The pieces the shipped templates share: the node ids of the BigGAN graphs, the walk's widget values (from the one
pipeline definition), node sizes, and the nodes every BigGAN-style template places (song, features, walk, chunks,
generator, Save Music Video, the Read me). The templates are described one module each (workflow_biggan.py,
workflow_img2img.py, workflow_sd_walk.py, workflow_stylegan.py, workflow_music_map.py) and registered in
workflow_builder.WORKFLOWS, which builds them."""
from __future__ import annotations

from audiowalk_core.audio import BUNDLED_DEMO_SONG
from audiowalk_core.chunks import DEFAULT_CHUNK_FRAMES, RENDER_WHOLE_SONG
from audiowalk_core.pipeline import DEFAULT_PIPELINE

from .workflow_layout import NODE_TITLE
from .workflow_tools import GraphNode, GraphNote

# The walk's widget values come from the one pipeline definition (audiowalk_core.pipeline.DEFAULT_PIPELINE, what
# `audiowalk render` runs): the seed project's README values (truncation 0.7, extra_detail 0.9, max_frequency_level
# 11000 Hz, low_frequency_skip 16 Hz, frequency_band_growth_rate 1.01, smoothing_factor 0.1, iterations 1, labels
# teapot | bubble | mushroom). SD img2img: the seed's steps 10, guidance 7.5, strength 0.5, seed 42,
# interpolation_steps 3.
PIPELINE_VALUES = DEFAULT_PIPELINE.node_values()
SONG = BUNDLED_DEMO_SONG.name
SD_CHECKPOINT = "v1-5-pruned-emaonly.safetensors"
# The templates open at 1.2 on their deck (the nodes a user must touch); the plumbing sits in the engine room below
# and the links between them run in lanes: audiowalk_tools/workflow_layout.py. Checked in the real frontend by
# tests/integration/test_first_meeting.py.

# node ids shared by the BigGAN graphs
(LOAD_AUDIO, FEATURES, NOISE, CLASSES, MAKE_LATENTS, SMOOTH, CHUNKS, LOAD_BIGGAN, GENERATE, SAVE) = range(1, 11)


# Sizes of the nodes the templates share (canvas px; the builder raises a height to what the widgets need)
SIZES = {LOAD_AUDIO: (300, 170), FEATURES: (280, 290), NOISE: (280, 290), CLASSES: (280, 180),
         MAKE_LATENTS: (220, 100), SMOOTH: (260, 210), CHUNKS: (280, 190), LOAD_BIGGAN: (280, 150),
         GENERATE: (260, 200), SAVE: (270, 330)}


def walk_nodes(at: dict, routes: dict | None = None) -> list[GraphNode]:
    """Song -> features -> band noise walk + class schedule -> latents -> smoothing -> Render in Chunks, and Load
    BigGAN, placed at ``at[node id]``; ``routes``: {(node id, input): reroute points}."""
    routes = routes or {}

    def node(node_id, class_type, title, values=None, links=None):
        return GraphNode(node_id, class_type, at[node_id], SIZES[node_id], title=title, values=values or {},
                         links=links or {}, routes={name: points for (target, name), points in routes.items()
                                                    if target == node_id})

    return [
        node(LOAD_AUDIO, "AudioWalkLoadAudio", "Load Song",
             {"audio": SONG, "start_seconds": 0.0, "duration_seconds": 0.0}),
        node(FEATURES, "AudioWalkAudioFeatures", "Audio Features", dict(PIPELINE_VALUES["AudioWalkAudioFeatures"]),
             {"audio": (LOAD_AUDIO, 0)}),
        node(NOISE, "AudioWalkBandNoiseWalk", "Band Noise Walk", dict(PIPELINE_VALUES["AudioWalkBandNoiseWalk"]),
             {"features": (FEATURES, 0)}),
        node(CLASSES, "AudioWalkClassSchedule", "Class Schedule", dict(PIPELINE_VALUES["AudioWalkClassSchedule"]),
             {"features": (FEATURES, 0)}),
        node(MAKE_LATENTS, "AudioWalkMakeLatents", "Make Latents", links={"noise": (NOISE, 0),
                                                                          "classes": (CLASSES, 0)}),
        node(SMOOTH, "AudioWalkSmoothLatents", "Smooth Latents", dict(PIPELINE_VALUES["AudioWalkSmoothLatents"]),
             {"latents": (MAKE_LATENTS, 0)}),
        node(CHUNKS, "AudioWalkRenderChunks", "Render in Chunks",
             {"chunk_frames": DEFAULT_CHUNK_FRAMES, "render": RENDER_WHOLE_SONG, "chunk_index": 0},
             {"latents": (SMOOTH, 0), "audio": (LOAD_AUDIO, 0)}),
        node(LOAD_BIGGAN, "AudioWalkLoadBigGAN", "Load BigGAN", {"model_name": "biggan-deep-128"}),
    ]


def generate_node(at, latents: tuple, routes: dict | None = None) -> GraphNode:
    return GraphNode(GENERATE, "AudioWalkBigGANGenerate", at, SIZES[GENERATE], title="BigGAN Generate",
                     values={"start_frame": 0, "frame_count": 0, "batch_size": 8},
                     links={"model": (LOAD_BIGGAN, 0), "latents": latents}, routes=routes or {})


def save_node(at, images: tuple, prefix: str, routes: dict | None = None, size=None) -> GraphNode:
    return GraphNode(SAVE, "AudioWalkSaveVideo", at, size or SIZES[SAVE], title="Save Music Video",
                     values={"filename_prefix": prefix, "crf": 18},
                     links={"images": images, "chunk": (CHUNKS, 1)}, routes=routes or {})


def read_me(text: str, height: int = 260, width: int = 300) -> GraphNote:
    """The template's note, top-left of the deck (its title bar at the canvas origin)."""
    return GraphNote(30, text, (0, NODE_TITLE), (width, height), title="Read me")
