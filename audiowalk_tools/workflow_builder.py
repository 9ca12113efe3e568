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

from .workflow_sd_walk import SD_WALK_API_NAME, SD_WALK_UI_NAME, sd_walk_workflow
from .workflow_stylegan import stylegan_workflow
from .workflow_tools import (GraphGroup, GraphNode, GraphNote, WorkflowError, build_ui_workflow, dump_json,
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
POSITIVE_PROMPT = ("a surreal dreamlike painting of teapots, soap bubbles and mushrooms, vivid colours, "
                   "highly detailed")
NEGATIVE_PROMPT = "blurry, low quality, text, watermark, frame"
COLUMN = 310  # horizontal spacing of the layout, in canvas pixels (nodes are 280 wide)
WIDE = 280
STAGE_COLORS = {"song": "#3f789e", "walk": "#8a6f3f", "biggan": "#3f8a5c", "sd": "#7a3f8a", "video": "#8a3f4a"}
# Layout rules (checked in the real frontend): links run left to right between columns, never behind a node. The two
# long links run in free lanes along the bottom, as straight lines: the song from Load Audio to Render in Chunks
# (which hands it to Save Music Video with the chunk), and the chunk from Render in Chunks to Save Music Video.
# A socket's centre sits 14 px below its node's top plus 20 px per socket above it.
SLOT = 20

# node ids shared by both graphs
(LOAD_AUDIO, FEATURES, NOISE, CLASSES, MAKE_LATENTS, SMOOTH, CHUNKS, LOAD_BIGGAN, GENERATE, SAVE) = range(1, 11)


def _x(column: int) -> int:
    return column * COLUMN


def _group(title: str, stage: str, left: float, top: float, right: float, bottom: float) -> GraphGroup:
    """A stage box from canvas corners, with room for its title bar."""
    return GraphGroup(title, (left - 15, top - 75, right - left + 30, bottom - top + 95), STAGE_COLORS[stage])


def _walk_part(chunks_y: int) -> list[GraphNode]:
    """Song -> features -> walk -> Render in Chunks (columns 0 to 4); Render in Chunks sits at the bottom at
    ``chunks_y``, with Load Audio one socket lower so the song's link is a straight line under the walk."""
    return [
        GraphNode(LOAD_AUDIO, "AudioWalkLoadAudio", (0, chunks_y + SLOT), (WIDE, 160), title="Load Song",
                  values={"audio": SONG, "start_seconds": 0.0, "duration_seconds": 0.0}),
        GraphNode(FEATURES, "AudioWalkAudioFeatures", (_x(1), 0), (WIDE, 280), title="Audio Features",
                  values=dict(PIPELINE_VALUES["AudioWalkAudioFeatures"]), links={"audio": (LOAD_AUDIO, 0)}),
        GraphNode(NOISE, "AudioWalkBandNoiseWalk", (_x(2), 0), (WIDE, 280), title="Band Noise Walk",
                  values=dict(PIPELINE_VALUES["AudioWalkBandNoiseWalk"]), links={"features": (FEATURES, 0)}),
        GraphNode(CLASSES, "AudioWalkClassSchedule", (_x(2), 330), (WIDE, 170), title="Class Schedule",
                  values=dict(PIPELINE_VALUES["AudioWalkClassSchedule"]), links={"features": (FEATURES, 0)}),
        GraphNode(MAKE_LATENTS, "AudioWalkMakeLatents", (_x(3), 0), (WIDE, 100), title="Make Latents",
                  links={"noise": (NOISE, 0), "classes": (CLASSES, 0)}),
        GraphNode(SMOOTH, "AudioWalkSmoothLatents", (_x(4), 0), (WIDE, 200), title="Smooth Latents",
                  values=dict(PIPELINE_VALUES["AudioWalkSmoothLatents"]), links={"latents": (MAKE_LATENTS, 0)}),
        GraphNode(CHUNKS, "AudioWalkRenderChunks", (_x(5), chunks_y), (WIDE, 170), title="Render in Chunks",
                  values={"chunk_frames": DEFAULT_CHUNK_FRAMES, "render": RENDER_WHOLE_SONG, "chunk_index": 0},
                  links={"latents": (SMOOTH, 0), "audio": (LOAD_AUDIO, 0)}),
        GraphNode(LOAD_BIGGAN, "AudioWalkLoadBigGAN", (_x(5), 300), (WIDE, 150), title="Load BigGAN",
                  values={"model_name": "biggan-deep-128"}),
    ]


def _generate(column: int, y: int, latents: tuple) -> GraphNode:
    return GraphNode(GENERATE, "AudioWalkBigGANGenerate", (_x(column), y), (WIDE, 190), title="BigGAN Generate",
                     values={"start_frame": 0, "frame_count": 0, "batch_size": 8},
                     links={"model": (LOAD_BIGGAN, 0), "latents": latents})


def _save_video(column: int, chunks_y: int, images: tuple, prefix: str, width: int = 300) -> GraphNode:
    """Save Music Video on the chunk's lane: its chunk socket (the second) level with Render in Chunks' chunk
    output (the second)."""
    return GraphNode(SAVE, "AudioWalkSaveVideo", (_x(column), chunks_y), (width, 330), title="Save Music Video",
                     values={"filename_prefix": prefix, "crf": 18},
                     links={"images": images, "chunk": (CHUNKS, 1)})


def _walk_groups(chunks_y: int, biggan_right: int) -> list[GraphGroup]:
    return [_group("1  Song and its features", "song", 0, 0, _x(1) + WIDE, chunks_y + 200),
            _group("2  Latent walk", "walk", _x(2), 0, _x(4) + WIDE, 510),
            _group("3  BigGAN, one chunk at a time", "biggan", _x(5), 0, biggan_right, chunks_y + 180)]


def _note(text: str, height: int = 470) -> GraphNote:
    # 250 wide: the song's link rises in the gap beside it (LiteGraph's spline swings left before an input)
    return GraphNote(30, text, (0, 0), (WIDE - 30, height), title="Read me")


def biggan_workflow():
    """Song -> features -> band noise walk + class schedule -> latents -> chunks -> BigGAN -> mp4 with the song."""
    chunks_y = 560
    nodes = _walk_part(chunks_y) + [_generate(6, 0, (CHUNKS, 0)),
                                    _save_video(7, chunks_y, (GENERATE, 0), "AudioWalk/biggan")]
    groups = _walk_groups(chunks_y, _x(6) + WIDE) + [
        _group("4  Video with the music", "video", _x(7), chunks_y, _x(7) + 300, chunks_y + 400)]
    note = _note("## AudioWalk: BigGAN music video\n"
                 "Press **Run**: the bundled 20 s demo song becomes an mp4 in `output/AudioWalk/`. For your song, "
                 "upload it in **Load Song**.\n\n"
                 "One Run renders the whole song in chunks of **chunk_frames** (Render in Chunks); each chunk is "
                 "encoded and dropped, and Save Music Video joins them with the music at the end. Memory follows "
                 "the chunk, not the song.\n\n"
                 "BigGAN weights go in `models/biggan` (downloaded on first use when online).\n\n"
                 "Headless: `audiowalk comfy-run audiowalk_biggan --audio song.mp3 -o out.mp4`.")
    return nodes, [note], groups


# ids of the img2img part (12, 16, 21, 22 were ImageScale, VAEEncode, SamplerCustomAdvanced and VAEDecode, now
# inside Diffuse Keyframes)
(KEYFRAMES, CHECKPOINT, POSITIVE, NEGATIVE, KEY_NOISE, GUIDER, SAMPLER_SELECT, SCHEDULER,
 INTERPOLATE, DIFFUSE) = (11, 13, 14, 15, 17, 18, 19, 20, 23, 24)


def diffused_biggan_workflow():
    """The BigGAN walk on the keyframes only, SD img2img on them (Diffuse Keyframes: sub-batches, frame-keyed
    noise), crossfaded back."""
    chunks_y = 800
    # Load BigGAN one column right of where the BigGAN template has it: the long links down to and up from
    # Render in Chunks swing out into column 5 on their way
    nodes = [replace(node, pos=(_x(6), 330)) if node.id == LOAD_BIGGAN else node
             for node in _walk_part(chunks_y)]
    nodes += [
        GraphNode(KEYFRAMES, "AudioWalkKeyframeLatents", (_x(6), 0), (WIDE, 170), title="Keyframe Latents",
                  values={"interpolation_steps": 3, "mode": "every_n"},
                  links={"latents": (SMOOTH, 0), "chunk": (CHUNKS, 1)}),
        _generate(7, 300, (KEYFRAMES, 0)),
        GraphNode(KEY_NOISE, "AudioWalkKeyframeNoise", (_x(7), 110), (WIDE, 130), title="Keyframe Noise",
                  values={"noise_seed": 42, "coherence": 0.8}, links={"keyframe_info": (KEYFRAMES, 1)}),
        # the Stable Diffusion stage: the checkpoint first, its outputs reach down and right
        GraphNode(CHECKPOINT, "CheckpointLoaderSimple", (_x(8), 520), (WIDE + 40, 110), title="Load Checkpoint",
                  values={"ckpt_name": SD_CHECKPOINT}),
        GraphNode(POSITIVE, "CLIPTextEncode", (_x(9) + 40, 300), (WIDE, 160), title="Positive Prompt",
                  values={"text": POSITIVE_PROMPT}, links={"clip": (CHECKPOINT, 1)}),
        GraphNode(NEGATIVE, "CLIPTextEncode", (_x(9) + 40, 520), (WIDE, 110), title="Negative Prompt",
                  values={"text": NEGATIVE_PROMPT}, links={"clip": (CHECKPOINT, 1)}),
        GraphNode(GUIDER, "CFGGuider", (_x(10) + 40, 300), (WIDE, 100), title="CFG Guider",
                  values={"cfg": 7.5}, links={"model": (CHECKPOINT, 0), "positive": (POSITIVE, 0),
                                              "negative": (NEGATIVE, 0)}),
        GraphNode(SCHEDULER, "BasicScheduler", (_x(10) + 40, 520), (WIDE, 110), title="Scheduler (img2img)",
                  values={"scheduler": "normal", "steps": 10, "denoise": 0.5}, links={"model": (CHECKPOINT, 0)}),
        GraphNode(SAMPLER_SELECT, "KSamplerSelect", (_x(10) + 40, 110), (WIDE, 60), title="Sampler",
                  values={"sampler_name": "euler"}),
        GraphNode(DIFFUSE, "AudioWalkDiffuseKeyframes", (_x(11) + 40, 110), (WIDE, 330), title="Diffuse Keyframes",
                  values={"width": 512, "height": 512, "upscale_method": "bilinear", "keyframes_per_batch": 0},
                  links={"images": (GENERATE, 0), "noise": (KEY_NOISE, 0), "guider": (GUIDER, 0),
                         "sampler": (SAMPLER_SELECT, 0), "sigmas": (SCHEDULER, 0), "vae": (CHECKPOINT, 2),
                         "chunk": (CHUNKS, 1)}),
        GraphNode(INTERPOLATE, "AudioWalkInterpolateFrames", (_x(12) + 40, 0), (WIDE, 80),
                  title="Interpolate Frames", links={"keyframes": (DIFFUSE, 0), "keyframe_info": (KEYFRAMES, 1)}),
        _save_video(13, chunks_y, (INTERPOLATE, 0), "AudioWalk/diffused_biggan", width=340),
    ]
    groups = _walk_groups(chunks_y, _x(7) + WIDE) + [
        _group("4  Stable Diffusion img2img on the keyframes", "sd", _x(8), 110, _x(11) + 40 + WIDE, 760),
        _group("5  Crossfade and video with the music", "video", _x(12) + 40, 0, _x(13) + 340, chunks_y + 400)]
    note = _note("## AudioWalk: BigGAN + Stable Diffusion\n"
                 "Press **Run** once an SD 1.5 checkpoint is in `models/checkpoints` (pick it in **Load "
                 "Checkpoint**): the bundled demo song becomes an mp4 in `output/AudioWalk/`.\n\n"
                 "Every (interpolation_steps + 1)-th frame is a keyframe: BigGAN renders only those, **Diffuse "
                 "Keyframes** re-imagines them a few at a time (denoise 0.5 = the seed's strength; its text "
                 "says what the song will take after the first batch) and Interpolate Frames crossfades back. "
                 "**Keyframe Noise** keys the img2img noise to each keyframe's frame index, so the chunks of one "
                 "Run equal a whole render.\n\n"
                 "Headless: `audiowalk comfy-run audiowalk_diffused_biggan --audio song.mp3 -o out.mp4`.", 640)
    return nodes, [note], groups


@dataclass(frozen=True)
class ShippedWorkflow:
    """A shipped workflow: the UI file's name is the template browser's title; the API file keeps a short name
    for ``audiowalk comfy-run NAME``."""

    ui_name: str
    api_name: str
    graph: object


WORKFLOWS = (ShippedWorkflow("AudioWalk BigGAN music video.json", "audiowalk_biggan.json", biggan_workflow),
             ShippedWorkflow("AudioWalk BigGAN and Stable Diffusion img2img.json", "audiowalk_diffused_biggan.json",
                             diffused_biggan_workflow),
             ShippedWorkflow(SD_WALK_UI_NAME, SD_WALK_API_NAME, lambda: sd_walk_workflow(
                 _x, _group, _note, SONG, PIPELINE_VALUES["AudioWalkAudioFeatures"], SD_CHECKPOINT, WIDE, SLOT)),
             ShippedWorkflow("AudioWalk StyleGAN music video.json", "audiowalk_stylegan.json", stylegan_workflow))
# How the frontend opens them (a readable zoom, titles under the toolbar): canvas offset and scale.
OPENING_VIEW = {"ds": {"scale": 0.62, "offset": [30, 170]}}

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
