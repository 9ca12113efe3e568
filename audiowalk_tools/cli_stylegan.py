"""``audiowalk stylegan-images`` and ``audiowalk convert-stylegan``.

    audiowalk stylegan-images MODEL --seeds 0,1,42 --trunc 0.7 --noise-mode const --outdir DIR
        seed0000.png ... as NVlabs' gen_images.py / generate.py make them (same z, truncation, pixel mapping)
    audiowalk convert-stylegan IN.pkl|IN.pt OUT.safetensors
        one safetensors file, the architecture config in its metadata, checked strictly first
"""
from __future__ import annotations

from pathlib import Path


def parse_seeds(text: str) -> list[int]:
    """``"0,1,42"`` or ``"0-3,7"`` -> [0, 1, 42] / [0, 1, 2, 3, 7]."""
    seeds = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part[1:]:
            low, high = part.split("-", 1)
            seeds.extend(range(int(low), int(high) + 1))
        else:
            seeds.append(int(part))
    return seeds


def add_commands(subparsers) -> dict:
    """Add the StyleGAN subcommands; returns ``{command: handler}``."""
    images = subparsers.add_parser("stylegan-images", help="images for seeds from a StyleGAN model file",
                                   description="Writes seedNNNN.png per seed as NVlabs' image scripts do "
                                               "(z = RandomState(seed).randn(1, z_dim), w truncated by --trunc).")
    images.add_argument("model", type=Path, help="StyleGAN2/3 .pkl, rosinality .pt, or .safetensors")
    images.add_argument("--seeds", default="0", help="seeds: 0,1,42 or 0-9 (default 0)")
    images.add_argument("--trunc", type=float, default=1.0, help="truncation psi (default 1)")
    images.add_argument("--noise-mode", choices=("const", "random", "none"), default="const",
                        help="noise inputs: the model's stored noise (default), random per seed, or none")
    images.add_argument("--class", dest="class_index", type=int, default=None,
                        help="class index for a conditional model")
    images.add_argument("--outdir", type=Path, required=True, help="folder for the PNGs")
    images.add_argument("--device", default="cpu", help="torch device (default cpu)")
    images.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                        help="synthesis precision (default float32)")
    convert = subparsers.add_parser("convert-stylegan", help="convert a StyleGAN model to one .safetensors file",
                                    description="Reads an NVlabs .pkl (nothing in it runs) or a rosinality .pt, "
                                                "checks every weight against the architecture, writes OUT.")
    convert.add_argument("source", type=Path, help="the .pkl / .pt / .safetensors to read")
    convert.add_argument("output", type=Path, help="the .safetensors file to write")
    return {"stylegan-images": cmd_stylegan_images, "convert-stylegan": cmd_convert_stylegan}


def is_stylegan_model(model: str) -> bool:
    """Whether ``audiowalk render --model`` names a StyleGAN file rather than a BigGAN."""
    from audiowalk_core.generators.stylegan.store import SUFFIXES

    return Path(str(model)).suffix.lower() in SUFFIXES


def cmd_render_stylegan(args, progress) -> int:
    """``audiowalk render`` with a StyleGAN model file (the walk of the pipeline's settings + StyleGAN Latents)."""
    import sys
    import tempfile
    import time

    from audiowalk_core.render import render_stylegan_song
    from .cli_settings import settings_from_args

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="audiowalk-demo-") as scratch:
        song = args.song
        if args.demo:
            from . import demo

            song = demo.write_demo_song(Path(scratch) / "audiowalk_demo.wav")
        settings = settings_from_args(args)  # the render flags and --preset, as for BigGAN
        path = render_stylegan_song(song, args.output, Path(args.model), settings=settings,
                                    batch_size=args.batch_size, on_progress=progress.update,
                                    start_seconds=args.start_seconds, duration_seconds=args.duration_seconds or None,
                                    crf=args.crf, device=args.device, dtype=args.dtype,
                                    on_message=lambda text: print(text, file=sys.stderr, flush=True))
    progress.finish()
    print(f"wrote {path} in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_stylegan_images(args) -> int:
    from audiowalk_core.generators.stylegan.runtime import write_seed_images

    paths = write_seed_images(args.model, parse_seeds(args.seeds), args.outdir, args.trunc, args.noise_mode,
                              args.class_index, args.device, args.dtype)
    for path in paths:
        print(f"wrote {path}")
    return 0


def cmd_convert_stylegan(args) -> int:
    from audiowalk_core.generators.stylegan.store import convert_stylegan

    config, path = convert_stylegan(args.source, args.output)
    print(f"wrote {path} ({config.kind}, {config.resolution} px, z {config.z_dim}, c {config.c_dim})")
    return 0
