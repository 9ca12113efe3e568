"""Song sections with repeat labels from self-similarity (beat-synchronous chroma, timbre and rhythm).

Method: Foote's novelty ("Automatic audio segmentation using a measure of audio novelty", ICME 2000): a
Gaussian-tapered checkerboard kernel slid along the diagonal of a beat-by-beat self-similarity matrix; its peaks
are the boundaries, snapped to the nearest downbeat. Labels: each segment is compared with the earlier ones by the
mean similarity of their block of the matrix, normalised by the segments' own blocks (a repeat of a section is as
similar to it as it is to itself); a segment takes the label of the most similar earlier one when that ratio
passes ``repeat_threshold``, else a new letter (A, B, C ... in order of first appearance).

Features per beat interval: chroma (12: the pitch-class distribution minus the song's mean), timbre (12 cepstral
coefficients and the level of the log band energies, z-scored over the song), rhythm (onset strength and
low-frequency onset, z-scored). Boundaries come from the mean cosine similarity of timbre and rhythm (a chord
progression cycling inside a section makes chroma novel every bar); labels from the mean of all three.
"""
from __future__ import annotations

import string

import numpy as np


def beat_synchronous(values, edges: np.ndarray, block_rows: int = 8192) -> np.ndarray:
    """Means of ``values`` [rows, ...] over the row ranges ``[edges[i], edges[i + 1])`` -> [len(edges) - 1, ...].
    ``values`` may be any table read by row slices (an array, or analysis' on-disk rows): a block at a time."""
    rows = len(values)
    edges = np.clip(np.asarray(edges, np.int64), 0, rows)
    first_block = np.asarray(values[0:1], np.float64)
    columns = first_block.shape[1:] if first_block.ndim > 1 else (1,)
    sums = np.zeros((len(edges) - 1,) + tuple(columns))
    for first in range(int(edges[0]), int(edges[-1]), block_rows):
        last = min(first + block_rows, int(edges[-1]))
        block = np.asarray(values[first:last], np.float64).reshape((last - first,) + tuple(columns))
        segment = np.searchsorted(edges, np.arange(first, last), side="right") - 1
        np.add.at(sums, segment, block)
    widths = np.maximum(np.diff(edges), 1).astype(np.float64)
    return sums / widths.reshape((-1,) + (1,) * len(columns))


def _unit_rows(table: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(table, axis=1, keepdims=True)
    return np.where(norms > 1e-12, table / np.where(norms > 1e-12, norms, 1.0), 0.0)


def _zscore_columns(table: np.ndarray) -> np.ndarray:
    spread = table.std(axis=0, keepdims=True)
    return np.where(spread > 1e-12, (table - table.mean(axis=0, keepdims=True)) / np.where(spread > 1e-12, spread,
                                                                                          1.0), 0.0)


def beat_features(edges: np.ndarray, log_bands: np.ndarray, chroma: np.ndarray, onset: np.ndarray,
                  low_onset: np.ndarray) -> dict:
    """Per-beat-interval feature tables ``{"chroma", "timbre", "rhythm"}`` [beats, K], rows of unit length.
    Chroma is each beat's pitch-class distribution minus the song's mean one (every triad shares most of a raw
    chroma vector; the deviation tells progressions apart)."""
    from scipy.fft import dct

    chroma_beats = beat_synchronous(chroma, edges)
    chroma_beats = chroma_beats / np.maximum(chroma_beats.sum(axis=1, keepdims=True), 1e-12)
    log_power = np.log(np.maximum(beat_synchronous(log_bands, edges), 1e-10))
    cepstrum = dct(log_power, type=2, norm="ortho", axis=1)[:, 1:13]
    timbre = _unit_rows(_zscore_columns(np.hstack([cepstrum, log_power.mean(axis=1, keepdims=True)])))
    rhythm_table = np.hstack([beat_synchronous(onset, edges), beat_synchronous(low_onset, edges)])
    return {"chroma": _unit_rows(chroma_beats - chroma_beats.mean(axis=0, keepdims=True)), "timbre": timbre,
            "rhythm": _unit_rows(_zscore_columns(rhythm_table))}


def foote_novelty(tables, half_width: int) -> np.ndarray:
    """Novelty per beat [beats]: a checkerboard kernel (2 ``half_width`` square, Gaussian taper) along the diagonal
    of the beats' self-similarity (the mean over ``tables`` [beats, K] of unit rows of their cosine similarities);
    high where the past ``half_width`` beats resemble each other but not the next ones. Only the diagonal band is
    computed, from the tables (memory and time linear in the song's length); beats past the ends repeat the first
    and last beat, as an edge-padded matrix would (no false novelty at the song's ends)."""
    tables = [np.asarray(table, np.float64) for table in tables]
    count = len(tables[0]) if tables else 0
    novelty = np.zeros(count)
    if count < 4 or half_width < 1:
        return novelty
    offsets = np.arange(-half_width, half_width) + 0.5
    taper = np.exp(-0.5 * (offsets / (0.5 * half_width)) ** 2)
    sign = np.sign(offsets)
    kernel = np.outer(sign * taper, sign * taper)
    for beat in range(count):
        rows = np.clip(np.arange(beat - half_width, beat + half_width), 0, count - 1)
        block = sum(table[rows] @ table[rows].T for table in tables) / len(tables)
        novelty[beat] = float(np.sum(block * kernel))
    return np.maximum(novelty, 0.0)


def pick_boundaries(novelty: np.ndarray, min_spacing: int, threshold: float = 0.15) -> list[int]:
    """Beat indices of novelty peaks: local maxima over ``min_spacing`` beats each side, above ``threshold`` times
    the largest novelty and above the novelty's median plus its spread; the song's first beat is never one."""
    count = len(novelty)
    if count == 0 or novelty.max() <= 0:
        return []
    floor = max(threshold * novelty.max(), np.median(novelty) + novelty.std())
    peaks = []
    for beat in np.argsort(-novelty):
        if novelty[beat] < floor:
            break
        if beat < min_spacing // 2 or beat > count - min_spacing // 2:
            continue
        if all(abs(beat - other) >= min_spacing for other in peaks):
            peaks.append(int(beat))
    return sorted(peaks)


def repeat_labels(tables, bounds: list[int], repeat_threshold: float = 0.7) -> list[str]:
    """A label per segment ``[bounds[i], bounds[i + 1])`` of beats; repeats alike (see the module's method). The
    mean similarity of two segments' block (mean over ``tables`` of the cosine similarities of their beats) equals
    the dot product of the segments' mean rows, so no beat-by-beat matrix is built."""
    segments = list(zip(bounds[:-1], bounds[1:]))
    mean = np.zeros((len(segments), len(segments)))
    for table in tables:
        table = np.asarray(table, np.float64)
        centres = np.array([table[a:b].mean(axis=0) for (a, b) in segments])
        mean += centres @ centres.T
    mean /= max(len(tables), 1)
    own = np.sqrt(np.maximum(np.outer(np.diag(mean), np.diag(mean)), 1e-12))
    ratio = mean / own
    labels: list[str] = []
    letters = list(string.ascii_uppercase)
    for index in range(len(segments)):
        best, best_ratio = None, repeat_threshold
        for earlier in range(index):
            if ratio[index, earlier] >= best_ratio:
                best, best_ratio = earlier, ratio[index, earlier]
        if best is not None:
            labels.append(labels[best])
        else:
            used = len(set(labels))
            labels.append(letters[used] if used < 26 else f"S{used}")
    return labels
