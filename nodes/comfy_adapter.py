"""The one place that touches ComfyUI's modules (folder_paths, comfy.utils, comfy.model_management).

Inside ComfyUI these calls use ComfyUI's folders, progress bar, cancel flag and device.
When ComfyUI is absent (tests, plain Python), this module says so and falls back to:
folders under ``$AUDIOWALK_HOME`` (default: the current directory) named ``input``, ``output``, ``temp`` and
``models/<kind>``; no progress bar; no cancel; the best torch device available (CUDA, MPS, CPU).
"""
from __future__ import annotations

import os
from pathlib import Path


def _folder_paths():
    try:
        import folder_paths  # ComfyUI's module, present only inside ComfyUI

        return folder_paths
    except ImportError:
        return None


def comfy_available() -> bool:
    return _folder_paths() is not None


def _fallback_root() -> Path:
    from audiowalk_core.paths import audiowalk_home

    return audiowalk_home()


def input_directory() -> Path:
    fp = _folder_paths()
    path = Path(fp.get_input_directory()) if fp else _fallback_root() / "input"
    return path


def output_directory() -> Path:
    fp = _folder_paths()
    return Path(fp.get_output_directory()) if fp else _fallback_root() / "output"


def temp_directory() -> Path:
    fp = _folder_paths()
    return Path(fp.get_temp_directory()) if fp else _fallback_root() / "temp"


def register_model_folder(kind: str, extensions: set[str]) -> None:
    """Register ``models/<kind>`` with ComfyUI's folder_paths (no-op without ComfyUI)."""
    fp = _folder_paths()
    if fp is None:
        return
    default = os.path.join(fp.models_dir, kind)
    if kind in fp.folder_names_and_paths:
        paths, exts = fp.folder_names_and_paths[kind]
        fp.folder_names_and_paths[kind] = (paths, set(exts) | set(extensions))
    else:
        fp.folder_names_and_paths[kind] = ([default], set(extensions))


def model_directories(kind: str) -> list[Path]:
    """Folders searched for models of ``kind`` (first one is where downloads go)."""
    fp = _folder_paths()
    if fp is not None and kind in fp.folder_names_and_paths:
        return [Path(p) for p in fp.get_folder_paths(kind)]
    return [_fallback_root() / "models" / kind]


def progress_callback(total: int):
    """An ``on_progress(done, total)`` callback driving ComfyUI's progress bar; also raises on user cancel."""
    try:
        import comfy.model_management as mm
        import comfy.utils
    except ImportError:
        return None
    bar = comfy.utils.ProgressBar(max(int(total), 1))

    def on_progress(done: int, total_now: int) -> None:
        mm.throw_exception_if_processing_interrupted()
        bar.update_absolute(int(done), int(total_now))

    return on_progress


def torch_device():
    """ComfyUI's chosen device inside ComfyUI; otherwise CUDA, then MPS, then CPU."""
    try:
        import comfy.model_management as mm

        return mm.get_torch_device()
    except ImportError:
        pass
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def free_device_memory() -> None:
    """Ask ComfyUI (or torch) to release cached device memory."""
    try:
        import comfy.model_management as mm

        mm.soft_empty_cache()
        return
    except ImportError:
        pass
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
