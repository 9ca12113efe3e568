"""Giving a released model's memory back to the operating system.

When a model's tensors are freed, glibc's allocator keeps most of the pages: tensors of a few MB each come from its
heap once its mmap threshold has grown (it grows each time a large block is freed), and freed heap pages below the
top stay mapped. So after ComfyUI's "Unload models" / ``POST /free`` a CPU-loaded BigGAN would be gone from Python
but not from the process's resident memory (measured: 34 MB of a 236 MB model returned). ``malloc_trim(0)`` hands
those free pages back. ``return_memory_when_freed(obj)`` runs it once after the garbage collection that freed
``obj`` (a gc "stop" callback: by then the collected objects' memory is free). Elsewhere than glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import gc
import sys
import threading
import weakref

_lock = threading.Lock()
_state = {"pending": False, "installed": False}
_trim = []  # [malloc_trim] once looked up, [None] where there is none


def _malloc_trim():
    if not _trim:
        function = None
        if sys.platform.startswith("linux"):
            try:
                function = getattr(ctypes.CDLL(None), "malloc_trim", None)
            except OSError:
                function = None
            if function is not None:
                function.argtypes, function.restype = [ctypes.c_size_t], ctypes.c_int
        _trim.append(function)
    return _trim[0]


def trim_heap() -> bool:
    """Return the allocator's free heap pages to the OS (glibc ``malloc_trim(0)``); False where unavailable."""
    function = _malloc_trim()
    if function is None:
        return False
    function(0)
    return True


def _freed() -> None:
    _state["pending"] = True


def _after_collection(phase, info) -> None:
    if phase == "stop" and _state["pending"]:
        _state["pending"] = False
        trim_heap()


def return_memory_when_freed(obj) -> None:
    """After ``obj`` is freed, trim the heap at the end of the next garbage collection (a model in a reference
    cycle is freed by one; ComfyUI runs one right after unloading models)."""
    weakref.finalize(obj, _freed)
    with _lock:
        if not _state["installed"]:
            gc.callbacks.append(_after_collection)
            _state["installed"] = True
