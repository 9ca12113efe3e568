"""Reading demucs' legacy ``.th`` model files without running anything in them.

A ``.th`` file is ``torch.save`` of a dict: ``klass`` (the model class, a pickled reference to
``demucs.htdemucs.HTDemucs``), ``args``, ``kwargs`` (constructor keywords; ``segment`` a ``fractions.Fraction``),
``state`` (the weights, float16) and ``training_args`` (plain containers). torch.save writes a zip archive:
``<name>/data.pkl`` (the pickle, whose tensors refer to storages by persistent id) and ``<name>/data/<key>`` (each
storage's raw bytes). Here the pickle is read by an unpickler whose every global comes from a short allow-list of
functions of ours: tensors are rebuilt from the storage bytes, ``OrderedDict`` becomes a dict, ``Fraction`` is built
from its text, and a class reference becomes a :class:`ClassReference` (its name only; nothing is imported). Any
other global is refused, naming the file and the global, before it is called.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass
from fractions import Fraction

from ...errors import AudioWalkInputError

STORAGE_DTYPES = {"HalfStorage": "float16", "FloatStorage": "float32", "DoubleStorage": "float64",
                  "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
                  "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool"}
# The model classes a demucs package may name (references only: never imported).
MODEL_CLASSES = {("demucs.htdemucs", "HTDemucs"), ("demucs.hdemucs", "HDemucs"), ("demucs.demucs", "Demucs"),
                 ("demucs.wdemucs", "WDemucs"), ("demucs.hdemucs", "HDemucsWrapper")}


class UnsafeModelFileError(AudioWalkInputError):
    """The file's pickle asks for a global outside the allow-list (nothing of it was run)."""


@dataclass(frozen=True)
class ClassReference:
    """A pickled reference to a class, kept as its name."""

    module: str
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class _StorageType:
    dtype: str


def _fraction(*parts) -> Fraction:
    """Fraction from its pickled arguments: its text (Python <= 3.11) or numerator and denominator."""
    if len(parts) == 1 and isinstance(parts[0], str):
        return Fraction(parts[0])
    if len(parts) == 2 and all(isinstance(part, int) for part in parts):
        return Fraction(*parts)
    raise ValueError(f"a Fraction of {parts!r}")


def _ordered_dict(*args):
    return dict(*args)


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, source: str):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix, self.source = archive, prefix, source

    def find_class(self, module, name):
        allowed = {("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
                   ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
                   ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
                   ("collections", "OrderedDict"): _ordered_dict,
                   ("fractions", "Fraction"): _fraction}
        if (module, name) in allowed:
            return allowed[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        if (module, name) in MODEL_CLASSES:
            return ClassReference(module, name)
        raise UnsafeModelFileError("model", f"{self.source}: the pickle asks for the global {module}.{name}, which "
                                   "is not allowed (nothing was run)",
                                   "a demucs .th model file (tensors, settings and the model's class name only), "
                                   "or its .safetensors")

    def persistent_load(self, pid):
        import torch

        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise UnsafeModelFileError("model", f"{self.source}: unexpected persistent id {str(pid)[:60]}",
                                       "a demucs .th model file written by torch.save")
        dtype = getattr(torch, pid[1].dtype)
        data = bytearray(self.archive.read(f"{self.prefix}/data/{pid[2]}"))
        return torch.frombuffer(data, dtype=dtype) if data else torch.empty(0, dtype=dtype)


def _rebuild_tensor(storage, storage_offset, size, stride, *_):
    return storage.as_strided(tuple(size), tuple(stride), int(storage_offset))


def _rebuild_parameter(data, *_):
    return data


def read_th_package(path, source: str | None = None) -> dict:
    """The dict a demucs .th file holds (``klass`` a ClassReference, ``state`` of tensors ...). AudioWalkInputError
    naming the file when it is not a complete torch.save zip archive, or asks for anything else."""
    source = source or str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickles = [name for name in names if name.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise ValueError("no data.pkl in the archive")
            prefix = pickles[0][: -len("/data.pkl")]
            order = f"{prefix}/byteorder"
            if order in names and archive.read(order).strip() not in (b"little", b""):
                raise ValueError("big-endian tensors")
            package = _Unpickler(archive.read(pickles[0]), archive, prefix, source).load()
    except AudioWalkInputError:
        raise
    except zipfile.BadZipFile:
        raise AudioWalkInputError("model", f"{source} is not a torch.save zip archive (truncated download, or a "
                                  "pre-2020 legacy pickle)", "a complete demucs .th file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            RuntimeError, OSError) as error:
        raise AudioWalkInputError("model", f"{source} cannot be read ({type(error).__name__}: {error})",
                                  "a complete demucs .th file") from None
    if not isinstance(package, dict) or not {"klass", "kwargs", "state"} <= set(package):
        raise AudioWalkInputError("model", f"{source} does not hold a demucs model package",
                                  "a dict with klass, args, kwargs and state")
    return package
