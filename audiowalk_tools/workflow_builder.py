"""Generate the shipped workflows (workflows/*.json, UI format, and workflows/api/*.json) from one description.

    .venv/bin/python -m audiowalk_tools.workflow_builder          # (re)write the files
    .venv/bin/python -m audiowalk_tools.workflow_builder --check  # exit 1 when the committed files differ

The graphs are described below by node id, widget NAME and links; the widget order of each node (``widgets_values``
in the UI format, including the frontend's ``control_after_generate`` entries after seeds) comes from the nodes'
``INPUT_TYPES`` at build time: the pack's own nodes (imported as ComfyUI imports it, without putting the repo root on
``sys.path``) and ComfyUI's core nodes from the recorded ``/object_info`` in tests/data. So after a node gains,
loses or reorders a widget, re-run this script and commit the result; the tests check both files equal its output.

"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from dataclasses import dataclass, replace

from audiowalk_core.audio import BUNDLED_DEMO_SONG
from audiowalk_core.chunks import DEFAULT_CHUNK_FRAMES, RENDER_WHOLE_SONG
from audiowalk_core.pipeline import DEFAULT_PIPELINE

from .workflow_img2img import IMG2IMG_API_NAME, IMG2IMG_UI_NAME, img2img_workflow
from .workflow_music_map import MUSIC_MAP_API_NAME, MUSIC_MAP_UI_NAME, music_map_workflow
from .workflow_sd_walk import SD_WALK_API_NAME, SD_WALK_UI_NAME, sd_walk_workflow
from .workflow_stylegan import stylegan_workflow
from .workflow_layout import ENGINE_TOP, GROUP_TITLE, NODE_TITLE, OPENING_VIEW, VIDEO_ROOM, group, socket_y
from .workflow_tools import (GraphNode, GraphNote, WorkflowError, build_ui_workflow, dump_json,
                             import_node_pack, pack_object_info, ui_to_api, validate_api_workflow,
                             validate_ui_workflow)

REPO_ROOT = Path(__file__).resolve().parent.parent
CORE_INFO_PATH = REPO_ROOT / "tests" / "data" / "comfyui-0.3.64-core-object_info.json"
WORKFLOW_DIR = REPO_ROOT / "workflows"

# ------------------------------------------------------------------------------------------------ the graphs
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


def biggan_workflow():
    """Song -> features -> band noise walk + class schedule -> latents -> chunks -> BigGAN -> mp4 with the song.

    Deck: Read me over Load Song | Load BigGAN over Render in Chunks | Save Music Video (its video grows below it,
    left of the minimap) | Class Schedule. Engine room: Audio Features -> Band Noise Walk (and BigGAN Generate) ->
    Make Latents -> Smooth Latents, whose latents come back up to Render in Chunks along the corridor."""
    top, low, engine = GROUP_TITLE + NODE_TITLE, 455, ENGINE_TOP + GROUP_TITLE + NODE_TITLE
    c1, c2, c3 = 360, 700, 1020
    lane = ENGINE_TOP - 60
    at = {LOAD_AUDIO: (0, low), LOAD_BIGGAN: (c1, top), CHUNKS: (c1, low), CLASSES: (c3, top),
          FEATURES: (c1, engine), NOISE: (c2, engine), MAKE_LATENTS: (c3, engine), SMOOTH: (c3 + 260, engine)}
    routes = {(CHUNKS, "latents"): [(c3 + 550, lane), (330, lane), (330, low + 30)],
              (CLASSES, "features"): [(660, socket_y(engine, 0)), (660, engine - 60), (995, engine - 60),
                                      (995, socket_y(top, 0) + 16)],
              (MAKE_LATENTS, "classes"): [(c3 + 285, socket_y(top, 0)), (c3 + 285, engine - 45),
                                          (995, engine - 45), (995, socket_y(engine, 1))]}
    nodes = walk_nodes(at, routes)
    nodes = [replace(node, size=(255, 180)) if node.id == CLASSES else node for node in nodes]
    nodes += [generate_node((c2, engine + 340), (CHUNKS, 0),
                            routes={"model": [(650, socket_y(top, 0)), (650, socket_y(engine + 340, 0))],
                                    "latents": [(662, socket_y(low, 0)), (662, socket_y(engine + 340, 1))]}),
              save_node((c2, top), (GENERATE, 0), "AudioWalk/biggan",
                        routes={"images": [(990, socket_y(engine + 340, 0)), (990, lane + 20), (686, lane + 20),
                                           (686, socket_y(top, 0) + 16)],
                                "chunk": [(674, socket_y(low, 1)), (674, socket_y(top, 1) + 16)]})]
    groups = [group("1  Your song", "song", 0, low - NODE_TITLE, 300, low + 170),
              group("2  BigGAN, chunk by chunk", "biggan", c1, top - NODE_TITLE, c1 + 280, low + 190),
              group("3  Video", "video", c2, top - NODE_TITLE, c2 + 270, top + VIDEO_ROOM),
              group("4  What it paints", "walk", c3, top - NODE_TITLE, c3 + 255, top + 180),
              group("5  The music moves BigGAN: features and latent walk", "walk", c1, engine - NODE_TITLE,
                    c3 + 520, engine + 540)]
    note = read_me("## AudioWalk: BigGAN music video\n"
                   "Press **Run**: the bundled 20 s demo song becomes an mp4 in `output/AudioWalk/`. Your song: "
                   "upload it in **Load Song**; what BigGAN paints: ImageNet classes in **Class Schedule**.\n\n"
                   "One Run renders the whole song in chunks (**Render in Chunks**); Save Music Video joins them "
                   "with the music. BigGAN weights go in `models/biggan` (downloaded on first use when online).\n\n"
                   "Below: how the music moves BigGAN (features, noise walk, smoothing).")
    return nodes, [note], groups


@dataclass(frozen=True)
class ShippedWorkflow:
    """A shipped workflow: the UI file's name is the template browser's title; the API file keeps a short name
    for ``audiowalk comfy-run NAME``. ``must_touch``: the titles of the nodes a user must touch (and the Read me),
    which the template shows on its first screen (checked in the real frontend)."""

    ui_name: str
    api_name: str
    graph: object
    must_touch: tuple = ()


READ_ME, SONG_NODE, CHUNKS_NODE, SAVE_NODE = "Read me", "Load Song", "Render in Chunks", "Save Music Video"
WORKFLOWS = (
    ShippedWorkflow("AudioWalk BigGAN music video.json", "audiowalk_biggan.json", biggan_workflow,
                    (READ_ME, SONG_NODE, CHUNKS_NODE, "Load BigGAN", "Class Schedule", SAVE_NODE)),
    ShippedWorkflow(IMG2IMG_UI_NAME, IMG2IMG_API_NAME, img2img_workflow,
                    (READ_ME, SONG_NODE, CHUNKS_NODE, "Load Checkpoint", "Positive Prompt", "Negative Prompt",
                     "Diffuse Keyframes", SAVE_NODE)),
    ShippedWorkflow(SD_WALK_UI_NAME, SD_WALK_API_NAME, sd_walk_workflow,
                    (READ_ME, SONG_NODE, CHUNKS_NODE, "Load Checkpoint", "Prompt 1", "Prompt 2", "Prompt 3",
                     "Prompt Travel", SAVE_NODE)),
    ShippedWorkflow("AudioWalk StyleGAN music video.json", "audiowalk_stylegan.json", stylegan_workflow,
                    (READ_ME, SONG_NODE, CHUNKS_NODE, "Load StyleGAN", "StyleGAN Latents", SAVE_NODE)),
    ShippedWorkflow(MUSIC_MAP_UI_NAME, MUSIC_MAP_API_NAME, music_map_workflow,
                    (READ_ME, SONG_NODE, "Separate Stems", "Stem Features", "Class Schedule", CHUNKS_NODE,
                     SAVE_NODE)))

# ------------------------------------------------------------------------------------------------ building


def load_pack():
    """Import the repository as the package ComfyUI would see (no repo root on sys.path)."""
    return import_node_pack(REPO_ROOT)


def build_object_info(pack=None) -> dict:
    """``/object_info`` for building: recorded core nodes + the pack's own nodes. The pack's INPUT_TYPES are read with
    ``$AUDIOWALK_HOME`` pointing at an empty folder, so file lists do not depend on this machine."""
    pack = pack if pack is not None else load_pack()
    previous = os.environ.get("AUDIOWALK_HOME")
    with tempfile.TemporaryDirectory() as home:
        os.environ["AUDIOWALK_HOME"] = home
        try:
            ours = pack_object_info(pack.NODE_CLASS_MAPPINGS, pack.NODE_DISPLAY_NAME_MAPPINGS)
        finally:
            if previous is None:
                os.environ.pop("AUDIOWALK_HOME", None)
            else:
                os.environ["AUDIOWALK_HOME"] = previous
    core = json.loads(CORE_INFO_PATH.read_text(encoding="utf-8"))
    return {**core, **ours}


def build_workflow(shipped: ShippedWorkflow, object_info: dict) -> tuple[dict, dict]:
    """``(ui, api)`` of one shipped workflow; raises WorkflowError when it does not validate."""
    nodes, notes, groups = shipped.graph()
    ui = build_ui_workflow(nodes, object_info, notes, workflow_id=shipped.api_name.removesuffix(".json"),
                           extra=json.loads(json.dumps(OPENING_VIEW)), groups=groups)
    api = ui_to_api(ui, object_info)
    problems = validate_ui_workflow(ui, object_info) + validate_api_workflow(api, object_info)
    if problems:
        raise WorkflowError(f"{shipped.ui_name} does not validate:\n  " + "\n  ".join(problems))
    return ui, api


def build_all(object_info: dict) -> dict[Path, str]:
    """Path -> text of every shipped workflow file (UI format in workflows/, API format in workflows/api/)."""
    result = {}
    for shipped in WORKFLOWS:
        ui, api = build_workflow(shipped, object_info)
        result[WORKFLOW_DIR / shipped.ui_name] = dump_json(ui)
        result[WORKFLOW_DIR / "api" / shipped.api_name] = dump_json(api)
    return result


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare with the committed files")
    args = parser.parse_args(argv)
    object_info = build_object_info()
    try:
        generated = build_all(object_info)
    except WorkflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stale = []
    for path, text in generated.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if not args.check:
                _write(path, text)
    known = set(generated)
    for path in sorted(WORKFLOW_DIR.glob("*.json")) + sorted((WORKFLOW_DIR / "api").glob("*.json")):
        if path not in known:  # a workflow no longer shipped (renamed)
            stale.append(path)
            if not args.check:
                path.unlink()
    for path in stale:
        done = "wrote " if path in known else "removed "
        print(("differs: " if args.check else done) + str(path.relative_to(REPO_ROOT)))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
