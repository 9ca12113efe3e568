"""The generator seam: what every generator handle offers, and the one call that renders latents with any of them.

The walk, schedules, smoothing, chunks and keyframes know no generator: they produce a ``WalkLatents`` (noise
``[N, noise_dim]``, conditioning ``[N, condition_dim]`` and per-frame ``extras``) and hand it to
:func:`generate_frames` with a handle some loader gave them (BigGAN: ``generators.biggan.load_biggan``).
"""
from __future__ import annotations

from typing import Iterator, Protocol, runtime_checkable

from ..errors import AudioWalkInputError, require_choice

OUTPUT_FORMATS = ("float", "uint8")
OUTPUT_MAPPINGS = ("fixed", "per_frame_minmax")


@runtime_checkable
class GeneratorHandle(Protocol):
    """A loaded generator, ready to render.

    ``kind``: "biggan", "stylegan2", "stylegan3" ...; ``resolution``: px of the square frames; ``device``,
    ``dtype``: torch's, where and how it computes; ``noise_dim``: width of the per-frame noise the walk must give
    it; ``condition_dim``: columns of the per-frame conditioning (1000 ImageNet classes for BigGAN, 0 when
    unconditional)."""

    kind: str
    resolution: int
    device: object
    dtype: object

    @property
    def noise_dim(self) -> int: ...

    @property
    def condition_dim(self) -> int: ...

    def generate_frames(self, latents, *, batch_size: int = 8, output_format: str = "float",
                        output_mapping: str = "fixed", on_progress=None) -> Iterator:
        """CPU tensors [B, H, W, 3], float32 in [0, 1] ("float") or uint8 ("uint8"), ``batch_size`` frames at a
        time; ``on_progress(done_frames, total_frames)`` after each batch."""

    def generation_bytes(self, batch_size: int) -> int:
        """Device memory (bytes) one batch needs beyond the weights: for a model manager that frees room first."""


def check_generation_settings(batch_size, output_format: str, output_mapping: str) -> int:
    """The batch size as an int, once the three settings every generator takes are known good; else
    AudioWalkInputError naming the setting (checked before any work)."""
    require_choice("output_mapping", output_mapping, OUTPUT_MAPPINGS)
    require_choice("output_format", output_format, OUTPUT_FORMATS)
    if int(batch_size) < 1:
        raise AudioWalkInputError("batch_size", f"{batch_size!r} is below 1", "a batch size of at least 1")
    return int(batch_size)


def check_latents_fit(handle, latents) -> None:
    """AudioWalkInputError naming ``latents`` when their noise width or conditioning columns are not what
    ``handle`` takes (a walk made for another generator)."""
    noise_width = int(latents.noise.shape[1])
    condition_count = int(getattr(latents, "condition_count", latents.class_weights.shape[1]))
    if noise_width != handle.noise_dim or condition_count != handle.condition_dim:
        raise AudioWalkInputError(
            "latents", f"noise [N, {noise_width}] with {condition_count} conditioning columns do not fit the "
            f"{handle.kind} generator", f"noise [N, {handle.noise_dim}] and {handle.condition_dim} conditioning "
            "columns (latents made for this generator)")


def generate_frames(handle, latents, **options) -> Iterator:
    """Frames of ``latents`` rendered by ``handle`` (any :class:`GeneratorHandle`); ``options`` as
    :meth:`GeneratorHandle.generate_frames` takes them."""
    return handle.generate_frames(latents, **options)
