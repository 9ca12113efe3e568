"""Polyphase resampling of a long signal a block at a time, sample for sample equal to resampling it whole.

``scipy.signal.resample_poly(x, up, down)`` is zero-phase: output sample j sits at input position j * down / up, and
its filter (Kaiser-windowed sinc, 10 * max(up, down) taps each side at the up-sampled rate) reaches about
10 * max(up, down) / up input samples. So output samples [j0, j1) need only the input from a whole number of
``down``-sample groups before j0 / up to after j1 / up, plus that reach: :func:`resample_range` reads just that (zeros
outside the signal, as resample_poly pads) and cuts the same samples out. A song then never has to be in memory at
either rate: :class:`Resampled` reads any range of the resampled signal, :class:`StreamingResampler` converts a
signal that arrives in order (the separated stems).
"""
from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np


def rate_ratio(from_rate: int, to_rate: int) -> tuple[int, int]:
    """``(up, down)`` in lowest terms: to_rate / from_rate."""
    ratio = Fraction(int(to_rate), int(from_rate))
    return ratio.numerator, ratio.denominator


def resampled_length(count: int, up: int, down: int) -> int:
    """Samples resample_poly gives for ``count`` input samples."""
    return -(-int(count) * up // down)


def _margin_groups(up: int, down: int) -> int:
    """Groups of ``down`` input samples of context on each side covering the filter's reach."""
    reach = 10 * max(up, down) / up + 2
    return math.ceil(reach / down) + 1


@functools.lru_cache(maxsize=8)
def _filter(up: int, down: int) -> np.ndarray:
    """resample_poly's own low-pass (Kaiser 5.0, cutoff 1 / max(up, down), 10 * max(up, down) taps each side),
    designed once per ratio."""
    from scipy.signal import firwin

    rate = max(up, down)
    return firwin(2 * 10 * rate + 1, 1.0 / rate, window=("kaiser", 5.0))


def resample_range(read, up: int, down: int, first: int, stop: int) -> np.ndarray:
    """Output samples ``[first, stop)`` of resample_poly(signal, up, down), float32 [channels, stop - first], from
    ``read(a, b)`` -> the signal's samples [a, b) as [channels, b - a] (zeros where the signal has none)."""
    from scipy.signal import resample_poly

    margin = _margin_groups(up, down)
    low_group = first // up - margin
    high_group = -(-stop // up) + margin
    segment = read(low_group * down, high_group * down)
    out = resample_poly(np.asarray(segment, np.float64), up, down, axis=1, window=_filter(up, down))
    offset = first - low_group * up
    return np.ascontiguousarray(out[:, offset:offset + stop - first], np.float32)


class Resampled:
    """Random access to ``source`` (``read(a, b)`` -> [channels, b - a] of a signal of ``count`` samples, zeros
    outside it) resampled by ``up / down``: ``read(first, stop)`` gives the resampled samples, zeros outside."""

    def __init__(self, read, count: int, up: int, down: int):
        self.source, self.count, self.up, self.down = read, int(count), int(up), int(down)
        self.length = resampled_length(self.count, up, down) if (up, down) != (1, 1) else self.count

    def read(self, first: int, stop: int) -> np.ndarray:
        if (self.up, self.down) == (1, 1):
            return self.source(first, stop)
        lo, hi = max(first, 0), min(stop, self.length)
        inside = resample_range(self.source, self.up, self.down, lo, hi) if hi > lo else None
        if lo == first and hi == stop:
            return inside
        probe = self.source(0, 0)
        out = np.zeros((probe.shape[0], stop - first), np.float32)
        if inside is not None:
            out[:, lo - first:hi - first] = inside
        return out


class StreamingResampler:
    """Resample a signal of ``count`` samples that arrives in order (``push`` blocks of [channels, n]), returning
    the output samples as soon as their input has arrived; ``finish`` returns the rest. Keeps only the input the
    filter still needs (a block plus a few hundred samples)."""

    def __init__(self, channels: int, count: int, up: int, down: int):
        self.channels, self.count, self.up, self.down = int(channels), int(count), int(up), int(down)
        self.total_out = resampled_length(self.count, up, down)
        self.buffer = np.zeros((self.channels, 0), np.float32)
        self.buffer_start = 0  # input index of buffer[:, 0]
        self.received = 0
        self.emitted = 0
        self.margin = _margin_groups(up, down)

    def _read(self, first: int, stop: int) -> np.ndarray:
        out = np.zeros((self.channels, stop - first), np.float32)
        lo, hi = max(first, self.buffer_start), min(stop, self.buffer_start + self.buffer.shape[1])
        if hi > lo:
            out[:, lo - first:hi - first] = self.buffer[:, lo - self.buffer_start:hi - self.buffer_start]
        return out

    def _ready_until(self) -> int:
        """The output index up to which every needed input sample has arrived (or lies past the end)."""
        if self.received >= self.count:
            return self.total_out
        groups = self.received // self.down - self.margin  # output groups whose reach ends inside the input
        return max(min(groups * self.up, self.total_out), self.emitted)

    def push(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, np.float32)
        self.buffer = np.concatenate([self.buffer, block], axis=1) if self.buffer.shape[1] else block.copy()
        self.received += block.shape[1]
        return self._emit()

    def finish(self) -> np.ndarray:
        self.received = max(self.received, self.count)
        return self._emit()

    def _emit(self) -> np.ndarray:
        stop = self._ready_until()
        if stop <= self.emitted:
            return np.zeros((self.channels, 0), np.float32)
        if (self.up, self.down) == (1, 1):
            out = self._read(self.emitted, stop)
        else:
            out = resample_range(self._read, self.up, self.down, self.emitted, stop)
        self.emitted = stop
        keep_from = (stop // self.up - self.margin) * self.down  # the input the next outputs can still reach
        if keep_from > self.buffer_start:
            self.buffer = self.buffer[:, keep_from - self.buffer_start:]
            self.buffer_start = keep_from
        return out
