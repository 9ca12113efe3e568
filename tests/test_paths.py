"""Temporaries that a killed writer leaves are recognisable and cleared by the next write of the same file."""
import os
import subprocess
import sys

import pytest

from audiowalk_core.paths import atomic_output, process_alive, remove_stale_temporaries


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid)
    return child.pid


def test_temporary_name_shows_target_and_writer(tmp_path):
    target = tmp_path / "walk.mp4"
    with atomic_output(target) as tmp:
        stem, pid, token, part, ext = tmp.name[1:].split(".")
        assert tmp.name.startswith(".") and tmp.parent == tmp_path
        assert (stem, int(pid), len(token), part, ext) == ("walk", os.getpid(), 8, "part", "mp4")
        assert tmp.exists() and oct(tmp.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
        tmp.write_bytes(b"done")
    assert target.read_bytes() == b"done" and sorted(p.name for p in tmp_path.iterdir()) == ["walk.mp4"]
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"done" and sorted(p.name for p in tmp_path.iterdir()) == ["walk.mp4"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_stale_temporaries_of_dead_writers_are_removed_and_nothing_else(tmp_path):
    dead = dead_pid()
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE) as live:
        names = {
            f".walk.{dead}.0123abcd.part.mp4": "removed",  # the target's, from a dead writer
            f".walk.{live.pid}.0123abcd.part.mp4": "kept",  # a live writer's
            f".walk.{os.getpid()}.0123abcd.part.mp4": "kept",  # this process's
            f".other.{dead}.0123abcd.part.mp4": "kept",  # another target's
            f".walk.{dead}.0123abcd.part.mov": "kept",  # another extension
            f".walk.v2.{dead}.0123abcd.part.mp4": "kept",  # target walk.v2.mp4
            f".walk.{dead}.part.mp4": "kept",  # not our pattern
            f".walk.{dead}.0123ABCD.part.mp4": "kept",  # not our pattern (upper-case hex)
            f"walk.{dead}.0123abcd.part.mp4": "kept",  # not hidden: not ours
            "walk.mp4": "kept",
        }
        for name in names:
            (tmp_path / name).write_bytes(b"x" * 10)
        (tmp_path / f".walk.{dead}.fedc4321.part.mp4").mkdir()  # a folder of that name is not a temporary file
        with atomic_output(tmp_path / "walk.mp4") as tmp:
            tmp.write_bytes(b"new")
            left = {p.name for p in tmp_path.iterdir()}
        live.stdin.close()
    assert left == {name for name, fate in names.items() if fate == "kept"} | {tmp.name,
                                                                                 f".walk.{dead}.fedc4321.part.mp4"}
    # once the live writer has exited, its temporary is stale too
    assert remove_stale_temporaries(tmp_path / "walk.mp4") == [tmp_path / f".walk.{live.pid}.0123abcd.part.mp4"]
    assert (tmp_path / "walk.mp4").read_bytes() == b"new"
