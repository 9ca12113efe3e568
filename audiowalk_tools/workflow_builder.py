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

from .workflow_tools import (GraphNode, import_node_pack, GraphNote, WorkflowError, build_ui_workflow, dump_json,
                                           pack_object_info, ui_to_api, validate_api_workflow,
                                           validate_ui_workflow)

REPO_ROOT = Path(__file__).resolve().parent.parent
CORE_INFO_PATH = REPO_ROOT / "tests" / "data" / "comfyui-0.3.64-core-object_info.json"
WORKFLOW_DIR = REPO_ROOT / "workflows"

# ------------------------------------------------------------------------------------------------ the graphs
# The seed project's README values (SEED_ALGORITHM.md): truncation 0.7, extra_detail 0.9, max_frequency_level
# 11000 Hz, low_frequency_skip 16 Hz, frequency_band_growth_rate 1.01, smoothing_factor 0.1, iterations 1,
# labels teapot | bubble | mushroom; SD img2img: steps 10, guidance 7.5, strength 0.5, seed 42, interpolation_steps 3.
SONG = "audiowalk_demo.wav"
LABELS = "teapot | bubble | mushroom"
FEATURE_VALUES = {"fps": 30.0, "max_frequency_level": 11000.0, "low_frequency_skip": 16.0,
                  "frequency_band_growth_rate": 1.01, "extra_detail": 0.9}
WALK_VALUES = {"seed": 0, "truncation": 0.7, "smoothing_factor": 0.1, "iterations": 1}
SD_CHECKPOINT = "v1-5-pruned-emaonly.safetensors"
POSITIVE_PROMPT = ("a surreal dreamlike painting of teapots, soap bubbles and mushrooms, vivid colours, "
                   "highly detailed")
NEGATIVE_PROMPT = "blurry, low quality, text, watermark, frame"
COLUMN = 360  # horizontal spacing of the layout, in canvas pixels

# node ids shared by both graphs
LOAD_AUDIO, FEATURES, NOISE, CLASSES, MAKE_LATENTS, SMOOTH, LOAD_BIGGAN, GENERATE, SAVE = 1, 2, 3, 4, 5, 6, 7, 8, 9


def _biggan_part(save_images_from: tuple, save_title: str, prefix: str) -> list[GraphNode]:
    return [
        GraphNode(LOAD_AUDIO, "AudioWalkLoadAudio", (0, 0), (320, 160), title="Load Audio",
                  values={"audio": SONG, "start_seconds": 0.0, "duration_seconds": 0.0}),
        GraphNode(FEATURES, "AudioWalkAudioFeatures", (COLUMN, 0), (320, 260), title="Audio Features",
                  values=dict(FEATURE_VALUES), links={"audio": (LOAD_AUDIO, 0)}),
        GraphNode(NOISE, "AudioWalkBandNoiseWalk", (2 * COLUMN, 0), (320, 220), title="Band Noise Walk",
                  values=dict(WALK_VALUES), links={"features": (FEATURES, 0)}),
        GraphNode(CLASSES, "AudioWalkClassSchedule", (2 * COLUMN, 360), (320, 160), title="Class Schedule",
                  values={"labels": LABELS}, links={"features": (FEATURES, 0)}),
        GraphNode(MAKE_LATENTS, "AudioWalkMakeLatents", (3 * COLUMN, 0), (320, 120), title="Make Latents",
                  values={"truncation": 0.7}, links={"noise": (NOISE, 0), "classes": (CLASSES, 0)}),
        GraphNode(SMOOTH, "AudioWalkSmoothLatents", (3 * COLUMN, 180), (320, 160), title="Smooth Latents",
                  links={"latents": (MAKE_LATENTS, 0)}),
        GraphNode(LOAD_BIGGAN, "AudioWalkLoadBigGAN", (3 * COLUMN, 420), (320, 130), title="Load BigGAN",
                  values={"model_name": "biggan-deep-128"}),
        GraphNode(GENERATE, "AudioWalkBigGANGenerate", (4 * COLUMN, 0), (320, 200), title="BigGAN Generate",
                  values={"start_frame": 0, "frame_count": 0, "batch_size": 8},
                  links={"model": (LOAD_BIGGAN, 0), "latents": (SMOOTH, 0)}),
        GraphNode(SAVE, "AudioWalkSaveVideo", (save_images_from[2], 0), (360, 320), title=save_title,
                  values={"filename_prefix": prefix, "crf": 18},
                  links={"images": save_images_from[:2], "fps": (FEATURES, 2), "audio": (LOAD_AUDIO, 0)}),
    ]


def biggan_workflow() -> tuple[list[GraphNode], list[GraphNote]]:
    """Song -> features -> band noise walk + class schedule -> latents -> BigGAN -> mp4 with the song."""
    nodes = _biggan_part((GENERATE, 0, 5 * COLUMN), "Save Video", "AudioWalk/biggan")
    notes = [GraphNote(20, "## AudioWalk: BigGAN\nUpload a song in **Load Audio** and press Queue. The frame count "
                           "follows the song's length at the **fps** of Audio Features (Save Video takes the same "
                           "fps). BigGAN weights go in `models/biggan` (downloaded on first use when online).\n\n"
                           "Headless: `audiowalk comfy-run audiowalk_biggan --audio song.mp3 -o out.mp4`; "
                           "`--chunk-frames 900` renders long songs in parts joined into one file.",
                       (0, 240), (320, 300), title="About this workflow")]
    return nodes, notes


# ids of the img2img part
KEYFRAMES, SCALE, CHECKPOINT, POSITIVE, NEGATIVE, ENCODE, SAMPLER, DECODE, INTERPOLATE = range(10, 19)


def diffused_biggan_workflow() -> tuple[list[GraphNode], list[GraphNote]]:
    """The BigGAN workflow, then every (interpolation_steps+1)-th frame through SD img2img, crossfaded back."""
    x = 5 * COLUMN
    nodes = _biggan_part((INTERPOLATE, 0, x + 4 * COLUMN), "Save Video", "AudioWalk/diffused_biggan")
    nodes += [
        GraphNode(KEYFRAMES, "AudioWalkSelectKeyframes", (x, 0), (320, 160), title="Select Keyframes",
                  values={"interpolation_steps": 3}, links={"images": (GENERATE, 0)}),
        GraphNode(SCALE, "ImageScale", (x, 220), (320, 160), title="Upscale for SD",
                  values={"upscale_method": "bilinear", "width": 512, "height": 512, "crop": "disabled"},
                  links={"image": (KEYFRAMES, 0)}),
        GraphNode(CHECKPOINT, "CheckpointLoaderSimple", (x, 440), (320, 100), title="Load Checkpoint",
                  values={"ckpt_name": SD_CHECKPOINT}),
        GraphNode(POSITIVE, "CLIPTextEncode", (x + COLUMN, 220), (360, 160), title="Positive Prompt",
                  values={"text": POSITIVE_PROMPT}, links={"clip": (CHECKPOINT, 1)}),
        GraphNode(NEGATIVE, "CLIPTextEncode", (x + COLUMN, 420), (360, 130), title="Negative Prompt",
                  values={"text": NEGATIVE_PROMPT}, links={"clip": (CHECKPOINT, 1)}),
        GraphNode(ENCODE, "VAEEncode", (x + COLUMN, 0), (220, 50), title="VAE Encode",
                  links={"pixels": (SCALE, 0), "vae": (CHECKPOINT, 2)}),
        GraphNode(SAMPLER, "KSampler", (x + 2 * COLUMN, 0), (320, 270), title="KSampler (img2img)",
                  values={"seed": 42, "steps": 10, "cfg": 7.5, "sampler_name": "euler", "scheduler": "normal",
                          "denoise": 0.5},
                  links={"model": (CHECKPOINT, 0), "positive": (POSITIVE, 0), "negative": (NEGATIVE, 0),
                         "latent_image": (ENCODE, 0)}),
        GraphNode(DECODE, "VAEDecode", (x + 3 * COLUMN, 0), (220, 50), title="VAE Decode",
                  links={"samples": (SAMPLER, 0), "vae": (CHECKPOINT, 2)}),
        GraphNode(INTERPOLATE, "AudioWalkInterpolateFrames", (x + 3 * COLUMN, 120), (320, 80),
                  title="Interpolate Frames", links={"keyframes": (DECODE, 0), "keyframe_info": (KEYFRAMES, 1)}),
    ]
    notes = [GraphNote(20, "## AudioWalk: diffused BigGAN\nThe BigGAN walk, then every "
                           "(interpolation_steps + 1)-th frame goes through Stable Diffusion img2img (KSampler "
                           "denoise = the seed's strength 0.5, fixed seed 42) and the frames in between are "
                           "crossfades. Put an SD 1.5 checkpoint in `models/checkpoints` and pick it in "
                           "**Load Checkpoint**.\n\nHeadless: `audiowalk comfy-run audiowalk_diffused_biggan "
                           "--audio song.mp3 --set \"Positive Prompt.text=...\" -o out.mp4`.",
                       (0, 240), (320, 300), title="About this workflow")]
    return nodes, notes


WORKFLOWS = {"audiowalk_biggan.json": biggan_workflow, "audiowalk_diffused_biggan.json": diffused_biggan_workflow}

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


def build_workflow(name: str, object_info: dict) -> tuple[dict, dict]:
    """``(ui, api)`` of one shipped workflow; raises WorkflowError when it does not validate."""
    nodes, notes = WORKFLOWS[name]()
    ui = build_ui_workflow(nodes, object_info, notes, workflow_id=name.removesuffix(".json"))
    api = ui_to_api(ui, object_info)
    problems = validate_ui_workflow(ui, object_info) + validate_api_workflow(api, object_info)
    if problems:
        raise WorkflowError(f"{name} does not validate:\n  " + "\n  ".join(problems))
    return ui, api


def build_all(object_info: dict) -> dict[str, tuple[str, str]]:
    """File name -> ``(UI-format text, API-format text)`` of every shipped workflow."""
    result = {}
    for name in WORKFLOWS:
        ui, api = build_workflow(name, object_info)
        result[name] = (dump_json(ui), dump_json(api))
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
    for name, (ui_text, api_text) in generated.items():
        for path, text in ((WORKFLOW_DIR / name, ui_text), (WORKFLOW_DIR / "api" / name, api_text)):
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
                if not args.check:
                    _write(path, text)
    for path in stale:
        print(("differs: " if args.check else "wrote ") + str(path.relative_to(REPO_ROOT)))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
