"""Synthetic songs with known answers (beats, downbeats, meter, sections, stems) for tests and benchmarks.

A song is a list of sections ``(label, bars)``; each label has its own instrumentation (drums, bass, chords with
their own timbre and chord progression), the tempo can change from one bar to the next, and the downbeats are
accented (a louder kick, the chord changes on the bar). Everything is deterministic (fixed seed).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Chord progressions (semitones of the triad roots above C3) and timbres per section label.
_PROGRESSIONS = {
    "A": ((0, 4, 7), (9, 12, 16), (5, 9, 12), (7, 11, 14)),        # C Am F G
    "B": ((2, 5, 9), (10, 14, 17), (3, 7, 10), (8, 12, 15)),       # Dm Bb Eb Ab
    "C": ((4, 8, 11), (1, 4, 8), (6, 9, 13), (11, 15, 18)),        # E C#m F#m B
    "D": ((7, 10, 14), (0, 3, 7), (5, 8, 12), (2, 6, 9)),
}
# partial amplitudes (timbre) and decay (seconds) of the chords, per label
_TIMBRES = {"A": ((1.0, 0.5, 0.25, 0.12), 0.6), "B": ((1.0, 0.0, 0.33, 0.0, 0.2, 0.0, 0.14), 2.0),
            "C": ((1.0, 0.1), 6.0), "D": ((1.0, 0.7, 0.5, 0.35, 0.25), 1.0)}
# which instruments play per label: (kick, hats, snare, bass)
_ARRANGEMENT = {"A": (True, True, False, True), "B": (True, False, True, True),
                "C": (False, False, False, False), "D": (True, True, True, False)}


@dataclass
class SyntheticSong:
    """A rendered song: ``mix`` float32 [samples] and ``stems`` {name: float32 [samples]} (mix = their sum),
    the truth: ``beats_seconds``, ``downbeats_seconds``, ``sections`` [(start_s, end_s, label)], ``meter``."""

    sample_rate: int
    mix: np.ndarray
    stems: dict
    beats_seconds: np.ndarray
    downbeats_seconds: np.ndarray
    sections: list = field(default_factory=list)
    meter: int = 4
    onsets: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return len(self.mix) / self.sample_rate


def _bar_tempos(total_bars: int, bpm) -> np.ndarray:
    """BPM of each bar: a number (constant), a pair (start, end: a step at the middle bar) or a callable of bar."""
    if callable(bpm):
        return np.asarray([float(bpm(bar)) for bar in range(total_bars)])
    if isinstance(bpm, (tuple, list)):
        return np.where(np.arange(total_bars) < total_bars // 2, float(bpm[0]), float(bpm[1]))
    return np.full(total_bars, float(bpm))


def _add(out: np.ndarray, start: int, signal: np.ndarray) -> None:
    stop = min(start + len(signal), len(out))
    if stop > start >= 0:
        out[start:stop] += signal[:stop - start]


def synthesize_song(sections=(("A", 16), ("B", 16), ("A", 16), ("B", 16), ("C", 16)), meter: int = 4,
                    bpm=120.0, sample_rate: int = 22050, lead_in_seconds: float = 0.5,
                    tail_seconds: float = 1.5, accent: float = 1.0, bass_every_beat: bool = False,
                    bass_offset_beats: float = 0.0, chord_offset_beats: float = 0.0) -> SyntheticSong:
    """Render ``sections`` (label, bars) in ``meter`` beats per bar at ``bpm`` (see :func:`_bar_tempos`).

    ``accent``: how much louder the downbeat kick is than the other beats' (1.0: twice as loud). The bass plays
    once a bar (or once a beat with ``bass_every_beat``), ``bass_offset_beats`` after the bar's (beat's) start; the
    chords ``chord_offset_beats`` after the bar's start. ``onsets`` (of the result) lists each stem's note times."""
    rng = np.random.default_rng(1234)
    total_bars = sum(bars for _, bars in sections)
    tempos = _bar_tempos(total_bars, bpm)
    beat_times, bar_starts = [], []
    time = lead_in_seconds
    for bar in range(total_bars):
        bar_starts.append(time)
        for _ in range(meter):
            beat_times.append(time)
            time += 60.0 / tempos[bar]
    end_time = time
    samples = int((end_time + tail_seconds) * sample_rate)
    drums = np.zeros(samples, np.float32)
    bass = np.zeros(samples, np.float32)
    chords = np.zeros(samples, np.float32)

    kick_t = np.arange(int(0.25 * sample_rate)) / sample_rate
    kick = (np.sin(2 * np.pi * (45 * kick_t + 75 * 0.03 * (1 - np.exp(-kick_t / 0.03))))  # 120 -> 45 Hz
            * np.exp(-kick_t / 0.09)).astype(np.float32)
    hat_n = int(0.04 * sample_rate)
    hat = (np.diff(rng.standard_normal(hat_n + 1)) * np.exp(-np.arange(hat_n) / (0.008 * sample_rate)) * 0.12
           ).astype(np.float32)
    snare_n = int(0.15 * sample_rate)
    snare = (rng.standard_normal(snare_n) * np.exp(-np.arange(snare_n) / (0.04 * sample_rate)) * 0.25
             ).astype(np.float32)

    section_truth = []
    onsets = {"drums": [], "bass": [], "chords": []}
    bar = 0
    for label, bars in sections:
        kick_on, hats_on, snare_on, bass_on = _ARRANGEMENT[label]
        partials, decay = _TIMBRES[label]
        progression = _PROGRESSIONS[label]
        start_bar = bar
        for local_bar in range(bars):
            bar_start = bar_starts[bar]
            bar_stop = bar_starts[bar + 1] if bar + 1 < total_bars else end_time
            beat_seconds = (bar_stop - bar_start) / meter
            for beat in range(meter):
                at = int(round((bar_start + beat * beat_seconds) * sample_rate))
                if kick_on:
                    _add(drums, at, kick * (0.5 * (1.0 + accent) if beat == 0 else 0.5))
                if kick_on or snare_on:
                    onsets["drums"].append(at / sample_rate)
                if hats_on:
                    _add(drums, at + int(beat_seconds * sample_rate / 2), hat)
                if snare_on and beat % 2 == 1:
                    _add(drums, at, snare)
            chord = progression[local_bar % len(progression)]
            chord_start = bar_start + chord_offset_beats * beat_seconds
            length = int(round((bar_stop - chord_start) * sample_rate))
            t = np.arange(length) / sample_rate
            envelope = np.exp(-t / decay) * np.minimum(1.0, t / 0.005)
            tone = np.zeros(length)
            for semitone in chord:
                f0 = 130.81 * 2 ** (semitone / 12)
                for number, amplitude in enumerate(partials, start=1):
                    if amplitude:
                        tone += amplitude * np.sin(2 * np.pi * f0 * number * t)
            _add(chords, int(round(chord_start * sample_rate)), (0.08 * envelope * tone).astype(np.float32))
            onsets["chords"].append(chord_start)
            if bass_on:
                f0 = 65.41 * 2 ** (chord[0] / 12)
                notes = range(meter) if bass_every_beat else range(1)
                note_seconds = beat_seconds if bass_every_beat else bar_stop - bar_start
                for note in notes:
                    note_start = bar_start + (note + bass_offset_beats) * beat_seconds
                    t = np.arange(int(round(note_seconds * sample_rate))) / sample_rate
                    bass_envelope = np.exp(-t / min(0.5, 0.4 * note_seconds)) * np.minimum(1.0, t / 0.01)
                    bass_tone = np.sin(2 * np.pi * f0 * t) + 0.3 * np.sin(4 * np.pi * f0 * t)
                    _add(bass, int(round(note_start * sample_rate)),
                         (0.25 * bass_envelope * bass_tone).astype(np.float32))
                    onsets["bass"].append(note_start)
            bar += 1
        section_truth.append((bar_starts[start_bar], bar_starts[bar] if bar < total_bars else end_time, label))
    stems = {"drums": drums, "bass": bass, "chords": chords}
    mix = (drums + bass + chords).astype(np.float32)
    peak = float(np.abs(mix).max()) or 1.0
    scale = np.float32(0.9 / peak)
    stems = {name: (stem * scale).astype(np.float32) for name, stem in stems.items()}
    return SyntheticSong(sample_rate, (mix * scale).astype(np.float32), stems, np.asarray(beat_times),
                         np.asarray(bar_starts), section_truth, meter,
                         {name: np.asarray(times) for name, times in onsets.items()})
