"""Shared by the HTDemucs tests: a small network of the published class (every kind of layer, a fraction of the
cost), model files written in demucs' formats, and the in-memory reference separation from bench/."""
from __future__ import annotations

import importlib.util
from fractions import Fraction

import numpy as np

from support import REPO_ROOT

# The published class with small sizes: 3 layers over frequency (256 -> 64 -> 16 bins), GroupNorm from layer 2,
# residual branches in encoder and decoder, a bottom projection and 3 transformer layers (self, cross, self);
# 0.5 s segments at 8 kHz.
TINY_KWARGS = dict(sources=("drums", "bass"), channels=8, nfft=512, depth=3, dconv_mode=3, bottom_channels=32,
                   t_layers=3, t_heads=4, segment=Fraction(1, 2), samplerate=8000, norm_starts=2)


def tiny_config(**changes):
    from audiowalk_core.separation.htdemucs.config import HTDemucsConfig

    return HTDemucsConfig(**{**TINY_KWARGS, **changes})


def tiny_network(seed: int = 0, **changes):
    from audiowalk_core.separation.htdemucs.model import build_htdemucs

    return build_htdemucs(tiny_config(**changes), seed=seed)


def write_tiny_model(path, seed: int = 0, **changes):
    """A tiny random HTDemucs in demucs' published .safetensors format (float16, as published)."""
    import torch

    from audiowalk_core.separation.htdemucs.weights import save_demucs_safetensors

    network = tiny_network(seed, **changes)
    save_demucs_safetensors(network, network.config, path, dtype=torch.float16)
    return path


def reference_module():
    """bench/separation_reference.py (the naive in-memory separation)."""
    spec = importlib.util.spec_from_file_location("separation_reference", REPO_ROOT / "bench" /
                                                  "separation_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def noise_mix(seconds: float, sample_rate: int, channels: int = 2, seed: int = 0, level: float = 0.2) -> np.ndarray:
    """float32 [channels, n]: a chord and filtered noise bursts (something for a random network to chew on)."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    bursts = rng.standard_normal(n) * (np.mod(t, 0.5) < 0.05)
    mono = level * (0.6 * tone + 0.4 * bursts)
    return np.stack([mono * (1.0 - 0.2 * c) for c in range(channels)]).astype(np.float32)
