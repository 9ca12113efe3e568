"""Music Noise Walk: per-frame Stable Diffusion noise that moves with the music, keyed to seed + frame only.

The walk has a position ``p(f)`` (in anchor units) per frame. Anchors are independent standard-normal noises drawn
from (seed, section label, anchor number); frame ``f`` lies between anchor ``k = floor(p)`` and ``k + 1`` at
``t = p - k`` and its noise is the variance-preserving slerp

    noise(f) = cos(pi t / 2) * anchor_k + sin(pi t / 2) * anchor_{k+1}

which is exactly N(0, 1) per element for any t (cos^2 + sin^2 = 1; the anchors are independent). The motion of frame
``f`` (how far p moves from f - 1 to f) comes from the music:

    motion(f) = drift + onset_push * onset(f) + beat_push * [f is a beat] + energy_push * rms(f)

so a silent or still song gives identical noise frame after frame (correlation 1), and consecutive frames in one
segment correlate by cos(pi * motion / 2). With sections (the music map), p restarts at 0 at each section's first
frame on the anchors of its label: every "A" section starts from the same noise, each new label from new noise.

``p`` is a prefix sum over the features' curves (numpy, once per walk: microseconds per thousand frames), and a
frame's noise needs only its two anchors, so frame 20,000 costs what frame 0 costs, and a frame range equals that
range of a whole render. The latent shape comes from the latent the sampler hands over ([B, C, H, W] or
[B, C, T, H, W]; 4 channels for SD 1.5/SDXL, 16 for SD3/Flux).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import AudioWalkInputError
from ..frame_noise import _mix64, standard_normal

_ANCHOR_STREAM = 0xA11C_4035


@dataclass(frozen=True)
class NoiseWalkSettings:
    """How the music moves the noise, in anchor units per frame (1 = a wholly new noise).
    ``drift``: motion of every frame (0: still in silence); ``onset_push``: at onset strength 1; ``beat_push``: on a
    beat frame; ``energy_push``: at rms 1; ``use_sections``: restart on the anchors of each section's label."""

    drift: float = 0.0
    onset_push: float = 0.25
    beat_push: float = 0.3
    energy_push: float = 0.02
    use_sections: bool = True

    def __post_init__(self):
        for name in ("drift", "onset_push", "beat_push", "energy_push"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not 0.0 <= value <= 4.0:
                raise AudioWalkInputError(name, f"{value!r} is not a motion in [0, 4]",
                                          "anchor units per frame from 0 (still) to 4")


def _curve_or_zeros(features, name: str, count: int) -> np.ndarray:
    curves = getattr(features, "curves", {})
    if name not in curves:
        return np.zeros(count, np.float64)
    values = np.nan_to_num(np.asarray(curves[name], np.float64).reshape(count, -1).mean(axis=1), nan=0.0)
    return np.clip(values, 0.0, 1.0)


def section_starts(features, frame_count: int) -> tuple[np.ndarray, np.ndarray]:
    """``(first frame of each section, label number of each section)`` from ``features.sections`` (duck-typed:
    ``start_seconds`` and ``label``); label numbers count distinct labels in order of first appearance. Sections
    that start on the same frame: the later one wins. Without sections: one section at frame 0 with label 0."""
    sections = sorted(tuple(getattr(features, "sections", ()) or ()), key=lambda s: float(s.start_seconds))
    fps = float(features.clock.fps)
    names: dict[str, int] = {}
    by_frame: dict[int, int] = {}
    for section in sections:
        frame = min(max(int(math.floor(float(section.start_seconds) * fps + 1e-9)), 0), frame_count - 1)
        by_frame[frame] = names.setdefault(str(section.label), len(names))
    if 0 not in by_frame:
        by_frame[0] = by_frame[min(by_frame)] if by_frame else 0
    starts = sorted(by_frame)
    return np.asarray(starts, np.int64), np.asarray([by_frame[s] for s in starts], np.int64)


@dataclass(frozen=True)
class WalkPath:
    """The walk over a whole song: ``position[f]`` (float64, anchor units since the section start) and
    ``label[f]`` (int64 label number of frame f's section), ``motion[f]`` (float64 position change into frame f)."""

    position: np.ndarray
    label: np.ndarray
    motion: np.ndarray = field(repr=False)

    @property
    def frame_count(self) -> int:
        return int(self.position.shape[0])


def walk_path(features, settings: NoiseWalkSettings = NoiseWalkSettings()) -> WalkPath:
    """The position of every frame of ``features`` (a prefix sum of the music's motion, restarted per section)."""
    count = int(features.frame_count)
    if count < 1:
        raise AudioWalkInputError("features", "no frames", "the features of a song")
    motion = np.full(count, float(settings.drift), np.float64)
    motion += settings.onset_push * _curve_or_zeros(features, "onset", count)
    motion += settings.energy_push * _curve_or_zeros(features, "rms", count)
    beats = np.asarray(getattr(features, "beat_frames", ()), np.int64)
    beats = beats[(beats >= 0) & (beats < count)]
    motion[beats] += settings.beat_push
    motion[0] = 0.0
    if settings.use_sections:
        starts, labels = section_starts(features, count)
    else:
        starts, labels = np.zeros(1, np.int64), np.zeros(1, np.int64)
    motion[starts] = 0.0  # a section starts on its label's first anchor
    position = np.cumsum(motion)
    section_of_frame = np.searchsorted(starts, np.arange(count), side="right") - 1
    position -= position[starts][section_of_frame]
    return WalkPath(position, labels[section_of_frame], motion)


def anchor_seed(seed: int, label: int, anchor: int) -> int:
    """The torch generator seed of anchor ``anchor`` of label ``label`` (63 bits)."""
    value = _mix64(int(seed) & ((1 << 64) - 1)) ^ _ANCHOR_STREAM
    value = _mix64(value ^ (int(label) & 0xFFFFFFFF))
    return _mix64(value ^ (int(anchor) & ((1 << 64) - 1))) >> 1


def walk_noise(path: WalkPath, frame_indices, item_shape, seed: int):
    """float32 CPU noise [len(frame_indices), *item_shape]: row i is the walk's noise of frame frame_indices[i]."""
    import torch

    frames = np.asarray([int(f) for f in frame_indices], np.int64)
    bad = (frames < 0) | (frames >= path.frame_count)
    if bad.any():
        raise AudioWalkInputError("frame", f"{int(frames[bad][0])} is outside the song's {path.frame_count} frames",
                                  f"frames 0..{path.frame_count - 1}")
    item_shape = tuple(int(s) for s in item_shape)
    position = np.asarray(path.position, np.float64)[frames]
    label = np.asarray(path.label, np.int64)[frames]
    number = np.floor(position).astype(np.int64)
    angle = 0.5 * math.pi * (position - number)
    # every anchor the batch needs, drawn once: (label, number) and (label, number + 1) of each frame
    pairs = np.stack([np.concatenate([label, label]), np.concatenate([number, number + 1])], axis=1)
    unique, where = np.unique(pairs, axis=0, return_inverse=True)
    where = where.reshape(-1)
    anchors = torch.stack([standard_normal(item_shape, anchor_seed(seed, int(lab), int(num))) for lab, num in unique]) \
        if len(unique) else torch.empty((0,) + item_shape)
    low, high = torch.as_tensor(where[:len(frames)]), torch.as_tensor(where[len(frames):])
    view = (-1,) + (1,) * len(item_shape)
    cos = torch.as_tensor(np.cos(angle), dtype=torch.float32).reshape(view)
    sin = torch.as_tensor(np.sin(angle), dtype=torch.float32).reshape(view)
    return anchors[low] * cos + anchors[high] * sin  # a frame on an anchor (t = 0): cos 1, sin 0, the anchor exactly


class MusicNoiseWalk:
    """A NOISE value for SamplerCustomAdvanced: ``generate_noise(latent)`` gives latent row i the walk's noise of
    frame ``frame_indices[i]``. ``seed`` is what ComfyUI hands to samplers that draw extra noise per step
    (ancestral, SDE, LCM): those draws depend on the batch, so use a deterministic sampler (euler, dpmpp_2m ...)
    for chunk-independent renders (nodes refuse the others)."""

    node_name = "Music Noise Walk"

    def __init__(self, path: WalkPath, frame_indices, seed: int):
        self.path = path
        self.frame_indices = tuple(int(f) for f in frame_indices)
        self.seed = int(seed)

    def generate_noise(self, input_latent):
        samples = input_latent["samples"]
        shape = tuple(int(s) for s in samples.shape)
        if len(shape) < 3 or shape[0] != len(self.frame_indices):
            raise AudioWalkInputError(f"{self.node_name}: latent_image",
                                      f"a batch of {shape[0] if shape else 0} latents for "
                                      f"{len(self.frame_indices)} frames of the chunk",
                                      "a latent batch of exactly the chunk's frame count (link the frame_count "
                                      "output of SD Walk Frames to the empty latent's batch_size)")
        noise = walk_noise(self.path, self.frame_indices, shape[1:], self.seed)
        return noise.to(dtype=samples.dtype) if samples.dtype.is_floating_point else noise
