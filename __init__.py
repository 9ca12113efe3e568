"""ComfyUI-AudioWalk: ComfyUI entry point. ComfyUI imports this folder as a package.

The library ``audiowalk_core`` (beside this file) is registered under that one top-level name before the nodes are
imported, so the nodes, the ``audiowalk`` command and plain Python all share one copy of it (one AudioClip class,
error names without this folder's path). The folder itself is never put on ``sys.path``: our ``nodes/`` would
shadow ComfyUI's ``nodes`` module.
"""
import importlib.util
import os
import sys


def _register_core() -> None:
    """Import ``<this folder>/audiowalk_core`` as the top-level module ``audiowalk_core`` (once)."""
    core_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "audiowalk_core")
    loaded = sys.modules.get("audiowalk_core")
    if loaded is not None:
        loaded_dir = os.path.dirname(os.path.abspath(getattr(loaded, "__file__", "") or ""))
        if os.path.realpath(loaded_dir) == os.path.realpath(core_dir):
            return
        # Another copy (e.g. an installed release) came first: the pack's own copy matches its nodes, so it wins.
        for name in [m for m in sys.modules if m == "audiowalk_core" or m.startswith("audiowalk_core.")]:
            del sys.modules[name]
    spec = importlib.util.spec_from_file_location("audiowalk_core", os.path.join(core_dir, "__init__.py"),
                                                  submodule_search_locations=[core_dir])
    module = importlib.util.module_from_spec(spec)
    sys.modules["audiowalk_core"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["audiowalk_core"]
        raise


if __package__:
    _register_core()
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
else:  # imported as a loose module (pytest sets up the repo root as a package when the folder name is no identifier)
    NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = {}, {}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
