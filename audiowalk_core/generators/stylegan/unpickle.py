"""A restricted unpickler for NVlabs StyleGAN2-ADA / StyleGAN3 ``.pkl`` snapshots: tensors and plain records only.

Those snapshots pickle each network through ``torch_utils.persistence``: a call of its reconstruct function with a
dict holding the network's module source code, class name and state (``__dict__``: parameters, buffers,
sub-modules, init_kwargs, plain attributes). Loading them with ``pickle`` executes that source. Here, every global
the pickle names is looked up in a small allow-list of functions of ours, and every other global is refused
(:class:`UnsafePickleError` naming the file and the global) before anything is called: the reconstruct call
builds a :class:`PersistentRecord` (class name + state, the source kept as an inert string), tensors are rebuilt
from their bytes with ``torch.load(weights_only=True)``, dict-like classes become dicts, numpy arrays come from
numpy's own array reconstructor.
"""
from __future__ import annotations

import collections
import functools
import io
import pickle
import types
from dataclasses import dataclass

import numpy as np
import torch

from ...errors import AudioWalkInputError

TF_PICKLE_HINT = ("a TensorFlow StyleGAN pickle (dnnlib.tflib); convert it to a PyTorch snapshot first with "
                  "NVlabs' stylegan2-ada-pytorch: `python legacy.py --source IN.pkl --dest OUT.pkl` "
                  "(or stylegan3's legacy.py), then load OUT.pkl")


class UnsafePickleError(AudioWalkInputError):
    """The pickle asks for a global outside the allow-list (nothing of it was called)."""


@dataclass
class PersistentRecord:
    """A ``torch_utils.persistence`` object as data: ``class_name`` (e.g. "Generator"), its pickled ``state``
    (the instance ``__dict__``), and the length of the module source it carried (never executed)."""

    class_name: str
    state: dict
    source_chars: int = 0
    module_hint: str = ""

    def child(self, name: str):
        modules = self.state.get("_modules") or {}
        return modules.get(name)


class _PlainDict(dict):
    """Stands in for ``collections.OrderedDict`` and ``dnnlib.EasyDict`` (their items arrive by SETITEMS)."""

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.update(state)


def _source_hint(source: str) -> str:
    for marker in ("SynthesisInput", "SynthesisBlock", "AugmentPipe", "DiscriminatorBlock"):
        if marker in source:
            return marker
    return ""


def _reconstruct_persistent(meta):
    meta = dict(meta)
    source = meta.get("module_src") or ""
    state = meta.get("state") or {}
    return PersistentRecord(str(meta.get("class_name", "")), dict(state), len(source), _source_hint(source))


def _storage_from_bytes(data: bytes):
    # the nested legacy torch.save of one storage; the weights-only loader refuses anything else
    return torch.load(io.BytesIO(data), weights_only=True)


def _as_untyped(storage):
    return storage._untyped_storage if hasattr(storage, "_untyped_storage") else storage


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *more):
    dtype = storage.dtype if hasattr(storage, "dtype") else torch.uint8
    tensor = torch.empty((0,), dtype=dtype)
    tensor.set_(_as_untyped(storage), storage_offset, size, stride)
    return tensor


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *more):
    return data.detach() if isinstance(data, torch.Tensor) else data


def _rebuild_from_type(func, new_type, args, state):
    return func(*args)


def _make_ordered_dict(*args):
    return _PlainDict(*args)


def _set(items=()):
    return set(items)


def _frozenset(items=()):
    return frozenset(items)


def _numpy_globals():
    """numpy's own array / scalar / dtype reconstructors (under numpy 1's and numpy 2's module paths)."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1
        from numpy.core import multiarray
    names = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        names[(module, "_reconstruct")] = multiarray._reconstruct
        names[(module, "scalar")] = multiarray.scalar
    names[("numpy", "ndarray")] = np.ndarray
    names[("numpy", "dtype")] = np.dtype
    dtypes = getattr(np, "dtypes", None)
    for dtype_name in ("Float64DType", "Float32DType", "Float16DType", "Int64DType", "Int32DType", "BoolDType",
                       "UInt8DType"):
        if dtypes is not None and hasattr(dtypes, dtype_name):
            names[("numpy.dtypes", dtype_name)] = getattr(dtypes, dtype_name)
    return names


_ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
    ("torch.nn.parameter", "Parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): _make_ordered_dict,
    ("dnnlib.util", "EasyDict"): _PlainDict,
    ("dnnlib", "EasyDict"): _PlainDict,
    ("builtins", "set"): _set,
    ("builtins", "frozenset"): _frozenset,
    ("__builtin__", "set"): _set,
}


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose globals come only from the allow-list; ``source`` names the file in errors."""

    def __init__(self, file, source: str):
        super().__init__(file)
        self.source = source
        self.allowed = dict(_ALLOWED)
        self.allowed.update(_numpy_globals())

    def find_class(self, module, name):
        found = self.allowed.get((module, name))
        if isinstance(found, types.FunctionType):
            # a fresh wrapper per request: the pickle's BUILD opcode on what it gets (setattr with its own values)
            # can then never change our functions for later loads in the same process
            return functools.partial(found)
        if found is not None:
            return found
        if module.startswith("dnnlib.tflib"):
            raise AudioWalkInputError("model", f"{self.source} is {TF_PICKLE_HINT}")
        raise UnsafePickleError("model", f"{self.source}: the pickle asks for the global {module}.{name}, "
                                "which is not allowed (nothing was run)",
                                "an NVlabs StyleGAN2-ADA / StyleGAN3 snapshot (.pkl) holding tensors and "
                                "persistence records only, a rosinality .pt, or a .safetensors from "
                                "`audiowalk convert-stylegan`")

    def persistent_load(self, pid):
        raise UnsafePickleError("model", f"{self.source}: the pickle uses persistent ids ({str(pid)[:40]})",
                                "a plain NVlabs snapshot pickle (torch.save files go through torch.load)")


def load_snapshot(data: bytes, source: str):
    """Unpickle ``data`` (an NVlabs snapshot's bytes) with :class:`RestrictedUnpickler`; ``source`` for errors."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), source).load()
    except AudioWalkInputError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            RuntimeError, MemoryError) as error:
        raise AudioWalkInputError("model", f"{source} is truncated or not a valid snapshot pickle "
                                  f"({type(error).__name__}: {error})",
                                  "a complete NVlabs StyleGAN2-ADA / StyleGAN3 .pkl") from None


def record_tensors(record: PersistentRecord, prefix: str = "") -> dict:
    """The state dict (``name -> tensor``) of a network record: its parameters and buffers and those of every
    sub-record, named by the attribute path as ``nn.Module.state_dict`` would (None entries skipped)."""
    out = collections.OrderedDict()
    state = record.state
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if value is not None:
                if not isinstance(value, torch.Tensor):
                    raise AudioWalkInputError("model", f"{prefix}{name} is a {type(value).__name__}",
                                              "tensors for every parameter and buffer")
                out[prefix + name] = value
    for name, child in (state.get("_modules") or {}).items():
        if isinstance(child, PersistentRecord):
            out.update(record_tensors(child, f"{prefix}{name}."))
    return out
