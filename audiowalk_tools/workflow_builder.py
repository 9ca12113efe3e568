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

from dataclasses import dataclass

from .workflow_biggan import BIGGAN_API_NAME, BIGGAN_UI_NAME, biggan_workflow
from .workflow_img2img import IMG2IMG_API_NAME, IMG2IMG_UI_NAME, img2img_workflow
from .workflow_layout import OPENING_VIEW
from .workflow_music_map import MUSIC_MAP_API_NAME, MUSIC_MAP_UI_NAME, music_map_workflow
from .workflow_sd_walk import SD_WALK_API_NAME, SD_WALK_UI_NAME, sd_walk_workflow
from .workflow_stylegan import STYLEGAN_API_NAME, STYLEGAN_UI_NAME, stylegan_workflow
from .workflow_tools import (WorkflowError, build_ui_workflow, dump_json, import_node_pack, pack_object_info,
                             ui_to_api, validate_api_workflow, validate_ui_workflow)

REPO_ROOT = Path(__file__).resolve().parent.parent
CORE_INFO_PATH = REPO_ROOT / "tests" / "data" / "comfyui-0.3.64-core-object_info.json"
WORKFLOW_DIR = REPO_ROOT / "workflows"


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
    ShippedWorkflow(BIGGAN_UI_NAME, BIGGAN_API_NAME, biggan_workflow,
                    (READ_ME, SONG_NODE, CHUNKS_NODE, "Load BigGAN", "Class Schedule", SAVE_NODE)),
    ShippedWorkflow(IMG2IMG_UI_NAME, IMG2IMG_API_NAME, img2img_workflow,
                    (READ_ME, SONG_NODE, CHUNKS_NODE, "Load Checkpoint", "Positive Prompt", "Negative Prompt",
                     "Diffuse Keyframes", SAVE_NODE)),
    ShippedWorkflow(SD_WALK_UI_NAME, SD_WALK_API_NAME, sd_walk_workflow,
                    (READ_ME, SONG_NODE, CHUNKS_NODE, "Load Checkpoint", "Prompt 1", "Prompt 2", "Prompt 3",
                     "Prompt Travel", SAVE_NODE)),
    ShippedWorkflow(STYLEGAN_UI_NAME, STYLEGAN_API_NAME, stylegan_workflow,
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
