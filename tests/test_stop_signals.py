"""`audiowalk render` stopped from outside: SIGTERM and SIGHUP unwind like Ctrl-C and leave nothing; what a SIGKILL
leaves is recognisable and removed by the next run. Renders run in a subprocess with a tiny random BigGAN."""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import save_tiny_biggan

from audiowalk_tools import cli

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")


@pytest.fixture(scope="module")
def tiny_models_dir(tmp_path_factory):
    return save_tiny_biggan(tmp_path_factory.mktemp("models"))


def render_command(output: Path, models_dir: Path, seconds: float) -> list:
    script = shutil.which("audiowalk", path=os.path.dirname(sys.executable))
    program = [script] if script else [sys.executable, "-m", "audiowalk_tools.cli"]
    return program + ["render", "--demo", "-o", str(output), "--models-dir", str(models_dir), "--fps", "30",
                      "--duration-seconds", str(seconds), "--batch-size", "2"]


def start_render_and_wait_for_its_temporary(tmp_path, models_dir):
    """A render in a subprocess (its scratch files in ``tmp_path/scratch``), returned once the temporary mp4
    exists: the process is then writing frames."""
    output, scratch = tmp_path / "out" / "walk.mp4", tmp_path / "scratch"
    output.parent.mkdir()
    scratch.mkdir()
    process = subprocess.Popen(render_command(output, models_dir, 4.0), env=dict(os.environ, TMPDIR=str(scratch)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while not list(output.parent.glob(".walk.*.part.mp4")):
        if process.poll() is not None:
            pytest.fail(f"the render ended (status {process.returncode}) before its temporary was seen: "
                        + process.stderr.read())
        try:
            process.wait(timeout=0.02)
        except subprocess.TimeoutExpired:
            pass
    return process, output, scratch


@pytest.mark.slow
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGHUP"])
def test_stop_signal_mid_render_leaves_nothing(tmp_path, tiny_models_dir, signal_name):
    signum = getattr(signal, signal_name)
    process, output, scratch = start_render_and_wait_for_its_temporary(tmp_path, tiny_models_dir)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, err
    assert f"audiowalk render: stopped by {signal_name}" in err
    assert list(output.parent.iterdir()) == []  # no mp4, no hidden .part.mp4
    assert list(scratch.iterdir()) == []  # the demo song and the scratch folders are gone too


def test_stop_signal_handlers_are_restored_after_the_command(tmp_path):
    before = {signum: signal.getsignal(signum) for signum in cli.STOP_SIGNALS}
    assert cli.main(["demo-song", str(tmp_path / "demo.wav")]) == 0
    assert {signum: signal.getsignal(signum) for signum in cli.STOP_SIGNALS} == before


@pytest.mark.slow
def test_what_a_killed_render_leaves_is_removed_by_the_next_run(tmp_path, tiny_models_dir, capsys):
    process, output, _ = start_render_and_wait_for_its_temporary(tmp_path, tiny_models_dir)
    process.kill()
    process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL
    left = [p.name for p in output.parent.iterdir()]
    assert len(left) == 1 and left[0].startswith(f".walk.{process.pid}.") and left[0].endswith(".part.mp4")
    code = cli.main(["render", "--demo", "-o", str(output), "--models-dir", str(tiny_models_dir), "--fps", "4",
                     "--duration-seconds", "1"])
    assert code == 0, capsys.readouterr().err
    assert [p.name for p in output.parent.iterdir()] == ["walk.mp4"]
