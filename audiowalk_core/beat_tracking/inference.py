"""Beat This! inference over a whole song: the spectrogram in overlapping chunks through the network, the chunks'
logits joined, and the published "minimal" post-processing to beat and downbeat times.

Chunks (as the published inference does it): 1500 frames (30 s) each; the network's predictions are not trusted
within ``border`` = 6 frames of a chunk's edges, so chunk starts step by 1500 - 2 x 6 frames from -6 (the first
chunk zero-padded by 6 frames), the last chunk is moved back to end 6 frames past the song's end, and where
chunks overlap the earlier chunk's logits are kept. A song of at most 1488 frames is one chunk of its own length
plus the two borders. Frames no chunk covers keep the logit -1000 (probability 0).

Post-processing ("minimal", no DBN): a frame is a beat (downbeat) when its logit is above 0 and is the largest
within +-3 frames (+-60 ms); runs of such frames one frame apart are merged into their mean (a running mean,
compared with each next frame); frame f is at f / 50 s. Each downbeat then moves to its nearest beat, and
duplicates are dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .spectrogram import FRAME_RATE

CHUNK_FRAMES = 1500
BORDER_FRAMES = 6
PEAK_HALF_WIDTH = 3  # frames each side of a peak: a max-pool of 7
NO_LOGIT = -1000.0


@dataclass(frozen=True)
class NeuralBeats:
    """Beat and downbeat times in seconds (float64, increasing; every downbeat is a beat), and the network's
    per-frame logits at 50 frames/s (float32 ``[frames]``) they came from."""

    beat_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    downbeat_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    beat_logits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    downbeat_logits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))


def chunk_starts(frames: int, chunk: int = CHUNK_FRAMES, border: int = BORDER_FRAMES) -> np.ndarray:
    """First frame (may be negative: zero padding) of each chunk covering ``frames`` frames."""
    starts = np.arange(-border, frames - border, chunk - 2 * border)
    if frames > chunk - 2 * border:
        starts[-1] = frames - (chunk - border)
    return starts


def chunk_of(spect: np.ndarray, start: int, chunk: int = CHUNK_FRAMES, border: int = BORDER_FRAMES) -> np.ndarray:
    """Frames ``[start, start + chunk)`` of ``spect`` [frames, bands], zeros before frame 0 and at most ``border``
    zero frames past the end."""
    frames = len(spect)
    left = max(0, -start)
    right = max(0, min(border, start + chunk - frames))
    part = spect[max(start, 0):min(start + chunk, frames)]
    if left or right:
        part = np.pad(part, ((left, right), (0, 0)))
    return part


def frame_logits(network, spect: np.ndarray, device=None, chunks_per_batch: int = 1, on_progress=None,
                 chunk: int = CHUNK_FRAMES, border: int = BORDER_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """``(beat, downbeat)`` logits (float32 ``[frames]``) of the log-mel spectrogram ``spect`` [frames, 128] by
    ``network`` on ``device`` (default: where its weights are), ``chunks_per_batch`` chunks per forward pass
    (the same logits; more is faster on a GPU). ``on_progress(done_chunks, total_chunks)`` after each batch."""
    import torch

    frames = len(spect)
    beat = np.full(frames, NO_LOGIT, np.float32)
    downbeat = np.full(frames, NO_LOGIT, np.float32)
    starts = chunk_starts(frames, chunk, border) if frames else np.zeros(0, np.int64)
    if device is None:
        device = next(network.parameters()).device
    batch = max(int(chunks_per_batch), 1)
    covered = 0  # frames before this hold an earlier chunk's logits, which win where chunks overlap
    with torch.inference_mode():
        for first in range(0, len(starts), batch):
            indices = range(first, min(first + batch, len(starts)))
            parts = [chunk_of(spect, int(starts[i]), chunk, border) for i in indices]
            inputs = torch.from_numpy(np.stack(parts)).to(device=device, dtype=torch.float32)
            beat_out, downbeat_out = (out.float().cpu().numpy() for out in network(inputs))
            for row, index in enumerate(indices):
                start = int(starts[index])
                lo, stop = max(start + border, covered), min(start + chunk - border, frames)
                offset = lo - start  # the chunk's own frame index of ``lo``
                beat[lo:stop] = beat_out[row, offset:offset + stop - lo]
                downbeat[lo:stop] = downbeat_out[row, offset:offset + stop - lo]
                covered = max(covered, stop)
            if on_progress is not None:
                on_progress(indices[-1] + 1, len(starts))
    return beat, downbeat


def peak_frames(logits: np.ndarray) -> np.ndarray:
    """Frame positions (float64, merged runs may fall between frames) of the peaks of ``logits`` (see the module)."""
    logits = np.asarray(logits, np.float32)
    if len(logits) == 0:
        return np.zeros(0)
    padded = np.pad(logits, PEAK_HALF_WIDTH, constant_values=-np.inf)
    local_max = np.lib.stride_tricks.sliding_window_view(padded, 2 * PEAK_HALF_WIDTH + 1).max(axis=1)
    return merge_adjacent(np.nonzero((logits == local_max) & (logits > 0))[0])


def merge_adjacent(frames, width: int = 1) -> np.ndarray:
    """Runs of frames where each next frame is at most ``width`` from the run's running mean -> that mean."""
    merged = []
    mean, count = None, 0
    for frame in (int(f) for f in frames):
        if mean is not None and frame - mean <= width:
            count += 1
            mean += (frame - mean) / count
        else:
            if mean is not None:
                merged.append(mean)
            mean, count = float(frame), 1
    if mean is not None:
        merged.append(mean)
    return np.asarray(merged, np.float64)


def beats_from_logits(beat_logits: np.ndarray, downbeat_logits: np.ndarray,
                      frame_rate: float = FRAME_RATE) -> tuple[np.ndarray, np.ndarray]:
    """``(beat_seconds, downbeat_seconds)`` of per-frame logits by the minimal post-processing (see the module):
    downbeats snapped to their nearest beat (the earlier one on a tie), unique, increasing."""
    beats = peak_frames(beat_logits) / frame_rate
    downbeats = peak_frames(downbeat_logits) / frame_rate
    if len(beats) and len(downbeats):
        nearest = np.argmin(np.abs(beats[None, :] - downbeats[:, None]), axis=1)
        downbeats = np.unique(beats[nearest])
    elif len(downbeats):
        downbeats = np.unique(downbeats)
    return beats, downbeats


def track_beats(network, spect: np.ndarray, device=None, chunks_per_batch: int = 1, on_progress=None) -> NeuralBeats:
    """Beats and downbeats of a song's log-mel spectrogram (spectrogram.log_mel_spectrogram) by ``network``."""
    beat, downbeat = frame_logits(network, spect, device, chunks_per_batch, on_progress)
    beat_seconds, downbeat_seconds = beats_from_logits(beat, downbeat)
    return NeuralBeats(beat_seconds, downbeat_seconds, beat, downbeat)
