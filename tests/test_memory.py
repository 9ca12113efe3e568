"""A released model's pages go back to the operating system (glibc's allocator keeps them otherwise)."""
import subprocess
import sys

import pytest

from audiowalk_core.memory import trim_heap

# 60 tensors of 4 MB in a reference cycle, allocated after glibc's mmap threshold has grown past their size (as it
# has once a model is loaded), between small tensors that stay: freed, their pages stay with the process unless the
# heap is trimmed.
SCRIPT = """
import gc, sys, psutil, torch
from audiowalk_core.memory import return_memory_when_freed
rss = lambda: psutil.Process().memory_info().rss
big = torch.ones(5_000_000); del big
class Holder:
    def __init__(self):
        self.me = self
        self.parts = []
holder, pins = Holder(), []
for _ in range(60):
    holder.parts.append(torch.ones(1_000_000))
    pins.append(torch.ones(16_000))  # kept: the freed parts are holes inside the heap, not at its top
if sys.argv[1] == "trim":
    return_memory_when_freed(holder)
before = rss()
del holder
gc.collect()
print((before - rss()) / 1e6)
"""


def returned_megabytes(mode: str) -> float:
    result = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True,
                            cwd="/")
    return float(result.stdout.strip())


@pytest.mark.skipif(not trim_heap(), reason="no glibc malloc_trim on this platform")
def test_freed_model_memory_returns_to_the_os_after_the_collection():
    assert returned_megabytes("keep") < 60  # what glibc alone gives back (measured: nothing)
    assert returned_megabytes("trim") > 200  # of the 240 MB held
