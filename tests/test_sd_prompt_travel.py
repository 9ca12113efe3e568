"""Prompt travel: weights per frame from a schedule (sections, bars, beats, seconds) on a synthetic section plan,
batched conditioning (per-row blends, token lengths, pooled output), and bad input named before sampling."""
import numpy as np
import pytest
import torch

from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.sd_walk.prompt_travel import blend_conditionings, schedule_knots, travel_weights
from sd_walk_support import section, song_features

# 10 fps, 30 s: A 0-8 s, B 8-16 s, A 16-24 s, C 24-30 s
PLAN = (section(0, 8, "A"), section(8, 16, "B"), section(16, 24, "A"), section(24, 30, "C"))


def weights(features, schedule, mode, transition=0, frames=None, prompts=3):
    knots = schedule_knots(features, schedule, mode, transition)
    return travel_weights(knots, range(features.frame_count) if frames is None else frames, prompts)


def test_sections_pick_their_labels_prompt_and_crossfade_into_each_section():
    features = song_features(300, sections=PLAN)
    w = weights(features, "A: 1, B: 2, C: 3", "sections", transition=10)
    assert np.allclose(w.sum(axis=1), 1.0)
    assert list(w[0]) == [1, 0, 0] and list(w[69]) == [1, 0, 0]
    assert np.allclose(w[75], [0.5, 0.5, 0])  # halfway into the 10-frame crossfade before B (frame 80)
    assert list(w[80]) == [0, 1, 0] and list(w[150]) == [0, 1, 0]
    assert list(w[160]) == [1, 0, 0]  # A again: prompt 1
    assert list(w[299]) == [0, 0, 1]
    cut = weights(features, "A: 1, *: 2", "sections")  # transition 0: a cut; * covers B and C
    assert list(cut[79]) == [1, 0, 0] and list(cut[80]) == [0, 1, 0] and list(cut[250]) == [0, 1, 0]


def test_bars_beats_and_seconds_travel_between_keys():
    features = song_features(200, beats=range(0, 200, 5), downbeats=range(0, 200, 20))
    w = weights(features, "0: 1, 2: 2, 4: 3", "bars")  # bars at frames 0, 40, 80
    assert np.allclose(w[20], [0.5, 0.5, 0]) and np.allclose(w[40], [0, 1, 0]) and np.allclose(w[70], [0, 0.25, 0.75])
    assert np.allclose(w[150], [0, 0, 1])
    beats = weights(features, "0: 1, 4: 2", "beats")  # beat 4 = frame 20
    assert np.allclose(beats[10], [0.5, 0.5, 0])
    held = weights(features, "0: 1, 10: 2", "seconds", transition=20)  # hold prompt 1, crossfade 80..100
    assert list(held[79]) == [1, 0, 0] and np.allclose(held[90], [0.5, 0.5, 0]) and list(held[100]) == [0, 1, 0]
    no_downbeats = song_features(200, beats=range(0, 200, 5))  # bars from every 4th beat (4/4)
    assert np.allclose(weights(no_downbeats, "0: 1, 1: 2", "bars")[10], [0.5, 0.5, 0])


def test_a_chunks_weights_are_that_range_of_the_whole_songs():
    features = song_features(300, sections=PLAN)
    whole = weights(features, "A: 1, B: 2, C: 3", "sections", transition=15)
    assert np.array_equal(weights(features, "A: 1, B: 2, C: 3", "sections", 15, frames=range(70, 130)),
                          whole[70:130])


def _conditioning(value, tokens=77, width=8, pooled=None):
    extras = {} if pooled is None else {"pooled_output": torch.full((1, 4), float(pooled))}
    return [[torch.full((1, tokens, width), float(value)), extras]]


def test_blended_conditioning_gives_each_frame_its_own_row():
    w = np.array([[1.0, 0.0], [0.25, 0.75], [0.0, 1.0]])
    (cond, extras), = blend_conditionings([_conditioning(2.0, pooled=10), _conditioning(6.0, pooled=20)], w)
    assert cond.shape == (3, 77, 8)
    assert torch.allclose(cond[:, 0, 0], torch.tensor([2.0, 5.0, 6.0]))
    assert torch.allclose(extras["pooled_output"][:, 0], torch.tensor([10.0, 17.5, 20.0]))
    # prompts of 77 and 154 tokens: the short one repeated to 154 (ComfyUI's own cross-attention padding)
    short = [[torch.arange(77.0)[None, :, None].expand(1, 77, 8).clone(), {}]]
    (long_cond, _), = blend_conditionings([short, _conditioning(1.0, tokens=154)], np.array([[1.0, 0.0]]))
    assert long_cond.shape == (1, 154, 8) and torch.equal(long_cond[0, 77:], long_cond[0, :77])


def test_bad_schedules_and_inputs_are_named_before_sampling():
    features = song_features(300, sections=PLAN, beats=range(0, 300, 5))
    with pytest.raises(AudioWalkInputError, match="Prompt Travel: schedule.*label 'D' is not in the song"):
        schedule_knots(features, "A: 1, D: 2", "sections")
    with pytest.raises(AudioWalkInputError, match="label 'C' has no prompt"):
        schedule_knots(features, "A: 1, B: 2", "sections")
    with pytest.raises(AudioWalkInputError, match="Prompt Travel: conditioning_3.*only 2 conditioning"):
        travel_weights(schedule_knots(features, "A: 1, B: 2, C: 3", "sections"), range(10), 2)
    with pytest.raises(AudioWalkInputError, match="no sections"):
        schedule_knots(song_features(100), "A: 1", "sections")
    with pytest.raises(AudioWalkInputError, match="beat 100 does not exist"):
        schedule_knots(features, "0: 1, 100: 2", "beats")
    with pytest.raises(AudioWalkInputError, match="not 'key: prompt number'"):
        schedule_knots(features, "A = 1", "sections")
    with pytest.raises(AudioWalkInputError, match="Prompt Travel: conditioning_2"):
        blend_conditionings([_conditioning(1.0), _conditioning(1.0) * 2], np.ones((1, 2)) / 2)
