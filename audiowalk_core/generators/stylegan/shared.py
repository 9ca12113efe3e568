"""Loading StyleGAN models for applications: one shared copy per (file version, dtype, device), device policy,
and the models folder listing."""
from __future__ import annotations

import dataclasses
import os
import threading
import weakref
from pathlib import Path

from ...errors import AudioWalkInputError, require_choice
from ..devices import DEVICES, resolve_device  # noqa: F401 - the one device policy (DEVICES re-exported)
from .runtime import DTYPES, NOISE_MODES, StyleGANHandle
from .store import SUFFIXES

_SHARED = weakref.WeakValueDictionary()
_LOCK = threading.RLock()


def model_files(search_dirs) -> list[str]:
    """Names (relative to their folder) of the StyleGAN files in ``search_dirs``, sorted, first folder first."""
    names = []
    for folder in search_dirs:
        folder = Path(folder)
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.suffix.lower() in SUFFIXES and path.is_file():
                    name = path.relative_to(folder).as_posix()
                    if name not in names:
                        names.append(name)
    return names


def locate_model(name: str, search_dirs) -> Path:
    """The file called ``name`` in the first folder that has it (or ``name`` itself as a path)."""
    for folder in search_dirs:
        path = Path(folder) / name
        if path.is_file():
            return path
    if Path(name).is_file():
        return Path(name)
    raise AudioWalkInputError("model_name", f"{name!r} is not in the stylegan models folder",
                              "a .pkl, .pt or .safetensors file in ComfyUI's models/stylegan folder")


def resolve_dtype(dtype: str, device) -> str:
    """"auto": bfloat16 on CUDA with bf16, float16 on other GPUs, float32 on CPUs; else the name as given."""
    import torch

    if dtype != "auto":
        require_choice("dtype", dtype, tuple(DTYPES))
        return dtype
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float16" if device.type == "mps" else "float32"


def load_shared_stylegan(path, *, dtype="auto", device="auto", latent_space="z", noise_mode="random",
                         host_devices=None, manage=None) -> StyleGANHandle:
    """A handle on one shared network per (file version, dtype, devices) while held. ``host_devices``:
    ``(load_device, offload_device)`` of an application placing models (ComfyUI): weights are loaded on the
    offload device and ``manage(module, load_device, offload_device)`` returns its patcher."""
    from .runtime import load_network

    import torch

    require_choice("latent_space", latent_space, ("z", "w"))
    require_choice("noise_mode", noise_mode, NOISE_MODES)
    path = Path(path)
    load_device = resolve_device(device, host_devices[0] if host_devices else None)
    dtype_name = resolve_dtype(dtype, load_device)
    storage = load_device if host_devices is None or load_device.type == "cpu" else torch.device(host_devices[1])
    stat = os.stat(path)
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, dtype_name, str(load_device), str(storage))
    with _LOCK:
        handle = _SHARED.get(key)
        if handle is None:
            network = load_network(path, storage)
            patcher = manage(network, load_device, storage) if manage is not None else None
            handle = StyleGANHandle(network, storage, DTYPES[dtype_name], latent_space, noise_mode, path.name,
                                    patcher=patcher)
            _SHARED[key] = handle
    if (handle.latent_space, handle.noise_mode) != (latent_space, noise_mode):
        return dataclasses.replace(handle, latent_space=latent_space, noise_mode=noise_mode)
    return handle
