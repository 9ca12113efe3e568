"""img2img noise keyed to the frame index, for ComfyUI's SamplerCustomAdvanced (its NOISE input).

ComfyUI's own noise (KSampler, RandomNoise) draws one tensor for the whole batch from the seed, so a keyframe's noise
depends on its position in the batch: a song rendered in chunks then differs from a whole render, and neighbouring
keyframes get unrelated noise. Here the noise of the keyframe at frame ``f`` is

    noise(f) = coherence * base + sqrt(1 - coherence^2) * own(f)

with ``base`` drawn once from the seed and ``own(f)`` drawn from (seed, f) alone: every value is a standard normal
(unit variance), any two different keyframes' noises correlate by ``coherence^2``, and nothing depends on the batch
or chunk. ``coherence`` 0 is independent noise per keyframe; 1 is one shared noise for the whole song.
"""
from __future__ import annotations

import math

from .errors import AudioWalkInputError

_MASK64 = (1 << 64) - 1
_BASE_STREAM = 0x5EED_BA5E


def _mix64(value: int) -> int:
    """SplitMix64 finaliser: a well-spread 64-bit number from any integer."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def frame_noise_seed(seed: int, frame_index: int) -> int:
    """The torch generator seed of frame ``frame_index``'s own noise (63 bits, from seed and frame only)."""
    return _mix64(_mix64(int(seed) & _MASK64) ^ (int(frame_index) & _MASK64)) >> 1


def standard_normal(shape, generator_seed: int):
    """float32 standard normal noise of ``shape`` from a CPU torch generator seeded with ``generator_seed``."""
    import torch

    generator = torch.Generator(device="cpu").manual_seed(int(generator_seed))
    return torch.randn(tuple(shape), generator=generator, dtype=torch.float32, device="cpu")


def check_coherence(coherence: float) -> float:
    value = float(coherence)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise AudioWalkInputError("coherence", f"{coherence!r} is outside [0, 1]",
                                  "a coherence in [0, 1] (0: independent noise per keyframe, 1: one noise)")
    return value


def keyframe_noise(shape, frame_indices, seed: int, coherence: float):
    """Noise for a batch of latents ``shape`` = [B, C, H, W] (or [B, C, T, H, W]) whose row i belongs to frame
    ``frame_indices[i]``: float32 CPU tensor of ``shape``; see the module docstring for the formula."""
    import torch

    coherence = check_coherence(coherence)
    frame_indices = [int(f) for f in frame_indices]
    if len(shape) < 2 or int(shape[0]) != len(frame_indices):
        raise AudioWalkInputError("latent_image", f"a batch of {int(shape[0]) if shape else 0} latents for "
                                  f"{len(frame_indices)} keyframes",
                                  "the VAE-encoded keyframes of the same Keyframe Latents node, in order")
    item_shape = tuple(int(s) for s in shape[1:])
    base = standard_normal(item_shape, _mix64(int(seed) ^ _BASE_STREAM) >> 1)
    own_weight = math.sqrt(max(0.0, 1.0 - coherence * coherence))
    noise = torch.empty((len(frame_indices),) + item_shape, dtype=torch.float32)
    for row, frame in enumerate(frame_indices):
        own = standard_normal(item_shape, frame_noise_seed(seed, frame))
        noise[row] = own * own_weight + base * coherence
    return noise


class FrameKeyedNoise:
    """A NOISE value for SamplerCustomAdvanced: ``generate_noise(latent)`` gives each latent of the batch the
    noise of its keyframe's frame index (``frame_indices`` in batch order). ``seed`` is also what ComfyUI passes
    to samplers that draw extra noise while sampling (ancestral and SDE samplers): those draws are per batch, so
    use a deterministic sampler (euler, dpmpp_2m, ...) for chunk-independent results."""

    def __init__(self, frame_indices, seed: int, coherence: float = 0.8):
        self.frame_indices = tuple(int(f) for f in frame_indices)
        self.seed = int(seed)
        self.coherence = check_coherence(coherence)

    def generate_noise(self, input_latent):
        samples = input_latent["samples"]
        return keyframe_noise(tuple(samples.shape), self.frame_indices, self.seed, self.coherence)

    def for_frames(self, frame_indices) -> "FrameKeyedNoise":
        """The same noise for other keyframes (a sub-batch): each keeps its own frame's noise."""
        return FrameKeyedNoise(frame_indices, self.seed, self.coherence)
