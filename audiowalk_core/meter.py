"""Beats with a drifting tempo, downbeats, bars and meter, by DSP (no weights).

1. Local tempo: the autocorrelation of the onset envelope in 8-second windows (one per second), weighted toward
   120 BPM, and a Viterbi path through the tempo candidates that penalises jumps (squared log tempo ratio), so the
   tempo may drift or step and octave errors do not flicker.
2. Beats: Ellis's dynamic programme ("Beat tracking by dynamic programming", JNMR 2007) with the local period in
   place of one global period: beats on strong onsets, each interval close to the tempo of its moment.
3. Downbeats and meter: per beat an accent (low-frequency onset, onset, chord change: z-scored over the song) and
   a Viterbi path over the states (beats per bar 3 or 4, position in the bar) that rewards accented first beats;
   advancing one position per beat is free, a change of meter or phase costs a penalty. The meter is the one the
   path spends most beats in.

Units: ``rows`` are STFT frames of the onset envelope (``frame_rate`` rows per second), periods are rows per beat.
"""
from __future__ import annotations

import math

import numpy as np

from .sections import beat_synchronous

METERS = (3, 4)


def local_beat_periods(onset: np.ndarray, frame_rate: float, min_bpm: float = 60.0, max_bpm: float = 200.0,
                       window_seconds: float = 8.0, hop_seconds: float = 1.0, jump_penalty: float = 8.0,
                       prior_octaves: float = 1.0, window_block: int = 256) -> np.ndarray:
    """Beat period (rows per beat, float64 ``[rows]``) at every row of ``onset``; zeros when nothing pulses.
    The windows' autocorrelations are computed ``window_block`` windows at a time, keeping only the lags read."""
    rows = len(onset)
    if rows < 4 or not np.any(onset > 0):
        return np.zeros(rows)
    lo = max(1, int(math.floor(60.0 * frame_rate / max_bpm)))
    hi = int(math.ceil(60.0 * frame_rate / min_bpm))
    width = min(rows, max(int(window_seconds * frame_rate), 2 * hi + 2))
    hop = max(1, int(hop_seconds * frame_rate))
    starts = np.arange(0, max(rows - width, 0) + 1, hop)
    if starts[-1] + width < rows:
        starts = np.append(starts, rows - width)
    lags = np.arange(lo, min(hi, width - 2) + 1)
    if len(lags) == 0:
        return np.zeros(rows)
    size = 1 << int(math.ceil(math.log2(2 * width)))
    taper = np.hanning(width)
    keep = min(width, 2 * int(lags[-1]) + 2)  # the lags read below: candidates, their doubles, refinement
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(onset, np.float64), width)
    autocorr = np.empty((len(starts), keep))
    for first in range(0, len(starts), window_block):  # a block of windows at a time: memory flat in song length
        segments = windows[starts[first:first + window_block]]
        segments = (segments - segments.mean(axis=1, keepdims=True)) * taper
        spectrum = np.fft.rfft(segments, size, axis=1)
        autocorr[first:first + window_block] = np.fft.irfft(spectrum * np.conj(spectrum), size, axis=1)[:, :keep]
    autocorr /= np.maximum(autocorr[:, :1], 1e-12)
    # a beat period also repeats at twice its lag: reward candidates whose double lag pulses too
    double = np.clip(2 * lags, 0, keep - 1)
    bpm = 60.0 * frame_rate / lags
    prior = np.exp(-0.5 * (np.log2(bpm / 120.0) / prior_octaves) ** 2)
    emission = (autocorr[:, lags] + 0.5 * autocorr[:, double]) * prior  # [windows, candidates]
    log_lags = np.log2(lags.astype(np.float64))
    transition = -jump_penalty * (log_lags[:, None] - log_lags[None, :]) ** 2  # [from, to]
    score = emission[0].copy()
    back = np.zeros((len(starts), len(lags)), np.int64)
    for window in range(1, len(starts)):
        total = score[:, None] + transition
        back[window] = np.argmax(total, axis=0)
        score = total[back[window], np.arange(len(lags))] + emission[window]
    path = np.empty(len(starts), np.int64)
    path[-1] = int(np.argmax(score))
    for window in range(len(starts) - 1, 0, -1):
        path[window - 1] = back[window, path[window]]
    periods = lags[path].astype(np.float64)
    for window, candidate in enumerate(path):  # parabolic refinement of each window's lag
        lag = lags[candidate]
        if 1 <= lag < keep - 1:
            a, b, c = autocorr[window, lag - 1:lag + 2]
            denom = a - 2 * b + c
            if denom < 0:
                periods[window] = lag + float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
    centres = starts + width / 2.0
    return np.interp(np.arange(rows), centres, periods)


def track_beats_drifting(onset: np.ndarray, periods: np.ndarray, tightness: float = 100.0) -> np.ndarray:
    """Beat rows (int64, increasing) by dynamic programming with a per-row beat period ``periods`` [rows]."""
    rows = len(onset)
    if rows == 0 or not np.any(onset > 0) or not np.any(periods > 0):
        return np.zeros(0, np.int64)
    strength = np.asarray(onset, np.float64) / (np.std(onset) + 1e-12)
    score = strength.copy()
    backlink = np.full(rows, -1, np.int64)
    for t in range(1, rows):
        period = periods[t]
        lo, hi = max(1, int(round(period / 2))), min(t, int(round(2 * period)))
        if hi < lo:
            continue
        offsets = np.arange(lo, hi + 1)
        candidates = score[t - offsets] - tightness * np.log(offsets / period) ** 2
        best = int(np.argmax(candidates))
        if candidates[best] > 0:
            score[t] += candidates[best]
            backlink[t] = t - offsets[best]
    tail = max(0, rows - int(round(periods[-1])))
    beats = [tail + int(np.argmax(score[tail:]))]
    while backlink[beats[-1]] >= 0:
        beats.append(int(backlink[beats[-1]]))
    beats = np.asarray(beats[::-1], np.int64)
    if len(beats) > 2:  # drop weak beats at the edges (before the music starts, after it stops)
        local = np.array([strength[max(b - 2, 0):b + 3].max() for b in beats])
        strong = np.nonzero(local > 0.1 * np.percentile(strength, 99))[0]  # against the song, not its beats
        beats = beats[strong[0]:strong[-1] + 1] if len(strong) else beats[:0]
        # The programme chains beats through silence at no cost: when most beats fall on nothing (a steady tone
        # with a click at each end, a drone), there is no pulse at all.
        audible = local[strong[0]:strong[-1] + 1] > 1e-3 * strength.max() if len(strong) else local[:0]
        if len(beats) > 2 and audible.mean() < 0.5:
            beats = beats[:0]
    return beats


def _zscore(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 1e-12 else np.zeros_like(values)


def beat_accents(beat_rows: np.ndarray, onset: np.ndarray, low_power: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """How much each beat sounds like the first of a bar (float64 ``[beats]``, z-scored sum): the rise of the
    energy below 200 Hz (``low_power`` [rows]: kick, bass), the onset strength at the beat, and the change of
    chroma from the previous beat interval to this one (chords change on the bar)."""
    count = len(beat_rows)
    if count == 0:
        return np.zeros(0)
    low_db = 10.0 * np.log10(np.maximum(np.asarray(low_power, np.float64), 1e-10))
    low_db = np.maximum(low_db, low_db.max() - 80.0)
    low_rise = np.maximum(np.diff(low_db, prepend=low_db[:1]), 0.0)
    rows = len(onset)
    near = [slice(max(int(b) - 2, 0), min(int(b) + 4, rows)) for b in beat_rows]
    low_accent = np.array([low_rise[s].max() if s.stop > s.start else 0.0 for s in near])
    onset_accent = np.array([onset[s].max() if s.stop > s.start else 0.0 for s in near])
    edges = np.append(beat_rows, min(rows, int(beat_rows[-1]) + int(np.median(np.diff(beat_rows)))
                                     if count > 1 else rows))
    means = beat_synchronous(chroma, edges)  # each beat interval's mean chroma, read a block of rows at a time
    norms = np.linalg.norm(means, axis=1) + 1e-12
    unit = means / norms[:, None]
    change = np.zeros(count)
    change[1:] = 1.0 - np.sum(unit[1:] * unit[:-1], axis=1)
    return _zscore(low_accent) + 0.5 * _zscore(onset_accent) + _zscore(change)


def bar_positions(accents: np.ndarray, meters=METERS, switch_penalty: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Viterbi over (beats per bar, position) states: ``(position [beats] int, meter [beats] int)``, position 0 on
    downbeats. A first beat scores its accent, any other beat minus its accent shared over the bar's other beats."""
    count = len(accents)
    states = [(m, k) for m in meters for k in range(m)]
    if count == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    emission = np.array([[a if k == 0 else -a / (m - 1) for (m, k) in states] for a in accents])
    follow = np.array([states.index((m, (k + 1) % m)) for (m, k) in states])
    n = len(states)
    transition = np.full((n, n), -switch_penalty)
    transition[np.arange(n), follow] = 0.0
    score = emission[0].copy()
    back = np.zeros((count, n), np.int64)
    for beat in range(1, count):
        total = score[:, None] + transition
        back[beat] = np.argmax(total, axis=0)
        score = total[back[beat], np.arange(n)] + emission[beat]
    path = np.empty(count, np.int64)
    path[-1] = int(np.argmax(score))
    for beat in range(count - 1, 0, -1):
        path[beat - 1] = back[beat, path[beat]]
    return (np.array([states[s][1] for s in path], np.int64), np.array([states[s][0] for s in path], np.int64))


def f_measure(reference_seconds, estimated_seconds, tolerance_seconds: float = 0.07) -> float:
    """Event F-measure: events matched one to one within ``tolerance_seconds`` (the MIREX beat evaluation's
    70 ms window; greedy matching in time order, which is maximal when the window is under half an interval)."""
    reference = np.sort(np.asarray(reference_seconds, np.float64))
    estimated = np.sort(np.asarray(estimated_seconds, np.float64))
    if len(reference) == 0 and len(estimated) == 0:
        return 1.0
    if len(reference) == 0 or len(estimated) == 0:
        return 0.0
    matched, i, j = 0, 0, 0
    while i < len(reference) and j < len(estimated):
        difference = estimated[j] - reference[i]
        if abs(difference) <= tolerance_seconds:
            matched, i, j = matched + 1, i + 1, j + 1
        elif difference < 0:
            j += 1
        else:
            i += 1
    precision, recall = matched / len(estimated), matched / len(reference)
    return 0.0 if matched == 0 else 2 * precision * recall / (precision + recall)
