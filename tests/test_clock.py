from fractions import Fraction

import numpy as np
import pytest

from audiowalk_core import AudioWalkInputError, FrameClock, parse_fps


@pytest.mark.parametrize("fps", [24, 25, 30, Fraction(30000, 1001), 60, "30000/1001", 29.97, 23.976])
@pytest.mark.parametrize("seconds", [1.0, 7.3, 180.02])
@pytest.mark.parametrize("sample_rate", [22050, 44100, 48000])
def test_frame_count_matches_duration(fps, seconds, sample_rate):
    num_samples = int(round(seconds * sample_rate))
    clock = FrameClock.for_duration(num_samples, sample_rate, fps)
    audio_seconds = num_samples / sample_rate
    assert abs(clock.duration_seconds - audio_seconds) <= 0.5 / float(clock.fps) + 1e-9
    bounds = clock.frame_boundaries()
    assert bounds[0] == 0 and np.all(np.diff(bounds) > 0)
    assert abs(int(bounds[-1]) - num_samples) <= sample_rate / float(clock.fps) / 2 + 1


def test_ntsc_rates_are_exact():
    assert parse_fps(29.97) == Fraction(30000, 1001)
    assert parse_fps("30000/1001") == Fraction(30000, 1001)
    assert parse_fps(23.976) == Fraction(24000, 1001)
    assert parse_fps(12.5) == Fraction(25, 2)
    assert parse_fps(30) == 30


def test_known_counts():
    assert FrameClock.for_duration(44100 * 10, 44100, 24).frame_count == 240
    assert FrameClock.for_duration(44100 * 10, 44100, 30).frame_count == 300
    assert FrameClock.for_duration(48000 * 10, 48000, Fraction(30000, 1001)).frame_count == 300  # 299.7 -> 300
    clock = FrameClock.for_duration(44100 * 2, 44100, 30)
    assert clock.frame_sample_span(0) == (0, 1470)
    assert clock.frame_sample_span(59) == (59 * 1470, 60 * 1470)


@pytest.mark.parametrize("bad", [0, -1, "abc", float("nan"), float("inf"), None])
def test_bad_fps_is_refused(bad):
    with pytest.raises(AudioWalkInputError, match="fps"):
        parse_fps(bad)


def test_audio_shorter_than_a_frame_is_refused():
    with pytest.raises(AudioWalkInputError, match="shorter than one frame"):
        FrameClock.for_duration(100, 44100, 30)
