"""Video encoding: frames/s at 256 and 512 px, and peak memory for 1,000 and 10,000 frames (flat in the count).

Each memory case runs in a fresh process and reports its peak resident set (ru_maxrss). The naive reference keeps
every frame in a list and encodes at the end (what a writer without streaming does), in the same run.

    .venv/bin/python bench/bench_video.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def moving_frames(first: int, count: int, size: int) -> np.ndarray:
    """Smooth frames with a moving pattern (codec cost similar to BigGAN output), float32 [count, size, size, 3]."""
    grid = np.linspace(0, 2 * np.pi, size, dtype=np.float32)
    t = (first + np.arange(count, dtype=np.float32))[:, None, None] * 0.05
    red = 0.5 + 0.5 * np.sin(grid[None, :, None] * 3 + t)
    green = 0.5 + 0.5 * np.sin(grid[None, None, :] * 2 - t)
    blue = 0.5 + 0.5 * np.sin((grid[None, :, None] + grid[None, None, :]) * 1.5 + 2 * t)
    return np.stack(np.broadcast_arrays(red, green, blue), axis=-1).astype(np.float32)


def music(seconds: float):
    from audiowalk_core.audio import AudioClip

    t = np.arange(int(seconds * 44100)) / 44100
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return AudioClip(np.stack([tone, tone]), 44100)


def encode(frames: int, size: int, preset: str, naive: bool, batch: int = 32) -> dict:
    from audiowalk_core.video import VideoWriter

    # the memory cases share one 10 s clip (the writer pads the rest with silence), so the peak compares the
    # writer's own memory across frame counts, not the size of the song held by the caller
    clip = music(min(frames / 30, 10.0))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        with VideoWriter(Path(folder) / "bench.mp4", 30, audio=clip, preset=preset) as writer:
            if naive:
                everything = [moving_frames(i, batch, size) for i in range(0, frames, batch)]
                for block in everything:
                    writer.write(block)
            else:
                for i in range(0, frames, batch):
                    writer.write(moving_frames(i, min(batch, frames - i), size))
        seconds = time.perf_counter() - start
    return {"fps": frames / seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def in_fresh_process(frames: int, size: int, preset: str, naive: bool) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps([frames, size, preset, naive])],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer frames (a quick run)")
    parser.add_argument("--smoke", action="store_true",
                        help="smallest sizes (a few frames of 64 px): checks the script runs (seconds; CI), no figures")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        frames, size, preset, naive = json.loads(args.child)
        print(json.dumps(encode(frames, size, preset, naive)))
        return
    speed_frames = 8 if args.smoke else 60 if args.quick else 300
    sizes = (64,) if args.smoke else (256, 512)
    print("encode speed (H.264 CRF 18 + AAC, streaming, x264 threads auto):")
    for size in sizes:
        for preset in ("veryfast",) if args.smoke else ("medium", "veryfast"):
            result = in_fresh_process(speed_frames, size, preset, False)
            print(f"  {size}x{size} preset {preset:8s}: {result['fps']:7.1f} frames/s")
    counts = (8, 16) if args.smoke else (300, 3000) if args.quick else (1000, 10000)
    print("peak memory (256x256, preset veryfast, fresh process each; RSS includes torch/numpy/PyAV):")
    for count in counts:
        streaming = in_fresh_process(count, 256, "veryfast", False)
        print(f"  {count:6d} frames streaming: {streaming['peak_mib']:7.0f} MiB ({streaming['fps']:.0f} frames/s)")
    naive = in_fresh_process(counts[0], 256, "veryfast", True)
    per_frame = 256 * 256 * 3 * 4 / 2 ** 20
    print(f"  {counts[0]:6d} frames naive (all frames held): {naive['peak_mib']:7.0f} MiB; "
          f"at {counts[1]} frames it would hold {counts[1] * per_frame:.0f} MiB of frames")


if __name__ == "__main__":
    main()
