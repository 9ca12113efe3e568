"""Memory follows the chunk, not the song: peak RSS of the ComfyUI process rendering a 10-minute song with the
shipped BigGAN workflow (one POST, 30 fps, chunks of 240 frames) is within 25% of the same for a 1-minute song, and
the Stable Diffusion walk template's for a 5-minute song within 25% of a 1-minute one (random SD1.5, 64 px).

    COMFYUI_DIR=/path/to/ComfyUI [AUDIOWALK_SD15_CHECKPOINT=...] .venv/bin/pytest -q -s tests/integration/test_song_memory.py

Each song gets a fresh server (peak RSS is a high-water mark). A tiny random BigGAN (64 px) keeps the CPU time
to a few minutes; what grows with the song here is everything but the frames: the decoded song, its feature
curves and the latents. Prints the figures the README quotes.
"""
from __future__ import annotations

import pytest

from audiowalk_tools.comfy_client import ComfyClient
from comfy_harness import (COMFYUI_DIR, ComfyServer, make_biggan, output_path, probe, run_whole_song, sd15_checkpoint,
                           shipped_prompt)

pytestmark = [pytest.mark.comfyui, pytest.mark.slow,
              pytest.mark.skipif(not COMFYUI_DIR, reason="set COMFYUI_DIR to a ComfyUI checkout to run")]


def render_song_on_a_fresh_server(base, seconds: float, workflow: str = "audiowalk_biggan",
                                  settings: dict | None = None) -> dict:
    from audiowalk_tools.demo import write_demo_song

    make_biggan(base)
    if workflow == "audiowalk_sd_walk":
        sd15_checkpoint(base, base.parent)
    song = write_demo_song(base / "input" / f"song_{int(seconds)}s.flac", duration_seconds=seconds)
    with ComfyServer(base) as server:
        idle = server.memory_kib()
        prompt = shipped_prompt(workflow, {"Load Song.audio": song.name,
                                           "Save Music Video.filename_prefix": "memory/song", **(settings or {})})
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


# The Stable Diffusion walk template on the random SD1.5 checkpoint, CPU: 64 px, 1 fps, 1 step, chunks of 30 frames
# (2 chunks for the 1-minute song, 10 for the 5-minute one), keyframes every 4th frame as shipped.
SD_WALK_SMALL = {"Load Checkpoint.ckpt_name": "random-sd15.safetensors", "Audio Features.fps": "1",
                 "Render in Chunks.chunk_frames": 30, "Empty Latent (chunk frames).width": 64,
                 "Empty Latent (chunk frames).height": 64, "SD Walk Sampler.steps": 1}


def test_peak_memory_of_the_sd_walk_for_5_minutes_is_within_25_percent_of_1_minute(tmp_path):
    short = render_song_on_a_fresh_server(tmp_path / "sd_one_minute", 60.0, "audiowalk_sd_walk", SD_WALK_SMALL)
    long = render_song_on_a_fresh_server(tmp_path / "sd_five_minutes", 300.0, "audiowalk_sd_walk", SD_WALK_SMALL)
    for run in (short, long):
        print(f"\nSD walk, {run['seconds']:.0f} s song: {run['frames']} frames in {run['chunks']} chunks, ComfyUI RSS "
              f"idle {run['idle_kib'] / 1024:.0f} MiB, peak {run['peak_kib'] / 1024:.0f} MiB")
    print(f"SD walk peak ratio 5 min / 1 min: {long['peak_kib'] / short['peak_kib']:.3f}")
    assert (short["frames"], long["frames"]) == (60, 300)
    assert long["peak_kib"] <= 1.25 * short["peak_kib"]
