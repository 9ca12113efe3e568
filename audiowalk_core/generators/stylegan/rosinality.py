"""rosinality/stylegan2-pytorch (MIT) checkpoint keys -> our (NVlabs file format) StyleGAN2 keys.

Their Generator: ``style.{1..n_mlp}`` dense layers after a pixel norm, ``input.input`` [1, C, 4, 4], ``conv1`` and
``to_rgb1`` at 4 px, ``convs.{2i, 2i+1}`` (up conv, conv) and ``to_rgbs.{i}`` per later block, ``noises.noise_{k}``.
Same maths as StyleGAN2's skip generator without the output clamp (conv_clamp None); weights keep their unscaled
storage, so only names and a few shapes change ([1, O, I, k, k] -> [O, I, k, k], [1] -> [], [1, 3, 1, 1] -> [3]).
A checkpoint without ``latent_avg`` gets w_avg as the mean of w over 10,000 z drawn from seed 0.
"""
from __future__ import annotations

import torch

from ...errors import AudioWalkInputError
from .config import StyleGANConfig


def is_rosinality_state(state: dict) -> bool:
    return "input.input" in state and "conv1.conv.weight" in state and "style.1.weight" in state


def _styled(state, source_prefix, target_prefix, out, noise=None):
    out[f"{target_prefix}.weight"] = state[f"{source_prefix}.conv.weight"][0]
    out[f"{target_prefix}.affine.weight"] = state[f"{source_prefix}.conv.modulation.weight"]
    out[f"{target_prefix}.affine.bias"] = state[f"{source_prefix}.conv.modulation.bias"]
    out[f"{target_prefix}.noise_strength"] = state[f"{source_prefix}.noise.weight"].reshape([])
    out[f"{target_prefix}.bias"] = state[f"{source_prefix}.activate.bias"]
    if noise is not None:
        out[f"{target_prefix}.noise_const"] = noise.reshape(noise.shape[-2:])


def _torgb(state, source_prefix, target_prefix, out):
    out[f"{target_prefix}.weight"] = state[f"{source_prefix}.conv.weight"][0]
    out[f"{target_prefix}.affine.weight"] = state[f"{source_prefix}.conv.modulation.weight"]
    out[f"{target_prefix}.affine.bias"] = state[f"{source_prefix}.conv.modulation.bias"]
    out[f"{target_prefix}.bias"] = state[f"{source_prefix}.bias"].reshape(-1)


def rosinality_to_nvlabs(state: dict, latent_avg, source: str) -> tuple[StyleGANConfig, dict]:
    """``(config, state dict in our names)`` of a rosinality ``g_ema`` state dict."""
    try:
        n_mlp = max(int(k.split(".")[1]) for k in state if k.startswith("style.") and k.endswith(".weight"))
        w_dim = int(state["style.1.weight"].shape[0])
        blocks = 1 + len({k.split(".")[1] for k in state if k.startswith("to_rgbs.")})
        resolution = 2 ** (blocks + 1)
        top = int(state["conv1.conv.weight"].shape[1])
        last = int(state["to_rgb1.conv.weight"].shape[2]) if blocks == 1 else \
            int(state[f"to_rgbs.{blocks - 2}.conv.weight"].shape[2])
        base = last * resolution
        config = StyleGANConfig("stylegan2", w_dim, 0, w_dim, resolution, 3,
                                {"num_layers": n_mlp, "lr_multiplier": 0.01},
                                {"channel_base": base, "channel_max": top, "conv_clamp": None,
                                 "architecture": "skip", "num_fp16_res": 0})
        out = {}
        for index in range(n_mlp):
            out[f"mapping.fc{index}.weight"] = state[f"style.{index + 1}.weight"]
            out[f"mapping.fc{index}.bias"] = state[f"style.{index + 1}.bias"]
        out["synthesis.b4.const"] = state["input.input"][0]
        _styled(state, "conv1", "synthesis.b4.conv1", out, state.get("noises.noise_0"))
        _torgb(state, "to_rgb1", "synthesis.b4.torgb", out)
        for block in range(1, blocks):
            res = 2 ** (block + 2)
            for half, name in ((0, "conv0"), (1, "conv1")):
                layer = 2 * (block - 1) + half
                _styled(state, f"convs.{layer}", f"synthesis.b{res}.{name}", out, state.get(f"noises.noise_{layer + 1}"))
            _torgb(state, f"to_rgbs.{block - 1}", f"synthesis.b{res}.torgb", out)
    except (KeyError, IndexError, ValueError) as error:
        raise AudioWalkInputError("model", f"{source}: rosinality weights incomplete ({error})",
                                  "a complete rosinality stylegan2-pytorch g_ema") from None
    from .network import StyleGANGenerator

    with torch.no_grad():
        reference = StyleGANGenerator(config).state_dict()
    for key, value in reference.items():  # filters, and noise_const when the checkpoint has none
        out.setdefault(key, value)
    if latent_avg is not None:
        out["mapping.w_avg"] = torch.as_tensor(latent_avg).reshape(-1).float()
    else:
        from .network import build_generator

        network = build_generator(config, out, source)
        z = torch.randn(10_000, w_dim, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            out["mapping.w_avg"] = network.mapping(z).mean(0)
    return config, out
