"""Separation by a network that sees one segment at a time (HTDemucs), in memory bounded by the segment, not the song.

What demucs' ``apply_model`` does (split, overlap, shifts), written for streams:

- The mix is read in blocks, converted to the model's rate (block-exact polyphase resampling, resample.py) and
  channels (mono doubled, more than two: the first two), and normalised by the mean and standard deviation of its
  mono sum over the whole song (one reading pass first), as demucs' Separator does.
- Segments of ``segment`` samples start every ``(1 - overlap) * segment`` samples. A segment that runs past the end
  is centred in a full-length window (more of the song before it, zeros after) and the network's output trimmed back
  to it. Outputs are cross-faded with triangular weights (peak in the middle of each segment), normalised by the sum
  of weights at each sample.
- As soon as no later segment reaches a sample, it is final: it is scaled back, resampled to the mix's rate and
  handed to ``write`` (the cache's stem files), so the song's stems never exist in memory at once.
- ``shifts`` > 0 averages that many passes, each over the song delayed by a random 0 to 0.5 s (seeded), run in
  lockstep so they too stay bounded.

``MODEL_CALLS`` counts the network's forward calls (one per segment and pass) in this process.
"""
from __future__ import annotations

import threading

import numpy as np

from .resample import Resampled, StreamingResampler, rate_ratio

DEFAULT_OVERLAP = 0.25
MAX_SHIFT_SECONDS = 0.5


class CallCounter:
    """A thread-safe count (``value``) of the network's forward calls."""

    def __init__(self):
        self.value = 0
        self._lock = threading.Lock()

    def add(self, count: int = 1) -> None:
        with self._lock:
            self.value += int(count)


MODEL_CALLS = CallCounter()


def model_rate_reader(clip, model_rate: int, model_channels: int = 2) -> Resampled:
    """The mix as the network hears it: ``read(a, b)`` -> float32 [model_channels, b - a] at ``model_rate`` (zeros
    outside the song), read from ``clip`` (in memory or on disk) a block at a time."""
    samples, count = clip.samples, clip.num_samples

    def native(first: int, stop: int) -> np.ndarray:
        out = np.zeros((model_channels, stop - first), np.float32)
        lo, hi = max(first, 0), min(stop, count)
        if hi > lo:
            part = np.asarray(samples[:, lo:hi], np.float32)
            if part.shape[0] < model_channels:  # mono: the same signal on every channel
                part = np.repeat(part[:1], model_channels, axis=0)
            out[:, lo - first:hi - first] = part[:model_channels]
        return out

    return Resampled(native, count, *rate_ratio(clip.sample_rate, model_rate))


def mix_statistics(reader: Resampled, block: int = 1 << 20) -> tuple[float, float]:
    """``(mean, std + 1e-8)`` of the channel mean of the whole converted mix (std with Bessel's correction)."""
    total = total_squares = 0.0
    for first in range(0, reader.length, block):
        mono = reader.read(first, min(first + block, reader.length)).astype(np.float64).mean(axis=0)
        total += float(mono.sum())
        total_squares += float(np.dot(mono, mono))
    count = max(reader.length, 2)
    mean = total / count
    variance = max(total_squares - count * mean * mean, 0.0) / (count - 1)
    return mean, float(np.sqrt(variance)) + 1e-8


def triangle_weights(length: int, power: float = 1.0) -> np.ndarray:
    """Cross-fade weights of a segment: 1, 2, ... up to the middle and down again, divided by the peak."""
    weights = np.concatenate([np.arange(1, length // 2 + 1), np.arange(length - length // 2, 0, -1)])
    return ((weights / weights.max()) ** power).astype(np.float32)


class _Pass:
    """One pass over the song delayed by ``lead`` samples (a shift): runs segments as output is asked for and
    keeps only the samples some later segment still adds to. ``take(n)`` -> the next n samples
    [sources, channels, n] aligned with the mix (normalised scale)."""

    def __init__(self, run, read_normalised, length: int, segment: int, stride: int, lead: int, sources: int,
                 channels: int):
        self.run, self.read = run, read_normalised
        self.length, self.segment, self.stride, self.lead = length, segment, stride, lead
        self.total = length + lead  # samples of the delayed signal
        self.accumulated = np.zeros((sources, channels, segment), np.float32)
        self.weight_sum = np.zeros(segment, np.float32)
        self.weights = triangle_weights(segment)
        self.next_segment = 0
        self.position = 0  # delayed-signal index of accumulated[..., 0]
        self.ready: list[np.ndarray] = []
        self.ready_count = 0

    @property
    def segments(self) -> int:
        return -(-self.total // self.stride)

    def _run_segment(self) -> None:
        offset = self.next_segment * self.stride
        count = min(self.segment, self.total - offset)
        delta = self.segment - count
        start = offset - delta // 2  # a short last segment is centred in a full window
        window = self._window(start)
        out = self.run(window)[..., delta // 2:delta // 2 + count]
        self.accumulated[..., :count] += self.weights[:count] * out
        self.weight_sum[:count] += self.weights[:count]
        final = count if offset + self.stride >= self.total else self.stride
        done = self.accumulated[..., :final] / self.weight_sum[:final]
        skip = max(self.lead - offset, 0)  # the delay's leading samples are not the song's
        if final > skip:
            self.ready.append(done[..., skip:])
            self.ready_count += final - skip
        self.accumulated = np.concatenate([self.accumulated[..., final:], np.zeros_like(self.accumulated[..., :final])],
                                          axis=-1)
        self.weight_sum = np.concatenate([self.weight_sum[final:], np.zeros(final, np.float32)])
        self.position += final
        self.next_segment += 1

    def _window(self, start: int) -> np.ndarray:
        """The delayed, normalised signal over [start, start + segment) (zeros before the song and after it)."""
        return self.read(start - self.lead, start - self.lead + self.segment)

    def take(self, count: int) -> np.ndarray:
        while self.ready_count < count:
            self._run_segment()
        joined = np.concatenate(self.ready, axis=-1) if len(self.ready) > 1 else self.ready[0]
        rest = joined[..., count:]
        self.ready, self.ready_count = ([rest] if rest.shape[-1] else []), rest.shape[-1]
        return joined[..., :count]


def separate_segments(clip, run, *, sources, model_rate: int, segment: int, write, on_progress=None,
                      overlap: float = DEFAULT_OVERLAP, shifts: int = 0, seed: int = 0, model_channels: int = 2):
    """Separate ``clip`` (AudioClip, in memory or on disk) with ``run(window float32 [model_channels, segment]) ->
    float32 [sources, model_channels, segment]`` (the network on one normalised segment), calling
    ``write({source: float32 [channels, n]})`` with consecutive blocks at the clip's rate (channels: 1 for a mono
    clip, else ``model_channels``) until exactly ``clip.num_samples`` samples per source are written.
    ``on_progress(done, total)`` after every segment (its exception, a cancel, stops everything).
    Returns the number of segments run."""
    reader = model_rate_reader(clip, model_rate, model_channels)
    mean, std = mix_statistics(reader)
    stride = max(int((1 - overlap) * segment), 1)

    def read_normalised(first: int, stop: int) -> np.ndarray:
        out = np.zeros((model_channels, stop - first), np.float32)
        lo, hi = max(first, 0), min(stop, reader.length)
        if hi > lo:  # zeros (the normalised silence) outside the song, as demucs pads the normalised mix
            out[:, lo - first:hi - first] = (reader.read(lo, hi) - mean) / std
        return out

    count = 0
    total_segments = 0
    report = on_progress or (lambda done, total: None)

    def counted_run(window):
        nonlocal count
        out = run(window)
        count += 1
        report(count, total_segments)
        return out

    leads = [0]
    if shifts:
        max_shift = int(MAX_SHIFT_SECONDS * model_rate)
        leads = [max_shift - int(offset) for offset in
                 np.random.default_rng(int(seed)).integers(0, max_shift, size=int(shifts), endpoint=True)]
    passes = [_Pass(counted_run, read_normalised, reader.length, segment, stride, lead, len(sources),
                    model_channels) for lead in leads]
    total_segments = sum(p.segments for p in passes)
    report(0, total_segments)
    out_channels = 1 if clip.channels == 1 else model_channels
    back = StreamingResampler(len(sources) * out_channels, reader.length, *rate_ratio(model_rate, clip.sample_rate))
    written = 0

    def emit(block: np.ndarray) -> None:
        nonlocal written
        block = block[:, :clip.num_samples - written]
        if block.shape[1]:
            shaped = block.reshape(len(sources), out_channels, -1)
            write({name: shaped[index] for index, name in enumerate(sources)})
            written += block.shape[1]

    for first in range(0, reader.length, stride):
        size = min(stride, reader.length - first)
        estimate = sum(p.take(size) for p in passes) / len(passes)
        estimate = estimate * std + mean
        if out_channels == 1:
            estimate = estimate.mean(axis=1, keepdims=True)
        emit(back.push(estimate.reshape(len(sources) * out_channels, size)))
    emit(back.finish())
    if written < clip.num_samples:  # a resampled length one sample short of the mix's
        emit(np.zeros((len(sources) * out_channels, clip.num_samples - written), np.float32))
    return count
