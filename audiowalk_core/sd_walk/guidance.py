"""Guidance scale and img2img strength per frame, from a feature curve (Feature Curve's FLOATS: one number per
frame of the song), for one batched sampler call.

Guidance: ComfyUI's CFG takes one scale per call, so the model is patched with a ``sampler_cfg_function`` (ComfyUI
calls it with ``cond = x - cond_denoised``, ``uncond = x - uncond_denoised`` of the whole batch and uses
``x - result``); ours returns ``uncond + (cond - uncond) * scale[b]`` with row b's own scale, i.e.
``uncond_denoised + (cond_denoised - uncond_denoised) * scale[b]``, the usual CFG per sample.

Strength: the sigmas are shared by the batch, so per-frame img2img strength is a per-sample constant
``noise_mask`` (value = strength in [0, 1]) on the latent; with core Differential Diffusion on the model a sample of
mask m is held to its re-noised input until the last fraction m of the schedule, i.e. denoised with strength m
relative to the sampler's denoise (without it a fractional mask blends the input back at every step: softer).

Both read the value of each sample's absolute frame, so a chunk equals that range of a whole render.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import AudioWalkInputError


def values_of_frames(values, frame_indices, input_name: str) -> np.ndarray:
    """float64 [len(frame_indices)]: ``values[f]`` for each frame (values: one finite number per song frame)."""
    table = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, np.float64).reshape(-1)
    frames = np.asarray(list(frame_indices), np.int64)
    if len(frames) and (frames.min() < 0 or frames.max() >= len(table)):
        raise AudioWalkInputError(input_name, f"{len(table)} values, but frame {int(frames.max())} is needed",
                                  "one value per frame of the song (Feature Curve's 'floats' on the same features)")
    picked = table[frames]
    if not np.all(np.isfinite(picked)):
        raise AudioWalkInputError(input_name, "has values that are not finite numbers", "finite numbers")
    return picked


def check_guidance(scales: np.ndarray, input_name: str) -> np.ndarray:
    if len(scales) and (scales.min() < 0.0 or scales.max() > 100.0):
        raise AudioWalkInputError(input_name, f"guidance from {scales.min():g} to {scales.max():g}",
                                  "guidance scales in [0, 100] (set the Feature Curve's low/high, e.g. 4..9)")
    return scales


class PerFrameGuidance:
    """The ``sampler_cfg_function`` of a model patch: CFG with row b's own scale ``scales[b]``."""

    def __init__(self, scales, node_name: str = "Music Guidance"):
        self.scales = np.asarray(scales, np.float64)
        self.node_name = node_name

    def rows(self, first: int, stop: int) -> "PerFrameGuidance":
        """The scales of frames ``[first, stop)`` of the batch (a sub-batch of the sampler call)."""
        return PerFrameGuidance(self.scales[first:stop], self.node_name)

    def __call__(self, args):
        cond, uncond = args["cond"], args["uncond"]
        if int(cond.shape[0]) != len(self.scales):
            raise AudioWalkInputError(f"{self.node_name}: frames", f"a batch of {int(cond.shape[0])} latents for "
                                      f"{len(self.scales)} frames", "the latent batch of the same SD Walk Frames")
        import torch

        scale = torch.as_tensor(self.scales, dtype=cond.dtype, device=cond.device)
        scale = scale.reshape((-1,) + (1,) * (cond.ndim - 1))
        return uncond + (cond - uncond) * scale


def strength_mask(samples_shape, strengths, input_name: str):
    """float32 CPU noise mask [B, 1, H, W] (spatial dims of the latent; [B, 1, T, H, W] for video latents) with
    sample b's strength everywhere; strengths must lie in [0, 1]."""
    import torch

    strengths = np.asarray(strengths, np.float64)
    shape = tuple(int(s) for s in samples_shape)
    if len(shape) < 4 or shape[0] != len(strengths):
        raise AudioWalkInputError(input_name, f"a latent batch of {shape[0] if shape else 0} for {len(strengths)} "
                                  "frames", "the latents of the chunk's frames (same SD Walk Frames)")
    if len(strengths) and (strengths.min() < 0.0 or strengths.max() > 1.0 or not math.isfinite(strengths.sum())):
        raise AudioWalkInputError(input_name, f"strengths from {strengths.min():g} to {strengths.max():g}",
                                  "strengths in [0, 1] (Feature Curve low/high inside 0..1)")
    mask = torch.as_tensor(strengths, dtype=torch.float32).reshape((-1, 1) + (1,) * (len(shape) - 2))
    return mask.expand((shape[0], 1) + shape[2:]).contiguous()
