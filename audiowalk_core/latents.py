"""The AUDIOWALK_LATENTS value: per-frame generator inputs (noise, conditioning, extras), for any generator."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .clock import FrameClock
from .errors import AudioWalkInputError

NOISE_DIM = 128
NUM_CLASSES = 1000


@dataclass(frozen=True)
class WalkLatents:
    """Per-frame generator inputs (the generator seam's, ``audiowalk_core.generators``).

    ``noise`` float32 ``[N, noise width]`` (128 for BigGAN); ``class_weights`` float32 ``[N, condition_count]``
    (the conditioning: 1000 ImageNet classes for BigGAN, a StyleGAN's c_dim, 0 when unconditional), or, when
    ``class_indices`` names the conditioning columns it holds, the compact ``[N, len(class_indices)]`` (the other
    columns weigh 0: a long song then holds N x labels weights, not N x 1000); ``truncation`` in (0, 1], ``seed``
    the user seed they were drawn from, ``clock`` the frame clock of the whole song and ``first_frame`` the index
    (on that clock) of row 0, so a slice knows where it sits in the song. ``extras``: further per-frame arrays
    (first dimension N, e.g. StyleGAN's per-layer-group latents), sliced with the rows. A generator gets
    :meth:`dense_class_weights`.
    """

    noise: np.ndarray
    class_weights: np.ndarray
    truncation: float
    seed: int
    clock: FrameClock
    first_frame: int = 0
    class_indices: tuple | None = None
    condition_count: int = NUM_CLASSES
    extras: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.noise.ndim != 2 or self.class_weights.ndim != 2 or len(self.noise) != len(self.class_weights):
            raise AudioWalkInputError("latents", f"noise {self.noise.shape} and class weights "
                                      f"{self.class_weights.shape} do not match",
                                      "noise [N, dim] and class weights [N, classes] with the same N")
        columns = int(self.condition_count) if self.class_indices is None else len(self.class_indices)
        if self.class_weights.shape[1] != columns:
            raise AudioWalkInputError("latents", f"class weights with {self.class_weights.shape[1]} columns",
                                      f"{columns} columns (one per class)")
        if self.class_indices is not None and any(not 0 <= int(i) < int(self.condition_count)
                                                  for i in self.class_indices):
            raise AudioWalkInputError("latents", f"class indices {tuple(self.class_indices)[:5]}... reach past "
                                      f"{self.condition_count} conditioning columns",
                                      f"indices in 0..{int(self.condition_count) - 1}")
        for name, values in self.extras.items():
            if np.ndim(values) < 1 or len(values) != len(self.noise):
                raise AudioWalkInputError("latents", f"extra {name!r} of shape {np.shape(values)} for "
                                          f"{len(self.noise)} frames", "per-frame arrays with one row per frame")
        if not (0.0 < float(self.truncation) <= 1.0):
            raise AudioWalkInputError("truncation", f"{self.truncation!r} is outside (0, 1]",
                                      "a truncation in (0, 1], e.g. 0.4")

    @property
    def frame_count(self) -> int:
        return int(self.noise.shape[0])

    def slice_frames(self, start: int, count: int | None = None) -> "WalkLatents":
        """Rows ``[start, start + count)`` (relative to this object); ``count`` None or <= 0: to the end."""
        if start < 0 or start >= self.frame_count:
            raise AudioWalkInputError("start_frame", f"{start} is outside 0..{self.frame_count - 1}",
                                      f"a frame index below the frame count {self.frame_count}")
        stop = self.frame_count if count is None or count <= 0 else min(start + count, self.frame_count)
        return self._rows(slice(start, stop), self.first_frame + start)

    def _rows(self, rows, first_frame: int) -> "WalkLatents":
        """The same latents restricted to ``rows`` (a slice or an index array) of noise, weights and extras."""
        return dataclasses.replace(self, noise=self.noise[rows], class_weights=self.class_weights[rows],
                                   first_frame=int(first_frame),
                                   extras={name: values[rows] for name, values in self.extras.items()})

    def dense_class_weights(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """float32 ``[rows, condition_count]`` class weights of rows ``[start, stop)`` (what a generator takes)."""
        rows = self.class_weights[start:stop]
        if self.class_indices is None:
            return rows
        dense = np.zeros((rows.shape[0], int(self.condition_count)), np.float32)
        dense[:, list(self.class_indices)] = rows
        return dense

    def class_columns(self) -> tuple[tuple, np.ndarray]:
        """``(ImageNet indices, weights [N, len(indices)])`` of the classes that have a column."""
        if self.class_indices is not None:
            return tuple(self.class_indices), self.class_weights
        return tuple(range(int(self.condition_count))), self.class_weights

    def take_frames(self, frame_indices) -> "WalkLatents":
        """The rows of the absolute frame indices ``frame_indices`` (on the song's clock; this object's rows start
        at ``first_frame``), in that order: e.g. only the keyframes of a chunk."""
        rows = np.asarray([int(f) - self.first_frame for f in frame_indices], dtype=np.int64)
        if rows.size == 0 or rows.min() < 0 or rows.max() >= self.frame_count:
            raise AudioWalkInputError("latents", f"frames {list(frame_indices)[:3]}... are outside frames "
                                      f"{self.first_frame}-{self.first_frame + self.frame_count - 1}",
                                      "the whole song's latents (Smooth Latents or Make Latents)")
        return self._rows(rows, int(frame_indices[0]))


@dataclass(frozen=True)
class NoiseCurves:
    """The AUDIOWALK_NOISE value: noise per frame ``[N, 128]`` float32 on ``clock``, drawn from ``seed``."""

    noise: np.ndarray
    clock: FrameClock
    seed: int
    truncation: float


@dataclass(frozen=True)
class ClassCurves:
    """The AUDIOWALK_CLASSES value: class weights per frame on ``clock`` and the labels; ``weights`` float32
    ``[N, 1000]``, or ``[N, len(class_indices)]`` over the ImageNet classes ``class_indices``."""

    weights: np.ndarray
    clock: FrameClock
    labels: tuple
    class_indices: tuple | None = None


def combine_latents(noise: NoiseCurves, classes: ClassCurves, truncation: float | None = None) -> WalkLatents:
    """Noise + class weights (same frame count) -> WalkLatents; ``truncation`` None takes the noise walk's."""
    if len(noise.noise) != len(classes.weights):
        raise AudioWalkInputError("classes", f"{len(classes.weights)} frames of class weights for "
                                  f"{len(noise.noise)} frames of noise",
                                  "noise and classes computed from the same features")
    return WalkLatents(noise.noise, classes.weights, noise.truncation if truncation is None else float(truncation),
                       noise.seed, noise.clock, class_indices=classes.class_indices)
