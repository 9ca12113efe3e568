"""Output names checked without rendering, and temporaries that a killed writer leaves being cleared."""
import os
import subprocess
import sys

import pytest

from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.paths import atomic_output, check_filename_prefix, process_alive, remove_stale_temporaries


@pytest.mark.parametrize("prefix,normalised", [
    ("AudioWalk/video", "AudioWalk/video"), ("video", "video"), ("./AudioWalk//video", "AudioWalk/video"),
    ("takes/../AudioWalk/video", "AudioWalk/video"), ("Ünïcode/vidéo 1", "Ünïcode/vidéo 1"),
    ("AudioWalk/aux", "AudioWalk/aux")])  # a file name gets '_00001_.mp4' appended: 'aux_00001_.mp4' is fine
def test_good_prefixes_come_back_normalised(prefix, normalised):
    assert check_filename_prefix(prefix) == normalised


@pytest.mark.parametrize("prefix,problem", [
    ("", "filename_prefix: is empty; expected a name such as 'AudioWalk/video'"),
    ("   ", "filename_prefix: is empty"),
    ("a\\b", "filename_prefix: 'a\\\\b' contains a backslash; expected '/' between folders"),
    ("C:\\renders\\video", "contains a backslash"),
    ("/tmp/video", "'/tmp/video' is an absolute path; expected a name relative to the output folder"),
    ("../video", "'../video' leaves the output folder; expected a name inside the output folder, without '..'"),
    ("AudioWalk/../../video", "leaves the output folder"),
    ("C:/video", "contains ':', not allowed in file names on Windows; expected a name without <>:\"|?*"),
    ("what?", "contains '?', not allowed in file names on Windows"),
    ('a<b>"c"|d*', "contains '\"' '*' '<' '>' '|', not allowed"),
    ("line\nbreak", "contains '\\n', not allowed in file names on Windows"),
    ("tab\tand\x7f", "contains '\\t' '\\x7f'"),
    ("AudioWalk/", "'AudioWalk/' has no file name after its last folder"),
    ("AudioWalk/..", "has no file name"),
    ("nul/video", "folder 'nul' is a device name on Windows"),
    ("COM1.old/video", "folder 'COM1.old' is a device name on Windows"),
    ("takes./video", "folder 'takes.' ends with a dot or space (Windows drops it)"),
    ("takes /video", "folder 'takes ' ends with a dot or space"),
])
def test_bad_prefixes_are_refused_with_a_clear_message(prefix, problem):
    with pytest.raises(AudioWalkInputError) as error:
        check_filename_prefix(prefix)
    assert error.value.input_name == "filename_prefix"
    assert problem in str(error.value)


def test_prefix_of_another_type_is_refused():
    with pytest.raises(AudioWalkInputError, match="is empty"):
        check_filename_prefix(None)


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


def test_file_digest_follows_the_files_content(tmp_path):
    import hashlib
    import os

    from audiowalk_core.paths import file_digest

    path = tmp_path / "song.wav"
    path.write_bytes(b"abc")
    assert file_digest(path) == hashlib.sha256(b"abc").hexdigest() == file_digest(path)
    path.write_bytes(b"abcd")
    os.utime(path, ns=(10**18, 10**18))  # a new version: other size and time
    assert file_digest(path) == hashlib.sha256(b"abcd").hexdigest()
