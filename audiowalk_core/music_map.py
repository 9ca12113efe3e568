"""The music map of a song: beats (tempo may drift), downbeats, meter, and sections with repeat labels.

Computed from the STFT-rate tables the feature analysis already has (no second pass over the audio), see
``meter.py`` (beats, downbeats, meter) and ``sections.py`` (Foote novelty, repeat labels), and attached to the
AUDIOWALK_FEATURES value (``attach_music_map``): ``beat_frames``, ``downbeat_frames``, ``sections`` and the curves
``section_index``, ``section_label``, ``section_change``, ``downbeat`` and ``bar_phase`` on the features' clock.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from . import meter as meter_module
from .sections import beat_features, foote_novelty, pick_boundaries, repeat_labels

BEAT_ONSET_RANGE_DB = 40.0  # onset floor for beat tracking: quiet broadband noise (hats) must not outvote the kick
MIN_SECTION_BARS = 4
NOVELTY_HALF_WIDTH_BARS = 4


@dataclass(frozen=True)
class Section:
    """One section of a song: ``[start_seconds, end_seconds)`` and its ``label`` (repeats alike: "A", "B", "A")."""

    start_seconds: float
    end_seconds: float
    label: str

    def to_dict(self) -> dict:
        return {"start_seconds": self.start_seconds, "end_seconds": self.end_seconds, "label": self.label}


@dataclass(frozen=True)
class MusicMap:
    """Beats and downbeats in seconds (float64, increasing), ``meter`` (beats per bar, 0 when unknown),
    ``tempo_bpm`` (median of the local tempo), ``sections`` (tuple of Section covering the whole song)."""

    beat_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    downbeat_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    meter: int = 0
    tempo_bpm: float = 0.0
    sections: tuple = ()
    warnings: tuple = ()


# Mean rise (dB per log band and row) below which the beat onset is taken as none: a steady sine's flux is ~1e-6,
# white noise's median 0.9, a click's 15.
ONSET_FLOOR = 0.05


def _low_band_power(log_bands, band_low_hz: np.ndarray, low_hz: float = 200.0, block_rows: int = 8192):
    """Summed power below ``low_hz`` per row [rows], read a block of rows at a time: ``log_bands`` may be an array
    or the analysis' on-disk rows of a long song (frame_means.DiskRows, read by row slices only)."""
    low = np.asarray(band_low_hz) < low_hz
    low = low if low.any() else np.arange(len(low)) == 0
    return np.concatenate([np.asarray(log_bands[first:first + block_rows])[:, low].sum(axis=1)
                           for first in range(0, len(log_bands), block_rows)] or [np.zeros(0)])


def _low_band_onset(low_power: np.ndarray) -> np.ndarray:
    decibels = 10.0 * np.log10(np.maximum(low_power, 1e-10))
    decibels = np.maximum(decibels, decibels.max(initial=-100.0) - 80.0)
    return np.maximum(np.diff(decibels, prepend=decibels[:1]), 0.0)


def analyse_music_map(log_bands: np.ndarray, chroma: np.ndarray, frame_times: np.ndarray, window_seconds: float,
                      band_low_hz: np.ndarray, duration_seconds: float, beats=None) -> MusicMap:
    """The music map from STFT-rate tables: ``log_bands`` [rows, bands] summed power per log band (lower edges
    ``band_low_hz`` in Hz), ``chroma`` [rows, 12], ``frame_times`` [rows] the centre (s) of each row's window of
    ``window_seconds``, ``duration_seconds`` of the song.

    A beat's time is its row's centre plus a quarter window: with the onset floored 40 dB below the loudest band,
    the flux peaks when a sound fills a quarter of the window (measured on clicks and kicks: 2 ms off at 22.05 and
    44.1 kHz, where half a window, the 80 dB onset's offset, is 23 ms late).

    ``beats``: ``(beat_seconds, downbeat_seconds)`` of a neural tracker (beat_tracking), used instead of the DSP
    beats, downbeats and meter (meter: the most common number of beats between downbeats); the sections are
    found on them the same way, their boundaries snapped to those downbeats."""
    from .onsets import onset_strength

    duration_seconds = float(duration_seconds)
    onset = onset_strength(log_bands, dynamic_range_db=BEAT_ONSET_RANGE_DB)
    onset[onset < ONSET_FLOOR] = 0.0  # rounding ripple of a steady tone is no pulse (a sine gave 47 "beats")
    frame_times = np.asarray(frame_times, np.float64)
    frame_rate = (len(frame_times) - 1) / (frame_times[-1] - frame_times[0]) if len(frame_times) > 1 else 1.0
    onset_times = frame_times + 0.25 * float(window_seconds)
    if beats is not None:
        return _map_from_beats(beats, onset, onset_times, frame_rate, log_bands, chroma, band_low_hz, duration_seconds)
    periods = meter_module.local_beat_periods(onset, frame_rate)
    beat_rows = meter_module.track_beats_drifting(onset, periods)
    tempo = float(60.0 * frame_rate / np.median(periods[periods > 0])) if np.any(periods > 0) else 0.0
    beat_seconds = np.asarray(onset_times, np.float64)[beat_rows] if len(beat_rows) else np.zeros(0)
    if len(beat_rows) < 2:
        return _too_few_beats(beat_seconds, log_bands, duration_seconds)
    low_power = _low_band_power(log_bands, band_low_hz)
    accents = meter_module.beat_accents(beat_rows, onset, low_power, chroma)
    positions, meters = meter_module.bar_positions(accents)
    downbeat_seconds = beat_seconds[positions == 0]
    beats_per_bar = int(np.bincount(meters).argmax())
    sections = _find_sections(beat_rows, positions, beat_seconds, downbeat_seconds, beats_per_bar, log_bands,
                              chroma, onset, _low_band_onset(low_power), duration_seconds)
    return MusicMap(beat_seconds, downbeat_seconds, beats_per_bar, tempo, sections, ())


def _too_few_beats(beat_seconds, log_bands, duration_seconds) -> MusicMap:
    note = (f"the song ({duration_seconds:.2f} s) has {len(beat_seconds)} beat(s), under two: no downbeats or bars, "
            "one section")
    silent = len(log_bands) == 0 or float(log_bands.max()) <= 0  # the silence warning says it already
    return MusicMap(np.asarray(beat_seconds, np.float64), np.zeros(0), 0, 0.0,  # no tempo without two beats
                    (Section(0.0, duration_seconds, "A"),), () if silent else (note,))


def meter_from_downbeats(beat_seconds: np.ndarray, downbeat_seconds: np.ndarray) -> int:
    """Beats per bar: the most common number of beats from one downbeat to the next (the smaller on a tie); 0
    with fewer than two downbeats."""
    if len(downbeat_seconds) < 2:
        return 0
    counts = np.diff(np.searchsorted(np.asarray(beat_seconds), np.asarray(downbeat_seconds)))
    counts = counts[counts > 0]
    return int(np.bincount(counts).argmax()) if len(counts) else 0


def _map_from_beats(beats, onset, onset_times, frame_rate, log_bands, chroma, band_low_hz,
                    duration_seconds) -> MusicMap:
    """The music map on given beats and downbeats (seconds): tempo from the median beat interval, meter from the
    downbeats, sections on the beats (each beat on the onset row it falls in; beats sharing a row keep the first)."""
    beat_seconds = np.sort(np.asarray(beats[0], np.float64))
    downbeat_seconds = np.sort(np.asarray(beats[1], np.float64))
    if len(beat_seconds) < 2:
        return _too_few_beats(beat_seconds, log_bands, duration_seconds)
    rows = len(onset)
    nearest = np.rint((beat_seconds - float(onset_times[0])) * frame_rate) if rows else np.zeros(len(beat_seconds))
    beat_rows = np.clip(nearest, 0, max(rows - 1, 0)).astype(np.int64)
    beat_rows, first = np.unique(beat_rows, return_index=True)
    beat_seconds_on_rows = beat_seconds[first]
    tempo = float(60.0 / np.median(np.diff(beat_seconds)))
    meter = meter_from_downbeats(beat_seconds, downbeat_seconds)
    warnings = () if len(downbeat_seconds) else ("the beat tracker found no downbeats: no bars, one section",)
    sections = _find_sections(beat_rows, None, beat_seconds_on_rows, downbeat_seconds, meter, log_bands, chroma,
                              onset, _low_band_onset(_low_band_power(log_bands, band_low_hz)), duration_seconds)
    return MusicMap(beat_seconds, downbeat_seconds, meter, tempo, sections, warnings)


def _find_sections(beat_rows, positions, beat_seconds, downbeat_seconds, beats_per_bar, log_bands, chroma, onset,
                   low_onset, duration_seconds) -> tuple:
    """Sections of the song (see sections.py): boundaries at novelty peaks, snapped to the nearest downbeat."""
    count = len(beat_rows)
    bar = max(beats_per_bar, 1)
    if count < 2 * MIN_SECTION_BARS * bar or len(downbeat_seconds) < 2:
        return (Section(0.0, duration_seconds, "A"),)
    step = int(np.median(np.diff(beat_rows)))
    edges = np.append(beat_rows, min(len(onset), int(beat_rows[-1]) + step))
    tables = beat_features(edges, log_bands, chroma, onset, low_onset)
    novelty = foote_novelty([tables["timbre"], tables["rhythm"]], NOVELTY_HALF_WIDTH_BARS * bar)
    peaks = pick_boundaries(novelty, MIN_SECTION_BARS * bar)
    boundaries = []  # seconds, each at a downbeat
    for beat in peaks:
        nearest = float(downbeat_seconds[np.argmin(np.abs(downbeat_seconds - beat_seconds[beat]))])
        if nearest > 0 and nearest not in boundaries:
            boundaries.append(nearest)
    boundaries.sort()
    starts = [0.0] + boundaries
    ends = boundaries + [duration_seconds]
    beat_bounds = [0] + [int(np.argmin(np.abs(beat_seconds - b))) for b in boundaries] + [count]
    labels = repeat_labels(list(tables.values()), beat_bounds)
    return tuple(Section(float(s), float(e), label) for s, e, label in zip(starts, ends, labels))


def section_curves(sections, clock) -> dict:
    """Per-frame curves (float32 [frame_count]) of the sections on ``clock``: ``section_index`` (0, 1, 2 ... the
    section's ordinal; not in [0, 1]), ``section_label`` (index of the section's distinct label: A 0, B 1 ...),
    ``section_change`` (1 on a section's first frame after the first section, decaying over one second)."""
    frames = clock.frame_count
    index = np.zeros(frames, np.float32)
    label_index = np.zeros(frames, np.float32)
    change = np.zeros(frames, np.float32)
    distinct = []
    for label in (s.label for s in sections):
        if label not in distinct:
            distinct.append(label)
    fps = float(clock.fps)
    for ordinal, section in enumerate(sections):
        first = int(clock.frame_at_seconds(section.start_seconds)) if ordinal else 0
        index[first:] = ordinal
        label_index[first:] = distinct.index(section.label)
        if ordinal and first < frames:  # the fade, over 20 s at most (e^-20 is 2e-9)
            stop = min(frames, first + int(20 * fps) + 1)
            tail = np.arange(stop - first)
            change[first:stop] = np.maximum(change[first:stop], np.exp(-tail / fps).astype(np.float32))
    return {"section_index": index, "section_label": label_index, "section_change": change}


def bar_curves(downbeat_frames: np.ndarray, clock) -> dict:
    """``downbeat`` (1 on downbeats, decaying with 0.25 s) and ``bar_phase`` (0 at a downbeat rising linearly to
    1 at the next; 0 before the first) per frame, float32 [frame_count]."""
    from .onsets import beat_curve

    frames = clock.frame_count
    phase = np.zeros(frames, np.float32)
    marks = np.asarray(downbeat_frames, np.int64)
    for a, b in zip(marks[:-1], marks[1:]):
        if b > a:
            phase[a:b] = np.arange(b - a) / (b - a)
    if len(marks) > 1 and marks[-1] < frames:
        width = max(int(marks[-1] - marks[-2]), 1)
        tail = np.arange(frames - marks[-1])
        phase[marks[-1]:] = np.minimum(tail / width, 1.0)
    return {"downbeat": beat_curve(marks, frames, float(clock.fps)), "bar_phase": phase}


def attach_music_map(features, music: MusicMap):
    """``features`` with the music map: beat/downbeat frames on its clock, sections, their curves, warnings."""
    clock = features.clock
    beat_frames = np.unique(clock.frame_at_seconds(music.beat_seconds)) if len(music.beat_seconds) \
        else np.zeros(0, np.int64)
    downbeat_frames = np.unique(clock.frame_at_seconds(music.downbeat_seconds)) if len(music.downbeat_seconds) \
        else np.zeros(0, np.int64)
    sections = music.sections or (Section(0.0, clock.duration_seconds, "A"),)
    curves = dict(features.curves)
    curves.update(section_curves(sections, clock))
    curves.update(bar_curves(downbeat_frames, clock))
    return dataclasses.replace(
        features, curves=curves, beat_frames=beat_frames.astype(np.int64),
        downbeat_frames=downbeat_frames.astype(np.int64), sections=tuple(sections), meter=int(music.meter),
        beat_seconds=np.asarray(music.beat_seconds, np.float64),
        downbeat_seconds=np.asarray(music.downbeat_seconds, np.float64),
        warnings=tuple(features.warnings) + tuple(music.warnings))


def with_music_map_of(features, source):
    """``features`` (a stem's) carrying the beats, downbeats, meter and sections of ``source`` (the mix's), so
    every stem moves on the song's own bars and sections. The clocks must agree."""
    if source.clock != features.clock:
        from .errors import AudioWalkInputError

        raise AudioWalkInputError("features", f"the stem's clock {features.clock.to_dict()} differs from the mix's "
                                  f"{source.clock.to_dict()}", "stems as long as the mix, at the same fps")
    music = MusicMap(getattr(source, "beat_seconds", np.zeros(0)), getattr(source, "downbeat_seconds", np.zeros(0)),
                     getattr(source, "meter", 0), source.tempo_bpm, getattr(source, "sections", ()), ())
    attached = attach_music_map(features, music)
    curves = dict(attached.curves)
    for name in ("beat",):
        if name in source.curves:
            curves[name] = source.curves[name]
    return dataclasses.replace(attached, curves=curves, tempo_bpm=source.tempo_bpm)


def sections_text(features) -> str:
    """One line per section of ``features``: "12.00-48.50 s: B" (start and end in seconds, label)."""
    return "\n".join(f"{s.start_seconds:.2f}-{s.end_seconds:.2f} s: {s.label}" for s in getattr(features, "sections", ()))

