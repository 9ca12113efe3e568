"""Bar- and section-based choices for schedules and keyframes (the music map's downbeats and sections).

Class Schedule "bars": the next label every N bars (on downbeats); "sections": each distinct section label gets its
own label position (A -> first label, B -> second ..., wrapping), a repeat returns to it; both crossfade linearly
over ``crossfade_frames`` frames from each switch on. Keyframes "downbeats" / "sections": the downbeat frames or the
first frames of the sections.
"""
from __future__ import annotations

import numpy as np

from .errors import AudioWalkInputError


def section_start_frames(features) -> list[tuple[int, str]]:
    """``(first frame, label)`` of each section of ``features`` on its clock (empty when not analysed)."""
    sections = getattr(features, "sections", ()) or ()
    clock = features.clock
    out = []
    for ordinal, section in enumerate(sections):
        first = 0 if ordinal == 0 else int(clock.frame_at_seconds(section.start_seconds))
        out.append((first, str(section.label)))
    return out


def section_switches(features, count: int) -> list[tuple[int, int]]:
    """``(first frame, label position)`` per section: distinct labels in order of first appearance take positions
    0, 1, 2 ... modulo ``count``."""
    distinct: list[str] = []
    switches = []
    for first, label in section_start_frames(features):
        if label not in distinct:
            distinct.append(label)
        switches.append((first, distinct.index(label) % count))
    return switches


def bar_switches(features, count: int, bars_per_switch: int) -> list[tuple[int, int]]:
    """``(frame, label position)``: position 0 from the start, the next position on every ``bars_per_switch``-th
    downbeat after the first."""
    downbeats = np.asarray(getattr(features, "downbeat_frames", np.zeros(0)), np.int64)
    return [(0, 0)] + [(int(frame), number % count)
                       for number, frame in enumerate(downbeats[bars_per_switch::bars_per_switch], start=1)]


def switch_weights(features, count: int, mode: str, bars_per_switch: int, crossfade_frames: int) -> np.ndarray:
    """Weights ``[frames, count]`` (rows sum to 1) of a schedule that switches label position at frames, fading
    linearly from the previous position over ``crossfade_frames`` frames (the beats mode's fade)."""
    if mode == "bars" and bars_per_switch < 1:
        raise AudioWalkInputError("beats_per_switch", f"{bars_per_switch!r} is below 1", "1 or more bars")
    if crossfade_frames < 0:
        raise AudioWalkInputError("crossfade_frames", f"{crossfade_frames!r} is negative", "0 or more frames")
    frames = features.frame_count
    weights = np.zeros((frames, count), np.float32)
    switches = section_switches(features, count) if mode == "sections" else \
        bar_switches(features, count, bars_per_switch)
    if not switches:
        switches = [(0, 0)]
    rows = np.arange(frames)
    previous = switches[0][1]
    weights[:, previous] = 1.0
    for start, position in switches[1:]:
        if position == previous or start >= frames:
            continue
        ramp = np.clip((rows[start:] - start + 1) / max(crossfade_frames, 1), 0.0, 1.0).astype(np.float32)
        weights[start:] = 0.0
        weights[start:, previous] = 1.0 - ramp
        weights[start:, position] += ramp
        previous = position
    return weights


def music_map_keyframes(features, mode: str, first_frame: int = 0) -> np.ndarray:
    """Frames (relative to ``first_frame``) of the downbeats or the section starts, for Select Keyframes."""
    if mode == "downbeats":
        marks = np.asarray(getattr(features, "downbeat_frames", np.zeros(0)), np.int64)
    else:
        marks = np.asarray([first for first, _ in section_start_frames(features)], np.int64)
    return marks - int(first_frame)
