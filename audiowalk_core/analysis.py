"""Per-frame audio features on a FrameClock: seed and improved band energies, RMS, onsets, beats, chroma, HPSS.

Everything is numpy/scipy. librosa, the field's reference, is not a runtime dependency (its numba compilation costs
~12 s on first use); tests/test_librosa_reference.py checks every feature here against it.
Memory is bounded by chunking: the one-second seed windows and the STFT are processed a block of frames at a time
and reduced at once to per-frame tables (a long song's per-STFT-row log bands wait in a temporary file).
"""
from __future__ import annotations

import math

import numpy as np

from .audio import AudioClip, silence_warning, validate_clip
from .clock import FrameClock, parse_fps
from .errors import AudioWalkInputError, require_choice
from .features import AudioFeatures
from .frame_means import DiskRows, FrameRowsView, VideoFrameMeans
from .music_map import analyse_music_map, attach_music_map
from .onsets import beat_curve, estimate_tempo, onset_strength, track_beats  # noqa: F401 - re-exported
from .seed_bands import (seed_band_energies, seed_band_layout, seed_frame_count,  # noqa: F401 - re-exported
                         seed_frame_hop)
from .settings import BAND_MODES, BEAT_TRACKERS, DEFAULTS

# BAND_MODES and the band parameters' defaults: settings.py (improved: our bands on the exact clock; seed: the
# notebook's bands and frame count; seed_full_length: its band maths on the exact clock, windows zero-padded).
LOG_BANDS_IN_MEMORY_BYTES = 8 << 20  # log bands beyond this (about 4 min at 44.1 kHz) go to a temporary file


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


def chroma_weights(sample_rate: int, n_fft: int, centre_hz: float = 880.0, octave_width: float = 2.0) -> np.ndarray:
    """Weights ``[12, n_fft // 2 + 1]`` that fold a power spectrum onto pitch classes C..B (Ellis's chroma filters,
    the design librosa's ``chroma_stft`` uses, so the two agree).

    Each bin above DC spreads over the pitch classes near its frequency: a Gaussian in semitones whose width is the
    bin's own width in semitones (at least one), normalised to unit L2 norm per bin, then weighted by a Gaussian in
    octaves around ``centre_hz`` (``octave_width`` octaves) so that low bins, too coarse to tell pitches apart, and
    very high bins count less. Equal temperament at A4 = 440 Hz.
    """
    freqs = np.arange(1, n_fft // 2 + 1) * (sample_rate / n_fft)
    semitones = 12.0 * np.log2(freqs / 440.0) + 9.0  # semitones above C4: C = 0 modulo 12
    widths = np.maximum(np.diff(semitones, append=semitones[-1] + 1.0), 1.0)
    distance = np.remainder(semitones[None, :] - np.arange(12)[:, None] + 6.0, 12.0) - 6.0  # in [-6, 6)
    weights = np.exp(-0.5 * (2.0 * distance / widths[None, :]) ** 2)
    weights /= np.linalg.norm(weights, axis=0, keepdims=True)
    weights *= np.exp(-0.5 * (np.log2(freqs / centre_hz) / octave_width) ** 2)[None, :]
    return np.concatenate([np.zeros((12, 1)), weights], axis=1).astype(np.float32)


def _log_band_matrix(sample_rate: int, n_fft: int, count: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """First and stop bins of ``count`` log bands (for onset flux and harmonic/percussive separation)."""
    edges = improved_band_edges(sample_rate, n_fft, min(count, n_fft // 2), low_hz=40.0)
    return edges[:-1], edges[1:]


class _StftTables:
    """Per-STFT-frame reductions of the power spectrogram (never the whole spectrogram): ``bands`` (mean power per
    improved band), ``log_bands`` (summed power per log band [frames, 96]: a tone gives the same value in whichever
    band it falls) and ``chroma`` [frames, 12]."""

    def __init__(self, mono, sample_rate: int, band_edges: np.ndarray, block: int = 256, clock=None):
        """``mono``: the mono signal, as an array or as ``mono_between(first, stop)`` (float32 samples of that
        range), so a long song is never held twice: only one block of windows is made at a time. ``clock``: when
        its fps is at most the STFT's row rate, ``bands`` and ``chroma`` are averaged onto its video frames as the
        rows are made (``video_bands``, ``video_chroma``; frame_means.VideoFrameMeans) instead of kept per row."""
        import scipy.fft
        import scipy.sparse

        n_fft, hop = _stft_size(sample_rate)
        self.n_fft, self.hop, self.sample_rate = n_fft, hop, sample_rate
        mono_between = mono if callable(mono) else (lambda first, stop: np.asarray(mono[first:stop], np.float32))
        num_samples = int(getattr(mono, "num_samples", 0)) if callable(mono) else len(mono)
        padded_length = num_samples + 2 * (n_fft // 2)
        frames = 1 + (padded_length - n_fft) // hop if padded_length >= n_fft else 0
        self.frame_count = frames
        window = np.hanning(n_fft + 1)[:-1].astype(np.float32)

        def window_block(first: int, last: int) -> np.ndarray:
            """Frames [first, last) of the centred (zero-padded) signal, [last - first, n_fft], a strided view."""
            start = first * hop - n_fft // 2  # sample index of the block's first window start
            stop = (last - 1) * hop + n_fft - n_fft // 2
            segment = np.zeros(stop - start, np.float32)
            lo, hi = max(start, 0), min(stop, num_samples)
            if hi > lo:
                segment[lo - start:hi - start] = mono_between(lo, hi)
            return np.lib.stride_tricks.as_strided(segment, shape=(last - first, n_fft),
                                                   strides=(hop * segment.strides[0], segment.strides[0]),
                                                   writeable=False)
        log_lo, log_hi = _log_band_matrix(sample_rate, n_fft)
        weights = chroma_weights(sample_rate, n_fft)
        # sparse [bins, 12] (weights below 1e-4 of a bin's largest dropped: ~4 per bin): a dense BLAS product here
        # leaves OpenBLAS threads spinning against the FFT workers (0.2 s slower on a 3-minute song, 2 cores)
        pitch_weights = scipy.sparse.csr_array(
            np.where(weights >= 1e-4 * weights.max(axis=0, keepdims=True), weights, 0.0).T)
        per_frame = clock is not None and float(clock.fps) <= sample_rate / hop
        self.video_bands = VideoFrameMeans(clock, len(band_edges) - 1) if per_frame else None
        self.video_chroma = VideoFrameMeans(clock, 12) if per_frame else None
        self.bands = None if per_frame else np.empty((frames, len(band_edges) - 1), np.float32)
        spill = frames * len(log_lo) * 4 > LOG_BANDS_IN_MEMORY_BYTES  # long songs: on disk, read in blocks
        self.log_bands = DiskRows(frames, len(log_lo)) if spill else np.empty((frames, len(log_lo)), np.float32)
        self.chroma = None if per_frame else np.zeros((frames, 12), np.float32)
        norm = np.float32(1.0 / (window.sum() ** 2))
        for first in range(0, frames, block):
            last = min(first + block, frames)
            spectrum = scipy.fft.rfft(window_block(first, last) * window, axis=1, workers=2)
            power = (spectrum.real * spectrum.real + spectrum.imag * spectrum.imag) * norm
            del spectrum
            sums = np.add.reduceat(power, band_edges[:-1], axis=1)[:, :len(band_edges) - 1]
            bands, chroma = sums / np.diff(band_edges).astype(np.float32), power @ pitch_weights
            self.log_bands[first:last] = np.add.reduceat(power, log_lo, axis=1)[:, :len(log_lo)]
            if per_frame:
                times = np.arange(first, last) * hop / sample_rate  # = frame_times()[first:last]
                self.video_bands.add(bands, times)
                self.video_chroma.add(chroma, times)
            else:
                self.bands[first:last], self.chroma[first:last] = bands, chroma

    def frame_times(self) -> np.ndarray:
        """Centre time (s) of each STFT frame."""
        return np.arange(self.frame_count) * self.hop / self.sample_rate

    def onset_times(self) -> np.ndarray:
        """Time (s) of the onset each STFT frame's flux reports: a log-power flux jumps as soon as a sound enters the
        window, half a window after the frame centre (librosa's ``onset_strength(center=True)`` shifts alike)."""
        return self.frame_times() + 0.5 * self.n_fft / self.sample_rate


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


def _running_median(values: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Median over ``size`` (odd) neighbours along ``axis`` of a 2-D array, edges repeated (``mode="nearest"``).

    Every line is edge-padded and all lines are joined into one 1-D signal, so a window never crosses from one line
    into the next: equal to ``scipy.ndimage.median_filter`` with a 1-D kernel, and much faster (scipy's 1-D path).
    """
    from scipy.ndimage import median_filter

    half = size // 2
    lines = np.ascontiguousarray(np.moveaxis(values, axis, -1))
    padded = np.pad(lines, ((0, 0), (half, half)), mode="edge")
    smooth = median_filter(padded.ravel(), size=size, mode="nearest").reshape(padded.shape)
    return np.moveaxis(smooth[:, half:half + lines.shape[1]], -1, axis)


def _harmonic_percussive(log_bands: np.ndarray, frame_rate: float, harmonic_seconds: float = 0.3,
                         percussive_bands: int = 25, block_rows: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Median-filter separation (Fitzgerald 2010, librosa's ``hpss``) of summed power per log band [frames, bands]:
    returns per-frame harmonic and percussive power (soft masks, power 2).

    Harmonic: median over ``harmonic_seconds`` of time in each band; percussive: median over ``percussive_bands``
    neighbouring bands (about two octaves above ~450 Hz, where bands are geometric; below, bands are one FFT bin
    wide, ~270 Hz for 25 bins, near librosa's 31-bin kernel). Summed (not mean) band power makes a
    tone weigh the same at any pitch.
    """
    if len(log_bands) == 0:
        return np.zeros(0), np.zeros(0)
    time_width = max(3, int(round(harmonic_seconds * frame_rate)) | 1)
    rows = len(log_bands)
    margin = time_width // 2  # rows a block needs on each side for the time medians to equal the whole song's
    harmonic, percussive = np.zeros(rows), np.zeros(rows)
    for first in range(0, rows, block_rows):  # in blocks of rows: memory independent of the song's length
        last = min(first + block_rows, rows)
        low, high = max(first - margin, 0), min(last + margin, rows)
        harmonic_smooth = _running_median(log_bands[low:high], time_width, axis=0)[first - low:last - low]
        block = log_bands[first:last]
        percussive_smooth = _running_median(block, percussive_bands | 1, axis=1)
        h2, p2 = harmonic_smooth ** 2, percussive_smooth ** 2
        total = h2 + p2
        safe = np.where(total > 0, total, 1.0)
        harmonic_mask = np.where(total > 0, h2 / safe, 0.0)
        harmonic[first:last] = (block * harmonic_mask).sum(axis=1)
        percussive[first:last] = (block * (1.0 - harmonic_mask) * (total > 0)).sum(axis=1)
    return harmonic, percussive


def frame_rms(mono, clock: FrameClock, block_frames: int = 256, block_samples: int = 1 << 20) -> np.ndarray:
    """RMS of each frame's own samples (exact frame spans), float32 ``[frames]``. ``mono``: an array, or
    ``mono_between(first, stop)`` with a ``num_samples`` attribute; read at most ``block_frames`` frames and (one
    frame's span aside) ``block_samples`` samples at a time, so memory does not grow at low fps either."""
    mono_between = mono if callable(mono) else (lambda first, stop: np.asarray(mono[first:stop], np.float32))
    num_samples = int(mono.num_samples) if callable(mono) else len(mono)
    bounds = np.minimum(clock.frame_boundaries(), num_samples)
    out = np.zeros(clock.frame_count, np.float32)
    first = 0
    while first < clock.frame_count:
        fitting = int(np.searchsorted(bounds, bounds[first] + block_samples, side="right")) - 1
        last = min(first + block_frames, clock.frame_count, max(fitting, first + 1))
        lo, hi = int(bounds[first]), int(bounds[last])
        first, block_first = last, first
        if hi <= lo:
            continue
        squares = np.concatenate([[0.0], np.cumsum(np.asarray(mono_between(lo, hi), np.float64) ** 2)])
        edges = bounds[block_first:last + 1] - lo
        counts = np.maximum(np.diff(edges), 1)
        out[block_first:last] = np.sqrt(np.maximum(np.diff(squares[edges]), 0.0) / counts)
    return out


def feature_frame_count(num_samples: int, sample_rate: int, fps=30, band_mode: str = "improved") -> int:
    """Frames :func:`compute_features` makes for ``num_samples`` of audio in ``band_mode``: the notebook's count
    (:func:`seed_frame_count`) for "seed", else the exact clock's (video as long as the audio within half a frame)."""
    require_choice("band_mode", band_mode, BAND_MODES)
    if band_mode == "seed":
        return seed_frame_count(num_samples, sample_rate, fps)
    return FrameClock.for_duration(num_samples, sample_rate, fps).frame_count


def compute_features(clip: AudioClip, fps=DEFAULTS.fps, *, band_mode: str = DEFAULTS.band_mode,
                     max_frequency_level: float = DEFAULTS.max_frequency_level,
                     low_frequency_skip: float = DEFAULTS.low_frequency_skip,
                     frequency_band_growth_rate: float = DEFAULTS.frequency_band_growth_rate,
                     extra_detail: float = DEFAULTS.extra_detail, band_count: int = DEFAULTS.band_count,
                     beat_tracker: str = DEFAULTS.beat_tracker, beat_model=None, on_progress=None) -> AudioFeatures:
    """Describe ``clip`` frame by frame at ``fps`` (rational; 29.97 -> 30000/1001).

    Curves (float32, finite, in [0, 1]): ``bands`` [N, B] in the chosen ``band_mode``:
    "improved": ``band_count`` log bands from a centred Hann-window STFT, every bin in one band, each normalised by
    its 99th percentile; "seed": the notebook exactly (docs/seed_algorithm.md steps 2-5, its four parameters,
    one-second look-ahead windows, and its frame count, so the video ends about one second before the song);
    "seed_full_length": the same band maths on the exact clock (windows past the end zero-padded).
    Also ``rms``, ``onset`` (spectral flux, frame max), ``beat`` (1 on beats, decaying), ``chroma`` [N, 12] (C..B,
    per-frame max 1), ``harmonic`` and ``percussive`` energies, all on the same clock. Except in "seed" mode the
    frame count makes video and audio lengths agree within one frame. Silence gives zeros.
    ``beat_tracker``: "dsp" (music_map.py), or a Beat This! model (beat_tracking) for the beats, downbeats and
    meter: ``beat_model`` (a loaded beat_tracking.BeatTracker), else loaded (or downloaded) from
    ``$AUDIOWALK_HOME/models/beat_this`` before any analysis.
    ``on_progress(done, total)`` is called between stages (and between the neural tracker's 30 s chunks).
    """
    require_choice("band_mode", band_mode, BAND_MODES)
    require_choice("beat_tracker", beat_tracker, BEAT_TRACKERS)
    validate_clip(clip)
    if beat_tracker != "dsp" and beat_model is None:  # a missing checkpoint stops here, before the long work
        from .beat_tracking import default_search_dirs, load_beat_tracker

        beat_model = load_beat_tracker(beat_tracker, default_search_dirs())
    fps = parse_fps(fps)
    clock = FrameClock.for_duration(clip.num_samples, clip.sample_rate, fps)
    mono = clip.mono_reader()  # read in blocks: a long song's mono mix is never held whole (seed modes excepted)
    sample_rate = clip.sample_rate
    stages = 4 if beat_tracker == "dsp" else 5
    report = on_progress or (lambda done, total: None)
    report(0, stages)

    if band_mode in ("seed", "seed_full_length"):
        if band_mode == "seed":
            clock = clock.with_frame_count(seed_frame_count(clip.num_samples, sample_rate, fps))
            if clock.frame_count == 0:
                raise AudioWalkInputError(
                    "audio", f"{clip.num_samples} samples at {sample_rate} Hz are too short for band_mode seed "
                    "(its frames need a whole one-second window)",
                    f"at least {sample_rate + 2} samples, or band_mode seed_full_length / improved")
        bands, edges_pairs = seed_band_energies(clip.mono(), sample_rate, max_frequency_level, low_frequency_skip,
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

    tables = _StftTables(mono, sample_rate, stft_band_edges, clock=clock)
    times = tables.frame_times()
    frame_rate = sample_rate / tables.hop
    report(2, stages)

    if band_mode == "improved":
        bands = _normalise_columns(tables.video_bands.means() if tables.video_bands is not None
                                   else _to_video_frames(tables.bands, times, clock))
    onset_rows = onset_strength(tables.log_bands)
    onset_times = tables.onset_times()
    chroma_frames = tables.video_chroma.means() if tables.video_chroma is not None \
        else _to_video_frames(tables.chroma, times, clock)
    if tables.chroma is not None:
        chroma_rows = tables.chroma
    else:  # kept per video frame only (long songs): each STFT row reads its video frame's chroma, block by block
        chroma_rows = FrameRowsView(chroma_frames, len(times),
                                    lambda first, stop: clock.frame_at_seconds(times[first:stop]))
    neural = None
    if beat_tracker != "dsp":  # once per song: a node's output is cached across the chunks of a render
        neural = beat_model.beats_of(mono, clip.num_samples, sample_rate, lambda done, total: report(2, stages))
        neural = (neural.beat_seconds, neural.downbeat_seconds)
        report(3, stages)
    music = analyse_music_map(tables.log_bands, chroma_rows, times, tables.n_fft / sample_rate,  # beats, bars,
                              _log_band_matrix(sample_rate, tables.n_fft)[0] * sample_rate / tables.n_fft,  # sections
                              clip.num_samples / sample_rate, beats=neural)
    del chroma_rows
    tempo = music.tempo_bpm
    beat_frames = np.unique(clock.frame_at_seconds(music.beat_seconds)) if len(music.beat_seconds) \
        else np.zeros(0, np.int64)
    onset = _normalise_columns(_to_video_frames(onset_rows[:, None], onset_times, clock, how="max"))[:, 0]
    chroma_peak = chroma_frames.max(axis=1, keepdims=True)
    loud_enough = chroma_peak > 1e-10
    chroma = np.where(loud_enough, chroma_frames / np.where(loud_enough, chroma_peak, 1.0), 0.0).astype(np.float32)
    harmonic_rows, percussive_rows = _harmonic_percussive(tables.log_bands, frame_rate)
    hp = _normalise_columns(_to_video_frames(np.stack([harmonic_rows, percussive_rows], 1), times, clock))
    report(stages - 1, stages)

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
    return attach_music_map(AudioFeatures(
        clock=clock, curves=curves, beat_frames=beat_frames.astype(np.int64), tempo_bpm=float(tempo),
        band_edges_hz=np.asarray(band_edges_hz, np.float64), band_mode=band_mode,
        warnings=tuple(filter(None, [silence_warning(clip)])), song_samples=clip.num_samples), music)
