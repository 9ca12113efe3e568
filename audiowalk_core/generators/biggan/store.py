"""Which BigGANs a model list offers, and one shared copy of each loaded model.

- ``model_choices(search_dirs)``: the published biggan-deep models (128 first: the lightest) and any other
  ``<name>.safetensors`` found; a published model that is not on disk is listed as
  ``"biggan-deep-256 (download, 234 MB)"``. ``model_name_from_choice`` maps such an entry back to its name, and
  leaves plain names (the values saved before the mark existed) as they are.
- ``load_shared_biggan``: ``load_biggan`` with one copy per file (path, modification time, size), dtype and
  devices, held weakly: while any holder keeps it, a second load returns the same object; when the last holder
  lets go (ComfyUI drops its cached node outputs on "free memory"), the weights are released and their pages
  returned to the operating system (memory.py).

No ComfyUI import here: an application that places models itself (ComfyUI's model management) passes its devices
and a ``manage`` function that wraps a freshly loaded handle for it (nodes/comfy_adapter.py).
"""
from __future__ import annotations

import os
import re
import threading
import weakref
from pathlib import Path

from ...errors import AudioWalkInputError
from ...memory import return_memory_when_freed
from ...model_download import download_label as shared_download_label
from ...model_download import name_from_choice as model_name_from_choice  # noqa: F401 - the list entry's name
from ..devices import resolve_device, resolve_dtype
from .architecture import BIGGAN_MODELS
from .runtime import BigGANHandle, load_biggan_files
from .weights import find_model_files, locate_biggan

# Bytes of float32 tensors in each published model (its state dict; the downloaded pytorch_model.bin is this plus a
# little pickle framing). tests/test_biggan_store.py checks them against the architectures.
PUBLISHED_WEIGHT_BYTES = {"biggan-deep-128": 210_749_700, "biggan-deep-256": 234_292_740,
                          "biggan-deep-512": 235_635_460}


def download_label(model_name: str) -> str:
    """The list entry of a published model that is not on disk: ``"<name> (download, <MB> MB)"``."""
    return shared_download_label(model_name, PUBLISHED_WEIGHT_BYTES[model_name])


def model_choices(search_dirs) -> list[str]:
    """List entries: biggan-deep-128, -256, -512 (each plain when on disk in either layout, else with its download
    mark), then the other ``<name>.safetensors`` files of ``search_dirs``, sorted."""
    search_dirs = [Path(d) for d in search_dirs]
    choices = [name if find_model_files(name, search_dirs) else download_label(name) for name in BIGGAN_MODELS]
    others = set()
    for folder in search_dirs:
        if folder.is_dir():
            others.update(p.stem for p in folder.glob("*.safetensors") if p.stem not in BIGGAN_MODELS)
    return choices + sorted(others)


def check_choice(choice, search_dirs) -> str:
    """The model name of ``choice`` when it names a published model or a file in ``search_dirs``; else
    AudioWalkInputError naming ``model_name`` (a check before running: nothing is loaded)."""
    name = model_name_from_choice(choice)
    if name.endswith(".safetensors"):
        name = name[: -len(".safetensors")]
    if name in BIGGAN_MODELS or (name and Path(name).name == name and not name.startswith(".")
                                 and find_model_files(name, search_dirs)):
        return name
    raise AudioWalkInputError("model_name", f"{choice!r} is neither a published BigGAN-deep nor a model file in "
                              f"{', '.join(map(str, search_dirs))}",
                              "one of " + ", ".join(BIGGAN_MODELS) + " or a .safetensors file in models/biggan")


class SharedModels:
    """One object per key while anyone holds it (weak values). ``get(key, load)`` returns the held object or calls
    ``load()`` once and keeps a weak reference to the result."""

    def __init__(self):
        self._items = weakref.WeakValueDictionary()
        self._lock = threading.RLock()

    def get(self, key, load):
        with self._lock:
            item = self._items.get(key)
            if item is None:
                item = load()
                self._items[key] = item
            return item

    def keys(self) -> list:
        return list(self._items.keys())

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


SHARED_BIGGANS = SharedModels()


def _file_identity(path: Path) -> tuple:
    stat = os.stat(path)
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


def files_identity(layout: str, path) -> tuple:
    """What makes two loads the same model: the resolved path, modification time and size of its file(s)."""
    path = Path(path)
    if layout == "safetensors":
        return (_file_identity(path),)
    return _file_identity(path / "config.json"), _file_identity(path / "pytorch_model.bin")


def load_shared_biggan(model_name: str, search_dirs, *, dtype="auto", device="auto", host_devices=None,
                       manage=None, allow_download: bool = True, on_progress=None,
                       url_base: str | None = None) -> BigGANHandle:
    """``load_biggan`` with one shared copy per (files, dtype, devices) while it is held (``SHARED_BIGGANS``).

    ``model_name`` may be a list entry (``model_choices``). ``host_devices``: ``(load_device, offload_device)`` of an
    application that places models itself (inside ComfyUI, from its model management): "auto" then means its load
    device, dtype "auto" is chosen for that device, and the weights are loaded onto its offload device (the CPU for a
    CPU model) for the application to move; ``manage(handle, load_device)`` wraps the new handle for it, once per
    copy. Without ``host_devices`` the model is loaded onto ``resolve_device(device)``.
    """
    import torch

    host_load = host_devices[0] if host_devices else None
    load_device = resolve_device(device, host_load)
    torch_dtype = resolve_dtype(dtype, load_device)
    if host_devices is None or load_device.type == "cpu":
        storage_device = load_device
    else:
        storage_device = torch.device(host_devices[1])
    name, layout, path = locate_biggan(model_name_from_choice(model_name), search_dirs,
                                       allow_download=allow_download, on_progress=on_progress, url_base=url_base)
    key = (files_identity(layout, path), str(torch_dtype), str(load_device), str(storage_device))

    def load():
        handle = load_biggan_files(layout, path, model_name=name, dtype=torch_dtype, device=storage_device)
        return_memory_when_freed(handle.model)
        return manage(handle, load_device) if manage is not None else handle

    return SHARED_BIGGANS.get(key, load)

