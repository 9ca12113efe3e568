"""One feature curve of AUDIOWALK_FEATURES, scaled to a range, to drive any number-valued setting with the music.

Every standard curve lies in [0, 1] on the features' frame clock (analysis.compute_features): 0 is silence or the
curve's floor, 1 the song's strongest moments. ``feature_curve`` maps it linearly onto ``[low, high]`` (``low`` may
exceed ``high`` to invert it: loud -> low), one value per video frame; ``curve_value_at_frame`` gives the value of
one frame (e.g. the first frame of a chunk or a keyframe).
"""
from __future__ import annotations

import math

import numpy as np

from .errors import AudioWalkInputError, require_choice
from .features import AudioFeatures

# One-dimensional curves, then the two families picked by ``index``.
SINGLE_CURVES = ("rms", "onset", "beat", "harmonic", "percussive", "downbeat", "bar_phase", "section_index",
                 "section_change")
INDEXED_CURVES = {"band": "bands", "chroma": "chroma"}
CURVE_NAMES = SINGLE_CURVES + tuple(INDEXED_CURVES)
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def select_curve(features: AudioFeatures, curve: str, index: int = 0) -> np.ndarray:
    """The raw curve (float32 ``[frame_count]``, in [0, 1]): one of ``SINGLE_CURVES`` (``index`` unused), band
    ``index`` (0 = lowest frequencies) or chroma bin ``index`` (0 = C ... 11 = B)."""
    require_choice("curve", curve, CURVE_NAMES)
    if curve == "section_index":  # the features hold the ordinal (0, 1, 2 ...): 0 first section .. 1 last here
        ordinal = np.asarray(features.curve(curve, "curve"), np.float32)
        return ordinal / np.float32(max(float(ordinal.max(initial=0.0)), 1.0))
    if curve in SINGLE_CURVES:
        return np.asarray(features.curve(curve, "curve"), np.float32)
    table = np.asarray(features.curve(INDEXED_CURVES[curve], "curve"))
    if table.ndim != 2:
        raise AudioWalkInputError("curve", f"the {curve} table has shape {table.shape}", "[frames, columns]")
    count = table.shape[1]
    index = int(index)
    if not 0 <= index < count:
        what = f"chroma bins ({', '.join(PITCH_CLASSES)})" if curve == "chroma" else f"{count} bands"
        raise AudioWalkInputError("index", f"{index} is not one of the {what}", f"an index from 0 to {count - 1}")
    return np.ascontiguousarray(table[:, index], np.float32)


def _check_range(low: float, high: float) -> tuple[float, float]:
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise AudioWalkInputError(name, f"{value!r} is not a finite number", "a number such as 0.3")
    return float(low), float(high)


def scale_curve(values, low: float, high: float) -> np.ndarray:
    """``low + (high - low) * v`` for each ``v`` clipped to [0, 1] (float64): 0 -> ``low``, 1 -> ``high``."""
    low, high = _check_range(low, high)
    unit = np.clip(np.nan_to_num(np.asarray(values, np.float64), nan=0.0), 0.0, 1.0)
    return low + (high - low) * unit


def feature_curve(features: AudioFeatures, curve: str, index: int = 0, low: float = 0.0,
                  high: float = 1.0) -> list[float]:
    """The chosen curve scaled to ``[low, high]``: one Python float per frame of the features' clock."""
    return scale_curve(select_curve(features, curve, index), low, high).tolist()


def value_at_frame(values, frame: int) -> float:
    """``values[frame]`` as a float; AudioWalkInputError naming ``frame`` and the frame count when out of range."""
    count = len(values)
    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
        raise AudioWalkInputError("frame", f"{frame!r} is not a whole number", "a frame index such as 0")
    if not 0 <= int(frame) < count:
        raise AudioWalkInputError("frame", f"{int(frame)} is outside the features' {count} frames",
                                  f"a frame from 0 to {count - 1}" if count else "features with frames")
    return float(values[int(frame)])


def curve_value_at_frame(features: AudioFeatures, curve: str, index: int, low: float, high: float,
                         frame: int) -> float:
    """The chosen curve's value at ``frame`` (an index on the features' clock), scaled to ``[low, high]``."""
    raw = select_curve(features, curve, index)
    low, high = _check_range(low, high)
    return float(scale_curve([value_at_frame(raw, frame)], low, high)[0])
