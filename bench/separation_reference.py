"""The naive way to separate a song with HTDemucs, as demucs' Separator + apply_model do it: the whole song in memory
(as one tensor, normalised), every segment's output added into a whole-song output tensor, shifts as whole extra
passes. The reference for the streaming separation (audiowalk_core/separation/neural.py): tests compare the two,
bench/bench_separation.py measures what holding the song costs.
"""
from __future__ import annotations

import numpy as np


def separate_in_memory(run, mix: np.ndarray, segment: int, sources: int, sample_rate: int, overlap: float = 0.25,
                       shifts: int = 0, seed: int = 0) -> np.ndarray:
    """Stems float32 [sources, channels, N] of ``mix`` float32 [channels, N] (already at the model's rate and
    channel count), ``run(window [channels, segment]) -> [sources, channels, segment]`` the network."""
    import torch

    wav = torch.from_numpy(np.ascontiguousarray(mix, np.float32)).double()
    reference = wav.mean(0)
    mean, std = reference.mean(), reference.std() + 1e-8
    normalised = ((wav - mean) / std).float()

    def one_pass(signal: torch.Tensor) -> torch.Tensor:
        channels, length = signal.shape
        out = torch.zeros(sources, channels, length)
        weight_sum = torch.zeros(length)
        stride = max(int((1 - overlap) * segment), 1)
        ramp = torch.cat([torch.arange(1, segment // 2 + 1), torch.arange(segment - segment // 2, 0, -1)]).float()
        ramp = ramp / ramp.max()
        for offset in range(0, length, stride):
            count = min(segment, length - offset)
            delta = segment - count
            start = offset - delta // 2
            window = torch.zeros(channels, segment)
            lo, hi = max(start, 0), min(start + segment, length)
            window[:, lo - start:hi - start] = signal[:, lo:hi]
            result = torch.from_numpy(run(window.numpy()))[..., delta // 2:delta // 2 + count]
            out[..., offset:offset + count] += ramp[:count] * result
            weight_sum[offset:offset + count] += ramp[:count]
        return out / weight_sum

    if not shifts:
        out = one_pass(normalised)
    else:
        max_shift = int(0.5 * sample_rate)
        offsets = np.random.default_rng(int(seed)).integers(0, max_shift, size=int(shifts), endpoint=True)
        padded = torch.nn.functional.pad(normalised, (max_shift, max_shift))
        out = 0
        for offset in offsets:
            shifted = padded[:, int(offset):normalised.shape[1] + max_shift]
            out = out + one_pass(shifted)[..., max_shift - int(offset):]
        out = out / len(offsets)
    return (out.double() * std + mean).float().numpy()
