"""Float frames in [0, 1] -> 8-bit pixels, one rule everywhere (on the GPU before frames leave it, and in the
video writer for ComfyUI's float IMAGE): ``uint8 = floor(clamp(x, 0, 1) * 255 + 0.5)``, i.e. rounded, halves up,
computed as ``clamp(0.5 + 255 * x, 0.5, 255.5)`` truncated to uint8.

torch, not numpy's whole-array float temporaries (about 3 ms per 512 px frame here): on the CPU the work goes in
small blocks on the calling thread (about 1.4 ms of CPU per 512 px frame), and a GPU tensor is converted where it
lives. The blocks stay below torch's parallel grain (32768 elements), so no op fans out to OpenMP threads: measured
beside a running x264 on 2 busy cores, 256K-element blocks spread over OpenMP threads cost 15-38 ms of CPU per frame
(threads spinning and waiting for each other) and slowed the encoder they were feeding to a third.
"""
from __future__ import annotations

from .errors import AudioWalkInputError

CHUNK_ELEMENTS = 24576  # floats per CPU block: 96 KiB (in L2), under torch's parallel grain


def to_uint8(frames):
    """float tensor in [0, 1] (any shape, float dtype, device) -> uint8 tensor, the rule above, as one expression
    (torch.compile fuses it into the kernel that produces ``frames``)."""
    import torch

    half = torch.full((), 0.5, dtype=torch.float32, device=frames.device)
    return torch.add(half, frames.float(), alpha=255.0).clamp_(0.5, 255.5).to(torch.uint8)


def unit_float_to_uint8(frames, *, check_finite: bool = False):
    """Like :func:`to_uint8` (same bytes), for large CPU tensors: in cache-sized blocks into one uint8 tensor, so no
    full-size float temporary is allocated. ``check_finite``: raise AudioWalkInputError("images", ...) on a NaN or
    infinite value (one sum per block; on a GPU one device sync). Without it a NaN gives an unspecified byte."""
    import torch

    if frames.device.type != "cpu":
        if check_finite and not bool(torch.isfinite(frames.float().sum())):
            raise _not_finite()
        return to_uint8(frames)
    out = torch.empty(frames.shape, dtype=torch.uint8)
    flat_in, flat_out = frames.reshape(-1), out.view(-1)
    total = flat_in.numel()
    block = torch.empty(min(CHUNK_ELEMENTS, max(total, 1)), dtype=torch.float32)
    sums = torch.zeros(max(-(-total // CHUNK_ELEMENTS), 1), dtype=torch.float32)  # NaN/inf show in their block's sum
    half = torch.full((), 0.5, dtype=torch.float32)
    for index, start in enumerate(range(0, total, CHUNK_ELEMENTS)):
        stop = min(start + CHUNK_ELEMENTS, total)
        scaled = torch.add(half, flat_in[start:stop].float(), alpha=255.0, out=block[:stop - start])
        if check_finite:
            torch.sum(scaled, dim=0, out=sums[index])
        flat_out[start:stop].copy_(scaled.clamp_(0.5, 255.5))
    if check_finite and not bool(torch.isfinite(sums).all()):
        raise _not_finite()
    return out


def _not_finite() -> AudioWalkInputError:
    return AudioWalkInputError("images", "contain NaN or infinite values", "finite pixel values in [0, 1]")
