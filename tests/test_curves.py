"""Feature curves as numbers for other nodes: synthetic features and signals with known answers."""
from fractions import Fraction

import numpy as np
import pytest

from support import clicks, sine

from audiowalk_core.analysis import compute_features
from audiowalk_core.audio import AudioClip
from audiowalk_core.clock import FrameClock
from audiowalk_core.curves import (CURVE_NAMES, curve_value_at_frame, feature_curve, scale_curve, select_curve,
                                   value_at_frame)
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.features import AudioFeatures

SR, FPS = 22050, 30


def clip_of(mono):
    return AudioClip(np.asarray(mono, np.float32)[None], SR)


def made_features(rms, bands=None, chroma=None) -> AudioFeatures:
    rms = np.asarray(rms, np.float32)
    frames = len(rms)
    curves = {"rms": rms, "onset": rms[::-1].copy(), "beat": np.zeros(frames, np.float32),
              "harmonic": rms, "percussive": rms,
              "bands": np.zeros((frames, 4), np.float32) if bands is None else np.asarray(bands, np.float32),
              "chroma": np.zeros((frames, 12), np.float32) if chroma is None else np.asarray(chroma, np.float32)}
    return AudioFeatures(FrameClock(Fraction(FPS), SR, frames), curves)


@pytest.fixture(scope="module")
def click_track():
    mono, times = clicks(120.0, 8.0, SR)
    return compute_features(clip_of(mono), FPS), times


def test_scaling_maps_0_to_low_and_1_to_high_linearly_and_can_invert():
    features = made_features([0.0, 0.25, 0.5, 1.0])
    assert feature_curve(features, "rms", low=0.2, high=0.8) == pytest.approx([0.2, 0.35, 0.5, 0.8])
    assert feature_curve(features, "rms", low=1.0, high=0.0) == pytest.approx([1.0, 0.75, 0.5, 0.0])
    assert feature_curve(features, "onset", low=-2.0, high=2.0) == pytest.approx([2.0, 0.0, -1.0, -2.0])
    assert all(type(v) is float for v in feature_curve(features, "rms"))
    assert scale_curve([-0.5, 1.5, np.nan], 3.0, 5.0).tolist() == [3.0, 5.0, 3.0]  # clipped; NaN counts as 0


def test_a_click_tracks_onset_curve_peaks_at_the_clicks(click_track):
    features, times = click_track
    onset = np.asarray(feature_curve(features, "onset", low=0.0, high=1.0))
    click_frames = np.round(times * FPS).astype(int)
    peaks = [i for i in range(1, len(onset) - 1)
             if onset[i] >= 0.5 and onset[i] >= onset[i - 1] and onset[i] > onset[i + 1]]
    assert len(peaks) == len(click_frames)
    assert np.abs(np.asarray(peaks) - click_frames).max() <= 1
    between = click_frames[:-1] + 7  # a quarter of a second after each click (15 frames apart)
    assert onset[between].max() < 0.2
    beat = np.asarray(feature_curve(features, "beat", low=0.0, high=1.0))
    assert all(beat[max(f - 1, 0):f + 2].max() > 0.9 for f in click_frames[1:-1])


def test_silence_gives_the_low_end_of_every_curve():
    mono = np.concatenate([np.zeros(2 * SR, np.float32), sine(440.0, 2.0, SR)])
    features = compute_features(clip_of(mono), FPS)
    silent = range(5, 2 * FPS - 5)  # clear of the tone's analysis windows
    for curve in CURVE_NAMES:
        values = feature_curve(features, curve, index=9 if curve == "chroma" else 0, low=0.3, high=0.9)
        assert [values[i] for i in silent] == pytest.approx([0.3] * len(silent)), curve
    loud = feature_curve(features, "rms", low=0.3, high=0.9)
    assert max(loud[2 * FPS + 5:]) == pytest.approx(0.9, abs=0.02)


def test_band_and_chroma_bins_are_picked_by_index():
    features = compute_features(clip_of(sine(440.0, 3.0, SR)), FPS)
    middle = slice(FPS, 2 * FPS)
    chroma_a = np.asarray(feature_curve(features, "chroma", index=9))[middle]  # 9 = A
    chroma_c = np.asarray(feature_curve(features, "chroma", index=0))[middle]
    assert chroma_a.min() > 0.9 and chroma_c.max() < 0.5
    edges = features.band_edges_hz
    band = int(np.searchsorted(edges, 440.0) - 1)  # the band that holds 440 Hz
    bands = np.stack([select_curve(features, "band", k)[middle] for k in range(len(edges) - 1)])
    assert int(bands.mean(axis=1).argmax()) == band


def test_value_at_frame_is_that_frame_of_the_curve_and_out_of_range_names_frame_and_count():
    features = made_features(np.linspace(0.0, 1.0, 40))
    curve = feature_curve(features, "rms", low=10.0, high=20.0)
    assert [curve_value_at_frame(features, "rms", 0, 10.0, 20.0, f) for f in (0, 13, 39)] == \
        pytest.approx([curve[0], curve[13], curve[39]])
    for frame in (40, -1):
        with pytest.raises(AudioWalkInputError) as error:
            curve_value_at_frame(features, "rms", 0, 10.0, 20.0, frame)
        assert str(error.value) == (f"frame: {frame} is outside the features' 40 frames; "
                                    "expected a frame from 0 to 39")
    with pytest.raises(AudioWalkInputError, match="^frame: 2.5 is not a whole number"):
        value_at_frame(curve, 2.5)


@pytest.mark.parametrize("call, input_name, fragment", [
    (lambda f: feature_curve(f, "loudness"), "curve", "'loudness' is unknown; expected one of rms, onset"),
    (lambda f: feature_curve(f, "band", index=4), "index", "4 is not one of the 4 bands; expected an index from 0 to 3"),
    (lambda f: feature_curve(f, "chroma", index=12), "index", "12 is not one of the chroma bins (C, C#"),
    (lambda f: feature_curve(f, "rms", low=float("nan")), "low", "nan is not a finite number"),
    (lambda f: feature_curve(f, "rms", high=float("inf")), "high", "inf is not a finite number"),
])
def test_bad_choices_are_refused_naming_the_input(call, input_name, fragment):
    with pytest.raises(AudioWalkInputError) as error:
        call(made_features([0.0, 1.0]))
    assert str(error.value).startswith(f"{input_name}: ") and fragment in str(error.value)


def test_curve_missing_from_the_features_lists_what_there_is():
    features = AudioFeatures(FrameClock(Fraction(FPS), SR, 2), {"rms": np.zeros(2, np.float32)})
    with pytest.raises(AudioWalkInputError, match="^curve: no curve named 'onset'; expected one of rms$"):
        feature_curve(features, "onset")


def test_curve_nodes_output_a_float_list_a_floats_value_and_one_frames_value(pack):
    nodes = pack.nodes.curve_nodes
    features = made_features([0.0, 0.5, 1.0])
    node = nodes.AudioWalkFeatureCurve
    assert node.RETURN_TYPES == ("FLOAT", "FLOATS") and node.OUTPUT_IS_LIST == (True, False)
    values, floats = node().curve(features, "rms", 0, 0.2, 0.6)
    assert values == floats == pytest.approx([0.2, 0.4, 0.6]) and isinstance(values, list)
    (value,) = nodes.AudioWalkFeatureValueAtFrame().value(features, "rms", 0, 0.2, 0.6, 2)
    assert value == pytest.approx(0.6) and type(value) is float
    inputs = nodes.AudioWalkFeatureValueAtFrame.INPUT_TYPES()["required"]
    assert list(inputs) == ["features", "curve", "index", "low", "high", "frame"]
    assert inputs["curve"][0] == list(CURVE_NAMES)
