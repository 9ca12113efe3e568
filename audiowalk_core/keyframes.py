"""Keyframes for img2img on a subset of frames, and crossfades back to the full frame count (the seed's
``interpolation_steps``: every (steps + 1)-th frame is diffused, the frames between are linear pixel crossfades)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import AudioWalkInputError, require_choice

KEYFRAME_MODES = ("every_n", "beats", "onsets", "downbeats", "sections")


@dataclass(frozen=True)
class KeyframePlan:
    """The AUDIOWALK_KEYFRAMES value: output frames ``[first_frame, first_frame + frame_count)`` are crossfades
    between keyframes at the sorted frame ``indices`` (on the same frame numbering), which bracket that range: the
    first keyframe is at or before ``first_frame`` and the last at or after the range's last frame. For a whole
    song ``first_frame`` is 0 and the keyframes include frame 0 and the last frame; for a chunk they include the
    song's keyframe just before the chunk (or on its first frame) and the one just after it (or on its last)."""

    frame_count: int
    indices: tuple
    first_frame: int = 0
    render_way: str = ""  # the SD walk's way that chose them ("keyframes" / "every frame"; "" elsewhere)

    @property
    def last_frame(self) -> int:
        return self.first_frame + self.frame_count - 1

    def to_dict(self) -> dict:
        return {"first_frame": self.first_frame, "frame_count": self.frame_count, "indices": list(self.indices)}


def select_keyframes(frame_count: int, interpolation_steps: int = 3, mode: str = "every_n",
                     features=None, first_frame: int = 0) -> KeyframePlan:
    """Keyframe indices for ``frame_count`` frames.

    "every_n": every ``interpolation_steps + 1``-th frame. "beats"/"onsets"/"downbeats"/"sections": the frames of
    the features' beats, onset peaks (onset curve local maxima >= 0.3), downbeats or section starts, at least
    ``interpolation_steps + 1`` frames apart where possible. ``first_frame``: where these frames sit on the features' clock (for a chunk of a longer render).
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
        elif mode in ("downbeats", "sections"):
            from .music_map_schedule import music_map_keyframes

            marks = music_map_keyframes(features, mode, first_frame)
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


def chunk_keyframes(song_keyframes, first_frame: int, frame_count: int) -> KeyframePlan:
    """The keyframes a chunk needs: the song's keyframes (sorted absolute frame indices, including 0 and the last
    frame) from the last one at or before ``first_frame`` to the first one at or after the chunk's last frame. So
    every frame of the chunk is the same crossfade as in a whole-song render; a keyframe on either side of a chunk
    border is diffused in both chunks, identically (its noise depends on its frame index only)."""
    song_keyframes = sorted(int(k) for k in song_keyframes)
    first_frame, frame_count = int(first_frame), int(frame_count)
    last_frame = first_frame + frame_count - 1
    if frame_count < 1 or not song_keyframes or song_keyframes[0] > first_frame or song_keyframes[-1] < last_frame:
        raise AudioWalkInputError("chunk", f"frames {first_frame}-{last_frame} are not covered by the keyframes "
                                  f"{song_keyframes[:1]}..{song_keyframes[-1:]}", "a chunk inside the song")
    low = max(k for k in song_keyframes if k <= first_frame)
    high = min(k for k in song_keyframes if k >= last_frame)
    return KeyframePlan(frame_count, tuple(k for k in song_keyframes if low <= k <= high), first_frame)


def interpolate_frames(keyframes, plan: KeyframePlan):
    """Linear crossfades between consecutive keyframes: keyframes float [K, H, W, 3] (torch) -> the plan's
    ``frame_count`` frames [N, H, W, 3], frame ``first_frame + i`` at row i.

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
    first, last = plan.first_frame, plan.last_frame
    for k in range(len(indices) - 1):
        start, stop = indices[k], indices[k + 1]
        low, high = max(start, first), min(stop, last)  # the part of this crossfade inside the output range
        if low > high:
            continue
        weights = (torch.arange(low, high + 1, dtype=torch.float64) - start) / (stop - start)
        segment = torch.lerp(keyframes[k][None], keyframes[k + 1][None], weights.float()[:, None, None, None])
        out[low - first:high - first + 1] = segment
    return out


def keyframe_latents(latents, interpolation_steps: int = 3, mode: str = "every_n", chunk=None, features=None):
    """The Keyframe Latents step: ``(the keyframes' rows of latents, KeyframePlan)``. Keyframes are chosen over the
    whole song (``latents`` from its first frame), then narrowed to those a chunk needs (or the whole range when
    ``chunk`` is None), so a chunk's frames are the crossfades of a whole-song render."""
    song = select_keyframes(latents.frame_count, interpolation_steps, mode, features)
    song_indices = [latents.first_frame + index for index in song.indices]
    if chunk is None:
        plan = chunk_keyframes(song_indices, latents.first_frame, latents.frame_count)
    else:
        plan = chunk_keyframes(song_indices, chunk.start_frame, chunk.frame_count)
    return latents.take_frames(plan.indices), plan
