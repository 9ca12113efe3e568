"""Memory follows the chunk, not the song: peak RSS of the ComfyUI process rendering a 10-minute song with the
shipped BigGAN workflow (one POST, 30 fps, chunks of 240 frames) is within 25% of the same for a 1-minute song.

    COMFYUI_DIR=/path/to/ComfyUI .venv/bin/pytest -q -s tests/integration/test_song_memory.py

Each song gets a fresh server (peak RSS is a high-water mark). A tiny random BigGAN (64 px) keeps the CPU time
to a few minutes; what grows with the song here is everything but the frames: the decoded song, its feature
curves and the latents. Prints the figures the README quotes.
"""
from __future__ import annotations

import pytest

from audiowalk_tools.comfy_client import ComfyClient
from comfy_harness import COMFYUI_DIR, ComfyServer, make_biggan, output_path, probe, run_whole_song, shipped_prompt

pytestmark = [pytest.mark.comfyui, pytest.mark.slow,
              pytest.mark.skipif(not COMFYUI_DIR, reason="set COMFYUI_DIR to a ComfyUI checkout to run")]


def render_song_on_a_fresh_server(base, seconds: float) -> dict:
    from audiowalk_tools.demo import write_demo_song

    make_biggan(base)
    song = write_demo_song(base / "input" / f"song_{int(seconds)}s.flac", duration_seconds=seconds)
    with ComfyServer(base) as server:
        idle = server.memory_kib()
        prompt = shipped_prompt("audiowalk_biggan", {"Load Song.audio": song.name,
                                                     "Save Music Video.filename_prefix": "memory/song"})
        final, entries = run_whole_song(ComfyClient(server.address), prompt, timeout=1800)
        peak = server.memory_kib()["VmHWM"]
    frames = probe(output_path(base, final))["frames"].shape[0]
    return {"seconds": seconds, "chunks": len(entries), "frames": frames, "idle_kib": idle["VmRSS"],
            "peak_kib": peak}


def test_peak_memory_of_a_10_minute_song_is_within_25_percent_of_a_1_minute_song(tmp_path):
    short = render_song_on_a_fresh_server(tmp_path / "one_minute", 60.0)
    long = render_song_on_a_fresh_server(tmp_path / "ten_minutes", 600.0)
    for run in (short, long):
        print(f"\n{run['seconds']:.0f} s song: {run['frames']} frames in {run['chunks']} chunks, ComfyUI RSS idle "
              f"{run['idle_kib'] / 1024:.0f} MiB, peak {run['peak_kib'] / 1024:.0f} MiB")
    print(f"peak ratio 10 min / 1 min: {long['peak_kib'] / short['peak_kib']:.3f}")
    assert (short["frames"], long["frames"]) == (1800, 18000)
    assert long["peak_kib"] <= 1.25 * short["peak_kib"]
