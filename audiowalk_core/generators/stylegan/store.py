"""StyleGAN weights on disk: NVlabs ``.pkl`` snapshots (restricted unpickler), rosinality ``.pt`` checkpoints
(``torch.load(weights_only=True)``) and our ``.safetensors`` (architecture config in the metadata).

:func:`read_stylegan` returns ``(config, state dict)`` checked strictly against our network for that config;
:func:`convert_stylegan` writes the safetensors file (temp name, then rename).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from ...errors import AudioWalkInputError
from .config import StyleGANConfig
from .network import check_state_dict
from .rosinality import is_rosinality_state, rosinality_to_nvlabs
from .unpickle import PersistentRecord, load_snapshot, record_tensors

SUFFIXES = (".pkl", ".pt", ".pth", ".safetensors")
METADATA_KEY = "audiowalk_stylegan_config"


def _file(path) -> Path:
    path = Path(path)
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "no such file"
        raise AudioWalkInputError("model", f"{path}: {problem}", "a StyleGAN model file (" + ", ".join(SUFFIXES) + ")")
    return path


def _snapshot_generator(data, source: str) -> PersistentRecord:
    if isinstance(data, PersistentRecord):
        return data
    if not isinstance(data, dict):
        raise AudioWalkInputError("model", f"{source} holds a {type(data).__name__}",
                                  "an NVlabs snapshot: a dict with G_ema (or G)")
    for key in ("G_ema", "G"):
        if isinstance(data.get(key), PersistentRecord):
            return data[key]
    raise AudioWalkInputError("model", f"{source} has no generator (keys: {', '.join(map(str, data))[:200]})",
                              "an NVlabs snapshot with G_ema or G")


def _kind_of(record: PersistentRecord) -> str:
    synthesis = record.child("synthesis")
    if not isinstance(synthesis, PersistentRecord):
        raise AudioWalkInputError("model", f"the generator record ({record.class_name}) has no synthesis network",
                                  "a StyleGAN2-ADA / StyleGAN3 generator")
    children = synthesis.state.get("_modules") or {}
    if "input" in children:
        return "stylegan3"
    if "b4" in children:
        return "stylegan2"
    raise AudioWalkInputError("model", f"synthesis network with parts {', '.join(children)[:120]}",
                              "StyleGAN2 (b4, b8 ...) or StyleGAN3 (input, L0_...) layers")


def read_pickle(path) -> tuple[StyleGANConfig, dict]:
    """``(config, state dict)`` of the generator (G_ema, else G) in an NVlabs snapshot; nothing in it runs."""
    path = _file(path)
    record = _snapshot_generator(load_snapshot(path.read_bytes(), path.name), path.name)
    kwargs = record.state.get("_init_kwargs")
    if not isinstance(kwargs, dict):
        raise AudioWalkInputError("model", f"{path.name}: the generator record carries no init_kwargs",
                                  "a snapshot saved by stylegan2-ada-pytorch or stylegan3")
    args = record.state.get("_init_args") or ()
    if args:
        names = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
        kwargs = dict(zip(names, args), **kwargs)
    config = StyleGANConfig.from_init_kwargs(_kind_of(record), kwargs)
    return config, dict(record_tensors(record))


def read_rosinality(path) -> tuple[StyleGANConfig, dict]:
    """``(config, state dict)`` of a rosinality stylegan2-pytorch checkpoint (g_ema), loaded weights-only."""
    import argparse

    path = _file(path)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError / RuntimeError with the refused global named
        raise AudioWalkInputError("model", f"{path.name} cannot be loaded weights-only ({str(error)[:300]})",
                                  "a rosinality checkpoint holding tensors (g_ema) or an NVlabs .pkl") from None
    state = data.get("g_ema", data) if isinstance(data, dict) else None
    if not isinstance(state, dict) or not is_rosinality_state(state):
        raise AudioWalkInputError("model", f"{path.name} holds no rosinality generator weights",
                                  "a .pt with g_ema (style.*, convs.*, to_rgbs.* ...)")
    return rosinality_to_nvlabs(state, data.get("latent_avg") if isinstance(data, dict) else None, path.name)


def read_safetensors(path) -> tuple[StyleGANConfig, dict]:
    from safetensors import SafetensorError, safe_open

    path = _file(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            if METADATA_KEY not in meta:
                raise AudioWalkInputError("model", f"{path.name} has no StyleGAN config in its metadata",
                                          "a file written by `audiowalk convert-stylegan`")
            config = StyleGANConfig.from_json(meta[METADATA_KEY])
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except SafetensorError as error:
        raise AudioWalkInputError("model", f"{path.name} is not a valid safetensors file ({error})",
                                  "a complete .safetensors file") from None
    return config, state


def read_stylegan(path) -> tuple[StyleGANConfig, dict]:
    """Any supported file -> ``(config, state dict)``, checked strictly (every key and shape)."""
    path = _file(path)
    suffix = path.suffix.lower()
    if suffix == ".pkl":
        config, state = read_pickle(path)
    elif suffix in (".pt", ".pth"):
        config, state = read_rosinality(path)
    elif suffix == ".safetensors":
        config, state = read_safetensors(path)
    else:
        raise AudioWalkInputError("model", f"{path.name}: unknown file type {suffix!r}", ", ".join(SUFFIXES))
    check_state_dict(config, state, path.name)
    return config, state


def write_safetensors(config: StyleGANConfig, state: dict, out_path) -> Path:
    """Write ``state`` + ``config`` (checked strictly first) to ``out_path`` via a temp file and a rename."""
    from safetensors.torch import save_file

    out_path = Path(out_path)
    if out_path.suffix.lower() != ".safetensors":
        raise AudioWalkInputError("output", f"{out_path.name} does not end in .safetensors", "OUT.safetensors")
    check_state_dict(config, state, out_path.name)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    handle, temp = tempfile.mkstemp(prefix=out_path.name + ".", suffix=".part", dir=out_path.parent)
    os.close(handle)
    try:
        save_file(tensors, temp, metadata={METADATA_KEY: config.to_json(), "format": "pt"})
        os.replace(temp, out_path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return out_path


def convert_stylegan(in_path, out_path) -> tuple[StyleGANConfig, Path]:
    """``.pkl`` / ``.pt`` / ``.safetensors`` -> one ``.safetensors`` with the config in its metadata."""
    config, state = read_stylegan(in_path)
    return config, write_safetensors(config, state, out_path)
