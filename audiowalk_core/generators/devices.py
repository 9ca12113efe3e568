"""Where and how a generator computes: the device and dtype policy, and whether (and with which kernel cache) it runs
through torch.compile. Shared by every generator; no model code here."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from ..errors import AudioWalkInputError, require_choice

DTYPES = ("auto", "float32", "float16", "bfloat16")
DEVICES = ("auto", "cpu", "cuda", "mps")
COMPILE_ENV = "AUDIOWALK_COMPILE"  # 1/0: torch.compile the generator or not (default: on CUDA only)
COMPILE_MODE_ENV = "AUDIOWALK_COMPILE_MODE"  # a torch.compile mode, e.g. reduce-overhead (CUDA graphs)
COMPILE_CACHE_ENV = "AUDIOWALK_COMPILE_CACHE"  # folder for compiled kernels (default: see resolve_compile_cache_dir)
INDUCTOR_CACHE_AT_IMPORT = os.environ.get("TORCHINDUCTOR_CACHE_DIR")


def resolve_device(device="auto", host_device=None):
    """The one device policy: a torch.device for "auto", "cpu", "cuda" or "mps" (a torch.device is kept as given).

    "auto" is ``host_device`` when an application that manages models gives one (inside ComfyUI: its model
    management's device, which follows ``--cpu``; see nodes/comfy_adapter.model_devices), otherwise CUDA, then MPS,
    then CPU. An explicit choice that this machine lacks is an error."""
    import torch

    if isinstance(device, torch.device):
        return device
    require_choice("device", device, DEVICES)
    if device == "auto":
        if host_device is not None:
            return torch.device(host_device)
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise AudioWalkInputError("device", "CUDA is not available on this machine", "auto, cpu or mps")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise AudioWalkInputError("device", "MPS is not available on this machine", "auto, cpu or cuda")
    return torch.device(device)


def cpu_has_fast_bfloat16() -> bool:
    """True on CPUs with AMX tiles (Intel Sapphire Rapids and later), where oneDNN runs bfloat16 convolutions
    several times faster than float32 (bench/bench_biggan.py: 4.5x the seed's way against 1.7x in float32)."""
    import torch

    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except Exception:  # noqa: BLE001 - a private probe; absent or failing means no
        return False


def resolve_dtype(dtype, device):
    """torch dtype for "auto": bfloat16 on CUDA with bf16 support, float16 on other CUDA and MPS, bfloat16 on CPUs
    with AMX, float32 on other CPUs (a torch.dtype is kept as given)."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    require_choice("dtype", dtype, DTYPES)
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return torch.bfloat16 if cpu_has_fast_bfloat16() else torch.float32
    return getattr(torch, dtype)


def resolve_compile(compile_model: bool | None, device) -> bool:
    """Whether to ``torch.compile`` the generator: ``compile_model`` when given; else ``AUDIOWALK_COMPILE`` (1/0,
    true/false, on/off); else on for CUDA (2.7x for the biggan-deep-512 bf16 model alone on an H200, issue 12) and
    off on other devices (0.87-0.96x eager for biggan-deep-128 bf16 on a 2-core AMX CPU, after a 48 s compile)."""
    if compile_model is not None:
        return bool(compile_model)
    setting = os.environ.get(COMPILE_ENV, "").strip().lower()
    if setting in ("1", "true", "yes", "on"):
        return True
    if setting in ("0", "false", "no", "off"):
        return False
    if setting:
        warnings.warn(f"{COMPILE_ENV}={setting!r} is not 1/0; using the default", RuntimeWarning, stacklevel=2)
    return getattr(device, "type", str(device)) == "cuda"


def resolve_compile_cache_dir(folder=None) -> Path:
    """Folder for torch.compile's kernels (TORCHINDUCTOR_CACHE_DIR while AudioWalk compiles), so a second run starts
    fast: ``folder``, else ``AUDIOWALK_COMPILE_CACHE``, else a TORCHINDUCTOR_CACHE_DIR set before AudioWalk was
    imported, else ``$XDG_CACHE_HOME/audiowalk/torch-compile`` (``~/.cache/...``)."""
    chosen = folder or os.environ.get(COMPILE_CACHE_ENV) or INDUCTOR_CACHE_AT_IMPORT
    if chosen:
        return Path(chosen).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "audiowalk" / "torch-compile"
