"""Shipped workflows: every node exists, every value fits its widget, every link joins matching types, and the UI and
API files describe the same graph (and equal what python -m audiowalk_tools.workflow_builder generates). Also the workflow tools."""
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import audiowalk_core
import pytest

from audiowalk_core.generators.biggan.store import model_name_from_choice
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_tools.workflow_tools import (GraphNode, WorkflowError, apply_assignments, build_ui_workflow,
                                           graph_signature, input_specs, load_workflow, pack_object_info,
                                           ui_to_api, validate_api_workflow, validate_ui_workflow, widget_slots)
from support import REPO_ROOT

CORE_INFO_PATH = REPO_ROOT / "tests" / "data" / "comfyui-0.3.64-core-object_info.json"
RECORDED_INFO_PATH = REPO_ROOT / ".." / "shared" / "comfyui" / "object_info-0.3.64-cpu.json"
# made by scripts/fingerprint_object_info.py from that recording
FINGERPRINTS_PATH = REPO_ROOT / "tests" / "data" / "comfyui-0.3.64-object_info-fingerprints.json"
WORKFLOW_DIR = REPO_ROOT / "workflows"
UI_FILES = sorted(WORKFLOW_DIR.glob("*.json"))


def core_object_info() -> dict:
    return json.loads(CORE_INFO_PATH.read_text())


def load_builder():
    from audiowalk_tools import workflow_builder

    return workflow_builder


@pytest.fixture(scope="module")
def object_info(pack):
    """Recorded core nodes + the pack's nodes (+ the builder's contract stand-ins for nodes not merged yet)."""
    return load_builder().build_object_info(pack)


# ------------------------------------------------------------------------------------------------ the shipped files

def _canonical_sha256(info: dict) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(info, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def test_trimmed_core_info_matches_the_recording():
    """Every node of the trimmed core info is byte for byte what ComfyUI 0.3.64 reported: checked against the
    recording's per-node fingerprints shipped in tests/data (so it runs on a fresh clone), and against the recording
    itself where it lies beside the repository."""
    fingerprints = json.loads(FINGERPRINTS_PATH.read_text())["sha256_of_canonical_node_json"]
    for node_type, info in core_object_info().items():
        assert node_type in fingerprints, f"{node_type} is not in the recorded ComfyUI 0.3.64 /object_info"
        assert _canonical_sha256(info) == fingerprints[node_type], f"{node_type} differs from the recording"
    if RECORDED_INFO_PATH.is_file():  # the fingerprints themselves are the recording's
        recorded = json.loads(RECORDED_INFO_PATH.read_text())
        assert {name: _canonical_sha256(info) for name, info in recorded.items()} == fingerprints


def test_fingerprints_catch_a_changed_node():
    info = core_object_info()["KSampler"]
    fingerprints = json.loads(FINGERPRINTS_PATH.read_text())["sha256_of_canonical_node_json"]
    changed = json.loads(json.dumps(info))
    changed["input"]["required"]["steps"][1]["default"] += 1
    assert _canonical_sha256(info) == fingerprints["KSampler"] != _canonical_sha256(changed)


def test_workflow_nodes_are_registered_by_the_pack(pack):
    core = set(core_object_info())
    for path in UI_FILES:
        for node in json.loads(path.read_text())["nodes"]:
            kind = node["type"]
            if kind in ("Note", "MarkdownNote"):
                continue
            assert kind in pack.NODE_CLASS_MAPPINGS or kind in core, f"{path.name}: {kind} is neither ours nor core"


def api_path_of(ui_path: Path) -> Path:
    """The API file of a shipped UI workflow (the UI file's name is the template browser's title)."""
    return WORKFLOW_DIR / "api" / next(w.api_name for w in load_builder().WORKFLOWS if w.ui_name == ui_path.name)


def test_workflows_are_shipped_in_both_formats():
    names = [p.name for p in UI_FILES]
    assert len(names) >= 2, names
    assert sorted(p.name for p in (WORKFLOW_DIR / "api").glob("*.json")) == sorted(
        api_path_of(p).name for p in UI_FILES)
    # human titles in the template browser (it shows the file name, and '-'/'_' become spaces in descriptions)
    assert all(" " in name and "_" not in name for name in names), names


@pytest.mark.parametrize("ui_path", UI_FILES, ids=lambda p: p.stem)
def test_shipped_workflow_is_valid_and_both_formats_agree(ui_path, object_info):
    ui = load_workflow(ui_path)
    api = load_workflow(api_path_of(ui_path))
    assert validate_ui_workflow(ui, object_info) == []
    assert validate_api_workflow(api, object_info) == []
    assert ui_to_api(ui, object_info) == api
    assert graph_signature(ui_to_api(ui, object_info)) == graph_signature(api)


def test_committed_workflows_equal_the_generator_output(object_info):
    builder = load_builder()
    generated = builder.build_all(object_info)
    shipped = sorted(UI_FILES + sorted((WORKFLOW_DIR / "api").glob("*.json")))
    assert sorted(generated) == shipped
    for path, text in generated.items():
        assert path.read_text() == text, f"run python -m audiowalk_tools.workflow_builder ({path.name})"


@pytest.mark.parametrize("ui_path", UI_FILES, ids=lambda p: p.stem)
def test_comfy_cli_validates_api_workflow(ui_path, object_info, tmp_path):
    comfy = shutil.which("comfy", path=str(Path(sys.executable).parent))
    if comfy is None:
        pytest.skip("comfy-cli not installed (dev extra)")
    api = load_workflow(api_path_of(ui_path))
    info = json.loads(json.dumps(object_info))
    # A real server lists the files in its folders; offline, offer the file names the workflow uses. Likewise a
    # server with the BigGAN on disk lists it by its plain name (offline it carries the download mark).
    for node in api.values():
        for spec in input_specs(info[node["class_type"]]):
            value = node["inputs"].get(spec.name)
            if spec.kind != "COMBO" or not isinstance(value, str):
                continue
            entry = info[node["class_type"]]["input"]["required" if spec.required else "optional"][spec.name]
            if spec.is_file_combo:
                entry[0] = [value]
            elif value not in entry[0] and value in [model_name_from_choice(c) for c in entry[0]]:
                entry[0] = [value if model_name_from_choice(c) == value else c for c in entry[0]]
    info_path = tmp_path / "object_info.json"
    info_path.write_text(json.dumps(info))
    result = subprocess.run([comfy, "--json", "workflow", "validate", "--workflow",
                             str(api_path_of(ui_path)), "--input", str(info_path)],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    envelope = json.loads(result.stdout.strip().splitlines()[-1])
    assert envelope["ok"] is True, result.stdout + result.stderr
    assert result.returncode == 0


# ------------------------------------------------------------------------------------------------ the tools

def test_ksampler_widgets_follow_input_order_with_seed_control():
    info = core_object_info()["KSampler"]
    assert widget_slots("KSampler", info) == [("seed", "value"), ("seed", "control"), ("steps", "value"),
                                              ("cfg", "value"), ("sampler_name", "value"),
                                              ("scheduler", "value"), ("denoise", "value")]
    assert widget_slots("LoadAudio", core_object_info()["LoadAudio"]) == [("audio", "value"), ("audioUI", "ui"),
                                                                          ("upload", "ui")]


def test_graph_errors_are_caught_when_building():
    info = core_object_info()
    cycle = [GraphNode(1, "VAEDecode", (0, 0), links={"samples": (2, 0)}),
             GraphNode(2, "VAEEncode", (0, 0), links={"pixels": (1, 0)})]
    with pytest.raises(WorkflowError, match="cycle"):
        build_ui_workflow(cycle, info)
    with pytest.raises(WorkflowError, match="unknown node type 'EmptyImageLike'"):
        build_ui_workflow([GraphNode(1, "EmptyImageLike", (0, 0))], info)
    with pytest.raises(WorkflowError, match="has no widget"):
        build_ui_workflow([GraphNode(1, "KSampler", (0, 0), values={"colour": 1})], info)
    with pytest.raises(WorkflowError, match="node 2 has no output 3"):
        build_ui_workflow([GraphNode(1, "VAEDecode", (0, 0), links={"samples": (2, 3)}),
                           GraphNode(2, "VAEEncode", (0, 0))], info)


def small_img2img():
    """A core-node img2img graph built, checked and converted: (ui, api, object_info)."""
    info = core_object_info()
    info["LoadImageStub"] = {"input": {"required": {}}, "input_order": {"required": []}, "output": ["IMAGE"],
                             "output_name": ["IMAGE"], "output_node": False, "display_name": "Image"}
    graph = [
        GraphNode(1, "CheckpointLoaderSimple", (0, 0), values={"ckpt_name": "model.safetensors"}),
        GraphNode(2, "CLIPTextEncode", (300, 0), title="Positive", values={"text": "a teapot"}, links={"clip": (1, 1)}),
        GraphNode(3, "CLIPTextEncode", (300, 200), title="Negative", links={"clip": (1, 1)}),
        GraphNode(4, "LoadImageStub", (0, 300)),
        GraphNode(5, "VAEEncode", (300, 400), links={"pixels": (4, 0), "vae": (1, 2)}),
        GraphNode(6, "KSampler", (600, 0), values={"seed": 42, "steps": 10, "cfg": 7.5, "denoise": 0.5},
                  links={"model": (1, 0), "positive": (2, 0), "negative": (3, 0), "latent_image": (5, 0)}),
        GraphNode(7, "VAEDecode", (900, 0), links={"samples": (6, 0), "vae": (1, 2)}),
        GraphNode(8, "PreviewImage", (1200, 0), links={"images": (7, 0)}),
    ]
    ui = build_ui_workflow(graph, info)
    assert validate_ui_workflow(ui, info) == []
    ksampler = next(n for n in ui["nodes"] if n["type"] == "KSampler")
    assert ksampler["widgets_values"] == [42, "fixed", 10, 7.5, "euler", "simple", 0.5]
    assert [i["name"] for i in ksampler["inputs"]] == ["model", "positive", "negative", "latent_image"]
    assert ui["links"][0] == [1, 1, 1, 2, 0, "CLIP"]
    orders = {n["id"]: n["order"] for n in ui["nodes"]}
    assert orders[1] < orders[2] < orders[6] < orders[7] < orders[8] and orders[4] < orders[5] < orders[6]
    api = ui_to_api(ui, info)
    assert api["6"] == {"inputs": {"model": ["1", 0], "seed": 42, "steps": 10, "cfg": 7.5, "sampler_name": "euler",
                                   "scheduler": "simple", "positive": ["2", 0], "negative": ["3", 0],
                                   "latent_image": ["5", 0], "denoise": 0.5},
                        "class_type": "KSampler", "_meta": {"title": "KSampler"}}
    assert api["2"]["_meta"]["title"] == "Positive" and api["3"]["inputs"]["text"] == ""
    assert validate_api_workflow(api, info) == []
    return ui, api, info


def test_round_trip_of_a_small_img2img_graph():
    small_img2img()


def test_validation_reports_each_kind_of_problem():
    _, api, info = small_img2img()
    broken = json.loads(json.dumps(api))
    broken["6"]["inputs"]["steps"] = 0                     # below min
    broken["6"]["inputs"]["cfg"] = "high"                  # not a number
    broken["6"]["inputs"]["sampler_name"] = "eulerx"       # not in the list
    broken["6"]["inputs"]["latent_image"] = ["7", 0]       # IMAGE into LATENT
    del broken["6"]["inputs"]["denoise"]                   # required input missing
    broken["2"]["inputs"]["clip"] = ["1", 5]               # no such output
    broken["3"]["inputs"]["colour"] = 1                    # unknown input
    broken["9"] = {"class_type": "NoSuchNode", "inputs": {}}
    problems = "\n".join(validate_api_workflow(broken, info))
    for expected in ("node 6 (KSampler): input 'steps': 0 is below the minimum 1",
                     "node 6 (KSampler): input 'cfg' must be a finite number, got 'high'",
                     "node 6 (KSampler): input 'sampler_name': 'eulerx' is not one of",
                     "node 6 (KSampler): input 'latent_image' expects LATENT but node 7 (VAEDecode) output 0 gives "
                     "IMAGE",
                     "node 6 (KSampler): required input 'denoise' is missing",
                     "node 2 (CLIPTextEncode): input 'clip' links to output 5 of node 1 (CheckpointLoaderSimple), "
                     "which has 3 outputs",
                     "node 3 (CLIPTextEncode): unknown input 'colour'",
                     "node 9 (NoSuchNode): unknown node type"):
        assert expected in problems, (expected, problems)
    no_output = {k: v for k, v in api.items() if k != "8"}
    assert validate_api_workflow(no_output, info) == ["the workflow has no output node, so ComfyUI would run nothing"]


def test_ui_problems_are_found():
    ui, _, info = small_img2img()
    broken = json.loads(json.dumps(ui))
    broken["links"][0][5] = "MODEL"
    next(n for n in broken["nodes"] if n["type"] == "KSampler")["widgets_values"].pop()
    problems = "\n".join(validate_ui_workflow(broken, info))
    assert "link 1: type MODEL from node 1 output CLIP into node 2 input CLIP" in problems
    assert "node 6 (KSampler): 6 widget values, expected 7" in problems
    with pytest.raises(WorkflowError, match="6 widget values, expected 7"):
        ui_to_api(broken, info)


def test_set_inputs_by_id_title_or_class():
    _, api, info = small_img2img()
    changed = apply_assignments(api, ["KSampler.seed=7", "6.cfg=3", "Positive.text=a mushroom, 42",
                                      "Negative.text=", "KSampler.denoise=0.25"], info)
    assert changed["6"]["inputs"]["seed"] == 7 and changed["6"]["inputs"]["cfg"] == 3.0
    assert isinstance(changed["6"]["inputs"]["cfg"], float)
    assert changed["2"]["inputs"]["text"] == "a mushroom, 42" and changed["3"]["inputs"]["text"] == ""
    assert changed["6"]["inputs"]["denoise"] == 0.25
    assert api["6"]["inputs"]["seed"] == 42  # the original is left alone


@pytest.mark.parametrize("assignment, input_name, fragment", [
    ("KSampler.seed=seven", "KSampler.seed", "'seven' is not a valid INT value"),
    ("KSampler.steps=0", "KSampler.steps", "0 is below the minimum 1"),
    ("KSampler.sampler_name=eulerx", "KSampler.sampler_name", "'eulerx' is not one of"),
    ("KSampler.colour=1", "KSampler.colour", "has no input 'colour'"),
    ("KSampler.model=1", "KSampler.model", "is wired to node 1 output 0"),
    ("CLIPTextEncode.text=x", "--set", "names 2 nodes"),
    ("Sampler.seed=1", "--set", "no node 'Sampler'"),
    ("KSamplerseed=1", "--set", "has no '.'"),
    ("KSampler.seed", "--set", "has no '='"),
])
def test_bad_assignments_name_the_input(assignment, input_name, fragment):
    _, api, info = small_img2img()
    with pytest.raises(AudioWalkInputError) as error:
        apply_assignments(api, [assignment], info)
    assert error.value.input_name == input_name
    assert fragment in str(error.value)


def test_load_workflow_errors_name_the_file(tmp_path):
    with pytest.raises(AudioWalkInputError, match="workflow: .*does not exist"):
        load_workflow(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(AudioWalkInputError, match="'bad.json' is not valid JSON"):
        load_workflow(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(AudioWalkInputError, match="neither a UI nor an API workflow"):
        load_workflow(tmp_path / "other.json")


def test_pack_node_info_matches_comfyui_shape(pack, comfy_home):
    """Our nodes' /object_info entries have the keys ComfyUI 0.3.64 gives its own nodes (recorded), and agree with
    themselves: input_order lists every declared input of each group in order, the output lists are parallel, the
    names and categories are what the pack registers."""
    info = pack_object_info(pack.NODE_CLASS_MAPPINGS, pack.NODE_DISPLAY_NAME_MAPPINGS)
    recorded_keys = set(core_object_info()["KSampler"])
    assert set(info) == set(pack.NODE_CLASS_MAPPINGS)
    for node_type, entry in info.items():
        cls = pack.NODE_CLASS_MAPPINGS[node_type]
        assert set(entry) | {"output_tooltips"} == recorded_keys | {"output_tooltips"}, node_type
        declared = cls.INPUT_TYPES()
        for group in ("required", "optional"):
            assert entry["input_order"].get(group, []) == list(declared.get(group, {})), (node_type, group)
        assert len(entry["output"]) == len(entry["output_is_list"]) == len(entry["output_name"]), node_type
        assert entry["output"] == list(cls.RETURN_TYPES) and entry["output_node"] == bool(getattr(cls, "OUTPUT_NODE",
                                                                                                   False))
        assert entry["display_name"] == pack.NODE_DISPLAY_NAME_MAPPINGS[node_type]
        assert entry["category"] == cls.CATEGORY and entry["description"] == cls.DESCRIPTION


def test_audio_upload_node_layout_and_frontend_only_player():
    """A custom node with an audio_upload combo and the optional AUDIO_UI player the frontend needs."""
    info = {"input": {"required": {"audio": [["a.wav"], {"audio_upload": True}], "gain": ["FLOAT", {"default": 1.0}]},
                      "optional": {"audioUI": ["AUDIO_UI", {}]}},
            "input_order": {"required": ["audio", "gain"], "optional": ["audioUI"]},
            "output": ["AUDIO"], "output_name": ["audio"], "output_node": True}
    object_info = {"MyLoadAudio": info}
    assert widget_slots("MyLoadAudio", info) == [("audio", "value"), ("gain", "value"), ("audioUI", "ui"),
                                                 ("upload", "ui")]
    ui = build_ui_workflow([GraphNode(1, "MyLoadAudio", (0, 0), values={"audio": "song.mp3"})], object_info)
    node = ui["nodes"][0]
    assert node["widgets_values"] == ["song.mp3", 1.0, None, None] and node["inputs"] == []
    api = ui_to_api(ui, object_info)
    assert api["1"]["inputs"] == {"audio": "song.mp3", "gain": 1.0}
    api["1"]["inputs"]["audioUI"] = ""  # what the frontend sends for the player
    assert validate_api_workflow(api, object_info) == []


def test_ui_workflows_carry_a_uuid_id_and_room_for_their_widgets():
    """ComfyUI's frontend alerts 'Invalid workflow against zod schema' for a non-UUID id, and draws a node at its
    saved size even when its widgets need more."""
    import uuid

    from audiowalk_tools.workflow_tools import load_workflow, validate_ui_workflow

    for path in sorted((REPO_ROOT / "workflows").glob("*.json")):
        ui = load_workflow(path)
        uuid.UUID(ui["id"])
        for node in ui["nodes"]:
            assert node["size"][1] >= 36 + 24 * len(node.get("widgets_values", [])), (path.name, node["type"])
        broken = dict(ui, id=path.stem)
        assert any("UUID" in problem for problem in validate_ui_workflow(broken, {}))


@pytest.mark.parametrize("ui_path", UI_FILES, ids=lambda p: p.stem)
def test_templates_read_in_the_browser_and_on_the_canvas(ui_path):
    """A thumbnail beside each template, a readable opening zoom (the frontend draws node text from 60%), no two
    nodes on top of each other (title bars included), and every node inside a named stage group."""
    ui = load_workflow(ui_path)
    assert ui_path.with_suffix(".jpg").is_file(), "the template browser shows <name>.jpg as the card's picture"
    # frontend 1.27 draws notes and text boxes at 10 px ("Comfy.TextareaWidget.FontSize") times the zoom
    assert ui["extra"]["ds"]["scale"] * 10 >= 12
    boxes = [(n["pos"][0], n["pos"][1] - 30, n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
             for n in ui["nodes"]]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (ui_path.name, a, b)
    groups = ui["groups"]
    assert len(groups) >= 4 and all(g["title"] for g in groups)
    for node, box in zip(ui["nodes"], boxes):
        if node["type"] in ("Note", "MarkdownNote"):
            continue
        assert any(g["bounding"][0] <= box[0] and box[2] <= g["bounding"][0] + g["bounding"][2]
                   and g["bounding"][1] <= box[1] for g in groups), (ui_path.name, node.get("title"))


@pytest.mark.parametrize("ui_path", UI_FILES, ids=lambda p: p.stem)
def test_what_a_user_must_touch_opens_on_the_deck(ui_path):
    """Without a browser, from the file: the nodes the template names as must-touch lie (title bars included) in
    the region its saved view shows at 1600x1000 (workflow_layout: DECK_WIDTH x DECK_HEIGHT from the origin, less the
    minimap's corner); the real-frontend test (tests/integration/test_first_meeting.py) measures what is drawn."""
    from audiowalk_tools.workflow_layout import DECK_CORNER, DECK_HEIGHT, DECK_WIDTH, NODE_TITLE, OPENING_VIEW

    builder = load_builder()
    shipped = next(w for w in builder.WORKFLOWS if w.ui_name == ui_path.name)
    ui = load_workflow(ui_path)
    assert ui["extra"]["ds"] == OPENING_VIEW["ds"]
    by_title = {node.get("title"): node for node in ui["nodes"]}
    assert shipped.must_touch and set(shipped.must_touch) <= set(by_title), shipped.must_touch
    for title in shipped.must_touch:
        node = by_title[title]
        left, top = node["pos"][0], node["pos"][1] - NODE_TITLE
        right, bottom = node["pos"][0] + node["size"][0], node["pos"][1] + node["size"][1]
        assert left >= 0 and top >= 0 and right <= DECK_WIDTH + 10 and bottom <= DECK_HEIGHT, (title, node["pos"])
        assert right <= DECK_CORNER[0] or bottom <= DECK_CORNER[1], (title, "under the minimap")


def test_reroutes_are_checked():
    """A reroute naming a missing link, a broken chain, and a link whose last reroute does not carry it."""
    from audiowalk_tools.workflow_tools import validate_ui_workflow

    ui = load_workflow(REPO_ROOT / "workflows" / "AudioWalk BigGAN music video.json")
    assert ui["extra"]["reroutes"]
    assert not [p for p in validate_ui_workflow(ui, {}) if "reroute" in p]  # the shipped lanes are sound
    broken = json.loads(json.dumps(ui))
    broken["extra"]["reroutes"][0]["linkIds"] = [999]
    broken["extra"]["reroutes"][-1]["parentId"] = 777
    broken["extra"]["linkExtensions"].append({"id": 1, "parentId": broken["extra"]["reroutes"][0]["id"]})
    problems = " | ".join(validate_ui_workflow(broken, {}))
    assert "link 999 is not in 'links'" in problems and "breaks or loops at 777" in problems
    assert "link 1: its reroutes" in problems
