"""DSP stem separation: harmonic / percussive by median filtering (Fitzgerald, DAFx 2010), block-wise.

Not a neural separator: it splits a mix into "percussive" (drums, attacks) and "harmonic" (sustained tones), which
is what a drums-versus-the-rest walk needs when no stems exist. Memory is bounded: the song goes through in blocks of
``block_seconds`` with a margin of STFT frames on each side (the median's reach plus one window), so each block's
centre equals the whole-song result; only one block's spectrogram exists at a time.
"""
from __future__ import annotations

import numpy as np

from ..audio import AudioClip

HPSS_SETTINGS = {"n_fft": 2048, "hop": 512, "harmonic_frames": 17, "percussive_bins": 17, "mask_power": 2.0}


def _segment(samples: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Samples ``[start, stop)`` of ``[channels, N]``, zeros outside the song."""
    out = np.zeros((samples.shape[0], stop - start), np.float32)
    lo, hi = max(start, 0), min(stop, samples.shape[1])
    if hi > lo:
        out[:, lo - start:hi - start] = samples[:, lo:hi]
    return out


def _split_segment(segment: np.ndarray, n_fft: int, hop: int, harmonic_frames: int, percussive_bins: int,
                   mask_power: float) -> tuple[np.ndarray, np.ndarray]:
    """(percussive, harmonic) of a segment ``[channels, S]`` (S = n_fft + k * hop), same shape."""
    import scipy.fft
    from scipy.ndimage import median_filter

    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    frames = 1 + (segment.shape[1] - n_fft) // hop
    views = np.lib.stride_tricks.as_strided(
        segment, shape=(segment.shape[0], frames, n_fft),
        strides=(segment.strides[0], hop * segment.strides[1], segment.strides[1]), writeable=False)
    spectrum = scipy.fft.rfft(views * window, axis=2)  # [channels, frames, bins]
    magnitude = np.abs(spectrum).mean(axis=0)
    harmonic = median_filter(magnitude, size=(harmonic_frames, 1), mode="nearest") ** mask_power
    percussive = median_filter(magnitude, size=(1, percussive_bins), mode="nearest") ** mask_power
    total = harmonic + percussive
    harmonic_mask = np.where(total > 0, harmonic / np.where(total > 0, total, 1.0), 0.5).astype(np.float32)
    outputs = []
    for mask in (1.0 - harmonic_mask, harmonic_mask):
        frames_time = scipy.fft.irfft(spectrum * mask[None], n=n_fft, axis=2) * window
        out = np.zeros_like(segment)
        norm = np.zeros(segment.shape[1], np.float32)
        for index in range(frames):
            out[:, index * hop:index * hop + n_fft] += frames_time[:, index]
            norm[index * hop:index * hop + n_fft] += window ** 2
        outputs.append(out / np.where(norm > 1e-6, norm, 1.0))
    return outputs[0], outputs[1]


def hpss_separate(clip: AudioClip, block_seconds: float = 30.0, on_progress=None, **settings) -> dict:
    """{"percussive": AudioClip, "harmonic": AudioClip} of ``clip`` (they sum to the mix away from silence).
    ``on_progress(done, total)`` after each block; an exception it raises (a cancel) stops the separation."""
    options = {**HPSS_SETTINGS, **settings}
    n_fft, hop = int(options["n_fft"]), int(options["hop"])
    margin = (int(options["harmonic_frames"]) // 2 + n_fft // hop + 2) * hop
    block = max(hop, int(round(block_seconds * clip.sample_rate / hop)) * hop)
    total = clip.num_samples
    starts = list(range(0, total, block))
    percussive = np.zeros(clip.samples.shape, np.float32)  # shape only: a disk-backed song is not read whole
    harmonic = np.zeros(clip.samples.shape, np.float32)
    report = on_progress or (lambda done, count: None)
    report(0, len(starts))
    for number, start in enumerate(starts, start=1):
        stop = min(start + block, total)
        low = start - margin
        length = (stop + margin) - low
        length = n_fft + -(-(length - n_fft) // hop) * hop
        segment = _segment(clip.samples, low, low + length)
        p, h = _split_segment(segment, n_fft, hop, int(options["harmonic_frames"]), int(options["percussive_bins"]),
                              float(options["mask_power"]))
        percussive[:, start:stop] = p[:, margin:margin + stop - start]
        harmonic[:, start:stop] = h[:, margin:margin + stop - start]
        report(number, len(starts))
    return {"percussive": AudioClip(percussive, clip.sample_rate), "harmonic": AudioClip(harmonic, clip.sample_rate)}
