"""img2img on a chunk's keyframes in sub-batches: memory follows the sub-batch, Cancel acts within one sampler
step, and the first sub-batch gives the render's cost ("about 40 min for this song") before the long work.

Sampling every keyframe of a chunk in one call (61 keyframes at 512 px: 122 latents with classifier-free
guidance) holds the whole batch in memory and never reaches a sampler step on a CPU, so nothing checks for Cancel
for many minutes. Here the keyframes go through ``run_batch`` (scale, VAE encode, sample, VAE decode: ComfyUI's
part, injected) ``keyframes_per_batch`` at a time. The noise stays keyed to each keyframe's absolute frame index
(:mod:`audiowalk_core.frame_noise`), so the sub-batch size changes nothing in the result.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from .errors import AudioWalkInputError

AUTO = 0  # the keyframes_per_batch widget's "choose for me"
MAX_KEYFRAMES_PER_BATCH = 16
# On a CPU one sub-batch step should take seconds, not minutes: at most this many output pixels per sub-batch
# (one 512x512 keyframe, 4 at 256 px, 16 at 128 px). A CPU gains nothing from larger batches.
CPU_PIXELS_PER_BATCH = 512 * 512
GPU_MEMORY_SHARE = 0.6  # of the free device memory that the sampler's sub-batch may take


def choose_keyframes_per_batch(requested: int, keyframe_count: int, width: int, height: int, *, on_cpu: bool,
                               free_bytes: int | None = None, bytes_per_keyframe: int | None = None) -> int:
    """Keyframes sampled per call: ``requested`` when > 0 (at most ``keyframe_count``); else on a CPU as many as
    fit ``CPU_PIXELS_PER_BATCH`` at ``width`` x ``height`` px, on a GPU as many as ``GPU_MEMORY_SHARE`` of
    ``free_bytes`` holds at ``bytes_per_keyframe`` each (ComfyUI's own estimate), at most 16; at least 1."""
    requested, keyframe_count = int(requested), max(int(keyframe_count), 1)
    if requested < 0:
        raise AudioWalkInputError("keyframes_per_batch", f"{requested} is negative",
                                  "keyframes per sampler call >= 1, or 0 to choose from the device and size")
    if requested > 0:
        return min(requested, keyframe_count)
    if on_cpu or not free_bytes or not bytes_per_keyframe:
        size = CPU_PIXELS_PER_BATCH // max(int(width) * int(height), 1)
    else:
        size = int(free_bytes * GPU_MEMORY_SHARE) // max(int(bytes_per_keyframe), 1)
    return max(1, min(size, MAX_KEYFRAMES_PER_BATCH, keyframe_count))


def sub_batches(count: int, size: int) -> list[tuple[int, int]]:
    """``(first, stop)`` rows of ``count`` rows in batches of ``size``."""
    size = max(int(size), 1)
    return [(first, min(first + size, int(count))) for first in range(0, int(count), size)]


def format_duration(seconds: float) -> str:
    """``"about 40 min"``-style text: seconds under a minute, minutes under two hours, else hours and minutes."""
    seconds = max(float(seconds), 0.0)
    if seconds < 60:
        return f"{max(int(round(seconds)), 1)} s"
    minutes = int(round(seconds / 60))
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


@dataclass
class RenderCost:
    """Seconds per keyframe measured over a render's chunks (one per render id), and what it predicts.
    ``song_keyframes``: keyframes of the whole song (estimated from the chunk's density when not known)."""

    song_keyframes: int
    keyframes_done: int = 0
    seconds: float = 0.0
    announced: bool = False

    def record(self, keyframes: int, seconds: float) -> None:
        self.keyframes_done += int(keyframes)
        self.seconds += float(seconds)

    @property
    def seconds_per_keyframe(self) -> float | None:
        return self.seconds / self.keyframes_done if self.keyframes_done else None

    def estimate(self, keyframes_left: int) -> str:
        """"about 5 h 40 min for this song (2,196 keyframes at 9.3 s), 5 h 39 min left"."""
        rate = self.seconds_per_keyframe
        if rate is None:
            return "no estimate yet"
        return (f"about {format_duration(rate * self.song_keyframes)} for this song ({self.song_keyframes:,} "
                f"keyframes at {rate:.1f} s), {format_duration(rate * max(int(keyframes_left), 0))} left")


def song_keyframe_count(chunk_keyframes: int, chunk=None) -> tuple[int, int]:
    """``(keyframes in the song, keyframes after this chunk)``, estimated from this chunk's keyframe density
    (``chunk``: a RenderChunk; without one the keyframes are the song's)."""
    if chunk is None:
        return int(chunk_keyframes), 0
    density = int(chunk_keyframes) / max(int(chunk.frame_count), 1)
    after = int(math.ceil(density * (int(chunk.total_frames) - int(chunk.end_frame))))
    return max(int(math.ceil(density * int(chunk.total_frames))), int(chunk_keyframes)), after


_RUN_COSTS: dict = {}  # render id -> RenderCost: seconds per keyframe over the chunks of one render (one at a time)


class KeyframeRun:
    """Progress and cost of one Diffuse Keyframes call: ``count`` keyframes of ``chunk`` (a RenderChunk, or None)
    sampled ``size`` at a time. The render's RenderCost lives across its chunks (a new render starts afresh), so
    every chunk after the first sub-batch can say what the song takes and how long is left."""

    def __init__(self, count: int, size: int, chunk=None):
        self.count, self.size = int(count), int(size)
        song_keyframes, self.after_chunk = song_keyframe_count(self.count, chunk)
        key = chunk.render_id if chunk is not None else None
        cost = _RUN_COSTS.get(key) if key is not None else None
        if cost is None or (chunk is not None and chunk.index == 0):
            cost = RenderCost(song_keyframes)
            if key is not None:
                _RUN_COSTS.clear()
                _RUN_COSTS[key] = cost
        self.cost = cost
        self.where = f"chunk {chunk.index + 1} of {chunk.count}, " if chunk is not None else ""
        self.done = 0
        self.batch = self.size

    def start_text(self) -> str:
        return f"{self.where}{self.count} keyframes, {self.size} per batch: timing the first batch ..."

    def step_thousandths(self, step: int, total_steps: int) -> int:
        """Progress in thousandths of a keyframe (of ``count * 1000``) after sampler step ``step`` of the batch."""
        return self.done * 1000 + int(1000 * int(step) * self.batch / max(int(total_steps), 1))

    def finish_batch(self, done: int, seconds: float) -> tuple[str, bool]:
        """Record a finished sub-batch (``done`` keyframes so far, ``seconds`` it took): ``(text, first)``, the
        node's text with the song's estimate, and whether this is the render's first estimate (to log once)."""
        self.cost.record(int(done) - self.done, seconds)
        self.done = int(done)
        first = not self.cost.announced
        self.cost.announced = True
        text = (f"{self.where}keyframes {self.done} of {self.count} ({self.size} per batch): "
                f"{self.cost.estimate(self.count - self.done + self.after_chunk)}")
        return text, first


def diffuse_keyframes(images, frame_indices, keyframes_per_batch: int, run_batch, *, on_batch=None):
    """``run_batch(images[first:stop], frame_indices[first:stop])`` for each sub-batch, results concatenated
    (torch, on the CPU) in order. ``images``: [K, H, W, 3] float keyframes; ``frame_indices``: the K keyframes'
    absolute frame indices. ``on_batch(done, total, seconds)`` after each sub-batch (it may raise to stop)."""
    import torch

    frame_indices = [int(f) for f in frame_indices]
    count = int(images.shape[0])
    if count != len(frame_indices):
        raise AudioWalkInputError("images", f"{count} keyframe images for {len(frame_indices)} keyframes of the "
                                  "noise", "the images of the keyframes the noise was made for (Keyframe "
                                  "Latents -> BigGAN Generate, and Keyframe Noise from the same Keyframe Latents)")
    if count == 0:
        raise AudioWalkInputError("images", "no keyframes", "at least one keyframe image")
    results = []
    for first, stop in sub_batches(count, keyframes_per_batch):
        started = time.monotonic()
        out = run_batch(images[first:stop], frame_indices[first:stop])
        results.append(out.cpu() if isinstance(out, torch.Tensor) else torch.as_tensor(out))
        if on_batch is not None:
            on_batch(stop, count, time.monotonic() - started)
    return torch.cat(results, dim=0)
