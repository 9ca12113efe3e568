"""Keyframe selection (every_n, beats, onsets on synthetic features) and crossfades back to the full count."""
import json
from fractions import Fraction

import numpy as np
import audiowalk_core
import pytest
import torch

from audiowalk_core.clock import FrameClock
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.features import AudioFeatures
from audiowalk_core.keyframes import interpolate_frames, select_keyframes


def synthetic_features(frame_count, beat_frames=(), onset_peaks=()):
    onset = np.zeros(frame_count, np.float32)
    onset[list(onset_peaks)] = 1.0
    clock = FrameClock(Fraction(30), 44100, frame_count)
    return AudioFeatures(clock, {"onset": onset}, beat_frames=np.asarray(beat_frames, np.int64))


def test_every_n_matches_the_seed_spacing_and_keeps_both_ends():
    plan = select_keyframes(10, 3, "every_n")
    assert plan.indices == (0, 4, 8, 9)
    assert json.loads(json.dumps(plan.to_dict())) == {"first_frame": 0, "frame_count": 10, "indices": [0, 4, 8, 9]}
    assert select_keyframes(1, 3).indices == (0,)


def test_beats_mode_uses_beat_frames_at_least_spacing_apart():
    features = synthetic_features(40, beat_frames=[5, 7, 15, 25, 26, 39])
    plan = select_keyframes(40, 3, "beats", features)
    assert plan.indices == (0, 5, 15, 25, 39)


def test_onsets_mode_uses_onset_peaks():
    features = synthetic_features(30, onset_peaks=[6, 12, 20])
    assert select_keyframes(30, 2, "onsets", features).indices == (0, 6, 12, 20, 29)
    # a chunk starting at frame 10 of the features' clock sees the peaks at 2 and 10
    assert select_keyframes(15, 1, "onsets", features, first_frame=10).indices == (0, 2, 10, 14)


def test_crossfades_are_linear_and_keyframes_exact():
    plan = select_keyframes(9, 3, "every_n")  # keyframes 0, 4, 8
    keys = torch.stack([torch.full((2, 3, 3), v) for v in (0.0, 1.0, 0.5)])
    frames = interpolate_frames(keys, plan)
    assert frames.shape == (9, 2, 3, 3)
    expected = [0, 0.25, 0.5, 0.75, 1.0, 0.875, 0.75, 0.625, 0.5]
    assert torch.allclose(frames[:, 0, 0, 0], torch.tensor(expected))


def test_keyframes_of_a_new_size_give_frames_of_that_size():
    plan = select_keyframes(5, 1, "every_n")  # 0, 2, 4
    frames = interpolate_frames(torch.rand(3, 16, 24, 3), plan)  # e.g. after a VAE round trip changed the size
    assert frames.shape == (5, 16, 24, 3)


@pytest.mark.parametrize("kwargs, name", [
    ({"frame_count": 10, "interpolation_steps": -1}, "interpolation_steps"),
    ({"frame_count": 10, "mode": "random"}, "mode"),
    ({"frame_count": 10, "mode": "beats"}, "features"),
    ({"frame_count": 0}, "images"),
])
def test_bad_selection_inputs_are_named(kwargs, name):
    with pytest.raises(AudioWalkInputError, match=name):
        select_keyframes(**kwargs)


def test_wrong_keyframe_count_is_named():
    plan = select_keyframes(9, 3, "every_n")
    with pytest.raises(AudioWalkInputError, match="keyframes"):
        interpolate_frames(torch.rand(2, 4, 4, 3), plan)
