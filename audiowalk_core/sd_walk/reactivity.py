"""How strongly a render's picture follows the music: the correlation of frame-to-frame picture change with onset
strength, and the lag (frames) where it peaks.

``change[i]`` = mean absolute difference between frame i and frame i - 1 (pixel values in [0, 1]; change[0] = 0).
For each lag L in 0..max_lag the Pearson correlation of ``change[L + i]`` with ``onset[i]``: the picture reacting
L frames after the onset. A render whose picture jumps exactly on the onsets scores near 1 at lag 0; one that
ignores the music scores near 0. Chunked renders feed :class:`ReactivityMeter` chunk by chunk (memory: one float
per frame plus the last frame of the previous chunk).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

DEFAULT_MAX_LAG = 8  # frames: 0.27 s at 30 fps


def frame_changes(frames, previous=None) -> np.ndarray:
    """float64 [N]: mean |frame i - frame i-1| of frames [N, H, W, C] (torch or numpy, float in [0, 1] or uint8);
    row 0 compares with ``previous`` (the frame before, [H, W, C]) or is 0 without one."""
    import torch

    tensor = torch.as_tensor(frames)
    tensor = tensor.float() / 255.0 if tensor.dtype == torch.uint8 else tensor.float()
    out = np.zeros(int(tensor.shape[0]), np.float64)
    if tensor.shape[0] > 1:
        out[1:] = (tensor[1:] - tensor[:-1]).abs().flatten(1).mean(1).double().cpu().numpy()
    if previous is not None and tensor.shape[0]:
        before = torch.as_tensor(previous)
        before = before.float() / 255.0 if before.dtype == torch.uint8 else before.float()
        if tuple(before.shape) == tuple(tensor.shape[1:]):
            out[0] = float((tensor[0] - before).abs().mean())
    return out


@dataclass(frozen=True)
class Reactivity:
    """``correlation`` at ``lag_frames`` (the lag of the highest correlation), ``by_lag`` every lag's value."""

    correlation: float
    lag_frames: int
    lag_seconds: float
    by_lag: tuple

    def describe(self) -> str:
        return (f"reactivity: picture change vs onsets r = {self.correlation:+.2f} at lag {self.lag_frames} "
                f"frames ({self.lag_seconds * 1000:.0f} ms)")


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3:
        return 0.0
    a = a - a.mean()
    b = b - b.mean()
    scale = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / scale) if scale > 0 else 0.0


def reactivity(changes, onset, fps: float, max_lag: int = DEFAULT_MAX_LAG) -> Reactivity:
    """The reactivity of per-frame ``changes`` [N] against ``onset`` [N] (same frame clock); frame 0 is left out
    (it has no change)."""
    changes = np.asarray(changes, np.float64)
    onset = np.asarray(onset, np.float64)[:len(changes)]
    count = min(len(changes), len(onset))
    by_lag = []
    for lag in range(0, max(0, int(max_lag)) + 1):
        stop = count - lag
        by_lag.append(_pearson(changes[1 + lag:count], onset[1:stop]) if stop > 1 else 0.0)
    best = int(np.argmax(by_lag)) if by_lag else 0
    return Reactivity(by_lag[best] if by_lag else 0.0, best, best / float(fps), tuple(by_lag))


class ReactivityMeter:
    """Frame changes of the renders seen so far, by render id (at most ``keep`` renders), filled chunk by chunk."""

    def __init__(self, keep: int = 4):
        self.keep = int(keep)
        self.renders: OrderedDict = OrderedDict()

    def add(self, render_id: str, total_frames: int, start_frame: int, frames) -> None:
        entry = self.renders.get(render_id)
        if entry is None or len(entry["changes"]) != int(total_frames):
            entry = {"changes": np.zeros(int(total_frames)), "seen": np.zeros(int(total_frames), bool),
                     "last": {}}
            self.renders[render_id] = entry
            while len(self.renders) > self.keep:
                self.renders.popitem(last=False)
        start = int(start_frame)
        previous = entry["last"].get(start - 1)
        changes = frame_changes(frames, previous)
        stop = start + len(changes)
        entry["changes"][start:stop] = changes
        entry["seen"][start:stop] = True
        if previous is None and start > 0:
            entry["seen"][start] = False  # no frame before this chunk: its first change is unknown
        entry["last"] = {stop - 1: np.asarray(frames[-1]).copy()} if len(changes) else {}

    def result(self, render_id: str, onset, fps: float, max_lag: int = DEFAULT_MAX_LAG):
        """``(Reactivity, (first, stop))`` over the longest run of frames seen with known changes (a render resumed
        in a fresh process has not seen its first chunks); None for an unknown render or a run too short for the
        lags (under ``max_lag + 3`` frames)."""
        entry = self.renders.get(render_id)
        if entry is None:
            return None
        seen = entry["seen"]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], seen.astype(np.int8), [0]])))
        runs = list(zip(edges[::2], edges[1::2]))
        if not runs:
            return None
        first, stop = max(runs, key=lambda run: run[1] - run[0])
        if stop - first < int(max_lag) + 3:
            return None
        onset = np.asarray(onset, np.float64)
        return reactivity(entry["changes"][first:stop], onset[first:stop], fps, max_lag), (int(first), int(stop))


REACTIVITY_PIXELS = 64  # frames are measured at about 64 px (every n-th pixel): the figure, not the detail
_SAVED_RENDERS = ReactivityMeter()


def reactivity_line(images, onset, fps: float, chunk=None, meter: ReactivityMeter = _SAVED_RENDERS) -> str:
    """Save Music Video's reactivity text for ``images`` [N, H, W, 3] (torch or numpy): for one save over its
    frames; for a chunk (a RenderChunk) over the render's frames seen so far in this process, with the range it
    covers ("whole song", or "frames a-b"); "" when too few frames are known yet."""
    step = max(1, int(images.shape[1]) // REACTIVITY_PIXELS)
    small = images[:, ::step, ::step]
    onset = np.asarray(onset, np.float64)
    if chunk is None:
        return reactivity(frame_changes(small), onset[:int(images.shape[0])], fps).describe()
    meter.add(chunk.render_id, chunk.total_frames, chunk.start_frame, small)
    found = meter.result(chunk.render_id, onset, fps)
    if found is None:
        return ""
    figure, (first, stop) = found
    scope = "whole song" if (first, stop) == (0, int(chunk.total_frames)) else f"frames {first}-{stop - 1}"
    return f"{figure.describe()} ({scope})"


def video_frame_changes(video_path, width: int = 64) -> tuple[np.ndarray, float]:
    """``(frame changes [N], fps)`` of an mp4, decoded at ``width`` px (streaming: one frame held at a time)."""
    import av

    changes, previous = [], None
    with av.open(str(video_path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        for frame in container.decode(stream):
            height = max(2, round(frame.height * width / frame.width))
            pixels = frame.reformat(width=width, height=height, format="rgb24").to_ndarray().astype(np.float32) / 255
            changes.append(0.0 if previous is None else float(np.abs(pixels - previous).mean()))
            previous = pixels
    return np.asarray(changes, np.float64), fps


def video_reactivity(video_path, onset, max_lag: int = DEFAULT_MAX_LAG) -> Reactivity:
    """The reactivity of a rendered mp4 against the onset curve of its song (on the video's frame clock)."""
    changes, fps = video_frame_changes(video_path)
    count = min(len(changes), len(onset))
    return reactivity(changes[:count], np.asarray(onset)[:count], fps, max_lag)
