"""The AUDIOWALK_FEATURES value: per-frame curves on one FrameClock.

Computation lives in ``analysis.py``; this module only defines the container passed between nodes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .clock import FrameClock
from .errors import AudioWalkInputError


@dataclass(frozen=True)
class AudioFeatures:
    """Per-frame audio features.

    ``curves`` maps a name to a float32 array whose first axis is the frame (``[frame_count]`` or
    ``[frame_count, K]``). Standard names: ``bands`` [N, B] (the selected band mode), ``rms`` [N],
    ``onset`` [N], ``beat`` [N], ``chroma`` [N, 12], ``harmonic`` [N], ``percussive`` [N]; all in [0, 1].
    ``beat_frames`` are int frame indices of beats, ``tempo_bpm`` the estimated tempo,
    ``band_edges_hz`` [B + 1] the band limits in Hz, ``band_mode`` one of analysis.BAND_MODES.
    ``warnings``: things the user should hear about that are not errors (a wholly silent song: a still video).
    ``song_samples``: samples of the analysed audio at ``clock.sample_rate`` (0 when unknown), for schedules that
    follow the song's length rather than the frame count (the seed notebook's class schedule).
    The music map (music_map.py): ``downbeat_frames`` int frame indices of the first beats of bars, ``sections``
    a tuple of music_map.Section (``start_seconds``, ``end_seconds``, ``label``; empty when not analysed),
    ``meter`` beats per bar (0: unknown), ``beat_seconds`` / ``downbeat_seconds`` the exact times (float64 s).
    """

    clock: FrameClock
    curves: dict
    beat_frames: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    tempo_bpm: float = 0.0
    band_edges_hz: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    band_mode: str = "improved"
    warnings: tuple = ()
    song_samples: int = 0
    downbeat_frames: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sections: tuple = ()
    meter: int = 0
    beat_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    downbeat_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))

    @property
    def frame_count(self) -> int:
        return self.clock.frame_count

    def curve(self, name: str, input_name: str = "feature") -> np.ndarray:
        """The curve called ``name``; a clear error lists the available names otherwise."""
        if name not in self.curves:
            raise AudioWalkInputError(input_name, f"no curve named {name!r}",
                                      "one of " + ", ".join(sorted(self.curves)))
        return self.curves[name]

    def slice_frames(self, start: int, count: int) -> "AudioFeatures":
        """Features of frames ``[start, start + count)`` (rows of every curve; beats and downbeats shifted; the
        sections and exact times stay the song's, in seconds from the song's start)."""
        stop = min(start + count, self.frame_count)

        def shifted(frames):
            return frames[(frames >= start) & (frames < stop)] - start

        return AudioFeatures(self.clock.with_frame_count(stop - start),
                             {k: v[start:stop] for k, v in self.curves.items()},
                             shifted(self.beat_frames), self.tempo_bpm, self.band_edges_hz, self.band_mode,
                             self.warnings, song_samples=self.song_samples,
                             downbeat_frames=shifted(self.downbeat_frames), sections=self.sections,
                             meter=self.meter, beat_seconds=self.beat_seconds,
                             downbeat_seconds=self.downbeat_seconds)
