"""Benchmark: our StyleGAN2 / StyleGAN3 synthesis (random weights, real architecture) in frames/s.

Reference, measured in the same run on the same device, batch and weights:
- with ``--nvlabs DIR`` (or $AUDIOWALK_NVLABS_STYLEGAN3): NVlabs' own networks from a stylegan3 clone (their
  code is imported from that folder at run time, never shipped; on the CPU their ops take their reference paths),
  random weights built by their code, and our network built from the same state dict through our loader;
- without it: the naive way with our network, one frame per call, per-sample grouped modulated convolution.

    python bench/bench_stylegan.py --smoke                        # seconds: a tiny 64 px StyleGAN2 and 3
    python bench/bench_stylegan.py --kind stylegan2 --resolution 256 --batch 8 --frames 16
    AUDIOWALK_NVLABS_STYLEGAN3=/path/to/stylegan3 python bench/bench_stylegan.py --kind stylegan2 --resolution 256
    python bench/bench_stylegan.py --device cuda --dtype bfloat16 --resolution 1024 --kind stylegan3
Numbers on a shared machine are pessimistic; compare ratios within one run only.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import types

import torch

from audiowalk_core.generators.stylegan import StyleGANConfig, build_generator

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def config_for(kind: str, resolution: int, smoke: bool) -> StyleGANConfig:
    if smoke:
        synthesis = {"channel_base": 1024, "channel_max": 32}
        if kind == "stylegan3":
            synthesis.update(num_layers=6, num_critical=2)
        return StyleGANConfig(kind, 32, 0, 32, 64, 3, {"num_layers": 2}, synthesis)
    if kind == "stylegan2":  # the stylegan2-ada "paper256" / stylegan3 --cfg=stylegan2 shape at 256 px
        return StyleGANConfig(kind, 512, 0, 512, resolution, 3, {"num_layers": 2},
                              {"channel_base": 16384 if resolution <= 256 else 32768, "channel_max": 512})
    return StyleGANConfig(kind, 512, 0, 512, resolution, 3, {"num_layers": 2}, {"channel_base": 32768,
                                                                              "channel_max": 512})


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def frames_per_second(run, frames: int, batch: int, device, repeats: int = 2) -> float:
    """Best of ``repeats`` passes over ``frames`` frames, ``run(start, count)`` rendering ``count`` frames."""
    run(0, min(batch, frames))  # warm-up
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for first in range(0, frames, batch):
            run(first, min(batch, frames - first))
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return frames / best


def nvlabs_generator(clone: str, config: StyleGANConfig):
    """NVlabs' Generator built by their code from ``clone`` with ``config``'s hyperparameters (random weights)."""
    try:
        import pkg_resources  # noqa: F401  (their conv2d_gradfix imports it)
    except ImportError:
        from packaging.version import parse

        sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse)
    sys.path.insert(0, clone)
    import dnnlib  # noqa: F401

    module = __import__("training.networks_" + ("stylegan2" if config.kind == "stylegan2" else "stylegan3"),
                        fromlist=["Generator"])
    kwargs = dict(config.synthesis)
    if config.kind == "stylegan2":
        kwargs = {k: v for k, v in kwargs.items() if k in ("channel_base", "channel_max", "num_fp16_res",
                                                           "conv_clamp", "architecture")}
    return module.Generator(z_dim=config.z_dim, c_dim=config.c_dim, w_dim=config.w_dim,
                            img_resolution=config.resolution, img_channels=3,
                            mapping_kwargs={"num_layers": config.mapping["num_layers"]}, **kwargs).eval()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny models, a few frames (seconds)")
    parser.add_argument("--kind", choices=("stylegan2", "stylegan3", "both"), default="both")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="float32")
    parser.add_argument("--nvlabs", default=os.environ.get("AUDIOWALK_NVLABS_STYLEGAN3"),
                        help="a stylegan3 clone to compare against (default $AUDIOWALK_NVLABS_STYLEGAN3)")
    args = parser.parse_args(argv)
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    frames, batch = (4, 2) if args.smoke else (args.frames, args.batch)
    kinds = ("stylegan2", "stylegan3") if args.kind == "both" else (args.kind,)
    print(f"device {device}, {args.dtype}, torch threads {torch.get_num_threads()}, batch {batch}, {frames} frames")
    for kind in kinds:
        config = config_for(kind, args.resolution, args.smoke)
        torch.manual_seed(0)
        theirs = None
        if args.nvlabs:
            theirs = nvlabs_generator(args.nvlabs, config)
            ours = build_generator(config, dict(theirs.state_dict()), "nvlabs", device)
        else:
            ours = build_generator(config, None, "random", device)
        z = torch.randn(frames, config.z_dim, device=device)
        ws = ours.ws_from_z(z, None, 0.7)

        def run_ours(first, count):
            with torch.no_grad():
                ours.synthesis(ws[first:first + count], noise="const", dtype=dtype)

        fast = frames_per_second(run_ours, frames, batch, device)
        if theirs is not None:
            theirs = theirs.to(device)

            def run_reference(first, count):
                with torch.no_grad():
                    theirs.synthesis(ws[first:first + count], noise_mode="const", force_fp32=dtype == torch.float32)

            name = f"NVlabs' own code, batch {batch}"
            reference = frames_per_second(run_reference, frames, batch, device)
        else:
            def run_reference(first, count):
                with torch.no_grad():
                    for i in range(first, first + count):
                        ours.synthesis(ws[i:i + 1], noise="const", dtype=dtype, grouped=True)

            name = "naive: batch 1, grouped per-sample weights"
            reference = frames_per_second(run_reference, frames, batch, device)
        print(f"{kind} {config.resolution} px: ours {fast:.2f} frames/s, {name} {reference:.2f} frames/s, "
              f"ratio {fast / reference:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
