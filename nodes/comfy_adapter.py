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


# ---------------------------------------------------------------------------------------------- chunked renders
# ComfyUI 0.3.x: the running prompt's id is PromptServer.instance.last_prompt_id (set before each execution since
# 2023), and the queue takes (number, prompt_id, prompt, extra_data, outputs_to_execute, ...) tuples; a negative
# number puts an item at the front (what the frontend's "queue front" does). VideoHelperSuite's Meta Batch Manager
# requeues the same way.

def _prompt_server():
    try:
        import server

        return server.PromptServer.instance
    except (ImportError, AttributeError):
        return None


def current_prompt_id() -> str | None:
    """The id of the prompt being executed, or None outside ComfyUI."""
    instance = _prompt_server()
    return getattr(instance, "last_prompt_id", None) if instance is not None else None


def queue_prompt_first(prompt: dict, prompt_id: str) -> bool:
    """Queue ``prompt`` under ``prompt_id`` at the front of ComfyUI's queue, with the extra data and outputs of
    the prompt running now (so the same client follows it). Returns False outside ComfyUI."""
    instance = _prompt_server()
    if instance is None:
        return False
    queue = instance.prompt_queue
    running_id = current_prompt_id()
    with queue.mutex:
        running = [item for item in queue.currently_running.values() if item[1] == running_id]
    if not running:
        raise RuntimeError(f"AudioWalk: the running prompt {running_id!r} is not in ComfyUI's queue")
    item = list(running[0])
    number = -abs(float(instance.number))  # front of the queue, in order of queuing
    instance.number += 1
    item[0], item[1], item[2] = number, prompt_id, prompt
    queue.put(tuple(item))
    return True


def show_chunk_progress(node_id, index: int, count: int, text: str) -> None:
    """Chunk ``index`` of ``count`` on the node's progress bar, and ``text`` under the node (no-op outside)."""
    try:
        import comfy.utils
    except ImportError:
        return
    comfy.utils.ProgressBar(max(int(count), 1), node_id=node_id).update_absolute(int(index))
    instance = _prompt_server()
    if instance is not None and hasattr(instance, "send_progress_text") and node_id is not None:
        instance.send_progress_text(text, node_id)


def metadata_disabled() -> bool:
    """True when ComfyUI runs with --disable-metadata (then nothing is embedded in outputs)."""
    try:
        from comfy.cli_args import args
    except ImportError:
        return False
    return bool(getattr(args, "disable_metadata", False))


def numbered_output_path(output_dir, filename_prefix: str, width: int = 0, height: int = 0):
    """``(path, subfolder, filename)`` of the next ``<prefix>_<counter>_.mp4``: ComfyUI's own numbering
    (folder_paths.get_save_image_path, which also expands %date:...% and %Node.widget%) inside ComfyUI, the
    core's otherwise."""
    from audiowalk_core.video import next_numbered_path

    fp = _folder_paths()
    if fp is None or not hasattr(fp, "get_save_image_path"):
        return next_numbered_path(output_dir, filename_prefix, "mp4")
    folder, name, counter, subfolder, _ = fp.get_save_image_path(filename_prefix, str(output_dir), width, height)
    filename = f"{name}_{counter:05}_.mp4"
    return Path(folder) / filename, subfolder, filename
