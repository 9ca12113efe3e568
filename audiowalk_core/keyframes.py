"""Keyframes for img2img on a subset of frames, and crossfades back to the full frame count (the seed's
``interpolation_steps``: every (steps + 1)-th frame is diffused, the frames between are linear pixel crossfades)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import AudioWalkInputError, require_choice

KEYFRAME_MODES = ("every_n", "beats", "onsets")


@dataclass(frozen=True)
class KeyframePlan:
    """The AUDIOWALK_KEYFRAMES value: ``frame_count`` frames, keyframes at sorted ``indices`` (always 0 and the
    last frame)."""

    frame_count: int
    indices: tuple

    def to_dict(self) -> dict:
        return {"frame_count": self.frame_count, "indices": list(self.indices)}


def select_keyframes(frame_count: int, interpolation_steps: int = 3, mode: str = "every_n",
                     features=None, first_frame: int = 0) -> KeyframePlan:
    """Keyframe indices for ``frame_count`` frames.

    "every_n": every ``interpolation_steps + 1``-th frame. "beats"/"onsets": the frames of the features' beats or
    onset peaks (onset curve local maxima >= 0.3), at least ``interpolation_steps + 1`` frames apart where
    possible. ``first_frame``: where these frames sit on the features' clock (for a chunk of a longer render).
    """
    if frame_count < 1:
        raise AudioWalkInputError("images", "no frames", "at least one image")
    if int(interpolation_steps) < 0:
        raise AudioWalkInputError("interpolation_steps", f"{interpolation_steps!r} is negative", "0 or more frames")
    require_choice("mode", mode, KEYFRAME_MODES)
    spacing = int(interpolation_steps) + 1
    if mode == "every_n":
        chosen = list(range(0, frame_count, spacing))
    else:
        if features is None:
            raise AudioWalkInputError("features", f"mode {mode!r} needs the audio features", "a FEATURES input")
        if mode == "beats":
            marks = np.asarray(features.beat_frames, np.int64) - first_frame
        else:
            onset = np.asarray(features.curve("onset", "features"), np.float64)
            peaks = (onset[1:-1] >= onset[:-2]) & (onset[1:-1] > onset[2:]) & (onset[1:-1] >= 0.3)
            marks = np.nonzero(peaks)[0] + 1 - first_frame
        chosen = [0]
        for mark in sorted(int(m) for m in marks if 0 < m < frame_count):
            if mark - chosen[-1] >= spacing:
                chosen.append(mark)
    if chosen[-1] != frame_count - 1:
        chosen.append(frame_count - 1)
    return KeyframePlan(int(frame_count), tuple(sorted(set(chosen))))


def interpolate_frames(keyframes, plan: KeyframePlan):
    """Linear crossfades between consecutive keyframes: keyframes float [K, H, W, 3] (torch) -> [N, H, W, 3].

    The output takes the keyframes' size, so keyframes resized by img2img (a VAE round trip rounds to multiples
    of 8) give frames of that new size; only the keyframe count must match the plan."""
    import torch

    keyframes = torch.as_tensor(keyframes, dtype=torch.float32)
    if keyframes.ndim != 4 or len(keyframes) != len(plan.indices):
        raise AudioWalkInputError("keyframes", f"{len(keyframes)} images for a plan with {len(plan.indices)} "
                                  "keyframes", "the keyframes of Select Keyframes, in order, after img2img")
    out = torch.empty((plan.frame_count,) + tuple(keyframes.shape[1:]), dtype=torch.float32)
    indices = plan.indices
    if len(indices) == 1:
        out[:] = keyframes[0]
        return out
    for k in range(len(indices) - 1):
        start, stop = indices[k], indices[k + 1]
        weights = torch.arange(stop - start + 1, dtype=torch.float32) / (stop - start)
        segment = torch.lerp(keyframes[k][None], keyframes[k + 1][None], weights[:, None, None, None])
        out[start:stop + 1] = segment
    return out
