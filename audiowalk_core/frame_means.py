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


class DiskRows:
    """A float32 table ``[rows, columns]`` in an anonymous temporary file (gone when closed or collected), written
    and read by row slices: ``table[a:b] = block``, ``table[a:b]`` (a fresh array), ``len``, ``shape``, ``max()``.
    For per-STFT-row tables of long songs (analysis' log bands: 115 MiB per hour at 44.1 kHz), which are read in
    blocks."""

    dtype = np.dtype(np.float32)

    def __init__(self, rows: int, columns: int, block_rows: int = 8192):
        import tempfile

        self.shape = (int(rows), int(columns))
        self.block_rows = block_rows
        self._file = tempfile.TemporaryFile()
        self._file.truncate(self.shape[0] * self.shape[1] * 4)

    def __len__(self) -> int:
        return self.shape[0]

    def _rows(self, key: slice) -> tuple[int, int]:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("DiskRows takes row slices [first:stop]")
        first, stop, _ = key.indices(self.shape[0])
        return first, max(stop, first)

    def __setitem__(self, key: slice, block: np.ndarray) -> None:
        import os

        first, stop = self._rows(key)
        data = np.ascontiguousarray(np.broadcast_to(block, (stop - first, self.shape[1])), np.float32)
        os.pwrite(self._file.fileno(), data.tobytes(), first * self.shape[1] * 4)

    def __getitem__(self, key: slice) -> np.ndarray:
        import os

        first, stop = self._rows(key)
        out = np.empty((stop - first, self.shape[1]), np.float32)
        view, offset = memoryview(out).cast("B"), first * self.shape[1] * 4
        while view.nbytes:
            got = os.preadv(self._file.fileno(), [view], offset)
            if got <= 0:
                raise OSError("DiskRows: the table file ended early")
            view, offset = view[got:], offset + got
        return out

    def max(self) -> float:
        """The largest value (-inf when empty), a block at a time."""
        return max((float(self[first:first + self.block_rows].max()) for first in range(0, len(self), self.block_rows)),
                   default=-np.inf)

    def close(self) -> None:
        self._file.close()


class FrameRowsView:
    """Per-video-frame values read at STFT-row rate without a per-row copy: ``view[a:b]`` gives rows ``a..b-1``,
    each its time's video frame's values (``frames`` [F, K], ``row_frames(first, stop)`` -> frame indices). For long
    songs whose chroma is kept per video frame only; read by row slices, like :class:`DiskRows`."""

    dtype = np.dtype(np.float32)

    def __init__(self, frames: np.ndarray, rows: int, row_frames):
        self.frames = np.asarray(frames, np.float32)
        self.shape = (int(rows),) + self.frames.shape[1:]
        self._row_frames = row_frames

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("FrameRowsView takes row slices [first:stop]")
        first, stop, _ = key.indices(self.shape[0])
        stop = max(stop, first)
        if len(self.frames) == 0:
            return np.zeros((stop - first,) + self.shape[1:], np.float32)
        return self.frames[np.clip(self._row_frames(first, stop), 0, len(self.frames) - 1)]
