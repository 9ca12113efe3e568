"""Benchmark: this tree's generator against another commit's, in one process, runs interleaved (A B A B ...).

The other commit's ``audiowalk_core`` is extracted with ``git archive`` and imported under another name, both build
the same random-weight model, and each round times ``generate_frames`` of both on the same latents; the table gives
medians and the median of the per-round ratios (robust on a shared machine: both sides see the same load).

    python bench/bench_generator_vs_commit.py --commit main                     # CPU, biggan-deep-128, bf16
    python bench/bench_generator_vs_commit.py --commit c4e2fac --dtype float32 --batch-size 4 --threads 1
    python bench/bench_generator_vs_commit.py --commit HEAD --this-compile on     # torch.compile against eager
"""
from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_render import make_latents, synchronize  # noqa: E402

from audiowalk_core.generators import biggan  # noqa: E402


def import_core_at(commit: str, folder: Path):
    """``audiowalk_core`` as of ``commit``, imported as package ``audiowalk_core_<short>`` (relative imports);
    returns its BigGAN module (``generators.biggan``, or ``biggan`` before the generator seam)."""
    name = "audiowalk_core_" + commit.replace("/", "_").replace("-", "_")[:12]
    target = folder / name
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "audiowalk_core"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "--strip-components=1", "-C", str(target)], input=archive, check=True)
    sys.path.insert(0, str(folder))
    if (target / "generators" / "biggan").is_dir():
        return importlib.import_module(name + ".generators.biggan")
    return importlib.import_module(name + ".biggan")


def random_handle(module, config: dict, **options):
    """A random-weight (seed 0) handle of ``module``, this tree's or an older commit's BigGAN module."""
    if hasattr(module, "handle_from_weights"):
        return module.handle_from_weights(module.random_biggan_weights(config, 0), config, **options)
    return module.handle_from_model(module.build_random_biggan(config, 0), config, **options)


def generate(module, handle, latents, batch_size: int):
    """``generate_frames`` of the seam (this tree, a handle method) or of an older commit's biggan module."""
    if hasattr(handle, "generate_frames"):
        return handle.generate_frames(latents, batch_size=batch_size)
    return module.generate_frames(handle, latents, batch_size=batch_size)


def time_generation(module, handle, latents, batch_size: int) -> float:
    """frames/s of ``module.generate_frames`` over ``latents`` (CPU frames out)."""
    synchronize(handle.device)
    start = time.perf_counter()
    for _ in generate(module, handle, latents, batch_size):
        pass
    synchronize(handle.device)
    return latents.frame_count / (time.perf_counter() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="main", help="the other commit (anything git archive takes)")
    parser.add_argument("--model", default="biggan-deep-128", choices=biggan.BIGGAN_MODELS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--this-compile", choices=("off", "on"), default="off",
                        help="torch.compile this tree's generator (the other commit's runs as that commit does)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default; 1 is steadier on a busy shared machine)")
    parser.add_argument("--smoke", action="store_true", help="smallest sizes, tiny random BigGAN, one round: checks the script runs (seconds; CI), no figures; the other commit: HEAD")
    args = parser.parse_args(argv)
    if args.smoke:
        args.commit, args.dtype, args.batch_size, args.frames, args.rounds = "HEAD", "float32", 2, 2, 1
        args.device = "cpu"
    if args.threads:
        torch.set_num_threads(args.threads)
    config = biggan.tiny_config() if args.smoke else biggan.builtin_config(args.model)
    latents = make_latents(args.frames)
    with tempfile.TemporaryDirectory() as folder:
        other = import_core_at(args.commit, Path(folder))
        root = other.__name__.split(".", 1)[0]
        package = importlib.import_module(root + ".latents")
        clock = importlib.import_module(root + ".clock")
        other_clock = clock.FrameClock(latents.clock.fps, latents.clock.sample_rate, latents.clock.frame_count)
        other_latents = package.WalkLatents(latents.noise, latents.class_weights, latents.truncation, latents.seed,
                                            other_clock)  # that commit's own classes
        sides = {}
        this_label = "this tree" + (" compiled" if args.this_compile == "on" else "")
        for label, module, walk in ((args.commit, other, other_latents), (this_label, biggan, latents)):
            options = {"compile_model": True} if module is biggan and args.this_compile == "on" else {}
            handle = random_handle(module, config, dtype=args.dtype, device=args.device, **options)
            for _ in generate(module, handle, walk.slice_frames(0, args.batch_size), args.batch_size):
                pass  # warm-up (oneDNN primitive creation)
            if getattr(handle, "compile_seconds", None) is not None:
                failed = f" FAILED {handle.compile_error}" if handle.compile_error else ""
                print(f"{label}: torch.compile {handle.compile_seconds:.1f} s for the first batch "
                      f"(cache {handle.compile_cache_dir}){failed}")
            sides[label] = (module, handle, walk, [])
        print(f"{args.model} {args.dtype} batch {args.batch_size} on {args.device}, {args.frames} frames per run, "
              f"torch {torch.__version__}, threads {torch.get_num_threads()}")
        for _ in range(args.rounds):
            for module, handle, walk, rates in sides.values():
                rates.append(time_generation(module, handle, walk, args.batch_size))
    (_, _, _, before), (_, _, _, after) = sides.values()
    print(f"{args.commit:>12}: median {statistics.median(before):7.2f} frames/s  "
          f"(runs {', '.join(f'{r:.1f}' for r in before)})")
    print(f"{this_label:>12}: median {statistics.median(after):7.2f} frames/s  "
          f"(runs {', '.join(f'{r:.1f}' for r in after)})")
    print(f"{this_label} / {args.commit}: median of per-round ratios "
          f"{statistics.median(a / b for a, b in zip(after, before)):.2f}x")


if __name__ == "__main__":
    main()
