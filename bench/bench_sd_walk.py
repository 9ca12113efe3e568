"""Per-frame cost of the SD walk nodes (Music Noise Walk + Prompt Travel + per-frame guidance) against the
sampler's own per-frame cost, with a naive reference of the walk nodes in the same run.

Ours: a chunk's noise from the closed-form walk (two cached anchors per stretch of frames) and its conditioning as
one einsum over the prompts. Naive: per frame, both anchors drawn anew and the conditioning blended frame by frame
(a ConditioningAverage per frame, then concatenated). The sampler: SD1.5 (random weights, the real architecture)
through ComfyUI's comfy.sample.sample, euler, 1 step at cfg 1 (the every-frame way: the cheapest sampler call, so
the strictest ratio), timed in ComfyUI's own Python when COMFYUI_DIR and AUDIOWALK_SD15_CHECKPOINT are set
(otherwise reported as not measured).

    PYTHONPATH=$PWD .venv/bin/python bench/bench_sd_walk.py [--smoke] [--size 512] [--frames 240]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

SAMPLER_SCRIPT = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    import comfy.cli_args
    comfy.cli_args.args.cpu = True
    import torch, comfy.sd, comfy.sample
    checkpoint, size, batch, steps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(int(sys.argv[6]))
    model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(checkpoint, output_vae=True, output_clip=True)
    cond = clip.encode_from_tokens_scheduled(clip.tokenize("a misty forest"))
    latent = torch.zeros(batch, 4, size // 8, size // 8)
    noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(0))
    def run():
        return comfy.sample.sample(model, noise, steps, 1.0, "euler", "sgm_uniform", cond, cond, latent,
                                   disable_pbar=True, seed=0)
    run()  # warm: weights loaded, kernels chosen
    started = time.perf_counter()
    run()
    print(json.dumps({"seconds_per_frame": (time.perf_counter() - started) / batch}))
""")


def song(frame_count: int, fps: int = 30):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from sd_walk_support import section, song_features

    rng = np.random.default_rng(0)
    seconds = frame_count / fps
    thirds = [section(0, seconds / 3, "A"), section(seconds / 3, 2 * seconds / 3, "B"),
              section(2 * seconds / 3, seconds, "A")]
    return song_features(frame_count, fps, onsets=np.nonzero(rng.random(frame_count) < 0.2)[0],
                         beats=range(0, frame_count, 15), rms=0.5, sections=thirds)


def prompts(count: int = 3):
    import torch

    generator = torch.Generator().manual_seed(1)
    return [[[torch.randn(1, 77, 768, generator=generator), {}]] for _ in range(count)]


def ours(features, frames, latent_shape, conditionings, guidance):
    from audiowalk_core.sd_walk.guidance import PerFrameGuidance, values_of_frames
    from audiowalk_core.sd_walk.music_noise import MusicNoiseWalk, walk_path
    from audiowalk_core.sd_walk.prompt_travel import blend_conditionings, schedule_knots, travel_weights
    import torch

    path = walk_path(features)
    noise = MusicNoiseWalk(path, frames, seed=42).generate_noise({"samples": torch.zeros(latent_shape)})
    weights = travel_weights(schedule_knots(features, "A: 1, B: 2", "sections", 30), frames, len(conditionings))
    cond = blend_conditionings(conditionings, weights)
    PerFrameGuidance(values_of_frames(guidance, frames, "guidance"))
    return noise, cond


def naive(features, frames, latent_shape, conditionings, guidance):
    """Frame by frame: both anchors drawn anew, the conditioning averaged per frame and concatenated."""
    import torch

    from audiowalk_core.frame_noise import standard_normal
    from audiowalk_core.sd_walk.music_noise import anchor_seed, walk_path
    from audiowalk_core.sd_walk.prompt_travel import schedule_knots, travel_weights

    path = walk_path(features)
    item = tuple(latent_shape[1:])
    rows, conds = [], []
    knots = schedule_knots(features, "A: 1, B: 2", "sections", 30)
    for frame in frames:
        position, label = float(path.position[frame]), int(path.label[frame])
        k, t = math.floor(position), position - math.floor(position)
        rows.append(standard_normal(item, anchor_seed(42, label, k)) * math.cos(math.pi * t / 2)
                    + standard_normal(item, anchor_seed(42, label, k + 1)) * math.sin(math.pi * t / 2))
        w = travel_weights(knots, [frame], len(conditionings))[0]
        blended = sum(float(w[p]) * conditionings[p][0][0] for p in range(len(conditionings)))
        conds.append(blended)
        float(guidance[frame])
    return torch.stack(rows), [[torch.cat(conds), {}]]


def best_seconds(function, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def sampler_seconds_per_frame(size: int, batch: int, threads: int) -> float | None:
    comfy_dir, checkpoint = os.environ.get("COMFYUI_DIR"), os.environ.get("AUDIOWALK_SD15_CHECKPOINT")
    if not (comfy_dir and checkpoint):
        return None
    python = os.environ.get("COMFYUI_PYTHON") or str(Path(comfy_dir).resolve().parent / "venv" / "bin" / "python")
    result = subprocess.run([python, "-c", SAMPLER_SCRIPT, comfy_dir, checkpoint, str(size), str(batch), "1",
                             str(threads)], capture_output=True, text=True, cwd=comfy_dir, timeout=3600)
    if result.returncode:
        print(result.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds_per_frame"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (CI)")
    parser.add_argument("--size", type=int, default=512, help="picture size in px (latent: size / 8)")
    parser.add_argument("--frames", type=int, default=240, help="frames per chunk")
    parser.add_argument("--song-frames", type=int, default=18_000, help="frames of the song (10 min at 30 fps)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.frames, args.song_frames = 64, 16, 600
    import torch

    torch.set_num_threads(args.threads)
    features = song(args.song_frames)
    start = args.song_frames - args.frames  # the song's last chunk: no walking from frame 0
    frames = list(range(start, args.song_frames))
    latent_shape = (args.frames, 4, args.size // 8, args.size // 8)
    conditionings = prompts()
    guidance = np.linspace(5, 9, args.song_frames)
    repeats = 2 if args.smoke else 3
    ours_s = best_seconds(lambda: ours(features, frames, latent_shape, conditionings, guidance), repeats)
    naive_s = best_seconds(lambda: naive(features, frames, latent_shape, conditionings, guidance), repeats)
    mine, reference = ours(features, frames, latent_shape, conditionings, guidance), naive(
        features, frames, latent_shape, conditionings, guidance)
    assert torch.allclose(mine[0], reference[0], atol=1e-5) and torch.allclose(mine[1][0][0], reference[1][0][0],
                                                                               atol=1e-4)
    per_frame = ours_s / args.frames
    print(f"SD walk nodes, chunk of {args.frames} frames at {args.size} px (latent {latent_shape[1:]}), frames "
          f"{start}-{args.song_frames - 1} of {args.song_frames:,}, {args.threads} threads")
    print(f"  walk + travel + guidance: {per_frame * 1e3:.3f} ms/frame; naive per-frame reference "
          f"{naive_s / args.frames * 1e3:.3f} ms/frame: ours / naive = {ours_s / naive_s:.2f}")
    sampler = sampler_seconds_per_frame(args.size, 1 if args.smoke else 2, args.threads)
    if sampler is None:
        print("  sampler: not measured (set COMFYUI_DIR and AUDIOWALK_SD15_CHECKPOINT)")
    else:
        print(f"  SD1.5 sampler, euler 1 step cfg 1: {sampler * 1e3:.1f} ms/frame: walk nodes / sampler = "
              f"{per_frame / sampler * 100:.3f} % (goal < 2 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
