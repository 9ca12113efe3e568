#!/usr/bin/env python3
"""Write a Stable Diffusion 1.5 checkpoint with random weights, built with ComfyUI's own model classes.

For integration tests only: it has exactly the SD1.5 architecture and key names, so CheckpointLoaderSimple loads it
and KSampler/VAEEncode/VAEDecode run the real computation; the pictures it makes are meaningless.

Run it with the Python of the ComfyUI install (it imports ``comfy`` from COMFYUI_DIR at run time; no ComfyUI code
is part of this repository):

    COMFYUI_DIR=/path/to/ComfyUI /path/to/comfy-venv/bin/python scripts/make_random_sd15_checkpoint.py \\
        models/checkpoints/random-sd15.safetensors [--seed 0] [--dtype float16] [--verify]
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

# SD1.5 architecture (the published v1-inference.yaml values, in ComfyUI's config vocabulary).
SD15_UNET = {
    "use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True, "legacy": False,
    "adm_in_channels": None, "in_channels": 4, "model_channels": 320, "num_res_blocks": [2, 2, 2, 2],
    "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0], "channel_mult": [1, 2, 4, 4], "transformer_depth_middle": 1,
    "use_linear_in_transformer": False, "context_dim": 768, "num_heads": 8, "num_head_channels": -1,
    "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
    "use_temporal_attention": False, "use_temporal_resblock": False,
}
SD_VAE = {"ddconfig": {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
                       "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0},
          "embed_dim": 4}


def import_comfy(comfy_dir: Path):
    """Put COMFYUI_DIR first on sys.path and import the ComfyUI modules this script needs (no argv parsing)."""
    if not (comfy_dir / "comfy" / "sd.py").is_file():
        raise SystemExit(f"COMFYUI_DIR={str(comfy_dir)!r} is not a ComfyUI checkout (no comfy/sd.py)")
    sys.path.insert(0, str(comfy_dir))
    import comfy.cli_args

    comfy.cli_args.args.cpu = True  # build on the CPU whatever the machine has (same as --cpu)
    import comfy.model_patcher  # noqa: F401
    import comfy.sd
    import comfy.supported_models
    import comfy.utils

    return comfy


def randomize_(module, generator) -> int:
    """Fill a module's parameters in place: weights N(0, 0.02), norm scales 1, biases 0. Returns the parameter count."""
    import torch

    count = 0
    with torch.no_grad():
        for name, param in module.named_parameters():
            if param.ndim >= 2:
                param.copy_(torch.randn(param.shape, generator=generator, dtype=torch.float32) * 0.02)
            elif name.endswith("bias"):
                param.zero_()
            else:
                param.fill_(1.0)
            count += param.numel()
    return count


def build_state_dict(comfy, seed: int, dtype_name: str) -> dict:
    """The full checkpoint state dict (UNet, CLIP-L text encoder, VAE) with ComfyUI's SD1.5 key names."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    model_config = comfy.supported_models.SD15(dict(SD15_UNET))
    model = model_config.get_model({}, "model.diffusion_model.", device=torch.device("cpu"))
    params = randomize_(model.diffusion_model, generator)
    clip = comfy.sd.CLIP(target=model_config.clip_target(), model_options={
        "load_device": torch.device("cpu"), "offload_device": torch.device("cpu"), "dtype": torch.float32,
        "initial_device": torch.device("cpu")})
    params += randomize_(clip.cond_stage_model, generator)
    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.setLevel(logging.ERROR)  # built empty on purpose: ComfyUI would list every key as missing
    try:
        vae = comfy.sd.VAE(sd={}, config={"params": SD_VAE}, device=torch.device("cpu"), dtype=torch.float32)
    finally:
        root_logger.setLevel(level)
    params += randomize_(vae.first_stage_model, generator)
    state_dict = model.state_dict_for_saving(clip.get_sd(), vae.get_sd(), None)
    dtype = getattr(torch, dtype_name)
    out = {}
    for key, tensor in state_dict.items():
        tensor = tensor.detach().to("cpu")
        if tensor.is_floating_point() and "position_ids" not in key:
            tensor = tensor.to(dtype)
        out[key] = tensor.contiguous()
    print(f"random SD1.5: {params / 1e6:.0f} M parameters, {len(out)} tensors, {dtype_name}", flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="where to write the .safetensors file")
    parser.add_argument("--comfyui-dir", type=Path, default=os.environ.get("COMFYUI_DIR"),
                        help="ComfyUI checkout (default: $COMFYUI_DIR)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    parser.add_argument("--dtype", choices=("float16", "bfloat16", "float32"), default="float16",
                        help="storage dtype (default float16: about 2 GB)")
    parser.add_argument("--verify", action="store_true",
                        help="load the file back with comfy.sd.load_checkpoint_guess_config, as CheckpointLoaderSimple does")
    args = parser.parse_args(argv)
    if args.comfyui_dir is None:
        parser.error("set COMFYUI_DIR or pass --comfyui-dir")
    comfy = import_comfy(args.comfyui_dir.resolve())
    started = time.perf_counter()
    state_dict = build_state_dict(comfy, args.seed, args.dtype)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    partial = args.output.with_name("." + args.output.name + ".part")
    comfy.utils.save_torch_file(state_dict, str(partial), metadata={"audiowalk": "random weights for testing"})
    os.replace(partial, args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size / 2**20:.0f} MiB) in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    if args.verify:
        model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(str(args.output), output_vae=True,
                                                                     output_clip=True)
        kind = type(model.model.model_config).__name__
        if kind != "SD15" or clip is None or vae is None or vae.first_stage_model is None:
            raise SystemExit(f"verification failed: detected {kind}, clip={clip is not None}, vae={vae is not None}")
        print(f"verified: ComfyUI detects {kind} with CLIP and VAE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
