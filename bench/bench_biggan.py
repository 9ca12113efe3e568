"""Benchmark: BigGAN-deep frame generation (random weights, real architecture) vs the seed notebook's way.

The seed's way: the library model as ``from_pretrained`` gives it (spectral-norm hooks recomputing every weight on
every call), float32, one frame per call, per-frame min-max. Ours: ``generate_frames`` (spectral norms folded,
inference mode, batches) over several batch sizes and dtypes. Also prints FLOPs per frame (conv/linear MACs counted
with forward hooks, x2) and the fraction of this machine's float32 matmul rate reached (same thread count).

    python bench/bench_biggan.py                                  # CPU, biggan-deep-128
    python bench/bench_biggan.py --model biggan-deep-512 --frames 4 --batch-sizes 1,4
    python bench/bench_biggan.py --device cuda --dtype bfloat16 --model biggan-deep-512 --frames 64
Numbers on a shared machine are pessimistic; compare ratios within one run only.
"""
from __future__ import annotations

import argparse
import time
from fractions import Fraction

import numpy as np
import torch

from audiowalk_core.generators import biggan, devices, generate_frames  # installed with the pack (pip install -e .)
from audiowalk_core.clock import FrameClock
from audiowalk_core.latents import WalkLatents
from biggan_reference import count_flops_per_frame, library_biggan  # bench/ (the script's folder)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_rate(device: torch.device, dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of ``torch.mm`` on two ``size`` x ``size`` matrices (best of ``repeats``)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    torch.mm(a, b)
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size ** 3 / best


def make_latents(frames: int, seed: int = 0) -> WalkLatents:
    rng = np.random.default_rng(seed)
    noise = (np.clip(rng.standard_normal((frames, 128)), -2, 2) * 0.4).astype(np.float32)
    classes = rng.dirichlet(np.full(1000, 0.05), size=frames).astype(np.float32)
    return WalkLatents(noise, classes, 0.4, seed, FrameClock(Fraction(30), 44100, frames))


def seed_way(model, latents: WalkLatents, device: torch.device) -> float:
    """Seconds for the seed's loop: one frame per call, float32, spectral-norm hooks live, per-frame min-max."""
    model = model.to(device).eval()
    synchronize(device)
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(latents.frame_count):
            z = torch.from_numpy(latents.noise[i:i + 1]).to(device)
            c = torch.from_numpy(latents.class_weights[i:i + 1]).to(device)
            image = model(z, c, latents.truncation)
            image = (image - image.min()) / (image.max() - image.min())
            image.permute(0, 2, 3, 1).cpu().numpy()
    synchronize(device)
    return time.perf_counter() - start


def ours(handle, latents: WalkLatents, batch_size: int) -> float:
    list(generate_frames(handle, latents.slice_frames(0, batch_size), batch_size=batch_size))  # warm-up
    synchronize(handle.device)
    start = time.perf_counter()
    for _ in generate_frames(handle, latents, batch_size=batch_size):
        pass
    synchronize(handle.device)
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="biggan-deep-128", choices=biggan.BIGGAN_MODELS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32,bfloat16", help="comma list of float32, bfloat16, float16")
    parser.add_argument("--batch-sizes", default="1,4,8,16")
    parser.add_argument("--frames", type=int, default=16, help="frames per measurement")
    parser.add_argument("--seed-frames", type=int, default=4, help="frames for the seed's way")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--contiguous", action="store_true", help="also try the plain NCHW memory format")
    parser.add_argument("--smoke", action="store_true", help="smallest sizes, tiny random BigGAN, one round: checks the script runs (seconds; CI), no figures")
    args = parser.parse_args(argv)
    if args.smoke:
        args.device, args.dtype, args.batch_sizes, args.frames, args.seed_frames = "cpu", "float32", "1,2", 2, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = devices.resolve_device(args.device)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    dtypes = [d.strip() for d in args.dtype.split(",")]
    config = biggan.tiny_config() if args.smoke else biggan.builtin_config(args.model)
    print(f"model {'tiny (smoke)' if args.smoke else args.model} ({config['output_dim']} px), device {device}, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, frames {args.frames}")

    peak = matmul_rate(device, torch.float32, **({"size": 256} if args.smoke else {}))
    print(f"matmul rate float32 (2048^2 mm): {peak / 1e9:.1f} GFLOP/s")
    peaks = {"float32": peak}
    for low in ("bfloat16", "float16"):
        if low in dtypes:
            peaks[low] = matmul_rate(device, getattr(torch, low), size=4096)
            print(f"matmul rate {low} (4096^2 mm): {peaks[low] / 1e9:.1f} GFLOP/s")

    latents = make_latents(max(args.frames, max(batch_sizes)))
    weights = biggan.random_biggan_weights(config, seed=0)
    seed_model = library_biggan(config, weights)
    flops = count_flops_per_frame(seed_model)
    print(f"FLOPs per frame, seed's way (conv/linear/attention MACs x2): {flops / 1e9:.2f} GFLOP")
    seed_seconds = seed_way(seed_model, latents.slice_frames(0, args.seed_frames), device)
    seed_fps = args.seed_frames / seed_seconds
    print(f"seed's way (batch 1, float32, spectral-norm hooks, per-frame min-max): {seed_fps:.3f} frames/s "
          f"({seed_fps * flops / peak:.0%} of float32 matmul rate)")
    del seed_model

    useful = None
    print(f"{'dtype':>9} {'layout':>13} {'batch':>5} {'frames/s':>9} {'GFLOP/s':>8} {'of mm':>6} {'vs seed':>8}"
          "   (of mm: against the matmul rate of the same dtype)")
    layouts = ["channels_last", "contiguous"] if args.contiguous else ["channels_last"]
    for dtype in dtypes:
        for layout in layouts:
            handle = biggan.handle_from_weights(weights, config, dtype=dtype, device=str(device),
                                                channels_last=layout == "channels_last")
            if useful is None:
                useful = count_flops_per_frame(handle)
                print(f"FLOPs per frame, ours (the output convolution computes only the 3 kept channels): "
                      f"{useful / 1e9:.2f} GFLOP")
            for batch_size in batch_sizes:
                frames = latents.slice_frames(0, max(args.frames, batch_size))
                seconds = ours(handle, frames, batch_size)
                fps = frames.frame_count / seconds
                rate = fps * useful
                print(f"{dtype:>9} {layout:>13} {batch_size:>5} {fps:>9.3f} {rate / 1e9:>8.1f} "
                      f"{rate / peaks.get(dtype, peak):>6.0%} {fps / seed_fps:>7.2f}x")
            del handle
    print("(shared machine: other jobs run beside this one, so absolute numbers are pessimistic)")


if __name__ == "__main__":
    main()
