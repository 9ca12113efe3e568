"""The seed notebook's band energies (docs/seed_algorithm.md steps 2-5): one-second look-ahead windows, the dB
softmax with ``extra_detail`` as temperature, bands growing by ``frequency_band_growth_rate``; its frame hop and count.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .clock import parse_fps
from .errors import AudioWalkInputError
from .settings import DEFAULTS

_DB_PER_LN_POWER = 10.0 / math.log(10.0)  # dB = 10*log10(p) = _DB_PER_LN_POWER * ln(p), p = |X|^2



def seed_band_layout(sample_rate: int, max_frequency_level: float, low_frequency_skip: float,
                     frequency_band_growth_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """The seed's bands as bin ranges of a one-second FFT (bin k = k Hz).

    Returns ``(starts, stops)`` int arrays (bins ``[start, stop)`` of each kept band). Band k = 1, 2, ... is
    ``int(g**k)`` bins wide starting at ``low_frequency_skip``; bands one bin wide are dropped but consume their bin;
    bands stop before ``min(max_frequency_level, sample_rate // 2)``.
    Raises AudioWalkInputError when the parameters leave no band.
    """
    growth = float(frequency_band_growth_rate)
    if not math.isfinite(growth) or growth <= 1.0:
        raise AudioWalkInputError("frequency_band_growth_rate", f"{growth!r} is not above 1",
                                  "a growth rate > 1, e.g. 1.01 (seed README) or 1.015 (notebook)")
    low = int(low_frequency_skip)
    high = min(float(max_frequency_level), sample_rate // 2)
    if low < 0 or not math.isfinite(high):
        raise AudioWalkInputError("low_frequency_skip", f"{low_frequency_skip!r} is negative", "a frequency >= 0 Hz")
    starts, stops = [], []
    position, k = low, 1
    while True:
        width = int(growth ** k)
        if position + width > high:  # the seed stops before the limit
            break
        if width > 1:
            starts.append(position)
            stops.append(position + width)
        position += width
        k += 1
        if k > 100000:
            break
    if not starts:
        raise AudioWalkInputError(
            "frequency_band_growth_rate", f"low_frequency_skip={low_frequency_skip}, max_frequency_level="
            f"{max_frequency_level} and growth {growth} leave no band at {sample_rate} Hz",
            "parameters that leave at least one band two or more bins wide below min(max_frequency_level, sr/2)")
    return np.asarray(starts, np.int64), np.asarray(stops, np.int64)


def seed_frame_hop(sample_rate: int, fps) -> int:
    """Samples between the seed's frames: ``ceil(sample_rate / fps)`` (the seed: ``ceil(sr / 30)``)."""
    fps = parse_fps(fps)
    return -(-int(sample_rate) * fps.denominator // fps.numerator)


def seed_frame_count(num_samples: int, sample_rate: int, fps=30) -> int:
    """Frames the notebook makes: ``len(range(0, num_samples - (sample_rate + 1), hop))``.

    That is ``ceil((N - sr - 1) / hop)`` for ``N > sr + 1`` samples, else 0: every frame's one-second window lies
    inside the song, and the last whole window is dropped when ``(N - sr)`` is 0 or 1 modulo ``hop``. The video ends
    about one second before the music.
    """
    hop = seed_frame_hop(sample_rate, fps)
    span = int(num_samples) - (int(sample_rate) + 1)
    return -(-span // hop) if span > 0 else 0


def _seed_block_weights(windows: np.ndarray, extra_detail: float, starts, stops, segment_lo, segment_hi,
                        out: np.ndarray) -> None:
    """Band means of the seed's softmax weights for a block of one-second windows (float32 maths).

    ``w_k = exp((1 - extra_detail) * (dB_k - logsumexp(dB)))`` computed from ``ln |X_k|^2``: a silent bin
    (``ln 0 = -inf``) weighs exactly 0 and an all-silent window gives NaN (the notebook's 0/0), left for the caller.
    """
    import scipy.fft

    spectrum = scipy.fft.rfft(windows, axis=1, workers=1)
    power = np.square(spectrum.real)
    imag = spectrum.imag
    np.multiply(imag, imag, out=imag)  # reuse the spectrum's memory for imag**2
    power += imag
    del spectrum, imag
    with np.errstate(divide="ignore", invalid="ignore"):
        np.log(power, out=power)  # ln p; dB = c * ln p; -inf on silent bins
        peak = power.max(axis=1, keepdims=True)
        power -= peak  # ln(p / p_max) <= 0; NaN everywhere when the whole window is silent (-inf - -inf)
        temperature = np.float32(1.0 - extra_detail)
        selected = power[:, segment_lo:segment_hi] * np.float32(temperature * _DB_PER_LN_POWER)
        power *= np.float32(_DB_PER_LN_POWER)
        np.exp(power, out=power)
        log_norm = np.log(power.sum(axis=1, dtype=np.float64)).astype(np.float32)  # logsumexp(dB) - dB_max
        selected -= (temperature * log_norm)[:, None]
        np.exp(selected, out=selected)
    sums = np.add.reduceat(selected, starts - segment_lo, axis=1, dtype=np.float64)
    widths = (stops - starts).astype(np.float64)
    # reduceat sums up to the next start; kept bands are contiguous (see seed_band_energies)
    out[:] = (sums[:, :len(starts)] / widths).astype(np.float32)


def seed_band_energies(mono: np.ndarray, sample_rate: int,
                       max_frequency_level: float = DEFAULTS.max_frequency_level,
                       low_frequency_skip: float = DEFAULTS.low_frequency_skip,
                       frequency_band_growth_rate: float = DEFAULTS.frequency_band_growth_rate,
                       extra_detail: float = DEFAULTS.extra_detail, fps=30, frame_count: int | None = None,
                       block_frames: int = 24, threads: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's band energies (docs/seed_algorithm.md steps 2-5), float32 maths, within 1e-5 of float64.

    ``mono`` float ``[samples]`` at ``sample_rate`` Hz. Frame i's window is ``sample_rate`` samples (one second)
    starting at ``i * ceil(sample_rate / fps)``. ``frame_count`` None gives the notebook's count
    (:func:`seed_frame_count`); the exact-clock option passes the clock's count instead, and windows that run past
    the end are zero-padded. Silent bins weigh 0; a wholly silent window's NaN becomes 0 as in the notebook's last
    step (non-finite values -> 0 for NaN, +50 for +inf, -50 for -inf).
    Returns ``(bands [frames, B] float32 in [0, 1], band_edges_hz [B, 2])``. Memory: one block of
    ``block_frames`` one-second windows per thread.
    """
    if not (0.0 <= float(extra_detail) < 1.0):
        raise AudioWalkInputError("extra_detail", f"{extra_detail!r} is outside [0, 1)", "a value in [0, 1), e.g. 0.9")
    sample_rate = int(sample_rate)
    signal = np.asarray(mono, dtype=np.float32)
    if signal.ndim != 1 or not np.isfinite(signal).all():
        raise AudioWalkInputError("mono", f"samples of shape {signal.shape} with non-finite values or not 1-D",
                                  "finite mono samples [samples]")
    if sample_rate <= 1:
        raise AudioWalkInputError("sample_rate", f"{sample_rate} is too low", "a sample rate in Hz, e.g. 44100")
    starts, stops = seed_band_layout(sample_rate, max_frequency_level, low_frequency_skip, frequency_band_growth_rate)
    hop = seed_frame_hop(sample_rate, fps)
    if frame_count is None:
        frame_count = seed_frame_count(len(signal), sample_rate, fps)
    frame_count = int(frame_count)
    if frame_count < 0:
        raise AudioWalkInputError("frame_count", f"{frame_count} is negative", "a frame count >= 0 or None")
    # int(g**k) never shrinks, so once bands are two bins wide they stay so: kept bands are contiguous
    segment_lo, segment_hi = int(starts[0]), int(stops[-1])
    needed = (frame_count - 1) * hop + sample_rate if frame_count else 0
    if needed > len(signal):
        signal = np.concatenate([signal, np.zeros(needed - len(signal), np.float32)])
    out = np.empty((frame_count, len(starts)), np.float32)
    windows_view = np.lib.stride_tricks.as_strided(
        signal, shape=(frame_count, sample_rate), strides=(hop * signal.strides[0], signal.strides[0]),
        writeable=False) if frame_count else None

    def run_block(first: int) -> None:
        last = min(first + block_frames, frame_count)
        block = windows_view[first:last]
        _seed_block_weights(block, extra_detail, starts, stops, segment_lo, segment_hi, out[first:last])

    if frame_count:
        blocks = range(0, frame_count, block_frames)
        if threads > 1 and frame_count > block_frames:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(run_block, blocks))
        else:
            for first in blocks:
                run_block(first)
    np.nan_to_num(out, copy=False, nan=0.0, posinf=50.0, neginf=-50.0)  # the notebook's last step
    edges = np.stack([starts, stops], axis=1).astype(np.float64)  # bin k = k Hz
    return out, edges
