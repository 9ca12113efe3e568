"""Batches in and frames out, for any generator: latent rows onto the device, the frames' mapping to [0, 1] (or
uint8) on the device, and the loop that hands frames to the host without making a GPU wait."""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np


def rows_on_device(array, first: int, last: int, rows: int, device):
    """float32 rows ``first:last`` of ``array`` (repeating the last row up to ``rows`` rows) on ``device``; on
    CUDA through pinned memory, asynchronously (a pageable copy would wait for the GPU to finish its queue)."""
    import torch

    block = np.asarray(array[first:last], dtype=np.float32)
    if rows > len(block):
        block = np.concatenate([block, np.repeat(block[-1:], rows - len(block), axis=0)])
    tensor = torch.from_numpy(np.ascontiguousarray(block))
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


class _RowsOf:
    """``rows[first:last]`` through a function ``rows_between(first, last)``."""

    def __init__(self, rows_between):
        self.rows_between = rows_between

    def __getitem__(self, rows: slice):
        return self.rows_between(rows.start, rows.stop)


def condition_rows(latents):
    """Sliceable [N, condition columns] conditioning: ``latents.dense_class_weights`` expands compact weights
    (frames x labels) a batch at a time where the latents have it, else ``latents.class_weights``."""
    dense = getattr(latents, "dense_class_weights", None)
    return latents.class_weights if dense is None else _RowsOf(dense)


def map_output(images, output_mapping: str, as_uint8: bool):
    """Images [B, 3, H, W] in [-1, 1] (any float dtype, on the device) -> frames [B, H, W, 3]: float32 in [0, 1]
    or uint8 (:func:`pixels.to_uint8`). "fixed" maps (x + 1) / 2 (no flicker); "per_frame_minmax" stretches each
    frame to [0, 1] as the seed did."""
    from ..pixels import to_uint8

    images = images.float()
    if output_mapping == "fixed":
        images = ((images + 1.0) * 0.5).clamp_(0.0, 1.0)
    else:
        low = images.amin(dim=(1, 2, 3), keepdim=True)
        high = images.amax(dim=(1, 2, 3), keepdim=True)
        images = (images - low) / (high - low).clamp_min(1e-8)
    images = images.permute(0, 2, 3, 1)  # a view when channels_last: the frames are already NHWC
    return to_uint8(images) if as_uint8 else images.contiguous()


def stream_frames(frames_between: Callable, total: int, batch_size: int, device, on_progress=None) -> Iterator:
    """CPU frames of ``frames_between(first, last)`` (device frames [last - first, H, W, 3]) for ``total`` frames,
    ``batch_size`` at a time, in inference mode; ``on_progress(done, total)`` after each batch is handed out.

    On CUDA a batch is copied into pinned host memory asynchronously and handed out once the next batch is queued
    on the GPU, so the host never makes the GPU wait (no per-batch synchronisation)."""
    import torch

    cuda = device.type == "cuda"
    with torch.inference_mode():
        waiting = None  # CUDA: (pinned host frames, copy-done event, frames done) of the batch handed out next
        for first in range(0, total, batch_size):
            last = min(first + batch_size, total)
            frames = frames_between(first, last)
            if not cuda:
                yield frames.cpu()
                del frames
                if on_progress is not None:
                    on_progress(last, total)
                continue
            host = torch.empty(frames.shape, dtype=frames.dtype, pin_memory=True)
            host.copy_(frames, non_blocking=True)
            copied = torch.cuda.Event()
            copied.record()
            del frames
            if waiting is not None:
                yield from _hand_out(waiting, total, on_progress)
            waiting = (host, copied, last)
        if waiting is not None:
            yield from _hand_out(waiting, total, on_progress)


def _hand_out(waiting, total: int, on_progress) -> Iterator:
    host, copied, last = waiting
    copied.synchronize()
    yield host
    if on_progress is not None:
        on_progress(last, total)


def collect_frames(batches, frame_count: int):
    """The frame batches (CPU tensors [B, H, W, 3]) of ``frame_count`` frames as one IMAGE tensor
    [frame_count, H, W, 3] float32, filled batch by batch (no second copy of every frame); None when no batch came."""
    import torch

    images, position = None, 0
    for batch in batches:
        if images is None:
            images = torch.empty((int(frame_count),) + tuple(batch.shape[1:]), dtype=torch.float32)
        images[position:position + len(batch)] = batch
        position += len(batch)
    return images
