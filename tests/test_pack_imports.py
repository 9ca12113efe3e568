import subprocess
import sys

from support import REPO_ROOT


def test_core_imports_without_comfyui():
    code = ("import sys, audiowalk_core; "
            "bad = [m for m in ('folder_paths', 'comfy', 'nodes') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


def test_pack_registers_nodes_with_categories_and_tooltips(pack):
    mappings = pack.NODE_CLASS_MAPPINGS
    assert set(mappings) == set(pack.NODE_DISPLAY_NAME_MAPPINGS)
    for node_id, cls in mappings.items():
        assert node_id.startswith("AudioWalk"), node_id
        assert cls.CATEGORY.startswith("AudioWalk/"), node_id
        assert isinstance(cls.DESCRIPTION, str) and cls.DESCRIPTION, node_id
        assert callable(getattr(cls, cls.FUNCTION)), node_id
        spec = cls.INPUT_TYPES()
        for group in ("required", "optional"):
            for name, entry in spec.get(group, {}).items():
                options = entry[1] if len(entry) > 1 else {}
                assert options.get("tooltip"), f"{node_id}.{name} has no tooltip"
        assert len(cls.RETURN_TYPES) == len(getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES))


def test_repo_root_is_not_on_sys_path():
    assert str(REPO_ROOT) not in sys.path


def test_display_names_are_unique_and_do_not_clash_with_comfyui_core_nodes(pack):
    """The node library already files our nodes under AudioWalk/...: names need no '(AudioWalk)' suffix (it broke
    mid-word there), but must not repeat a core node's name (core has "Load Audio" and "Save Video")."""
    import json

    core = set(json.loads((REPO_ROOT / "tests" / "data" / "comfyui-0.3.64-core-display-names.json")
                          .read_text())["display_names"])
    names = pack.NODE_DISPLAY_NAME_MAPPINGS
    assert len(set(names.values())) == len(names)
    assert sorted(set(names.values()) & core) == []
    for module in (pack.nodes.audio_nodes, pack.nodes.walk_nodes, pack.nodes.biggan_nodes, pack.nodes.curve_nodes,
                   pack.nodes.chunk_nodes, pack.nodes.video_nodes):
        for node_id, name in module.NODE_DISPLAY_NAME_MAPPINGS.items():
            assert "AudioWalk" not in name, node_id


def test_rooms_nodes_and_core_never_import_the_tools():
    """Imports run nodes -> core and tools -> core, never back: the pack (as ComfyUI loads it) and the core alone
    pull in no audiowalk_tools module, and the core no ComfyUI module."""
    code = ("import importlib.util, sys; "
            "spec = importlib.util.spec_from_file_location('pack', '__init__.py', submodule_search_locations=['.']); "
            "pack = importlib.util.module_from_spec(spec); sys.modules['pack'] = pack; spec.loader.exec_module(pack); "
            "assert len(pack.NODE_CLASS_MAPPINGS) > 10; "
            "import audiowalk_core.render, audiowalk_core.pipeline, audiowalk_core.chunks; "
            "bad = [m for m in sys.modules if m.startswith('audiowalk_tools')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(REPO_ROOT))


def test_the_pack_and_plain_python_share_one_core(pack):
    """One module name: the nodes use the very audiowalk_core that plain Python imports (an AudioClip or an error
    from one is the other's), and error names carry no file path."""
    import audiowalk_core
    import audiowalk_core.errors

    assert pack.nodes.audio_nodes.load_audio.__module__ == "audiowalk_core.audio"
    assert sys.modules["audiowalk_core"] is audiowalk_core
    assert pack.nodes.video_nodes.AudioWalkInputError is audiowalk_core.errors.AudioWalkInputError
    assert audiowalk_core.errors.AudioWalkInputError.__module__ == "audiowalk_core.errors"


# Core modules over this many lines are split into a subpackage (issue 18).
MAX_CORE_MODULE_LINES = 600


def python_files(folder: str) -> list:
    return sorted((REPO_ROOT / folder).rglob("*.py"))


def test_every_core_module_is_at_most_600_lines():
    sizes = {str(path.relative_to(REPO_ROOT)): len(path.read_text(encoding="utf-8").splitlines())
             for path in python_files("audiowalk_core")}
    assert "audiowalk_core/generators/biggan/runtime.py" in sizes  # the walk reaches the subpackages
    too_long = {name: lines for name, lines in sizes.items()
                if lines > MAX_CORE_MODULE_LINES}
    assert not too_long, f"core modules over {MAX_CORE_MODULE_LINES} lines (split them into a subpackage): {too_long}"


def imported_names(path) -> set:
    """Every module name an ``import`` or ``from ... import`` in ``path`` names, at any depth (lazy imports inside
    functions included); relative imports as their dots and name."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_no_core_or_node_file_imports_the_tools_and_only_the_adapter_imports_comfyui():
    """Read from the source, lazy imports included (an import inside a function runs only when it is called)."""
    comfy_modules = ("comfy", "folder_paths", "server", "nodes", "comfy_api", "comfy_extras")
    offenders = []
    for folder in ("audiowalk_core", "nodes"):
        for path in python_files(folder):
            name = str(path.relative_to(REPO_ROOT))
            for module in imported_names(path):
                top = module.split(".")[0]
                if top == "audiowalk_tools" or (module.startswith(".") and "audiowalk_tools" in module):
                    offenders.append(f"{name} imports {module}")
                if top in comfy_modules and name != "nodes/comfy_adapter.py":
                    offenders.append(f"{name} imports ComfyUI's {module}")
    assert offenders == []


def test_every_core_module_imports_in_plain_python_without_comfyui_or_tools():
    code = ("import importlib, pkgutil, sys, audiowalk_core; "
            "[importlib.import_module(m.name) for m in pkgutil.walk_packages(audiowalk_core.__path__, "
            "'audiowalk_core.')]; "
            "assert 'audiowalk_core.generators.biggan.model' in sys.modules; "
            "bad = [m for m in sys.modules "
            "if m.split('.')[0] in ('folder_paths', 'comfy', 'nodes', 'audiowalk_tools')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


def test_prompts_saved_with_the_last_release_still_validate(pack):
    """ComfyUI refuses an API prompt that lacks a required input, and a prompt saved before a widget existed lacks
    it: a node may gain optional inputs, never required ones. tests/data/audiowalk-0.1.0-required-inputs.json holds
    each node's required inputs as released (0.1.0, the code this round started from)."""
    import json

    from support import REPO_ROOT

    released = json.loads((REPO_ROOT / "tests" / "data" / "audiowalk-0.1.0-required-inputs.json").read_text())
    for name, required in released.items():
        assert name in pack.NODE_CLASS_MAPPINGS, f"node id {name} is gone (node ids are forever)"
        now = set(pack.NODE_CLASS_MAPPINGS[name].INPUT_TYPES().get("required", {}))
        assert now <= set(required), f"{name} gained required input(s) {sorted(now - set(required))}"
