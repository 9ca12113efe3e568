"""Path safety: user-given names must stay inside the folder they are meant for, and files are written atomically."""
from __future__ import annotations

import os
from functools import lru_cache
import re
import secrets
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


FILENAME_PREFIX_EXAMPLE = "a name such as 'AudioWalk/video'"
WINDOWS_INVALID_CHARACTERS = '<>:"|?*'
WINDOWS_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                          *(f"LPT{i}" for i in range(1, 10))}


def check_filename_prefix(prefix, input_name: str = "filename_prefix") -> str:
    """The normalised relative prefix (``'AudioWalk/video'``), checked without touching the disk: refuses empty
    names, absolute paths, ``..`` leaving the folder, backslashes (on every OS), characters Windows does not allow
    in file names (``<>:"|?*`` and control characters), and folders Windows cannot create (``CON``, ``NUL``, ...,
    names ending in a dot or space). ``.`` parts and repeated ``/`` are dropped; ``a/../b`` becomes ``b``."""
    if not isinstance(prefix, str) or not prefix.strip():
        raise AudioWalkInputError(input_name, "is empty", FILENAME_PREFIX_EXAMPLE)
    if "\\" in prefix:
        raise AudioWalkInputError(input_name, f"{prefix!r} contains a backslash",
                                  "'/' between folders, e.g. 'AudioWalk/video' (the same on every OS)")
    bad = sorted({char for char in prefix if char in WINDOWS_INVALID_CHARACTERS or ord(char) < 32 or ord(char) == 127})
    if bad:
        shown = " ".join(repr(char) for char in bad)
        raise AudioWalkInputError(input_name, f"{prefix!r} contains {shown}, not allowed in file names on Windows",
                                  f"a name without {WINDOWS_INVALID_CHARACTERS} or control characters")
    if prefix.startswith("/"):
        raise AudioWalkInputError(input_name, f"{prefix!r} is an absolute path",
                                  "a name relative to the output folder, e.g. 'AudioWalk/video'")
    parts = []
    for part in prefix.split("/"):
        if part in ("", "."):
            continue
        if part != "..":
            parts.append(part)
        elif not parts:
            raise AudioWalkInputError(input_name, f"{prefix!r} leaves the output folder",
                                      "a name inside the output folder, without '..'")
        else:
            parts.pop()
    if not parts or prefix.rstrip().endswith("/"):
        raise AudioWalkInputError(input_name, f"{prefix!r} has no file name after its last folder",
                                  FILENAME_PREFIX_EXAMPLE)
    for folder in parts[:-1]:  # the file name gets '_00001_.mp4' appended, so only folders can hit these
        if folder[-1] in ". ":
            raise AudioWalkInputError(input_name, f"{prefix!r}: folder {folder!r} ends with a dot or space "
                                      "(Windows drops it)", "folder names that do not end in a dot or space")
        if folder.split(".")[0].upper() in WINDOWS_RESERVED_NAMES:
            raise AudioWalkInputError(input_name, f"{prefix!r}: folder {folder!r} is a device name on Windows",
                                      "a folder name other than CON, PRN, AUX, NUL, COM1-9 or LPT1-9")
    return "/".join(parts)


@contextmanager
def atomic_output(final_path, suffix: str | None = None):
    """Yield a temporary path beside ``final_path``; rename it onto ``final_path`` only if the block succeeds.

    On any exception (Ctrl-C and the CLI's SIGTERM/SIGHUP included) the temporary file is removed, so nothing
    half-written is left under the final name. The temporary is ``.<stem>.<pid>.<8 hex>.part<suffix>``: what a
    killed process (SIGKILL, power cut) leaves is hidden, matches ``*.part.*``, and is removed by the next
    atomic_output of the same target once that pid is no longer alive (:func:`remove_stale_temporaries`).
    """
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    suffix = final_path.suffix if suffix is None else suffix
    remove_stale_temporaries(final_path, suffix)
    while True:
        tmp_path = final_path.parent / f".{final_path.stem}.{os.getpid()}.{secrets.token_hex(4)}.part{suffix}"
        try:
            os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # mode as an ordinary file
            break
        except FileExistsError:
            continue
    try:
        yield tmp_path
        os.replace(tmp_path, final_path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _temporary_name_pattern(final_path: Path, suffix: str) -> re.Pattern:
    """Names :func:`atomic_output` gives the temporaries of ``final_path``; group 1 is the writer's pid."""
    return re.compile(r"\." + re.escape(final_path.stem) + r"\.(\d+)\.[0-9a-f]{8}\.part" + re.escape(suffix) + r"\Z")


def remove_stale_temporaries(final_path, suffix: str | None = None) -> list[Path]:
    """Remove the temporaries of ``final_path`` left by processes that are no longer alive (killed mid-write);
    returns them. Only names of :func:`atomic_output`'s pattern, only plain files, never this process's or a live
    process's."""
    final_path = Path(final_path)
    suffix = final_path.suffix if suffix is None else suffix
    pattern = _temporary_name_pattern(final_path, suffix)
    removed = []
    try:
        entries = list(os.scandir(final_path.parent))
    except FileNotFoundError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or process_alive(pid):
            continue
        try:
            os.unlink(entry.path)
        except OSError:  # gone already, or not ours to remove
            continue
        removed.append(Path(entry.path))
    return removed


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a zombie counts as alive). When it cannot be told (Windows without psutil),
    True: callers then leave its files alone."""
    if pid <= 0:
        return True
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
        try:
            import psutil
        except ImportError:
            return True
        return psutil.pid_exists(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


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


def file_digest(path) -> str:
    """SHA-256 (hex) of a file's bytes, remembered per (path, size, modification time): a long song asked again
    for every chunk of a render is read once."""
    stat = os.stat(path)
    return _file_digest(os.path.realpath(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
