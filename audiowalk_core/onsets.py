"""Onsets and beats by DSP: the onset envelope (positive spectral flux of band power in dB), a global tempo by
autocorrelation, Ellis's dynamic-programming beat tracker, and the per-frame beat curve. The music map (music_map.py)
and the feature analysis (analysis.py) both read these; neither imports the other for them."""
from __future__ import annotations

import math

import numpy as np


def onset_strength(log_bands: np.ndarray, dynamic_range_db: float = 80.0, block_rows: int = 8192) -> np.ndarray:
    """Positive spectral flux of band power in dB, per STFT frame (>= 0, dB per band on average).

    Power goes to dB relative to the loudest band of the song and is floored ``dynamic_range_db`` below it (as
    librosa's ``onset_strength`` does on a mel spectrogram); the flux is the mean over bands of the rises.
    """
    flux = np.zeros(len(log_bands), np.float32)
    if len(log_bands) < 2:
        return flux
    floor = 10.0 * np.log10(max(float(log_bands.max()), 1e-10)) - dynamic_range_db
    for first in range(0, len(log_bands), block_rows):  # a block of rows (and the row before it) at a time
        low, last = max(first - 1, 0), min(first + block_rows, len(log_bands))
        decibels = 10.0 * np.log10(np.maximum(log_bands[low:last], np.float32(1e-10)))
        np.maximum(decibels, np.float32(floor), out=decibels)
        rises = np.maximum(np.diff(decibels, axis=0), 0.0).mean(axis=1)
        flux[low + 1:last] = rises
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
