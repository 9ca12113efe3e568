"""The music map on minutes-long synthetic songs with known answers: beats with a tempo change, downbeats and
meter (4/4 and 3/4), sections with repeat labels, the per-frame curves, and a song too short for a bar."""
from __future__ import annotations

import numpy as np
import pytest

from audiowalk_core.analysis import compute_features
from audiowalk_core.audio import AudioClip
from audiowalk_core.meter import f_measure
from audiowalk_tools.synthetic_songs import synthesize_song

FPS = 10  # a low video rate: the exact beat times do not depend on it


def analyse(song, fps=FPS):
    return compute_features(AudioClip(song.mix[None], song.sample_rate), fps)


@pytest.fixture(scope="module")
def song_4_4_step():
    song = synthesize_song((("A", 16), ("B", 16), ("D", 16), ("A", 16)), meter=4, bpm=(120, 96))
    return song, analyse(song)


@pytest.fixture(scope="module")
def song_3_4_ramp():
    song = synthesize_song((("A", 24), ("B", 24), ("D", 24), ("A", 24)), meter=3, bpm=lambda bar: 132 - 0.4 * bar)
    return song, analyse(song)


@pytest.fixture(scope="module")
def song_abab_c():
    song = synthesize_song((("A", 16), ("B", 16), ("A", 16), ("B", 16), ("C", 16)), meter=4, bpm=(120, 104))
    return song, analyse(song)


def test_f_measure_counts_one_to_one_matches_within_70_ms():
    reference = [1.0, 2.0, 3.0, 4.0]
    assert f_measure(reference, reference) == 1.0
    assert f_measure(reference, [1.06, 2.0, 3.0, 4.0]) == 1.0
    assert f_measure(reference, [1.08, 2.0, 3.0, 4.0]) == pytest.approx(0.75)
    assert f_measure(reference, [1.0, 1.01, 2.0, 3.0, 4.0]) == pytest.approx(2 * 0.8 * 1.0 / 1.8)  # one spare
    assert f_measure(reference, []) == 0.0 and f_measure([], []) == 1.0


def test_4_4_song_with_a_tempo_step_gives_its_beats_downbeats_and_meter(song_4_4_step):
    song, features = song_4_4_step
    assert song.seconds > 120  # minutes, not a clip
    assert features.meter == 4
    assert f_measure(song.beats_seconds, features.beat_seconds) >= 0.95
    assert f_measure(song.downbeats_seconds, features.downbeat_seconds) >= 0.9
    # both tempos are heard: the beat intervals of each half
    intervals = np.diff(features.beat_seconds)
    middle = song.downbeats_seconds[32]
    first, second = intervals[features.beat_seconds[1:] < middle - 1], intervals[features.beat_seconds[:-1] > middle]
    assert abs(60 / np.median(first) - 120) < 1.5 and abs(60 / np.median(second) - 96) < 1.5


def test_3_4_song_with_a_drifting_tempo_gives_its_downbeats_and_meter(song_3_4_ramp):
    song, features = song_3_4_ramp
    assert song.seconds > 120
    assert features.meter == 3
    assert f_measure(song.beats_seconds, features.beat_seconds) >= 0.95
    assert f_measure(song.downbeats_seconds, features.downbeat_seconds) >= 0.9


def test_downbeat_frames_are_on_the_features_clock(song_4_4_step):
    song, features = song_4_4_step
    assert np.array_equal(features.downbeat_frames,
                          np.unique(features.clock.frame_at_seconds(features.downbeat_seconds)))
    assert set(features.downbeat_frames.tolist()) <= set(features.beat_frames.tolist())
    downbeat = features.curves["downbeat"]
    assert np.all(downbeat[features.downbeat_frames] == 1.0)
    phase = features.curves["bar_phase"]
    assert np.all(phase[features.downbeat_frames] == 0.0) and phase.max() < 1.0 + 1e-6
    chunk = features.slice_frames(300, 400)
    expected = features.downbeat_frames[(features.downbeat_frames >= 300) & (features.downbeat_frames < 700)] - 300
    assert np.array_equal(chunk.downbeat_frames, expected) and chunk.sections == features.sections


def test_sections_abab_c_are_found_within_a_beat_and_repeats_share_labels(song_abab_c):
    song, features = song_abab_c
    assert song.seconds > 150
    found = features.sections
    assert len(found) == 5, [(s.start_seconds, s.label) for s in found]
    beat_period = np.median(np.diff(song.beats_seconds))
    for section, (start, end, _) in zip(found[1:], song.sections[1:]):
        assert abs(section.start_seconds - start) <= beat_period, (section, start)
    labels = [section.label for section in found]
    assert labels == ["A", "B", "A", "B", "C"]
    assert found[0].start_seconds == 0.0 and found[-1].end_seconds == pytest.approx(song.seconds)
    for before, after in zip(found[:-1], found[1:]):
        assert before.end_seconds == after.start_seconds
        # every boundary is a downbeat
        assert np.min(np.abs(features.downbeat_seconds - after.start_seconds)) < 1e-9


def test_section_curves_follow_the_sections(song_abab_c):
    _, features = song_abab_c
    index = features.curves["section_index"]
    label = features.curves["section_label"]
    change = features.curves["section_change"]
    starts = [int(features.clock.frame_at_seconds(s.start_seconds)) for s in features.sections]
    assert index[0] == 0 and index[-1] == len(features.sections) - 1
    for ordinal, first in enumerate(starts):
        assert index[first] == ordinal
        assert label[first] == "ABC".index(features.sections[ordinal].label)
        if ordinal:
            assert index[first - 1] == ordinal - 1 and change[first] == 1.0
    assert change[:starts[1]].max() == 0.0
    assert np.all(np.diff(index) >= 0)


def test_a_song_under_two_beats_has_no_downbeats_one_section_and_a_warning():
    sample_rate = 22050
    samples = np.zeros(int(0.8 * sample_rate), np.float32)
    samples[2000:2400] = np.random.default_rng(0).standard_normal(400).astype(np.float32) * 0.5
    features = compute_features(AudioClip(samples[None], sample_rate), 30)
    assert len(features.beat_seconds) < 2 and len(features.downbeat_frames) == 0
    assert len(features.sections) == 1 and features.sections[0].label == "A"
    assert any("under two" in warning for warning in features.warnings)
    assert np.all(features.curves["section_index"] == 0) and np.all(features.curves["bar_phase"] == 0)


def test_music_map_reads_on_disk_log_bands_like_an_array(song_4_4_step):
    """Long songs keep their log bands on disk (analysis' DiskRows): the music map reads them in blocks, equal."""
    from audiowalk_core import analysis
    from audiowalk_core.frame_means import DiskRows
    from audiowalk_core.music_map import analyse_music_map

    song, _ = song_4_4_step
    sample_rate = song.sample_rate
    n_fft, _ = analysis._stft_size(sample_rate)
    tables = analysis._StftTables(song.mix, sample_rate, analysis.improved_band_edges(sample_rate, n_fft, 48))
    on_disk = DiskRows(*tables.log_bands.shape, block_rows=1000)
    on_disk[0:len(tables.log_bands)] = tables.log_bands
    low_hz = analysis._log_band_matrix(sample_rate, n_fft)[0] * sample_rate / n_fft
    arguments = (tables.chroma, tables.frame_times(), n_fft / sample_rate, low_hz, song.seconds)
    in_memory = analyse_music_map(tables.log_bands, *arguments)
    from_disk = analyse_music_map(on_disk, *arguments)
    assert np.array_equal(in_memory.downbeat_seconds, from_disk.downbeat_seconds)
    assert in_memory.sections == from_disk.sections and in_memory.meter == from_disk.meter == 4


def test_a_steady_tone_has_no_beats_and_no_tempo():
    """A 20 s sine has no pulse: its onset is rounding ripple (~1e-6), which once gave 47 'beats' and a meter."""
    rate = 22050
    t = np.arange(20 * rate) / rate
    clip = AudioClip((0.5 * np.sin(2 * np.pi * 440.0 * t))[None].astype(np.float32), rate)
    features = compute_features(clip, 10)
    assert len(features.beat_frames) < 2 and len(features.downbeat_frames) == 0
    assert features.tempo_bpm == 0.0 and len(features.sections) == 1


def test_the_tempo_stage_memory_does_not_grow_with_the_song():
    """local_beat_periods works a block of windows at a time: its peak for 60 minutes of onsets stays within 25 MiB
    of its peak for 1 minute (it built every window's whole FFT at once: +188 MiB at 60 minutes)."""
    import tracemalloc

    from audiowalk_core.meter import local_beat_periods

    rate = 86.0  # STFT rows per second at 44.1 kHz
    rng = np.random.default_rng(0)
    peaks = {}
    for minutes in (1, 60):
        onset = rng.random(int(minutes * 60 * rate))
        onset[::43] += 5.0  # a pulse at 120 BPM
        tracemalloc.start()
        local_beat_periods(onset, rate)
        peaks[minutes] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    # what grows: the per-row output and per-window lags and scores, about 0.25 MiB per minute (15 MiB at 60
    # minutes, 4% of a render's peak); the whole FFTs at once grew 188 MiB
    assert peaks[60] - peaks[1] < 25.0, peaks
