"""Synthetic songs for the SD walk tests: features with known onsets, beats, downbeats and sections (the music-map
contract, duck-typed: ``sections`` of objects with start_seconds/end_seconds/label, ``downbeat_frames``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from types import SimpleNamespace

import numpy as np

from audiowalk_core.clock import FrameClock
from audiowalk_core.features import AudioFeatures


@dataclass(frozen=True)
class MappedFeatures(AudioFeatures):
    """AudioFeatures with the music map's fields (as the music map adds them: sections, beats, downbeats)."""

    sections: tuple = ()
    downbeat_frames: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def section(start: float, end: float, label: str):
    return SimpleNamespace(start_seconds=float(start), end_seconds=float(end), label=label)


def song_features(frame_count: int = 300, fps: int = 10, onsets=(), beats=(), downbeats=(), sections=(),
                  rms: float = 0.0, quiet=False) -> MappedFeatures:
    """Features of ``frame_count`` frames at ``fps``: onset 1.0 at the ``onsets`` frames (0 elsewhere), constant
    ``rms``, beats/downbeats at the given frames, the given sections. ``quiet``: every curve 0, no beats."""
    onset = np.zeros(frame_count, np.float32)
    if not quiet:
        onset[list(onsets)] = 1.0
    curves = {"onset": onset, "rms": np.full(frame_count, 0.0 if quiet else rms, np.float32),
              "beat": np.zeros(frame_count, np.float32), "bands": np.zeros((frame_count, 4), np.float32)}
    clock = FrameClock(fps=Fraction(fps), sample_rate=22050, frame_count=frame_count)
    return MappedFeatures(clock, curves, np.asarray([] if quiet else list(beats), np.int64),
                          sections=tuple(sections), downbeat_frames=np.asarray(list(downbeats), np.int64))
