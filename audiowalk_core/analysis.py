"""Per-frame audio features on a FrameClock: seed-compatible and improved band energies, RMS, onsets, beats,
chroma and harmonic/percussive energy.

Everything is numpy/scipy (no librosa: its numba compilation costs ~12 s on first use and buys nothing here).
Memory is bounded by chunking: the one-second seed windows and the STFT are processed a block of frames at a time
and reduced at once to small per-frame tables.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .audio import AudioClip, silence_warning, validate_clip
from .clock import FrameClock, parse_fps
from .errors import AudioWalkInputError
from .features import AudioFeatures

BAND_MODES = ("improved", "seed")
# Seed README demo values (SEED_ALGORITHM.md table).
SEED_DEFAULTS = {"max_frequency_level": 11000.0, "low_frequency_skip": 16.0,
                 "frequency_band_growth_rate": 1.01, "extra_detail": 0.9}
_DB_PER_LN_POWER = 10.0 / math.log(10.0)  # dB = 10*log10(p) = _DB_PER_LN_POWER * ln(p), p = |X|^2
_SILENT_BIN_POWER = 10.0 ** (-50.0 / 10.0)  # the seed's -inf dB -> -50 dB rule, as a power


# ----------------------------------------------------------------------------------------------------------------
# Seed-compatible bands (SEED_ALGORITHM.md steps 2-5)

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
    """Frames the seed makes: only while a whole one-second window fits (the video ends ~1 s early)."""
    if num_samples < sample_rate:
        return 0
    return (num_samples - sample_rate) // seed_frame_hop(sample_rate, fps) + 1


def _seed_block_weights(windows: np.ndarray, extra_detail: float, starts, stops, segment_lo, segment_hi,
                        out: np.ndarray) -> None:
    """Band means of the seed's softmax weights for a block of one-second windows (float32 maths)."""
    import scipy.fft

    spectrum = scipy.fft.rfft(windows, axis=1, workers=1)
    power = np.square(spectrum.real)
    imag = spectrum.imag
    np.multiply(imag, imag, out=imag)  # reuse the spectrum's memory for imag**2
    power += imag
    del spectrum, imag
    if power.min() == 0.0:  # rare (digital silence): a reduction is cheaper than always masking
        power[power == 0] = _SILENT_BIN_POWER
    np.log(power, out=power)  # ln p; dB = c * ln p
    peak = power.max(axis=1, keepdims=True)
    power -= peak  # ln(p / p_max) <= 0
    temperature = np.float32(1.0 - extra_detail)
    selected = power[:, segment_lo:segment_hi] * np.float32(temperature * _DB_PER_LN_POWER)
    power *= np.float32(_DB_PER_LN_POWER)
    np.exp(power, out=power)
    log_norm = np.log(power.sum(axis=1, dtype=np.float64)).astype(np.float32)  # logsumexp(dB) - dB_max
    selected -= (temperature * log_norm)[:, None]
    np.exp(selected, out=selected)
    sums = np.add.reduceat(selected, starts - segment_lo, axis=1, dtype=np.float64)
    widths = (stops - starts).astype(np.float64)
    # reduceat sums up to the next start; bands are contiguous except for dropped one-bin gaps at the edges
    out[:] = (sums[:, :len(starts)] / widths).astype(np.float32)


def seed_band_energies(mono: np.ndarray, sample_rate: int, max_frequency_level: float = 11000.0,
                       low_frequency_skip: float = 16.0, frequency_band_growth_rate: float = 1.01,
                       extra_detail: float = 0.9, fps=30, frame_count: int | None = None,
                       block_frames: int = 24, threads: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The seed's band energies, exactly as SEED_ALGORITHM.md steps 2-5 (float32 maths).

    ``mono`` float ``[samples]`` at ``sample_rate`` Hz. Frame i's window is ``sample_rate`` samples starting at
    ``i * ceil(sample_rate / fps)``. ``frame_count`` None gives the seed's count (whole windows only); a larger
    count zero-pads the windows that run past the end (used to put the seed bands on a full-length clock).
    Returns ``(bands [frames, B] float32 in (0, 1], band_edges_hz [B, 2])``. Memory: one block of
    ``block_frames`` one-second windows per thread.
    """
    if not (0.0 <= float(extra_detail) < 1.0):
        raise AudioWalkInputError("extra_detail", f"{extra_detail!r} is outside [0, 1)", "a value in [0, 1), e.g. 0.9")
    sample_rate = int(sample_rate)
    starts, stops = seed_band_layout(sample_rate, max_frequency_level, low_frequency_skip, frequency_band_growth_rate)
    hop = seed_frame_hop(sample_rate, fps)
    if frame_count is None:
        frame_count = seed_frame_count(len(mono), sample_rate, fps)
    # int(g**k) never shrinks, so once bands are two bins wide they stay so: kept bands are contiguous
    segment_lo, segment_hi = int(starts[0]), int(stops[-1])
    needed = (frame_count - 1) * hop + sample_rate if frame_count else 0
    signal = np.asarray(mono, dtype=np.float32)
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
    edges = np.stack([starts, stops], axis=1).astype(np.float64)  # bin k = k Hz
    return out, edges


# ----------------------------------------------------------------------------------------------------------------
# STFT-based features (improved bands, onset, chroma, harmonic/percussive)

def _stft_size(sample_rate: int) -> tuple[int, int]:
    """FFT size (~93 ms) and hop (n_fft / 8, ~12 ms) for a sample rate."""
    n_fft = 1 << max(8, int(round(math.log2(sample_rate * 0.0929))))
    return n_fft, n_fft // 8


def improved_band_edges(sample_rate: int, n_fft: int, band_count: int, low_hz: float = 30.0) -> np.ndarray:
    """Bin edges ``[B + 1]`` of log-spaced bands covering bins 1..n_fft/2 with no gap (every bin in one band).

    Bands are geometric from ``low_hz`` to Nyquist, widened where they would be narrower than one bin, so the
    lowest bands are one bin wide (linear) and the rest logarithmic. Bins below ``low_hz`` join the first band.
    """
    top_bin = n_fft // 2
    if band_count < 1 or band_count > top_bin:
        raise AudioWalkInputError("band_count", f"{band_count} bands do not fit {top_bin} FFT bins",
                                  f"1 to {top_bin} bands at {sample_rate} Hz")
    hz_per_bin = sample_rate / n_fft
    geometric = np.geomspace(max(low_hz, hz_per_bin), sample_rate / 2, band_count + 1) / hz_per_bin
    edges = np.empty(band_count + 1, np.int64)
    edges[0] = 1
    for i in range(1, band_count + 1):
        edges[i] = max(int(round(geometric[i])), edges[i - 1] + 1)
    # pull the top back to Nyquist while keeping each band at least one bin wide
    edges[-1] = top_bin + 1
    for i in range(band_count - 1, 0, -1):
        edges[i] = min(edges[i], edges[i + 1] - 1)
    return edges


def _pitch_class_of_bins(sample_rate: int, n_fft: int) -> np.ndarray:
    """Pitch class (C=0 .. B=11) of each rfft bin between 55 Hz and 5 kHz, -1 elsewhere."""
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    classes = np.full(len(freqs), -1, np.int64)
    valid = (freqs >= 55.0) & (freqs <= 5000.0)
    midi = 69.0 + 12.0 * np.log2(freqs[valid] / 440.0)
    classes[valid] = np.mod(np.round(midi).astype(np.int64), 12)
    return classes


def _log_band_matrix(sample_rate: int, n_fft: int, count: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges of ``count`` log bands (for onset flux and harmonic/percussive separation)."""
    edges = improved_band_edges(sample_rate, n_fft, min(count, n_fft // 2), low_hz=40.0)
    return edges[:-1], edges[1:]


class _StftTables:
    """Per-STFT-frame reductions of the power spectrogram (never the whole spectrogram)."""

    def __init__(self, mono: np.ndarray, sample_rate: int, band_edges: np.ndarray, block: int = 1024):
        import scipy.fft

        n_fft, hop = _stft_size(sample_rate)
        self.n_fft, self.hop, self.sample_rate = n_fft, hop, sample_rate
        padded = np.pad(np.asarray(mono, np.float32), (n_fft // 2, n_fft // 2))
        frames = 1 + (len(padded) - n_fft) // hop if len(padded) >= n_fft else 0
        self.frame_count = frames
        window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
        view = np.lib.stride_tricks.as_strided(padded, shape=(frames, n_fft),
                                               strides=(hop * padded.strides[0], padded.strides[0]), writeable=False)
        log_lo, log_hi = _log_band_matrix(sample_rate, n_fft)
        classes = _pitch_class_of_bins(sample_rate, n_fft)
        chroma_bins = np.nonzero(classes >= 0)[0]
        self.bands = np.empty((frames, len(band_edges) - 1), np.float32)
        self.log_bands = np.empty((frames, len(log_lo)), np.float32)
        self.chroma = np.zeros((frames, 12), np.float32)
        norm = np.float32(1.0 / (window.sum() ** 2))
        for first in range(0, frames, block):
            last = min(first + block, frames)
            spectrum = scipy.fft.rfft(view[first:last] * window, axis=1, workers=2)
            power = (spectrum.real * spectrum.real + spectrum.imag * spectrum.imag) * norm
            del spectrum
            sums = np.add.reduceat(power, band_edges[:-1], axis=1)[:, :len(band_edges) - 1]
            self.bands[first:last] = sums / np.diff(band_edges).astype(np.float32)
            self.log_bands[first:last] = (np.add.reduceat(power, log_lo, axis=1)[:, :len(log_lo)]
                                          / (log_hi - log_lo).astype(np.float32))
            for pitch in range(12):
                self.chroma[first:last, pitch] = power[:, chroma_bins[classes[chroma_bins] == pitch]].sum(axis=1)

    def frame_times(self) -> np.ndarray:
        """Centre time (s) of each STFT frame."""
        return np.arange(self.frame_count) * self.hop / self.sample_rate

    def onset_times(self) -> np.ndarray:
        """Time (s) of the onset each STFT frame's flux reports: the flux of a Hann window peaks when a sound is a
        quarter window past the frame centre, so onsets are reported ``n_fft / 4`` late."""
        return self.frame_times() + 0.25 * self.n_fft / self.sample_rate


def _to_video_frames(values: np.ndarray, times: np.ndarray, clock: FrameClock, how: str = "mean") -> np.ndarray:
    """Aggregate STFT-rate rows onto video frames: rows whose time falls in a frame are averaged (or maxed);
    frames that get no row (fps above the STFT rate) take the nearest row."""
    frame_of_row = np.floor(times * float(clock.fps) + 1e-9).astype(np.int64)
    keep = (frame_of_row >= 0) & (frame_of_row < clock.frame_count)
    rows = values[keep]
    frame_of_row = frame_of_row[keep]
    shape = (clock.frame_count,) + values.shape[1:]
    out = np.zeros(shape, np.float64)
    counts = np.bincount(frame_of_row, minlength=clock.frame_count).astype(np.float64)
    if how == "max":
        out[:] = -np.inf
        np.maximum.at(out, frame_of_row, rows)
    else:
        np.add.at(out, frame_of_row, rows)
        nonzero = counts > 0
        out[nonzero] /= counts[nonzero].reshape((-1,) + (1,) * (values.ndim - 1))
    empty = counts == 0
    if empty.any():
        centres = clock.frame_center_seconds()[empty]
        nearest = np.clip(np.searchsorted(times, centres), 0, len(times) - 1)
        out[empty] = values[nearest]
    return out.astype(np.float32)


def _normalise_columns(values: np.ndarray, percentile: float = 99.0) -> np.ndarray:
    """Divide each column by its robust maximum over the song and clip to [0, 1]; silent columns stay 0."""
    scale = np.percentile(values, percentile, axis=0) if len(values) else np.zeros(values.shape[1:])
    scale = np.where(scale > 1e-12, scale, np.maximum(values.max(axis=0, initial=0.0), 1e-12))
    return np.clip(values / scale, 0.0, 1.0).astype(np.float32)


def _harmonic_percussive(log_bands: np.ndarray, frame_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Median-filter separation on a log-band power spectrogram [frames, bands]: returns per-frame harmonic and
    percussive energy (soft masks, Fitzgerald 2010)."""
    from scipy.ndimage import median_filter

    time_width = max(3, int(round(0.2 * frame_rate)) | 1)
    harmonic_smooth = median_filter(log_bands, size=(time_width, 1), mode="nearest")
    percussive_smooth = median_filter(log_bands, size=(1, 9), mode="nearest")
    h2, p2 = harmonic_smooth ** 2, percussive_smooth ** 2
    total = h2 + p2
    safe = np.where(total > 0, total, 1.0)
    harmonic_mask = np.where(total > 0, h2 / safe, 0.0)
    harmonic = (log_bands * harmonic_mask).sum(axis=1)
    percussive = (log_bands * (1.0 - harmonic_mask) * (total > 0)).sum(axis=1)
    return harmonic, percussive


def onset_strength(log_bands: np.ndarray) -> np.ndarray:
    """Positive spectral flux of log-compressed band power, per STFT frame (>= 0)."""
    compressed = np.log1p(1e4 * log_bands / max(float(log_bands.max(initial=0.0)), 1e-12))
    flux = np.zeros(len(compressed), np.float32)
    if len(compressed) > 1:
        flux[1:] = np.maximum(np.diff(compressed, axis=0), 0.0).mean(axis=1)
    return flux


def estimate_tempo(onset: np.ndarray, frame_rate: float, min_bpm: float = 60.0, max_bpm: float = 200.0) -> float:
    """Tempo (BPM) from the autocorrelation of the onset envelope, weighted toward 120 BPM (log-Gaussian prior)."""
    if len(onset) < 4 or not np.any(onset > 0):
        return 0.0
    centred = onset - onset.mean()
    size = 1 << int(math.ceil(math.log2(2 * len(centred))))
    spectrum = np.fft.rfft(centred, size)
    autocorr = np.fft.irfft(spectrum * np.conj(spectrum), size)[:len(centred)]
    lags = np.arange(len(autocorr), dtype=np.float64)
    bpm = np.where(lags > 0, 60.0 * frame_rate / np.maximum(lags, 1), 0.0)
    valid = (bpm >= min_bpm) & (bpm <= max_bpm)
    if not valid.any():
        return 0.0
    prior = np.exp(-0.5 * (np.log2(np.maximum(bpm, 1e-9) / 120.0) / 1.0) ** 2)
    score = np.where(valid, autocorr * prior, -np.inf)
    best = int(np.argmax(score))
    # parabolic refinement of the lag
    if 1 <= best < len(autocorr) - 1:
        a, b, c = autocorr[best - 1], autocorr[best], autocorr[best + 1]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom != 0 else 0.0
        return float(60.0 * frame_rate / (best + float(np.clip(shift, -0.5, 0.5))))
    return float(bpm[best])


def track_beats(onset: np.ndarray, frame_rate: float, tempo_bpm: float, tightness: float = 100.0) -> np.ndarray:
    """Beat positions (STFT frame indices) by dynamic programming (Ellis 2007): beats on strong onsets, spaced
    close to the tempo period."""
    if tempo_bpm <= 0 or len(onset) == 0 or not np.any(onset > 0):
        return np.zeros(0, np.int64)
    period = 60.0 * frame_rate / tempo_bpm
    strength = onset / (onset.std() + 1e-12)
    score = strength.astype(np.float64).copy()
    backlink = np.full(len(onset), -1, np.int64)
    lo, hi = max(1, int(round(period / 2))), int(round(2 * period))
    offsets = np.arange(lo, hi + 1)
    penalty = -tightness * np.log(offsets / period) ** 2
    for t in range(lo, len(onset)):
        previous = t - offsets
        valid = previous >= 0
        if not valid.any():
            continue
        candidates = score[previous[valid]] + penalty[valid]
        best = int(np.argmax(candidates))
        if candidates[best] > 0:
            score[t] += candidates[best]
            backlink[t] = previous[valid][best]
    # end on the best-scoring frame in the last period, then follow the links back
    tail = max(0, len(onset) - int(round(period)))
    last = tail + int(np.argmax(score[tail:]))
    beats = [last]
    while backlink[beats[-1]] >= 0:
        beats.append(int(backlink[beats[-1]]))
    beats = np.asarray(beats[::-1], np.int64)
    # drop weak beats at the edges (before the music starts / after it stops)
    threshold = 0.1 * np.median(strength[beats]) if len(beats) else 0.0
    return beats[strength[beats] > threshold] if len(beats) > 2 else beats


def beat_curve(beat_frames: np.ndarray, frame_count: int, fps: float, decay_seconds: float = 0.25) -> np.ndarray:
    """Per-frame beat curve: 1 on each beat frame, decaying exponentially (time constant ``decay_seconds``)."""
    curve = np.zeros(frame_count, np.float32)
    if frame_count == 0 or len(beat_frames) == 0:
        return curve
    frames = np.arange(frame_count)
    last_beat = np.full(frame_count, -1, np.int64)
    marks = np.zeros(frame_count, bool)
    marks[np.clip(beat_frames, 0, frame_count - 1)] = True
    idx = np.where(marks, frames, -1)
    last_beat = np.maximum.accumulate(idx)
    has = last_beat >= 0
    curve[has] = np.exp(-(frames[has] - last_beat[has]) / (decay_seconds * fps))
    return curve


def frame_rms(mono: np.ndarray, clock: FrameClock) -> np.ndarray:
    """RMS of each frame's own samples (exact frame spans), float32 ``[frames]``."""
    squares = np.concatenate([[0.0], np.cumsum(np.asarray(mono, np.float64) ** 2)])
    bounds = np.minimum(clock.frame_boundaries(), len(mono))
    counts = np.maximum(np.diff(bounds), 1)
    return np.sqrt(np.maximum(np.diff(squares[bounds]), 0.0) / counts).astype(np.float32)


def compute_features(clip: AudioClip, fps=30, *, band_mode: str = "improved",
                     max_frequency_level: float = 11000.0, low_frequency_skip: float = 16.0,
                     frequency_band_growth_rate: float = 1.01, extra_detail: float = 0.9,
                     band_count: int = 48, on_progress=None) -> AudioFeatures:
    """Describe ``clip`` frame by frame at ``fps`` (rational; 29.97 -> 30000/1001).

    Curves (float32, finite, in [0, 1]): ``bands`` [N, B] in the chosen ``band_mode`` ("improved": ``band_count``
    log bands from a centred Hann-window STFT, every bin in one band, each normalised by its 99th percentile;
    "seed": SEED_ALGORITHM.md steps 2-5 with its five parameters, one-second look-ahead windows), ``rms``,
    ``onset`` (spectral flux, frame max), ``beat`` (1 on beats, decaying), ``chroma`` [N, 12] (C..B, per-frame max 1),
    ``harmonic`` and ``percussive`` energies. The clock's frame count makes video and audio lengths agree within
    one frame. Silence gives zeros. ``on_progress(done, total)`` is called between stages.
    """
    if band_mode not in BAND_MODES:
        raise AudioWalkInputError("band_mode", f"{band_mode!r} is unknown", "one of " + ", ".join(BAND_MODES))
    validate_clip(clip)
    fps = parse_fps(fps)
    clock = FrameClock.for_duration(clip.num_samples, clip.sample_rate, fps)
    mono = clip.mono()
    sample_rate = clip.sample_rate
    stages = 4
    report = on_progress or (lambda done, total: None)
    report(0, stages)

    if band_mode == "seed":
        bands, edges_pairs = seed_band_energies(mono, sample_rate, max_frequency_level, low_frequency_skip,
                                                frequency_band_growth_rate, extra_detail, fps=fps,
                                                frame_count=clock.frame_count)
        band_edges_hz = np.concatenate([edges_pairs[:, 0], edges_pairs[-1:, 1]])
        n_fft, _ = _stft_size(sample_rate)
        stft_band_edges = improved_band_edges(sample_rate, n_fft, min(band_count, n_fft // 2))
    else:
        n_fft, _ = _stft_size(sample_rate)
        stft_band_edges = improved_band_edges(sample_rate, n_fft, band_count)
        band_edges_hz = stft_band_edges * sample_rate / n_fft
    report(1, stages)

    tables = _StftTables(mono, sample_rate, stft_band_edges)
    times = tables.frame_times()
    frame_rate = sample_rate / tables.hop
    report(2, stages)

    if band_mode == "improved":
        bands = _normalise_columns(_to_video_frames(tables.bands, times, clock))
    onset_rows = onset_strength(tables.log_bands)
    tempo = estimate_tempo(onset_rows, frame_rate)
    beat_rows = track_beats(onset_rows, frame_rate, tempo)
    onset_times = tables.onset_times()
    beat_frames = np.unique(clock.frame_at_seconds(onset_times[beat_rows])) if len(beat_rows) \
        else np.zeros(0, np.int64)
    onset = _normalise_columns(_to_video_frames(onset_rows[:, None], onset_times, clock, how="max"))[:, 0]
    chroma_frames = _to_video_frames(tables.chroma, times, clock)
    chroma_peak = chroma_frames.max(axis=1, keepdims=True)
    loud_enough = chroma_peak > 1e-10
    chroma = np.where(loud_enough, chroma_frames / np.where(loud_enough, chroma_peak, 1.0), 0.0).astype(np.float32)
    harmonic_rows, percussive_rows = _harmonic_percussive(tables.log_bands, frame_rate)
    hp = _normalise_columns(_to_video_frames(np.stack([harmonic_rows, percussive_rows], 1), times, clock))
    report(3, stages)

    rms = _normalise_columns(frame_rms(mono, clock)[:, None])[:, 0]
    curves = {
        "bands": np.ascontiguousarray(bands, np.float32),
        "rms": rms,
        "onset": onset,
        "beat": beat_curve(beat_frames, clock.frame_count, float(fps)),
        "chroma": chroma,
        "harmonic": hp[:, 0].copy(),
        "percussive": hp[:, 1].copy(),
    }
    for name, values in curves.items():
        np.nan_to_num(values, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
    report(stages, stages)
    return AudioFeatures(clock=clock, curves=curves, beat_frames=beat_frames.astype(np.int64), tempo_bpm=float(tempo),
                         band_edges_hz=np.asarray(band_edges_hz, np.float64), band_mode=band_mode,
                         warnings=tuple(filter(None, [silence_warning(clip)])))
