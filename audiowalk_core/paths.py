"""Path safety: user-given names must stay inside the folder they are meant for, and files are written atomically."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import AudioWalkInputError


def resolve_inside(base_dir, name: str, input_name: str) -> Path:
    """``base_dir / name`` resolved; refuses absolute names and names that leave ``base_dir`` (``..``, links)."""
    base = Path(base_dir).resolve()
    if not isinstance(name, str) or not name.strip():
        raise AudioWalkInputError(input_name, "is empty", f"a file name inside {base.name!r}")
    candidate = Path(name)
    if candidate.is_absolute():
        raise AudioWalkInputError(input_name, f"{name!r} is an absolute path",
                                  f"a name relative to the {base.name!r} folder")
    resolved = (base / candidate).resolve()
    if resolved != base and base not in resolved.parents:
        raise AudioWalkInputError(input_name, f"{name!r} leaves the {base.name!r} folder",
                                  f"a name inside the {base.name!r} folder, without '..'")
    return resolved


@contextmanager
def atomic_output(final_path, suffix: str | None = None):
    """Yield a temporary path beside ``final_path``; rename it onto ``final_path`` only if the block succeeds.

    On any exception the temporary file is removed, so nothing half-written is left under the final name.
    """
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    suffix = final_path.suffix if suffix is None else suffix
    fd, tmp_name = tempfile.mkstemp(prefix="." + final_path.stem + ".", suffix=".part" + suffix,
                                    dir=final_path.parent)
    os.close(fd)
    tmp_path = Path(tmp_name)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; the result is an ordinary file
        os.replace(tmp_path, final_path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def copy_stream(source, path, on_bytes=None, chunk_bytes: int = 1 << 20) -> int:
    """Copy a readable binary stream (an HTTP response) into the file ``path``, ``chunk_bytes`` at a time;
    ``on_bytes(done)`` after each chunk. Returns the bytes written. Memory: one chunk."""
    done = 0
    with open(path, "wb") as sink:
        while True:
            chunk = source.read(chunk_bytes)
            if not chunk:
                return done
            sink.write(chunk)
            done += len(chunk)
            if on_bytes is not None:
                on_bytes(done)


def audiowalk_home() -> Path:
    """Where AudioWalk keeps its folders outside ComfyUI (``input``, ``output``, ``temp``, ``models/<kind>``):
    ``$AUDIOWALK_HOME``, defaulting to the current folder."""
    return Path(os.environ.get("AUDIOWALK_HOME", os.getcwd()))
