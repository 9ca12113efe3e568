"""The bundled demo song: a deterministic synthesised track (no downloaded music).

About 20 s at 120 BPM in 4/4: kick on every beat, snare on beats 2 and 4, closed hi-hat on eighths, a bass line on
the chord roots and sustained chords (Am - F - C - G, one bar each). Every random draw (drum noise) comes from a
fixed seed, so the file is bit-identical on every machine with the same numpy.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from audiowalk_core.audio import AudioClip

DEMO_BPM = 120
DEMO_SECONDS = 20.0
# chord roots (MIDI) and chord tones, one per bar: A minor, F major, C major, G major
_PROGRESSION = [(45, (57, 60, 64)), (41, (53, 57, 60)), (48, (55, 60, 64)), (43, (55, 59, 62))]


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def demo_beat_times(duration_seconds: float = DEMO_SECONDS, bpm: float = DEMO_BPM) -> np.ndarray:
    """Times (s) of the kick drum, one per beat from t = 0: the beats a tracker should find."""
    return np.arange(0.0, duration_seconds - 1e-9, 60.0 / bpm)


def synthesize_demo_song(sample_rate: int = 44100, duration_seconds: float = DEMO_SECONDS,
                         bpm: float = DEMO_BPM) -> AudioClip:
    """Synthesise the demo song: stereo float32 AudioClip in [-1, 1], ``duration_seconds`` long."""
    total = int(round(duration_seconds * sample_rate))
    t = np.arange(total) / sample_rate
    rng = np.random.default_rng(20261125)
    beat = 60.0 / bpm
    drums = np.zeros(total)
    music = np.zeros(total)

    def place(signal: np.ndarray, start_s: float, target: np.ndarray, gain: float) -> None:
        start = int(round(start_s * sample_rate))
        if start >= total:
            return
        end = min(total, start + len(signal))
        target[start:end] += gain * signal[:end - start]

    kick_t = np.arange(int(0.25 * sample_rate)) / sample_rate
    kick_phase = 2 * np.pi * (50 * kick_t + (100 / 30.0) * (1 - np.exp(-30 * kick_t)))  # 150 Hz -> 50 Hz sweep
    kick = np.sin(kick_phase) * np.exp(-kick_t / 0.08)
    snare_t = np.arange(int(0.18 * sample_rate)) / sample_rate
    hat_t = np.arange(int(0.05 * sample_rate)) / sample_rate
    for index, start in enumerate(demo_beat_times(duration_seconds, bpm)):
        place(kick, start, drums, 0.9)
        if index % 2 == 1:  # beats 2 and 4
            noise = rng.standard_normal(len(snare_t))
            snare = (0.6 * noise + 0.4 * np.sin(2 * np.pi * 190 * snare_t)) * np.exp(-snare_t / 0.045)
            place(snare, start, drums, 0.45)
        for eighth in (0.0, 0.5):
            noise = np.diff(rng.standard_normal(len(hat_t) + 1))  # first difference: a crude high-pass
            place(noise * np.exp(-hat_t / 0.012), start + eighth * beat, drums, 0.12)

    bar = 4 * beat
    bars = int(np.ceil(duration_seconds / bar))
    for bar_index in range(bars):
        root, chord = _PROGRESSION[bar_index % len(_PROGRESSION)]
        bar_start = bar_index * bar
        chord_t = np.arange(int(bar * sample_rate)) / sample_rate
        envelope = np.minimum(chord_t / 0.05, 1.0) * np.exp(-chord_t / 3.0)
        pad = sum(np.sin(2 * np.pi * _midi_hz(note) * chord_t) + 0.3 * np.sin(4 * np.pi * _midi_hz(note) * chord_t)
                  for note in chord)
        place(pad * envelope, bar_start, music, 0.07)
        for step, octave in enumerate((0, 0, 12, 0, 0, 7, 12, 0)):  # eighth-note bass pattern
            note_t = np.arange(int(0.5 * beat * sample_rate)) / sample_rate
            frequency = _midi_hz(root + octave - 12)
            tone = np.sin(2 * np.pi * frequency * note_t) + 0.25 * np.sin(6 * np.pi * frequency * note_t)
            place(tone * np.exp(-note_t / 0.15) * np.minimum(note_t / 0.005, 1.0), bar_start + step * 0.5 * beat,
                  music, 0.25)

    left = drums + music * 0.9
    right = drums + music * 1.1
    stereo = np.stack([left, right])
    stereo *= 0.89 / max(np.abs(stereo).max(), 1e-9)
    return AudioClip(stereo.astype(np.float32), int(sample_rate))


def write_demo_song(path, sample_rate: int = 44100, duration_seconds: float = DEMO_SECONDS) -> Path:
    """Write the demo song as a 16-bit stereo file at ``path`` (atomically; wav, or flac for a .flac name) and
    return the path."""
    import soundfile

    from audiowalk_core.paths import atomic_output

    clip = synthesize_demo_song(sample_rate, duration_seconds)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    with atomic_output(path) as temporary:
        soundfile.write(str(temporary), clip.samples.T, clip.sample_rate, subtype="PCM_16", format=kind)
    return path


if __name__ == "__main__":  # python -m audiowalk_tools.demo: (re)write the copy the node pack ships
    from audiowalk_core.audio import BUNDLED_DEMO_SONG

    print(write_demo_song(BUNDLED_DEMO_SONG))
