"""ComfyUI workflow files: load, convert between the UI and API formats, validate against /object_info, set inputs.

Two formats describe the same graph:

- **UI format** (what the ComfyUI frontend saves and the template browser loads; litegraph ``version`` 0.4):
  ``{"nodes": [{"id", "type", "pos", "size", "inputs", "outputs", "widgets_values", ...}],
  "links": [[link_id, from_node, from_slot, to_node, to_slot, type], ...], ...}``.
  Widget values are a list in the order of the node's ``INPUT_TYPES`` (required, then optional), with the frontend's
  extra entries: a ``control_after_generate`` value ("fixed", "randomize", ...) after an INT widget that declares
  ``control_after_generate`` or is named ``seed``/``noise_seed``, and a value for upload buttons.
- **API format** (what ``POST /prompt`` takes): ``{"<id>": {"class_type", "inputs": {name: value or
  [source_id, output_index]}, "_meta": {"title"}}}``.

``object_info`` is the JSON of ComfyUI's ``GET /object_info`` (node id -> ``{"input", "input_order", "output",
...}``); :func:`node_info` builds the same entry from a classic node class without ComfyUI.
Nothing here imports ComfyUI.
"""
from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from audiowalk_core.errors import AudioWalkInputError

PACK_MODULE_NAME = "audiowalk_pack"


def import_node_pack(pack_root, module_name: str = PACK_MODULE_NAME):
    """Import a custom-node folder as the package ComfyUI sees (``custom_nodes/<folder>/__init__.py``), without
    putting the folder on ``sys.path`` (our ``nodes/`` would shadow ComfyUI's ``nodes`` module). Cached by name."""
    import importlib.util
    import sys

    if module_name in sys.modules:
        return sys.modules[module_name]
    pack_root = Path(pack_root)
    spec = importlib.util.spec_from_file_location(module_name, pack_root / "__init__.py",
                                                  submodule_search_locations=[str(pack_root)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
# Frontend-only nodes: never sent to the server, not in /object_info.
FRONTEND_ONLY_TYPES = ("Note", "MarkdownNote")
# Nodes for which the frontend adds an "audioUI" player widget (comfyui-frontend 1.27, extension Comfy.AudioWidget).
AUDIO_UI_NODE_TYPES = ("LoadAudio", "SaveAudio", "PreviewAudio", "SaveAudioMP3", "SaveAudioOpus")
# Input types that are frontend widgets only (no socket, value never needed by the server). A custom node with an
# ``audio_upload`` combo must declare an optional ``audioUI: ("AUDIO_UI",)`` input: frontend 1.27's upload widget
# looks up the node's "audioUI" player widget and throws without it (the node then fails to load in the UI).
UI_ONLY_INPUT_TYPES = ("AUDIO_UI",)
UPLOAD_OPTIONS = ("image_upload", "audio_upload", "video_upload")  # combo options that add an "upload" button
SEED_WIDGET_NAMES = ("seed", "noise_seed")
CONTROL_VALUES = ("fixed", "increment", "decrement", "randomize")
MODE_ALWAYS, MODE_NEVER, MODE_BYPASS = 0, 2, 4


class WorkflowError(ValueError):
    """A workflow file is malformed or does not fit the nodes it names."""


# --------------------------------------------------------------------------------------------------------------------
# object_info


def node_info(node_id: str, node_class, display_name: str | None = None) -> dict:
    """The ``/object_info`` entry of a classic ComfyUI node class (same keys as ComfyUI's server builds)."""
    input_types = node_class.INPUT_TYPES()
    return_types = list(node_class.RETURN_TYPES)
    info = {
        "input": input_types,
        "input_order": {group: list(entries) for group, entries in input_types.items()},
        "output": return_types,
        "output_is_list": list(getattr(node_class, "OUTPUT_IS_LIST", [False] * len(return_types))),
        "output_name": list(getattr(node_class, "RETURN_NAMES", return_types)),
        "name": node_id,
        "display_name": display_name or node_id,
        "description": getattr(node_class, "DESCRIPTION", ""),
        "python_module": getattr(node_class, "RELATIVE_PYTHON_MODULE", "nodes"),
        "category": getattr(node_class, "CATEGORY", "sd"),
        "output_node": bool(getattr(node_class, "OUTPUT_NODE", False)),
    }
    if hasattr(node_class, "OUTPUT_TOOLTIPS"):
        info["output_tooltips"] = list(node_class.OUTPUT_TOOLTIPS)
    for flag, key in (("DEPRECATED", "deprecated"), ("EXPERIMENTAL", "experimental")):
        if getattr(node_class, flag, False):
            info[key] = True
    if hasattr(node_class, "API_NODE"):
        info["api_node"] = node_class.API_NODE
    return json.loads(json.dumps(info, default=_json_default))


def _json_default(value):
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def pack_object_info(class_mappings: dict, display_names: dict | None = None) -> dict:
    """``/object_info`` entries for every node of a pack's ``NODE_CLASS_MAPPINGS``."""
    display_names = display_names or {}
    return {node_id: node_info(node_id, cls, display_names.get(node_id)) for node_id, cls in class_mappings.items()}


@dataclass(frozen=True)
class InputSpec:
    """One declared input of a node: ``kind`` is a widget type (INT, FLOAT, STRING, BOOLEAN, COMBO) or a socket type."""

    name: str
    kind: str
    options: dict
    required: bool
    combo_values: tuple = ()

    @property
    def is_widget(self) -> bool:
        return self.kind in WIDGET_TYPES and not self.options.get("forceInput", False)

    @property
    def is_ui_only(self) -> bool:
        """A frontend-only widget (player, upload button): neither a socket nor a value the server needs."""
        return self.kind in UI_ONLY_INPUT_TYPES

    @property
    def has_control_widget(self) -> bool:
        """True when the frontend adds a 'control after generate' widget after this one."""
        if self.kind == "INT":
            return bool(self.options.get("control_after_generate")) or self.name in SEED_WIDGET_NAMES
        return self.kind == "COMBO" and bool(self.options.get("control_after_generate"))

    @property
    def is_file_combo(self) -> bool:
        """A combo filled from a folder at run time (uploads, model files): any file name is acceptable offline."""
        return self.kind == "COMBO" and (not self.combo_values or self.options.get("audio_upload")
                                         or self.options.get("image_upload") or self.options.get("video_upload"))

    def default_value(self):
        if "default" in self.options:
            return self.options["default"]
        if self.kind == "COMBO":
            return self.combo_values[0] if self.combo_values else ""
        if self.kind in ("INT", "FLOAT"):
            return self.options.get("min", 0)
        return {"STRING": "", "BOOLEAN": False}.get(self.kind)


def input_specs(info: dict) -> list[InputSpec]:
    """Declared inputs of a node in ``INPUT_TYPES`` order (required, then optional; hidden ones left out)."""
    specs = []
    order = info.get("input_order") or {}
    for group in ("required", "optional"):
        entries = info.get("input", {}).get(group) or {}
        for name in order.get(group, list(entries)):
            entry = entries[name]
            declared = entry[0]
            options = dict(entry[1]) if len(entry) > 1 and isinstance(entry[1], dict) else {}
            if isinstance(declared, list):
                specs.append(InputSpec(name, "COMBO", options, group == "required", tuple(declared)))
            elif declared == "COMBO":
                specs.append(InputSpec(name, "COMBO", options, group == "required", tuple(options.get("options", ()))))
            else:
                specs.append(InputSpec(name, str(declared), options, group == "required"))
    return specs


def widget_slots(node_type: str, info: dict) -> list[tuple[str, str]]:
    """The frontend's ``widgets_values`` layout of a node: ``(input_name, role)`` per entry.

    ``role`` is "value" (the widget's value, sent to the server), "control" (control_after_generate mode) or
    "ui" (an upload button or player widget whose saved value is ``None``/a label; never sent to the server).
    """
    specs = input_specs(info)
    slots = []
    for spec in specs:
        if not spec.is_widget:
            continue
        slots.append((spec.name, "value"))
        if spec.has_control_widget:
            slots.append((spec.name, "control"))
    if node_type in AUDIO_UI_NODE_TYPES:
        slots.append(("audioUI", "ui"))
    slots.extend((s.name, "ui") for s in specs if s.is_ui_only)
    if any(s.required and s.kind == "COMBO" and any(s.options.get(k) for k in UPLOAD_OPTIONS) for s in specs):
        slots.append(("upload", "ui"))
    return slots


def _ui_slot_value(node_type: str, name: str, info: dict):
    specs = {s.name: s for s in input_specs(info)}
    if name == "upload" and "image" in specs and specs["image"].options.get("image_upload"):
        return "image"
    return None


# --------------------------------------------------------------------------------------------------------------------
# Loading and format detection


def load_workflow(path) -> dict:
    """Read a workflow JSON file (UI or API format)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AudioWalkInputError("workflow", f"{str(path)!r} does not exist", "a workflow .json file") from None
    except json.JSONDecodeError as exc:
        raise AudioWalkInputError("workflow", f"{path.name!r} is not valid JSON ({exc})",
                                  "a workflow saved by ComfyUI (UI or API format)") from None
    if not isinstance(data, dict) or not (is_ui_workflow(data) or is_api_workflow(data)):
        raise AudioWalkInputError("workflow", f"{path.name!r} is neither a UI nor an API workflow",
                                  "a ComfyUI workflow JSON ('nodes' and 'links', or node ids with 'class_type')")
    return data


def is_ui_workflow(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("nodes"), list) and isinstance(data.get("links"), list)


def is_api_workflow(data) -> bool:
    return (isinstance(data, dict) and bool(data)
            and all(isinstance(v, dict) and "class_type" in v for v in data.values()))


def dump_json(data) -> str:
    """The canonical text of a workflow file: 2-space indent, key order kept, newline at the end."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------------------------------
# UI -> API


def ui_to_api(ui: dict, object_info: dict) -> dict:
    """Convert a UI-format workflow to the API format, as the frontend does when it queues a prompt.

    Notes are left out, muted nodes (mode 2) are left out; bypassed nodes (mode 4) are refused.
    """
    nodes = {int(n["id"]): n for n in ui["nodes"]}
    links = {int(link[0]): link for link in ui["links"]}
    api = {}
    for node_id in sorted(nodes):
        node = nodes[node_id]
        node_type = node["type"]
        if node_type in FRONTEND_ONLY_TYPES or node.get("mode", MODE_ALWAYS) == MODE_NEVER:
            continue
        if node.get("mode", MODE_ALWAYS) == MODE_BYPASS:
            raise WorkflowError(f"node {node_id} ({node_type}) is bypassed; bypass is not supported here")
        if node_type not in object_info:
            raise WorkflowError(f"node {node_id}: unknown node type {node_type!r} (not in /object_info)")
        info = object_info[node_type]
        slots = widget_slots(node_type, info)
        values = node.get("widgets_values") or []
        if isinstance(values, dict):
            raise WorkflowError(f"node {node_id} ({node_type}): dict widgets_values are not supported")
        if len(values) != len(slots):
            raise WorkflowError(f"node {node_id} ({node_type}): {len(values)} widget values, expected {len(slots)} "
                                f"for {[name for name, _ in slots]}")
        inputs = {}
        for (name, role), value in zip(slots, values):
            if role == "value":
                inputs[name] = copy.deepcopy(value)
        for entry in node.get("inputs") or []:
            link_id = entry.get("link")
            if link_id is None:
                continue
            link = links.get(int(link_id))
            if link is None:
                raise WorkflowError(f"node {node_id} input {entry['name']!r}: link {link_id} is not in 'links'")
            inputs[entry["name"]] = [str(link[1]), int(link[2])]
        ordered = {}
        for spec in input_specs(info):
            if spec.name in inputs:
                ordered[spec.name] = inputs.pop(spec.name)
        ordered.update(inputs)
        title = node.get("title") or info.get("display_name") or node_type
        api[str(node_id)] = {"inputs": ordered, "class_type": node_type, "_meta": {"title": title}}
    return api


# --------------------------------------------------------------------------------------------------------------------
# A graph described in Python -> both formats


@dataclass
class GraphNode:
    """One node of a workflow described in Python.

    ``values``: widget values by input name (missing ones take the declared default). ``links``: input name ->
    ``(source node id, output index)``. ``controls``: control_after_generate mode by input name (default "fixed").
    ``routes``: input name -> canvas points the link passes through on its way from the output (the frontend's
    reroutes, saved in ``extra.reroutes``; the API format does not see them).
    """

    id: int
    class_type: str
    pos: tuple
    size: tuple = (320, 120)
    title: str | None = None
    values: dict = field(default_factory=dict)
    links: dict = field(default_factory=dict)
    controls: dict = field(default_factory=dict)
    color: str | None = None
    bgcolor: str | None = None
    routes: dict = field(default_factory=dict)


@dataclass
class GraphNote:
    """A MarkdownNote shown in the UI (not part of the API graph)."""

    id: int
    text: str
    pos: tuple
    size: tuple = (400, 200)
    title: str | None = None


@dataclass
class GraphGroup:
    """A titled box around nodes in the UI (a stage of the pipeline); ``bounding`` = (x, y, width, height)."""

    title: str
    bounding: tuple
    color: str = "#3f789e"


def _topological_order(nodes: list[GraphNode]) -> dict[int, int]:
    by_id = {n.id: n for n in nodes}
    order, state = {}, {}

    def visit(node_id, trail):
        if state.get(node_id) == "done":
            return
        if state.get(node_id) == "visiting":
            raise WorkflowError(f"the graph has a cycle through nodes {trail + [node_id]}")
        state[node_id] = "visiting"
        for source, _ in by_id[node_id].links.values():
            if source not in by_id:
                raise WorkflowError(f"node {node_id} links from node {source}, which is not in the graph")
            visit(source, trail + [node_id])
        state[node_id] = "done"
        order[node_id] = len(order)

    for node in sorted(nodes, key=lambda n: n.id):
        visit(node.id, [])
    return order


def build_ui_workflow(nodes: list[GraphNode], object_info: dict, notes: tuple = (), workflow_id: str = "",
                      extra: dict | None = None, groups: tuple = ()) -> dict:
    """The UI-format (litegraph 0.4) workflow of a graph, laid out as the frontend saves it."""
    ids = [n.id for n in nodes] + [n.id for n in notes]
    if len(set(ids)) != len(ids):
        raise WorkflowError(f"duplicate node ids in {ids}")
    order = _topological_order(nodes)
    links, link_ids_by_source = [], {}
    incoming = {}
    for node in sorted(nodes, key=lambda n: n.id):
        info = _info_for(node, object_info)
        specs = {s.name: s for s in input_specs(info)}
        for input_name, (source, slot) in node.links.items():
            if input_name not in specs:
                raise WorkflowError(f"node {node.id} ({node.class_type}) has no input {input_name!r}")
            source_node = next(n for n in nodes if n.id == source)
            source_outputs = _info_for(source_node, object_info)["output"]
            if not 0 <= slot < len(source_outputs):
                raise WorkflowError(f"node {node.id} input {input_name!r}: node {source} has no output {slot}")
            link_id = len(links) + 1
            out_type = source_outputs[slot]
            out_type = "COMBO" if isinstance(out_type, list) else out_type
            input_index = None  # filled once the node's inputs list is known
            links.append([link_id, source, slot, node.id, input_index, out_type])
            link_ids_by_source.setdefault((source, slot), []).append(link_id)
            incoming[(node.id, input_name)] = link_id
    ui_nodes = []
    link_by_id = {link[0]: link for link in links}
    for node in sorted(nodes, key=lambda n: n.id):
        info = _info_for(node, object_info)
        specs = input_specs(info)
        unknown = set(node.values) - {s.name for s in specs}
        if unknown:
            raise WorkflowError(f"node {node.id} ({node.class_type}) has no widget(s) {sorted(unknown)}")
        ui_inputs = []
        for spec in specs:
            link_id = incoming.get((node.id, spec.name))
            if (spec.is_widget and link_id is None) or spec.is_ui_only:
                continue
            entry = {"name": spec.name, "type": spec.kind if spec.kind != "COMBO" else "COMBO"}
            if spec.is_widget:
                entry["widget"] = {"name": spec.name}
            entry["link"] = link_id
            if link_id is not None:
                link_by_id[link_id][4] = len(ui_inputs)
            ui_inputs.append(entry)
        outputs = []
        for index, (out_type, out_name) in enumerate(zip(info["output"], info.get("output_name", info["output"]))):
            out_type = "COMBO" if isinstance(out_type, list) else out_type
            outputs.append({"name": out_name, "type": out_type, "slot_index": index,
                            "links": link_ids_by_source.get((node.id, index)) or None})
        widgets_values = []
        for name, role in widget_slots(node.class_type, info):
            spec = next((s for s in specs if s.name == name), None)
            if role == "value":
                widgets_values.append(copy.deepcopy(node.values.get(name, spec.default_value())))
            elif role == "control":
                control = node.controls.get(name, "fixed")
                if control not in CONTROL_VALUES:
                    raise WorkflowError(f"node {node.id}: control mode {control!r} for {name!r}; "
                                        f"expected one of {CONTROL_VALUES}")
                widgets_values.append(control)
            else:
                widgets_values.append(_ui_slot_value(node.class_type, name, info))
        # the frontend draws a node at its saved size even when its widgets need more: never save less than
        # the header, the socket rows (20 px) and the widget rows (24 px) take
        socket_rows = max(sum(1 for entry in ui_inputs if entry.get("widget") is None), len(outputs))
        needed_height = 36 + 20 * socket_rows + 24 * len(widgets_values)
        size = [node.size[0], max(node.size[1], needed_height)]
        ui_node = {"id": node.id, "type": node.class_type, "pos": list(node.pos), "size": size,
                   "flags": {}, "order": order[node.id], "mode": MODE_ALWAYS, "inputs": ui_inputs,
                   "outputs": outputs}
        if node.title:
            ui_node["title"] = node.title
        ui_node["properties"] = {"Node name for S&R": node.class_type}
        ui_node["widgets_values"] = widgets_values
        if node.color:
            ui_node["color"] = node.color
        if node.bgcolor:
            ui_node["bgcolor"] = node.bgcolor
        ui_nodes.append(ui_node)
    for index, note in enumerate(sorted(notes, key=lambda n: n.id)):
        ui_note = {"id": note.id, "type": "MarkdownNote", "pos": list(note.pos), "size": list(note.size),
                   "flags": {}, "order": len(nodes) + index, "mode": MODE_ALWAYS, "inputs": [], "outputs": []}
        if note.title:
            ui_note["title"] = note.title
        ui_note["properties"] = {}
        ui_note["widgets_values"] = [note.text]
        ui_note["color"], ui_note["bgcolor"] = "#432", "#653"
        ui_nodes.append(ui_note)
    ui_nodes.sort(key=lambda n: n["id"])
    extra = extra if extra is not None else {"ds": {"scale": 0.8, "offset": [0, 0]}}
    reroutes, extensions = _reroutes(nodes, incoming)
    if reroutes:  # the 0.4 schema keeps reroutes and the links' last reroute in "extra" (as the frontend saves it)
        extra = {**extra, "reroutes": reroutes, "linkExtensions": extensions}
    return {
        "id": workflow_uuid(workflow_id),
        "revision": 0,
        "last_node_id": max(ids) if ids else 0,
        "last_link_id": len(links),
        "nodes": ui_nodes,
        "links": links,
        "groups": [{"id": index + 1, "title": group.title, "bounding": list(group.bounding), "color": group.color,
                    "font_size": 24, "flags": {}} for index, group in enumerate(groups)],
        "config": {},
        "extra": extra,
        "version": 0.4,
    }


def _reroutes(nodes: list[GraphNode], incoming: dict) -> tuple[list[dict], list[dict]]:
    """The frontend's reroutes of the nodes' ``routes``: one chain per routed link, from the output side (no
    parent) to the input side, and ``{"id": link, "parentId": last reroute}`` per routed link. Links from one
    output whose routes start with the same points share those reroutes (a trunk that branches)."""
    reroutes, extensions, shared = [], [], {}
    for node in sorted(nodes, key=lambda n: n.id):
        for input_name, points in sorted(node.routes.items()):
            link_id = incoming.get((node.id, input_name))
            if link_id is None:
                raise WorkflowError(f"node {node.id}: a route for {input_name!r}, which is not linked")
            source = node.links[input_name]
            parent = None
            for index in range(len(points)):
                key = (source, tuple(tuple(float(v) for v in point) for point in points[:index + 1]))
                entry = shared.get(key)
                if entry is None:
                    entry = {"id": len(reroutes) + 1, "pos": [float(points[index][0]), float(points[index][1])],
                             "linkIds": []}
                    if parent is not None:
                        entry["parentId"] = parent
                    reroutes.append(entry)
                    shared[key] = entry
                entry["linkIds"].append(link_id)
                parent = entry["id"]
            if parent is not None:
                extensions.append({"id": link_id, "parentId": parent})
    return reroutes, extensions


def _info_for(node: GraphNode, object_info: dict) -> dict:
    if node.class_type not in object_info:
        raise WorkflowError(f"node {node.id}: unknown node type {node.class_type!r} (not in /object_info)")
    return object_info[node.class_type]


# --------------------------------------------------------------------------------------------------------------------
# Validation


def validate_api_workflow(api: dict, object_info: dict) -> list[str]:
    """Problems of an API-format workflow against ``object_info`` (empty list: valid).

    Checks what ComfyUI's ``validate_prompt`` checks before running: every node type exists, every required input
    is given, no unknown inputs, links point at existing nodes and outputs of a matching type, and widget values
    have the declared type, lie within min/max and are in the combo list. Combos filled from folders at run time
    (empty lists in a recorded /object_info, upload widgets) accept any non-empty file name. At least one output
    node must be present.
    """
    problems = []
    if not is_api_workflow(api):
        return ["not an API-format workflow (expected {id: {'class_type', 'inputs'}})"]
    has_output = False
    for node_id, node in api.items():
        class_type = node["class_type"]
        where = f"node {node_id} ({class_type})"
        info = object_info.get(class_type)
        if info is None:
            problems.append(f"{where}: unknown node type (not in /object_info)")
            continue
        has_output = has_output or bool(info.get("output_node"))
        specs = {s.name: s for s in input_specs(info)}
        inputs = node.get("inputs", {})
        for name in inputs:
            if name not in specs:
                problems.append(f"{where}: unknown input {name!r}; the node has {sorted(specs)}")
        for name, spec in specs.items():
            if name not in inputs:
                if spec.required:
                    problems.append(f"{where}: required input {name!r} is missing")
                continue
            value = inputs[name]
            if isinstance(value, list):
                problems.extend(_check_link(api, object_info, where, name, spec, value))
            elif spec.is_ui_only:
                continue
            elif not spec.is_widget and spec.kind not in WIDGET_TYPES:
                problems.append(f"{where}: input {name!r} of type {spec.kind} needs a link, got value {value!r}")
            else:
                problem = check_widget_value(spec, value)
                if problem:
                    problems.append(f"{where}: {problem}")
    if not has_output:
        problems.append("the workflow has no output node, so ComfyUI would run nothing")
    return problems


def _check_link(api, object_info, where, name, spec, value) -> list[str]:
    if len(value) != 2 or not isinstance(value[1], int):
        return [f"{where}: input {name!r}: bad link {value!r}, expected [node_id, output_index]"]
    source_id = str(value[0])
    source = api.get(source_id)
    if source is None:
        return [f"{where}: input {name!r} links to node {source_id}, which is not in the workflow"]
    source_info = object_info.get(source["class_type"])
    if source_info is None:
        return []  # reported for the source node itself
    outputs = source_info["output"]
    if not 0 <= value[1] < len(outputs):
        return [f"{where}: input {name!r} links to output {value[1]} of node {source_id} "
                f"({source['class_type']}), which has {len(outputs)} outputs"]
    out_type = outputs[value[1]]
    in_type = "COMBO" if spec.kind == "COMBO" else spec.kind
    out_type = "COMBO" if isinstance(out_type, list) else out_type
    if not types_match(out_type, in_type):
        return [f"{where}: input {name!r} expects {in_type} but node {source_id} ({source['class_type']}) "
                f"output {value[1]} gives {out_type}"]
    return []


def types_match(output_type: str, input_type: str) -> bool:
    """ComfyUI's link type rule: equal, either is '*', or comma-separated unions overlap."""
    if output_type == input_type or "*" in (output_type, input_type):
        return True
    outs = {t.strip() for t in str(output_type).split(",")}
    ins = {t.strip() for t in str(input_type).split(",")}
    return bool(outs & ins)


def check_widget_value(spec: InputSpec, value) -> str | None:
    """Why ``value`` is not valid for the widget ``spec`` (None when it is)."""
    name = spec.name
    if spec.kind == "INT":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"input {name!r} must be an integer, got {value!r}"
    elif spec.kind == "FLOAT":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"input {name!r} must be a finite number, got {value!r}"
    elif spec.kind == "STRING":
        if not isinstance(value, str):
            return f"input {name!r} must be a string, got {value!r}"
    elif spec.kind == "BOOLEAN":
        if not isinstance(value, bool):
            return f"input {name!r} must be true or false, got {value!r}"
    elif spec.kind == "COMBO":
        if spec.is_file_combo:
            if not isinstance(value, str) or not value.strip():
                return f"input {name!r} must be a file name, got {value!r}"
        elif value not in spec.combo_values and not _names_a_marked_choice(value, spec.combo_values):
            return f"input {name!r}: {value!r} is not one of {list(spec.combo_values)}"
        return None
    if spec.kind in ("INT", "FLOAT"):
        if "min" in spec.options and value < spec.options["min"]:
            return f"input {name!r}: {value} is below the minimum {spec.options['min']}"
        if "max" in spec.options and value > spec.options["max"]:
            return f"input {name!r}: {value} is above the maximum {spec.options['max']}"
    return None


def _names_a_marked_choice(value, choices) -> bool:
    """Load BigGAN lists a model that is not on disk as "<name> (download, N MB)" and accepts the plain name (its
    VALIDATE_INPUTS replaces ComfyUI's list check), so workflows can name the model whether or not it is there."""
    from audiowalk_core.generators.biggan.store import model_name_from_choice

    return isinstance(value, str) and value in {model_name_from_choice(choice) for choice in choices}


def workflow_uuid(name: str) -> str:
    """The frontend's schema wants a UUID as a workflow's ``id``: a name becomes a stable UUID (uuid5), so the
    generated files do not change from build to build; a UUID is kept as it is."""
    import uuid

    try:
        return str(uuid.UUID(str(name)))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://github.com/audiowalk/ComfyUI-AudioWalk/{name}"))


def validate_ui_workflow(ui: dict, object_info: dict) -> list[str]:
    """Problems of a UI-format workflow: a UUID id (the frontend refuses others with an alert), link table
    consistent with node sockets and types, widget value count."""
    import uuid

    problems = []
    try:
        uuid.UUID(str(ui.get("id")))
    except ValueError:
        problems.append(f"workflow id {ui.get('id')!r} is not a UUID (ComfyUI's frontend schema requires one)")
    nodes = {int(n["id"]): n for n in ui.get("nodes", [])}
    if len(nodes) != len(ui.get("nodes", [])):
        problems.append("duplicate node ids")
    for link in ui.get("links", []):
        if len(link) != 6:
            problems.append(f"link {link!r}: expected [id, from_node, from_slot, to_node, to_slot, type]")
            continue
        link_id, src, src_slot, dst, dst_slot, link_type = link
        if src not in nodes or dst not in nodes:
            problems.append(f"link {link_id}: joins missing node {src if src not in nodes else dst}")
            continue
        outputs = nodes[src].get("outputs") or []
        inputs = nodes[dst].get("inputs") or []
        if not 0 <= src_slot < len(outputs) or link_id not in (outputs[src_slot].get("links") or []):
            problems.append(f"link {link_id}: not listed on output {src_slot} of node {src}")
            continue
        if not 0 <= dst_slot < len(inputs) or inputs[dst_slot].get("link") != link_id:
            problems.append(f"link {link_id}: not listed on input {dst_slot} of node {dst}")
            continue
        if outputs[src_slot]["type"] != link_type or not types_match(link_type, inputs[dst_slot]["type"]):
            problems.append(f"link {link_id}: type {link_type} from node {src} output "
                            f"{outputs[src_slot]['type']} into node {dst} input {inputs[dst_slot]['type']}")
    problems.extend(_reroute_problems(ui))
    for node_id, node in nodes.items():
        if node["type"] in FRONTEND_ONLY_TYPES:
            continue
        info = object_info.get(node["type"])
        if info is None:
            problems.append(f"node {node_id}: unknown node type {node['type']!r}")
            continue
        declared = {s.name: s for s in input_specs(info)}
        for entry in node.get("inputs") or []:
            spec = declared.get(entry["name"])
            if spec is None:
                problems.append(f"node {node_id} ({node['type']}): unknown input socket {entry['name']!r}")
            elif entry["type"] != spec.kind:
                problems.append(f"node {node_id} ({node['type']}): socket {entry['name']!r} has type "
                                f"{entry['type']}, declared {spec.kind}")
        expected = len(widget_slots(node["type"], info))
        if len(node.get("widgets_values") or []) != expected:
            problems.append(f"node {node_id} ({node['type']}): {len(node.get('widgets_values') or [])} widget "
                            f"values, expected {expected}")
    return problems


def _reroute_problems(ui: dict) -> list[str]:
    """Reroutes (``extra.reroutes``) whose links or parents do not exist, chains that loop, and link extensions
    (``extra.linkExtensions``: a link's last reroute) that name a reroute the link does not pass."""
    extra = ui.get("extra") or {}
    reroutes = {r["id"]: r for r in extra.get("reroutes") or []}
    link_ids = {link[0] for link in ui.get("links", [])}
    problems = []
    for reroute in reroutes.values():
        for link_id in reroute.get("linkIds", []):
            if link_id not in link_ids:
                problems.append(f"reroute {reroute['id']}: link {link_id} is not in 'links'")
        seen, parent = {reroute["id"]}, reroute.get("parentId")
        while parent is not None:
            if parent not in reroutes or parent in seen:
                problems.append(f"reroute {reroute['id']}: its chain of parents breaks or loops at {parent}")
                break
            seen.add(parent)
            parent = reroutes[parent].get("parentId")
    for extension in extra.get("linkExtensions") or []:
        chain, parent = [], extension.get("parentId")
        while parent in reroutes and parent not in chain:
            chain.append(parent)
            parent = reroutes[parent].get("parentId")
        if extension["id"] not in link_ids or not chain or any(
                extension["id"] not in reroutes[r].get("linkIds", []) for r in chain):
            problems.append(f"link {extension['id']}: its reroutes {chain} do not all carry it")
    return problems


def graph_signature(api: dict) -> dict:
    """The graph an API workflow describes, without titles: ``{id: (class_type, inputs)}``; equal graphs compare equal."""
    return {str(node_id): (node["class_type"], json.dumps(node.get("inputs", {}), sort_keys=True))
            for node_id, node in api.items()}


# --------------------------------------------------------------------------------------------------------------------
# Setting inputs: NODE.INPUT=VALUE


def find_node(api: dict, reference: str) -> str:
    """Node id of ``reference``: a node id, a node title (``_meta.title``) or a class_type that occurs once."""
    if reference in api:
        return reference
    by_title = [nid for nid, n in api.items() if n.get("_meta", {}).get("title") == reference]
    if not by_title:
        by_title = [nid for nid, n in api.items() if n.get("_meta", {}).get("title", "").lower() == reference.lower()]
    by_class = [nid for nid, n in api.items() if n["class_type"] == reference]
    matches = by_title or by_class
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f"{nid} ({n.get('_meta', {}).get('title', n['class_type'])})" for nid, n in api.items())
    if not matches:
        raise AudioWalkInputError("--set", f"no node {reference!r} in the workflow",
                                  f"a node id or title; the workflow has: {known}")
    raise AudioWalkInputError("--set", f"{reference!r} names {len(matches)} nodes ({', '.join(matches)})",
                              "a node id, or a title that names one node")


def parse_assignment(text: str) -> tuple[str, str, str]:
    """``"NODE.INPUT=VALUE"`` -> ``(node, input, value_text)``. The node part may itself contain dots (titles)."""
    if "=" not in text:
        raise AudioWalkInputError("--set", f"{text!r} has no '='", "NODE.INPUT=VALUE, e.g. 'KSampler.seed=7'")
    target, value = text.split("=", 1)
    if "." not in target:
        raise AudioWalkInputError("--set", f"{text!r} has no '.' between node and input",
                                  "NODE.INPUT=VALUE, e.g. 'KSampler.seed=7'")
    node, input_name = target.rsplit(".", 1)
    if not node.strip() or not input_name.strip():
        raise AudioWalkInputError("--set", f"{text!r} names no node or no input", "NODE.INPUT=VALUE")
    return node.strip(), input_name.strip(), value


def coerce_value(text: str, spec: InputSpec | None, current=None, input_name: str = "--set"):
    """A command-line value converted to the input's type (from its declaration, else from its current value)."""
    kind = spec.kind if spec is not None else _kind_of(current)
    try:
        if kind == "INT":
            return int(text)
        if kind == "FLOAT":
            return float(text)
        if kind == "BOOLEAN":
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError(text)
    except ValueError:
        raise AudioWalkInputError(input_name, f"{text!r} is not a valid {kind} value",
                                  {"INT": "an integer", "FLOAT": "a number", "BOOLEAN": "true or false"}[kind]
                                  ) from None
    if kind in ("STRING", "COMBO"):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _kind_of(value) -> str | None:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INT"
    if isinstance(value, float):
        return "FLOAT"
    if isinstance(value, str):
        return "STRING"
    return None


def set_input(api: dict, node_ref: str, input_name: str, value, object_info: dict | None = None,
              from_text: bool = False) -> str:
    """Set ``input_name`` of the node ``node_ref`` (id, title or unique class_type) in an API workflow, in place.

    With ``from_text`` the value is converted from command-line text to the input's type. Refuses inputs the node
    does not have and inputs that are wired to another node. Returns the node id.
    """
    node_id = find_node(api, node_ref)
    node = api[node_id]
    label = f"{node_ref}.{input_name}"
    spec = None
    if object_info is not None and node["class_type"] in object_info:
        specs = {s.name: s for s in input_specs(object_info[node["class_type"]])}
        spec = specs.get(input_name)
        if spec is None:
            raise AudioWalkInputError(label, f"node {node_id} ({node['class_type']}) has no input {input_name!r}",
                                      "one of " + ", ".join(specs))
    elif input_name not in node.get("inputs", {}):
        raise AudioWalkInputError(label, f"node {node_id} ({node['class_type']}) has no input {input_name!r}",
                                  "one of " + ", ".join(node.get("inputs", {})))
    current = node.get("inputs", {}).get(input_name)
    if isinstance(current, list):
        raise AudioWalkInputError(label, f"is wired to node {current[0]} output {current[1]}",
                                  "an input that holds a value (a widget), not a link")
    if from_text:
        value = coerce_value(value, spec, current, label)
    if spec is not None:
        problem = check_widget_value(spec, value) if spec.kind in WIDGET_TYPES else (
            f"input {input_name!r} of type {spec.kind} needs a link")
        if problem:
            raise AudioWalkInputError(label, problem, "a value the node accepts")
    node.setdefault("inputs", {})[input_name] = value
    return node_id


def apply_assignments(api: dict, assignments, object_info: dict | None = None) -> dict:
    """Apply ``["NODE.INPUT=VALUE", ...]`` to a copy of an API workflow and return the copy."""
    api = copy.deepcopy(api)
    for text in assignments or ():
        node_ref, input_name, value = parse_assignment(text)
        set_input(api, node_ref, input_name, value, object_info, from_text=True)
    return api


def nodes_of_type(api: dict, class_type: str) -> list[str]:
    """Ids of the nodes of ``class_type``, in numeric order."""
    return sorted((nid for nid, n in api.items() if n["class_type"] == class_type),
                  key=lambda nid: (len(nid), nid))


def apply_preset(api: dict, name: str, object_info: dict | None = None) -> dict:
    """A copy of an API workflow with a named preset's widget values (audiowalk_core.settings.preset_widgets) set on
    every node of the preset's node types that the workflow has; inputs wired to a link keep their link. Returns
    the copy; a workflow with none of the preset's nodes is refused (naming the preset)."""
    from audiowalk_core.settings import preset_widgets

    api = copy.deepcopy(api)
    touched = 0
    for class_type, widgets in preset_widgets(name).items():
        for node_id in nodes_of_type(api, class_type):
            for input_name, value in widgets.items():
                if isinstance(api[node_id].get("inputs", {}).get(input_name), list):
                    continue
                set_input(api, node_id, input_name, value, object_info)
                touched += 1
    if not touched:
        raise AudioWalkInputError("--preset", f"the workflow has none of the nodes preset {name!r} sets",
                                  "a workflow with Audio Features, Band Noise Walk, Class Schedule ... (the BigGAN "
                                  "template)")
    return api
