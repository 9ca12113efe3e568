import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/ (never the repo root: our nodes/ would shadow ComfyUI's)
sys.path.insert(0, str(Path(__file__).resolve().parent / "integration"))  # the real-ComfyUI harness

from support import load_pack  # noqa: E402


@pytest.fixture(scope="session")
def pack():
    """The node pack imported the way ComfyUI imports it."""
    return load_pack()


@pytest.fixture
def comfy_home(tmp_path, monkeypatch):
    """Fallback ComfyUI folders (input/, output/, models/) for the node adapter, in a temp dir."""
    for sub in ("input", "output", "temp", "models"):
        (tmp_path / sub).mkdir()
    monkeypatch.setenv("AUDIOWALK_HOME", str(tmp_path))
    return tmp_path
