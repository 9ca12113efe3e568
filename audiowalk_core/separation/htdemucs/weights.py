"""HTDemucs model files: demucs' published ``.safetensors`` format (what demucs 4.1 downloads from the Hugging Face
hub), its legacy ``.th`` packages (read without unpickling code, th_reader.py), and the strict check of every
weight's name and shape against the architecture the file's own settings describe.

The .safetensors format (demucs/hf.py): the tensors of the model's state dict (float16 in the published files)
and three metadata strings of JSON: ``klass`` ("demucs.htdemucs.HTDemucs"), ``args`` and ``kwargs`` (the
constructor's arguments; fractions as ``{"_type": "fraction", "numerator", "denominator"}``). A ``structure`` entry
marks a quantized (diffq) state, which this implementation does not read.
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

from ...errors import AudioWalkInputError
from ...paths import file_digest
from ...weights_report import mismatch_parts
from .config import HTDemucsConfig, config_from_kwargs

KLASS = "demucs.htdemucs.HTDemucs"
MODEL_SUFFIXES = (".safetensors", ".th")


def _json_value(value):
    """demucs' JSON encoding of constructor arguments (fractions as tagged dicts)."""
    if isinstance(value, Fraction):
        return {"_type": "fraction", "numerator": value.numerator, "denominator": value.denominator}
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    return value


def save_demucs_safetensors(state: dict, config: HTDemucsConfig, path, dtype=None) -> Path:
    """Write ``state`` (a state dict, or a module) with ``config`` in demucs' published .safetensors format
    (``dtype`` e.g. torch.float16 as published; default: as given), atomically."""
    from safetensors.torch import save_file

    from ...paths import atomic_output

    state = state.state_dict() if hasattr(state, "state_dict") else state
    tensors = {key: (value.to(dtype) if dtype is not None else value).detach().contiguous().cpu()
               for key, value in state.items()}
    metadata = {"klass": KLASS, "args": "[]", "kwargs": json.dumps(_json_value(config.to_kwargs()))}
    path = Path(path)
    with atomic_output(path) as temporary:
        save_file(tensors, str(temporary), metadata=metadata)
    return path


def _checked_klass(klass: str, source: str) -> None:
    if klass != KLASS:
        raise AudioWalkInputError("model", f"{source} holds a {klass or 'model of no stated class'}, not an HTDemucs",
                                  "an HTDemucs model (demucs 4: htdemucs, htdemucs_6s, htdemucs_ft's parts)")


def read_safetensors_header(path, source: str | None = None) -> tuple[HTDemucsConfig, dict]:
    """``(config, {name: shape})`` from a .safetensors file's header (no tensor is read)."""
    from safetensors import safe_open

    source = source or str(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except Exception as exc:  # noqa: BLE001 - truncated, foreign or not safetensors at all
        raise AudioWalkInputError("model", f"{source} is not a readable .safetensors file ({exc})",
                                  "a complete demucs .safetensors model file") from None
    return _config_of_metadata(metadata, source), shapes


def _config_of_metadata(metadata: dict, source: str) -> HTDemucsConfig:
    if "klass" not in metadata or "kwargs" not in metadata:
        raise AudioWalkInputError("model", f"{source} carries no demucs model settings (metadata klass, kwargs)",
                                  "a demucs .safetensors model file (as demucs 4.1 downloads them)")
    _checked_klass(metadata["klass"], source)
    if "structure" in metadata:
        raise AudioWalkInputError("model", f"{source} holds a quantized (diffq) model, which is not supported",
                                  "a float model such as htdemucs or htdemucs_6s")
    try:
        args, kwargs = json.loads(metadata.get("args") or "[]"), json.loads(metadata["kwargs"])
    except ValueError as exc:
        raise AudioWalkInputError("model", f"{source}: its settings are not JSON ({exc})",
                                  "demucs' JSON metadata") from None
    if args:
        kwargs = {"sources": args[0], **kwargs} if len(args) == 1 else None
    if kwargs is None:
        raise AudioWalkInputError("model", f"{source}: {len(args)} positional settings", "keywords only")
    return config_from_kwargs(kwargs, source)


def read_model_file(path, source: str | None = None) -> tuple[HTDemucsConfig, dict]:
    """``(config, state)`` of a demucs .safetensors or .th file, the state checked strictly against the config's
    architecture (:func:`check_state`) and converted to float32."""
    import torch

    path = Path(path)
    source = source or str(path)
    if path.suffix == ".th":
        config, state = _read_th(path, source)
    elif path.suffix == ".safetensors":
        from safetensors import safe_open

        config, _ = read_safetensors_header(path, source)
        try:
            with safe_open(str(path), framework="pt") as handle:
                state = {key: handle.get_tensor(key) for key in handle.keys()}
        except Exception as exc:  # noqa: BLE001 - truncated data after a good header
            raise AudioWalkInputError("model", f"{source}: its tensors cannot be read ({exc})",
                                      "a complete demucs .safetensors model file") from None
    else:
        raise AudioWalkInputError("model", f"{source} is neither .safetensors nor .th", "a demucs model file")
    state = check_state(state, config, source)
    return config, {key: value.to(torch.float32) for key, value in state.items()}


def _read_th(path: Path, source: str) -> tuple[HTDemucsConfig, dict]:
    from .th_reader import read_th_package

    signature = path.stem.split("-")
    if len(signature) == 2 and len(signature[1]) == 8 and all(c in "0123456789abcdef" for c in signature[1]):  # demucs' names: <model>-<first 8 hex of the file's sha256>
        digest = file_digest(path)
        if not digest.startswith(signature[1]):
            raise AudioWalkInputError("model", f"{source}: its sha256 starts {digest[:8]}, its name says "
                                      f"{signature[1]} (a damaged or incomplete download)",
                                      "the complete file (download it again)")
    package = read_th_package(path, source)
    _checked_klass(getattr(package["klass"], "qualified", ""), source)
    args, kwargs = package.get("args") or (), dict(package.get("kwargs") or {})
    if args:
        kwargs = {"sources": args[0], **kwargs}
    state = package["state"]
    if not isinstance(state, dict) or state.get("__quantized"):
        raise AudioWalkInputError("model", f"{source} holds a quantized (diffq) model, which is not supported",
                                  "a float model such as htdemucs or htdemucs_6s")
    return config_from_kwargs(kwargs, source), state


def expected_shapes(config: HTDemucsConfig) -> dict:
    """{name: shape} of every weight of ``config``'s network (built on the meta device: no memory)."""
    from .model import build_htdemucs

    return {key: tuple(value.shape) for key, value in build_htdemucs(config, "meta").state_dict().items()}


def check_shapes(shapes: dict, config: HTDemucsConfig, source: str) -> None:
    """AudioWalkInputError naming ``source`` and the first keys when ``shapes`` {name: shape} is not exactly the
    architecture of ``config`` (a missing, an extra or a misshaped weight)."""
    expected = expected_shapes(config)
    missing = sorted(set(expected) - set(shapes))
    extra = sorted(set(shapes) - set(expected))
    wrong = sorted(key for key in set(expected) & set(shapes) if tuple(shapes[key]) != expected[key])
    parts = mismatch_parts(missing, extra, wrong, shapes, expected, noun="weights")
    if parts:
        raise AudioWalkInputError("model", f"{source} does not match the HTDemucs architecture of its own settings: "
                                  + "; ".join(parts), "the weights published with the model")


def check_state(state: dict, config: HTDemucsConfig, source: str) -> dict:
    """``state`` when every weight of ``config``'s network is there with its shape and nothing else (tensors
    only, finite); AudioWalkInputError naming ``source`` and the first mismatches otherwise."""
    import torch

    not_tensors = sorted(key for key, value in state.items() if not isinstance(value, torch.Tensor))
    if not_tensors:
        raise AudioWalkInputError("model", f"{source}: {len(not_tensors)} entries are not tensors (e.g. "
                                  f"{', '.join(map(str, not_tensors[:3]))})", "a state dict of tensors")
    check_shapes({key: tuple(value.shape) for key, value in state.items()}, config, source)
    bad = sorted(key for key, value in state.items() if value.is_floating_point() and not torch.isfinite(value).all())
    if bad:
        raise AudioWalkInputError("model", f"{source}: weights {', '.join(bad[:3])} hold NaN or infinite values",
                                  "finite weights (a damaged file)")
    return state
