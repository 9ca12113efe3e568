"""Bar- and section-based choices: Class Schedule modes bars / sections, keyframes on downbeats and sections,
the section curves of Feature Curve."""
from __future__ import annotations

import numpy as np
import pytest

from audiowalk_core.classes import class_schedule_columns, label_weights
from audiowalk_core.clock import FrameClock
from audiowalk_core.curves import select_curve
from audiowalk_core.features import AudioFeatures
from audiowalk_core.keyframes import select_keyframes
from audiowalk_core.music_map import MusicMap, Section, attach_music_map

CLOCK = FrameClock(fps=10, sample_rate=22050, frame_count=1200)  # two minutes at 10 fps


def mapped_features(labels="ABABC", section_seconds=24.0, bar_seconds=2.0):
    sections = tuple(Section(i * section_seconds, (i + 1) * section_seconds, label) for i, label in enumerate(labels))
    downbeats = np.arange(0.0, CLOCK.duration_seconds, bar_seconds)
    beats = np.arange(0.0, CLOCK.duration_seconds, bar_seconds / 4)
    music = MusicMap(beats, downbeats, 4, 120.0, sections, ())
    base = AudioFeatures(CLOCK, {"rms": np.zeros(CLOCK.frame_count, np.float32)})
    return attach_music_map(base, music)


def test_sections_mode_gives_each_label_its_class_and_repeats_return_to_it():
    features = mapped_features()
    weights = label_weights(features, [1, 2, 3], mode="sections", crossfade_frames=10)
    assert weights.shape == (1200, 3) and np.allclose(weights.sum(axis=1), 1.0)
    middle_of = [int((i + 0.5) * 240) for i in range(5)]
    assert [int(np.argmax(weights[f])) for f in middle_of] == [0, 1, 0, 1, 2]
    assert np.all(weights[middle_of] == np.eye(3)[[0, 1, 0, 1, 2]])
    # the crossfade at the first boundary (frame 240) takes 10 frames, from A's class to B's
    fade = weights[240:250, 1]
    assert np.all(np.diff(fade) > 0) and fade[-1] == 1.0 and weights[239, 0] == 1.0


def test_sections_mode_wraps_when_there_are_more_section_labels_than_class_labels():
    features = mapped_features("ABCAB")
    weights = label_weights(features, [5, 6], mode="sections", crossfade_frames=0)
    assert [int(np.argmax(weights[int((i + 0.5) * 240)])) for i in range(5)] == [0, 1, 0, 0, 1]


def test_bars_mode_switches_every_n_bars_on_the_downbeats():
    features = mapped_features()
    weights = label_weights(features, [1, 2, 3], mode="bars", beats_per_switch=2, crossfade_frames=0)
    # downbeats every 20 frames; every 2nd downbeat after the first switches: frames 40, 80, 120 ...
    changes = np.nonzero(np.any(np.diff(weights, axis=0) != 0, axis=1))[0] + 1
    assert changes.tolist() == list(range(40, 1200, 40))
    assert [int(np.argmax(weights[f])) for f in (0, 40, 80, 120)] == [0, 1, 2, 0]
    classes, compact = class_schedule_columns(features, "teapot | bubble", mode="bars", beats_per_switch=1)
    assert compact.shape == (1200, 2) and np.allclose(compact.sum(axis=1), 1.0)


def test_schedules_without_a_music_map_hold_the_first_label():
    plain = AudioFeatures(CLOCK, {"rms": np.zeros(1200, np.float32)})
    for mode in ("bars", "sections"):
        weights = label_weights(plain, [1, 2], mode=mode)
        assert np.all(weights[:, 0] == 1.0), mode


def test_keyframes_on_downbeats_and_on_section_starts():
    features = mapped_features()
    plan = select_keyframes(1200, 3, "downbeats", features)
    assert plan.indices == tuple(range(0, 1200, 20)) + (1199,)
    plan = select_keyframes(1200, 3, "sections", features)
    assert plan.indices == (0, 240, 480, 720, 960, 1199)
    chunk = select_keyframes(300, 3, "sections", features, first_frame=400)
    assert chunk.indices == (0, 80, 299)  # the section start at frame 480, 80 frames into the chunk


def test_section_curves_for_other_nodes():
    features = mapped_features()
    index = select_curve(features, "section_index")
    assert index[0] == 0.0 and index[-1] == 1.0 and index[300] == pytest.approx(0.25)
    change = select_curve(features, "section_change")
    assert change[240] == 1.0 and change[239] == 0.0 and 0.3 < change[250] < 0.4  # 1 s decay at 10 fps
    downbeat = select_curve(features, "downbeat")
    assert np.all(downbeat[::20] == 1.0)
    phase = select_curve(features, "bar_phase")
    assert phase[0] == 0.0 and phase[10] == pytest.approx(0.5)
