"""Per-video-frame means of STFT-rate rows, accumulated a block of rows at a time (analysis of long songs).

``_to_video_frames(values, times, clock)`` in analysis.py averages a whole table of STFT rows [rows, K] onto the video
frames; :class:`VideoFrameMeans` gives the same numbers (the same float64 sums in the same row order) from blocks of
rows as the STFT makes them, so the table of a long song (86 rows per second at 44.1 kHz) is never held.
"""
from __future__ import annotations

import numpy as np

from .clock import FrameClock


class VideoFrameMeans:
    """Running per-frame sums and counts of rows ``[n, columns]`` with times in seconds; :meth:`means` gives float32
    ``[frames, columns]``. A frame that no row falls in (only possible when fps exceeds the row rate; callers use
    this class below it) takes the nearest frame's mean."""

    def __init__(self, clock: FrameClock, columns: int):
        self.fps = float(clock.fps)
        self.sums = np.zeros((clock.frame_count, columns), np.float64)
        self.counts = np.zeros(clock.frame_count, np.float64)

    def add(self, values: np.ndarray, times: np.ndarray) -> None:
        frame_of_row = np.floor(times * self.fps + 1e-9).astype(np.int64)
        keep = (frame_of_row >= 0) & (frame_of_row < len(self.counts))
        np.add.at(self.sums, frame_of_row[keep], values[keep])
        self.counts += np.bincount(frame_of_row[keep], minlength=len(self.counts))

    def means(self) -> np.ndarray:
        out = self.sums.copy()
        filled = self.counts > 0
        out[filled] /= self.counts[filled][:, None]
        if not filled.all() and filled.any():
            have = np.flatnonzero(filled)
            nearest = have[np.clip(np.searchsorted(have, np.arange(len(out))), 0, len(have) - 1)]
            out[~filled] = out[nearest[~filled]]
        return out.astype(np.float32)
