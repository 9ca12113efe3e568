"""One song on two real ComfyUI servers on loopback (skipped unless COMFYUI_DIR points at a ComfyUI checkout).

    COMFYUI_DIR=/path/to/ComfyUI [COMFYUI_PYTHON=...] .venv/bin/pytest -q -s tests/integration/test_multi_server.py

Two ComfyUI processes (``--cpu``), each on its own temporary base folder with this pack linked into custom_nodes
and the same tiny random BigGAN (tests/integration/test_comfyui_server.py's helpers), render the demo song with the
chunked BigGAN workflow: once on one server (one POST, the server renders every chunk and joins them), once spread
over both ("one chunk" prompts, parts joined here), and once spread over both while one server is killed (SIGKILL)
in the middle of a chunk. The videos must be the same frames (within H.264 noise) and the same length as the music.
Each run uploads the song under a new name, so no server reuses cached features or latents from an earlier run;
the wall times are printed (-s).
"""
from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from audiowalk_tools import cli
from audiowalk_tools.comfy_client import ComfyClient, ComfyError
from integration.test_comfyui_server import COMFYUI_DIR, REPO_ROOT, comfy_python, free_port, make_biggan, probe
from support import chunked_biggan_workflow

pytestmark = [pytest.mark.comfyui, pytest.mark.slow,
              pytest.mark.skipif(not COMFYUI_DIR, reason="set COMFYUI_DIR to a ComfyUI checkout to run")]

FPS, CHUNK_FRAMES, SIZE = 8, 20, 64  # the 20 s demo song: 160 frames in 8 chunks of 64 px


@contextlib.contextmanager
def comfyui_servers(bases: list[Path]):
    """Start one ComfyUI per base folder at once; yields ``[(address, process, log_path)]``."""
    processes = []
    try:
        for base in bases:
            (base / "custom_nodes").mkdir(parents=True)
            (base / "custom_nodes" / "ComfyUI-AudioWalk").symlink_to(REPO_ROOT, target_is_directory=True)
            (base / "models" / "biggan").mkdir(parents=True)
            make_biggan(base)  # seeded: every server has the same random weights
            port, log_path = free_port(), base / "comfyui.log"
            with open(log_path, "wb") as log:
                process = subprocess.Popen([comfy_python(), "main.py", "--cpu", "--listen", "127.0.0.1", "--port",
                                            str(port), "--disable-auto-launch", "--base-directory", str(base)],
                                           cwd=COMFYUI_DIR, stdout=log, stderr=subprocess.STDOUT)
            processes.append((f"127.0.0.1:{port}", process, log_path))
        deadline = time.monotonic() + 300
        for address, process, log_path in processes:
            while True:
                if process.poll() is not None:
                    pytest.fail("ComfyUI exited:\n" + log_path.read_text(errors="replace")[-4000:])
                try:
                    with urllib.request.urlopen(f"http://{address}/system_stats", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail("ComfyUI did not start:\n" + log_path.read_text(errors="replace")[-4000:])
                    time.sleep(1)
        yield processes
    finally:
        for _, process, _ in processes:
            process.terminate()
        for _, process, _ in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with comfyui_servers([tmp_path_factory.mktemp("comfy_a"), tmp_path_factory.mktemp("comfy_b")]) as started:
        yield started


@pytest.fixture(scope="module")
def workflow(servers, tmp_path_factory):
    live = ComfyClient(servers[0][0]).object_info()
    path = tmp_path_factory.mktemp("workflow") / "chunked_biggan.json"
    path.write_text(json.dumps(chunked_biggan_workflow(live, fps=str(FPS), chunk_frames=CHUNK_FRAMES,
                                                       prefix="AudioWalk/multi")))
    return path


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    from audiowalk_tools.demo import write_demo_song

    return write_demo_song(tmp_path_factory.mktemp("song") / "demo_song.wav")


@pytest.fixture(scope="module")
def one_server_video(servers, workflow, song, tmp_path_factory):
    """The song rendered on the first server alone, and the wall time."""
    folder = tmp_path_factory.mktemp("one")
    renamed = shutil.copy(song, folder / "song_one.wav")
    started = time.perf_counter()
    assert cli.main(["comfy-run", str(workflow), "--server", servers[0][0], "--audio", str(renamed),
                     "-o", str(folder / "one.mp4")]) == 0
    return probe(folder / "one.mp4"), time.perf_counter() - started


def check_whole_song(video, seconds=20.0):
    frames = int(seconds * FPS)
    assert video["fps"] == FPS and video["frames"].shape == (frames, SIZE, SIZE, 3)
    assert abs(video["audio_seconds"] - frames / FPS) <= 1 / FPS
    assert video["frames"].std() > 1.0


def assert_same_frames(video, reference):
    """The same frames up to H.264 noise: both runs hand x264 bit-identical frames in the same chunks."""
    difference = np.abs(video["frames"].astype(np.int16) - reference["frames"].astype(np.int16))
    print(f"frame difference to the one-server video: mean {difference.mean():.4f}, max {difference.max()}, "
          f"{int((difference.reshape(len(difference), -1).max(axis=1) == 0).sum())} of {len(difference)} frames "
          "identical")
    assert difference.mean() < 0.5 and np.percentile(difference, 99.9) <= 8


def test_two_servers_make_the_one_server_video(servers, workflow, song, one_server_video, tmp_path, capsys):
    reference, one_seconds = one_server_video
    check_whole_song(reference)
    renamed = shutil.copy(song, tmp_path / "song_two.wav")
    started = time.perf_counter()
    argv = ["comfy-run", str(workflow), "--audio", str(renamed), "--chunk-frames", str(CHUNK_FRAMES),
            "-o", str(tmp_path / "two.mp4")]
    for address, _, _ in servers:
        argv += ["--server", address]
    assert cli.main(argv) == 0
    two_seconds = time.perf_counter() - started
    err = capsys.readouterr().err
    for address, _, _ in servers:
        assert f"[http://{address}] chunk" in err and "done" in err
    video = probe(tmp_path / "two.mp4")
    check_whole_song(video)
    with capsys.disabled():
        print(f"\n160 frames (20 s at {FPS} fps, {SIZE} px, 8 chunks): one server {one_seconds:.1f} s, "
              f"two servers {two_seconds:.1f} s")
        assert_same_frames(video, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song_two.wav", "two.mp4"]


def test_killing_a_server_mid_chunk_still_gives_the_whole_video(servers, workflow, song, one_server_video, tmp_path,
                                                                capsys):
    """Runs last: the second server is killed (SIGKILL) while it renders a chunk."""
    reference, _ = one_server_video
    victim_address, victim, _ = servers[1]
    watcher = ComfyClient(victim_address, timeout=5)
    killed = threading.Event()

    def kill_when_busy():
        while not killed.is_set():
            try:
                queue = watcher.get_json("/queue")
            except ComfyError:
                return
            if queue.get("queue_running"):
                time.sleep(0.5)  # inside the chunk
                victim.kill()
                killed.set()
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_when_busy, daemon=True)
    killer.start()
    renamed = shutil.copy(song, tmp_path / "song_kill.wav")
    argv = ["comfy-run", str(workflow), "--audio", str(renamed), "-o", str(tmp_path / "survivor.mp4")]
    for address, _, _ in servers:
        argv += ["--server", address]
    code = cli.main(argv)
    killed.set()
    killer.join(timeout=10)
    err = capsys.readouterr().err
    assert code == 0, err
    assert victim.poll() is not None and f"[http://{victim_address}] out:" in err
    video = probe(tmp_path / "survivor.mp4")
    check_whole_song(video)
    with capsys.disabled():
        print()
        assert_same_frames(video, reference)
