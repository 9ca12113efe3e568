"""One song on two real ComfyUI servers on loopback (skipped unless COMFYUI_DIR points at a ComfyUI checkout).

    COMFYUI_DIR=/path/to/ComfyUI [COMFYUI_PYTHON=...] .venv/bin/pytest -q -s tests/integration/test_multi_server.py

Two ComfyUI processes (comfy_harness.ComfyServer: ``--cpu``, this pack linked, the same seeded tiny random BigGAN)
render the shipped BigGAN workflow on the demo song (20 s at 8 fps: 160 frames in 8 chunks of 64 px): once on one
server (one POST; the server renders every chunk and joins them), once spread over both ("one chunk" prompts, the
parts joined here), and once spread over both while one server is killed (SIGKILL) in the middle of a chunk. The
videos must be the same frames (within H.264 noise) and as long as the music. Each run uploads the song under a new
name, so no server reuses features or latents cached by an earlier run; the wall times are printed (-s).
"""
from __future__ import annotations

import os
import shutil
import threading
import time

import numpy as np
import pytest

from audiowalk_tools import cli
from audiowalk_tools.comfy_client import ComfyClient, ComfyError
from comfy_harness import COMFYUI_DIR, REPO_ROOT, ComfyServer, make_biggan, probe

pytestmark = [pytest.mark.comfyui, pytest.mark.slow,
              pytest.mark.skipif(not COMFYUI_DIR, reason="set COMFYUI_DIR to a ComfyUI checkout to run")]

FPS, CHUNK_FRAMES, SIZE = 8, 20, 64
SETTINGS = ["--set", f"Audio Features.fps={FPS}", "--set", f"Render in Chunks.chunk_frames={CHUNK_FRAMES}",
            "--set", "Save Music Video.filename_prefix=AudioWalk/multi"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Two ComfyUI servers, started at once: ``[(address, process)]``."""
    bases = [tmp_path_factory.mktemp(f"comfy_{name}") for name in "ab"]
    for base in bases:
        make_biggan(base)  # seeded: both servers get the same random weights
    started = [ComfyServer(base) for base in bases]
    threads = [threading.Thread(target=server.__enter__) for server in started]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        for server in started:
            assert server.process.poll() is None and server.address, server.log_tail()
            ComfyClient(server.address).system_stats()
        yield [(server.address, server.process) for server in started]
    finally:
        for server in started:
            server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def song():
    return REPO_ROOT / "audiowalk_core" / "data" / "audiowalk_demo.flac"


def comfy_run(song, out, addresses, *extra) -> int:
    argv = ["comfy-run", "audiowalk_biggan", "--audio", str(song), "-o", str(out), *SETTINGS, *extra]
    for address in addresses:
        argv += ["--server", address]
    return cli.main(argv)


@pytest.fixture(scope="module")
def one_server_video(servers, song, tmp_path_factory):
    """The song rendered on the first server alone, and the wall time."""
    folder = tmp_path_factory.mktemp("one")
    renamed = shutil.copy(song, folder / "song_one.flac")
    started = time.perf_counter()
    assert comfy_run(renamed, folder / "one.mp4", [servers[0][0]]) == 0
    return probe(folder / "one.mp4"), time.perf_counter() - started


def check_whole_song(video, seconds=20.0):
    frames = int(seconds * FPS)
    assert video["fps"] == FPS and video["frames"].shape == (frames, SIZE, SIZE, 3)
    assert abs(video["audio_seconds"] - frames / FPS) <= 1 / FPS
    assert video["frames"].std() > 1.0


def assert_same_frames(video, reference):
    """The same frames up to coding noise. BigGAN's frames are bit-identical from server to server, and spreading
    the chunks over one server gives the whole-song render's bitstream; but x264 (threads=auto, PyAV 18 / FFmpeg
    8.1) encodes identical frames to different bitstreams when the CPU is contended, so a few frames of a part may
    differ (seen: up to 1.2 levels mean on a frame, 142-160 of 160 frames identical). Neighbouring frames differ by
    2.7 levels on average here (printed), so a shifted or misplaced chunk shows in the mean."""
    def per_frame(a, b):
        return np.abs(a.astype(np.int16) - b.astype(np.int16)).reshape(len(a), -1).mean(axis=1)

    difference = per_frame(video["frames"], reference["frames"])
    neighbours = per_frame(reference["frames"][1:], reference["frames"][:-1])
    print(f"mean difference per frame to the one-server video: {difference.mean():.4f} (largest "
          f"{difference.max():.3f}; {int((difference == 0).sum())} of {len(difference)} frames identical); "
          f"between neighbouring frames: {neighbours.mean():.2f} (smallest {neighbours.min():.2f})")
    assert difference.mean() < min(0.2, neighbours.mean() / 5) and difference.max() < 2.0


def test_two_servers_make_the_one_server_video(servers, song, one_server_video, tmp_path, capsys):
    reference, one_seconds = one_server_video
    check_whole_song(reference)
    renamed = shutil.copy(song, tmp_path / "song_two.flac")
    started = time.perf_counter()
    assert comfy_run(renamed, tmp_path / "two.mp4", [address for address, _ in servers]) == 0
    two_seconds = time.perf_counter() - started
    err = capsys.readouterr().err
    for address, _ in servers:
        assert f"[http://{address}] chunk" in err
    video = probe(tmp_path / "two.mp4")
    check_whole_song(video)
    with capsys.disabled():
        print(f"\n160 frames (20 s at {FPS} fps, {SIZE} px, 8 chunks): one server {one_seconds:.1f} s, "
              f"two servers {two_seconds:.1f} s (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        assert_same_frames(video, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song_two.flac", "two.mp4"]


def test_killing_a_server_mid_chunk_still_gives_the_whole_video(servers, song, one_server_video, tmp_path, capsys):
    """Runs last: the second server is killed (SIGKILL) while it renders a chunk."""
    reference, _ = one_server_video
    victim_address, victim = servers[1]
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
    renamed = shutil.copy(song, tmp_path / "song_kill.flac")
    code = comfy_run(renamed, tmp_path / "survivor.mp4", [address for address, _ in servers])
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
