"""ImageNet class schedules: per-frame BigGAN class weights [frames, 1000] from labels and audio features.

Labels come from the table shipped with the pack (``data/imagenet_labels.txt``: the 1000 ImageNet-1k class names
in index order, as listed by torchvision, BSD-3-Clause), so no WordNet download is needed.
"""
from __future__ import annotations

import difflib
import math
import re
from functools import lru_cache
from importlib import resources

import numpy as np

from .errors import AudioWalkInputError, require_choice
from .features import AudioFeatures
from .latents import NUM_CLASSES
from .settings import DEFAULTS, SCHEDULE_MODES  # noqa: F401 - re-exported

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@lru_cache(maxsize=1)
def load_imagenet_labels() -> tuple:
    """The 1000 ImageNet class names, index order."""
    text = resources.files(__package__).joinpath("data", "imagenet_labels.txt").read_text(encoding="utf-8")
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    assert len(names) == NUM_CLASSES, len(names)
    return names


@lru_cache(maxsize=1)
def _name_index() -> dict:
    return {name.lower(): index for index, name in enumerate(load_imagenet_labels())}


def label_index(label: str, input_name: str = "labels") -> int:
    """Class index of one label: a name (case-insensitive) or an index 0..999; unknown names list close matches."""
    text = str(label).strip()
    if re.fullmatch(r"\d+", text):
        index = int(text)
        if not 0 <= index < NUM_CLASSES:
            raise AudioWalkInputError(input_name, f"class index {index} is outside 0..{NUM_CLASSES - 1}",
                                      "an ImageNet class index 0..999 or a class name")
        return index
    key = text.lower()
    names = _name_index()
    if key in names:
        return names[key]
    close = difflib.get_close_matches(key, list(names), n=5, cutoff=0.6)
    close += [name for name in names if key and key in name and name not in close][:5 - len(close)]
    hint = ("did you mean " + ", ".join(repr(c) for c in close) + "?") if close else "no close match"
    raise AudioWalkInputError(input_name, f"unknown ImageNet label {text!r} ({hint})",
                              "ImageNet class names such as 'teapot | bubble | mushroom' or indices 0..999")


def parse_labels(text, input_name: str = "labels") -> list[int]:
    """``"teapot | bubble | 947"`` (separated by | , or new lines) -> class indices; error when empty."""
    if isinstance(text, (list, tuple)):
        parts = [str(part) for part in text]
    else:
        parts = re.split(r"[|\n,]", str(text or ""))
    parts = [part.strip() for part in parts if part.strip()]
    if not parts:
        raise AudioWalkInputError(input_name, "no labels given", "at least one ImageNet class, e.g. 'teapot | bubble'")
    return [label_index(part, input_name) for part in parts]


def _label_indices(labels) -> list[int]:
    if isinstance(labels, (list, tuple)) and labels and all(isinstance(i, (int, np.integer)) for i in labels):
        return [int(i) for i in labels]
    return parse_labels(labels)


def seed_schedule_frame_count(features: AudioFeatures) -> int:
    """The frame count the seed notebook spreads its labels over: ``ceil(song seconds * fps)`` from the analysed
    song's length (``features.song_samples``), computed as the notebook does (float seconds); the features' own
    frame count when the song's length is unknown (0). In band_mode seed this is about fps frames MORE than the
    frames rendered, so the last label is never quite reached, as in the notebook."""
    samples = int(getattr(features, "song_samples", 0) or 0)
    if samples <= 0:
        return features.frame_count
    return int(math.ceil(samples / features.clock.sample_rate * float(features.clock.fps)))


def _seed_label_positions(frames: int, count: int, schedule_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's step 8 per frame: ``(pair, fraction)``. Pair p runs ``F = schedule_frames // (count - 1)``
    frames of ``linspace(label p, label p + 1, F)`` (endpoint included, so its last frame is label p + 1 and the next
    pair starts on it again). Frames past the last pair hold the last label (the notebook's video stops there)."""
    per_pair = max(schedule_frames // (count - 1), 1)
    rows = np.arange(frames)
    pair = rows // per_pair
    fraction = (rows % per_pair) / (per_pair - 1) if per_pair > 1 else np.zeros(frames)
    past = pair >= count - 1
    pair = np.where(past, count - 2, pair)
    fraction = np.where(past, 1.0, fraction)
    return pair, fraction


def label_weights(features: AudioFeatures, labels, *, mode: str = DEFAULTS.class_mode,
                  beats_per_switch: int = DEFAULTS.beats_per_switch,
                  crossfade_frames: int = DEFAULTS.crossfade_frames) -> np.ndarray:
    """Weight of each label position per frame, float32 ``[frames, len(labels)]``, rows summing to 1.

    Modes: "interpolate" (label to label linearly over the frames rendered), "seed" (the notebook: label to label
    over :func:`seed_schedule_frame_count` frames, see :func:`_seed_label_positions`), "chroma" (label j follows pitch class j
    mod len(labels), C=0; up to 12 labels; silence holds equal weights), "beats" (move to the next label every
    ``beats_per_switch`` beats with a ``crossfade_frames`` linear fade), "bars" (the same every ``beats_per_switch``
    bars, on the downbeats), "sections" (see :func:`music_map_schedule.section_switches`: each distinct section
    label its own label, a repeat returns to it). One label is held on every frame."""
    require_choice("mode", mode, SCHEDULE_MODES)
    if mode in ("bars", "sections"):
        from .music_map_schedule import switch_weights

        return switch_weights(features, len(_label_indices(labels)), mode, int(beats_per_switch),
                              int(crossfade_frames))
    count = len(_label_indices(labels))
    frames = features.frame_count
    weights = np.zeros((frames, count), np.float32)
    if count == 1:
        weights[:] = 1.0
        return weights
    rows = np.arange(frames)
    if mode == "interpolate":
        position = np.linspace(0.0, count - 1, frames) if frames > 1 else np.zeros(frames)
        low = np.minimum(np.floor(position).astype(np.int64), count - 2)
        fraction = (position - low).astype(np.float32)
        weights[rows, low] = 1.0 - fraction
        weights[rows, low + 1] += fraction
    elif mode == "seed":
        pair, fraction = _seed_label_positions(frames, count, seed_schedule_frame_count(features))
        weights[rows, pair] = (1.0 - fraction).astype(np.float32)
        weights[rows, pair + 1] += fraction.astype(np.float32)
    elif mode == "chroma":
        if count > 12:
            raise AudioWalkInputError("labels", f"{count} labels for chroma mode", "at most 12 labels")
        chroma = np.asarray(features.curve("chroma", "features"), np.float64)
        if not np.isfinite(chroma).all():
            raise AudioWalkInputError("features", "chroma contains NaN or infinite values", "finite features")
        per_label = np.zeros((frames, count))
        for pitch in range(12):
            per_label[:, pitch % count] += chroma[:, pitch]
        total = per_label.sum(axis=1, keepdims=True)
        weights[:] = np.where(total > 1e-9, per_label / np.where(total > 1e-9, total, 1.0), 1.0 / count)
    else:
        if int(beats_per_switch) < 1:
            raise AudioWalkInputError("beats_per_switch", f"{beats_per_switch!r} is below 1", "1 or more beats")
        if int(crossfade_frames) < 0:
            raise AudioWalkInputError("crossfade_frames", f"{crossfade_frames!r} is negative", "0 or more frames")
        switches = np.asarray(features.beat_frames, np.int64)[int(beats_per_switch)::int(beats_per_switch)]
        label_of_frame = np.zeros(frames, np.float64)  # fractional label position
        for number, start in enumerate(switches, start=1):
            ramp = np.clip((rows - start + 1) / max(int(crossfade_frames), 1), 0.0, 1.0)
            label_of_frame = np.where(rows >= start, number - 1 + ramp, label_of_frame)
        low = np.floor(label_of_frame).astype(np.int64)
        fraction = (label_of_frame - low).astype(np.float32)
        weights[rows, low % count] = 1.0 - fraction
        weights[rows, (low + 1) % count] += fraction
    return weights


def class_schedule_columns(features: AudioFeatures, labels, **schedule) -> tuple[tuple, np.ndarray]:
    """The class schedule in compact form: ``(classes, weights)`` with the sorted distinct ImageNet indices of the
    labels and float32 ``[frames, len(classes)]`` weights (a label given twice adds up in its class). Memory is
    frames x labels, not frames x 1000."""
    indices = _label_indices(labels)
    per_label = label_weights(features, indices, **schedule)
    classes = tuple(sorted(set(indices)))
    weights = np.zeros((per_label.shape[0], len(classes)), np.float32)
    for position, index in enumerate(indices):
        weights[:, classes.index(index)] += per_label[:, position]
    return classes, weights


def expand_class_columns(classes, weights: np.ndarray) -> np.ndarray:
    """Compact class weights ``[frames, len(classes)]`` -> float32 ``[frames, 1000]``."""
    dense = np.zeros((weights.shape[0], NUM_CLASSES), np.float32)
    dense[:, list(classes)] = weights
    return dense


def class_schedule(features: AudioFeatures, labels, *, mode: str = DEFAULTS.class_mode,
                   beats_per_switch: int = DEFAULTS.beats_per_switch,
                   crossfade_frames: int = DEFAULTS.crossfade_frames) -> np.ndarray:
    """Class weights per frame, float32 ``[frames, 1000]``, each row summing to 1 (see :func:`label_weights` for
    the modes; :func:`class_schedule_columns` is the same without the 1000 columns)."""
    return expand_class_columns(*class_schedule_columns(features, labels, mode=mode,
                                                        beats_per_switch=beats_per_switch,
                                                        crossfade_frames=crossfade_frames))
