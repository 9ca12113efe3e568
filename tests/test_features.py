"""Audio features on synthetic signals with known answers (issue #2), and the seed mode against the notebook's own
figures (tests/data/seed_reference, issue #11)."""
import json
import math
from pathlib import Path

import numpy as np
import audiowalk_core
import pytest
import soundfile

from support import clicks, sine

from audiowalk_core.analysis import (compute_features, feature_frame_count, seed_band_energies, seed_band_layout,
                                     seed_frame_count, seed_frame_hop)
from audiowalk_core.audio import AudioClip
from audiowalk_core.errors import AudioWalkInputError

SR = 22050
SEED_REFERENCE = Path(__file__).resolve().parent / "data" / "seed_reference"


def clip_of(mono, sample_rate=SR):
    return AudioClip(np.asarray(mono, np.float32)[None], sample_rate)


# ------------------------------------------------------------------------------------------- seed-compatible bands

def reference_seed_bands(mono, sr, max_frequency_level, low_frequency_skip, growth, extra_detail, fps=30):
    """docs/seed_algorithm.md steps 2-5 as the notebook writes them: float64, one frame at a time, a literal softmax
    of the dB values (-inf for silent bins, 0/0 = NaN for a silent window), NaN -> 0 at the very end."""
    hop = math.ceil(sr / fps)
    frames = []
    for start in range(0, len(mono) - (sr + 1), hop):
        window = np.asarray(mono[start:start + sr], np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            db = 20 * np.log10(np.abs(np.fft.rfft(window)))
            exps = np.exp(db - np.max(db))
            weights = (exps / exps.sum()) ** (1 - extra_detail)
        bands = []
        position, k = int(low_frequency_skip), 1
        limit = min(max_frequency_level, sr // 2)
        while True:
            width = int(growth ** k)
            if position + width > limit:
                break
            if width > 1:
                bands.append(weights[position:position + width].mean())
            position += width
            k += 1
        frames.append(bands)
    return np.nan_to_num(np.asarray(frames), nan=0.0, posinf=50.0, neginf=-50.0)


@pytest.mark.parametrize("params", [(11000, 16, 1.01, 0.9), (4292, 16, 1.015, 0.6), (3000, 40, 1.05, 0.2)])
def test_seed_bands_match_an_independent_reference(params):
    rng = np.random.default_rng(1)
    seconds = 4.0
    mono = (0.3 * sine(220, seconds, SR) + 0.2 * sine(3000, seconds, SR)
            + 0.05 * rng.standard_normal(int(seconds * SR))).astype(np.float32)
    mono[SR // 2:SR // 2 + SR + 3000] = 0.0  # digital silence: silent bins weigh 0, silent windows give 0
    ours, edges = seed_band_energies(mono, SR, *params)
    expected = reference_seed_bands(mono, SR, *params)
    assert ours.shape == expected.shape == (seed_frame_count(len(mono), SR), len(edges))
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)
    silent = [i for i in range(len(ours)) if i * 735 >= SR // 2 and i * 735 + SR <= SR // 2 + SR + 3000]
    assert len(silent) == 5 and np.all(ours[silent] == 0.0)


def load_seed_reference():
    info = json.loads((SEED_REFERENCE / "reference.json").read_text())
    mono, sample_rate = soundfile.read(str(SEED_REFERENCE / "song.wav"), dtype="float32")
    assert sample_rate == info["sample_rate"]
    return info, mono, np.load(SEED_REFERENCE / "bands.npy")


def test_seed_bands_reproduce_the_notebooks_figures():
    info, mono, expected = load_seed_reference()
    assert seed_frame_count(len(mono), info["sample_rate"]) == info["frames"] == len(expected) == 120
    assert seed_frame_hop(info["sample_rate"], info["fps"]) == info["hop"]
    bands, edges = seed_band_energies(mono, info["sample_rate"], info["max_frequency_level"],
                                      info["low_frequency_skip"], info["frequency_band_growth_rate"],
                                      info["extra_detail"])
    assert bands.shape == expected.shape == (info["frames"], info["bands"])
    assert edges[-1, 1] == info["last_band_stop_bin"]
    np.testing.assert_allclose(bands, expected, rtol=0, atol=1e-4)
    silent = info["silent_frames"]
    assert len(silent) == 19 and np.all(bands[silent] == 0.0) and np.all(expected[silent] == 0.0)
    assert np.all(np.delete(bands, silent, axis=0).max(axis=1) > 0.1)  # a window with any sound is not silent


def test_audio_features_node_in_seed_mode_gives_the_notebooks_bands(pack):
    import torch

    info, mono, expected = load_seed_reference()
    audio = {"waveform": torch.from_numpy(mono)[None, None], "sample_rate": info["sample_rate"]}
    node = pack.NODE_CLASS_MAPPINGS["AudioWalkAudioFeatures"]()
    features, frame_count, fps, _ = getattr(node, node.FUNCTION)(
        audio=audio, fps=30.0, band_mode="seed", max_frequency_level=info["max_frequency_level"],
        low_frequency_skip=info["low_frequency_skip"], frequency_band_growth_rate=info["frequency_band_growth_rate"],
        extra_detail=info["extra_detail"], band_count=48)
    assert frame_count == features.frame_count == info["frames"]  # the notebook's video ends ~1 s early
    np.testing.assert_allclose(features.curves["bands"], expected, rtol=0, atol=1e-4)
    for name, values in features.curves.items():
        assert len(values) == info["frames"], name


def test_seed_full_length_is_the_same_maths_on_the_exact_clock():
    info, mono, expected = load_seed_reference()
    clip = AudioClip(mono[None], info["sample_rate"])
    params = {k: info[k] for k in ("max_frequency_level", "low_frequency_skip", "frequency_band_growth_rate",
                                   "extra_detail")}
    full = compute_features(clip, 30, band_mode="seed_full_length", **params)
    assert full.frame_count == info["video_frame_count_ceil"] == feature_frame_count(len(mono), 22050, 30, "improved")
    np.testing.assert_allclose(full.curves["bands"][:info["frames"]], expected, rtol=0, atol=1e-4)
    assert np.isfinite(full.curves["bands"]).all() and full.curves["bands"][-1].max() > 0  # hears the last 1/30 s
    assert feature_frame_count(len(mono), 22050, 30, "seed") == info["frames"]
    seed = compute_features(clip, 30, band_mode="seed", **params)
    assert seed.frame_count == info["frames"] and seed.band_mode == "seed"


def test_seed_band_layout_drops_one_bin_bands_but_keeps_counting():
    starts, stops = seed_band_layout(44100, 11000, 16, 1.01)
    assert 400 <= len(starts) <= 410  # "about 405 bands" with the README values
    assert starts[0] >= 84 - 2  # everything from 16 Hz to ~84 Hz is consumed by one-bin bands
    assert np.all(stops - starts >= 2) and np.all(starts[1:] == stops[:-1])
    assert len(seed_band_layout(44100, 4292, 16, 1.015)[0]) in range(225, 245)  # "about 235" (notebook defaults)


def test_seed_framing_hop_and_count():
    assert seed_frame_hop(44100, 30) == 1470 and seed_frame_hop(22050, 24) == 919
    # the notebook's loop: range(0, N - (sr + 1), hop); one frame fewer than "every whole window" when
    # (N - sr) is 0 or 1 modulo hop
    assert seed_frame_count(44100 * 10, 44100, 30) == 270  # (N - sr) = 270 * 1470: 0 modulo hop
    for extra in range(0, 4):
        samples = 44100 + 1470 * 7 + extra
        assert seed_frame_count(samples, 44100) == len(range(0, samples - (44100 + 1), 1470)) == (7 if extra < 2 else 8)
    assert seed_frame_count(22050 + 1, 22050) == 0 and seed_frame_count(22050 + 2, 22050) == 1
    assert seed_frame_count(100, 22050) == 0


@pytest.mark.parametrize("mode", ["seed", "seed_full_length", "improved"])
@pytest.mark.parametrize("freq", [440.0, 1500.0, 5000.0])
def test_a_sine_lands_in_the_band_that_contains_it(mode, freq):
    features = compute_features(clip_of(sine(freq, 3.0, SR)), 30, band_mode=mode)
    bands = features.curves["bands"][:60]
    loudest = int(np.argmax(bands.mean(axis=0)))
    edges = features.band_edges_hz
    assert edges[loudest] <= freq < edges[loudest + 1]


def test_improved_bands_cover_every_bin_without_gaps():
    features = compute_features(clip_of(sine(440, 2.0, SR)), 30, band_count=40)
    edges = features.band_edges_hz
    assert len(edges) == 41 and np.all(np.diff(edges) > 0)
    assert edges[0] < 25.0 and edges[-1] >= SR / 2  # from the first FFT bin above DC (10.8 Hz) to Nyquist


# ------------------------------------------------------------------------------------------- clock and beats

@pytest.mark.parametrize("fps", [24, 30, "30000/1001"])
def test_frame_counts_match_the_duration(fps):
    seconds = 7.3
    features = compute_features(clip_of(sine(330, seconds, SR)), fps)
    from audiowalk_core.clock import parse_fps

    rate = parse_fps(fps)
    assert abs(features.frame_count / float(rate) - seconds) <= 0.5 / float(rate) + 1e-9
    for name, values in features.curves.items():
        assert len(values) == features.frame_count, name


def test_clicks_at_120_bpm_give_beats_within_one_frame():
    track, times = clicks(120, 12.0, SR, first_click_s=0.52)
    features = compute_features(clip_of(track), 30)
    assert abs(features.tempo_bpm - 120.0) < 2.0
    truth = np.round(times * 30).astype(int)
    found = features.beat_frames
    # every true beat (after the tracker settles on the first) has a detected beat within one frame, and vice versa
    for frame in truth[1:]:
        assert np.min(np.abs(found - frame)) <= 1, (frame, found)
    for frame in found:
        assert np.min(np.abs(truth - frame)) <= 1, (frame, truth)
    beat_curve = features.curves["beat"]
    assert np.all(beat_curve[found] == 1.0)
    onset = features.curves["onset"]
    assert np.mean([onset[max(f - 1, 0):f + 2].max() for f in truth]) > 5 * np.median(onset)


def test_silence_gives_finite_zeros():
    features = compute_features(clip_of(np.zeros(3 * SR)), 30)
    for name, values in features.curves.items():
        assert np.isfinite(values).all(), name
        assert np.all(values == 0.0), name
    assert len(features.beat_frames) == 0 and features.tempo_bpm == 0.0


def test_chroma_follows_a_played_pitch():
    a4 = compute_features(clip_of(sine(440.0, 2.0, SR)), 30).curves["chroma"]
    e5 = compute_features(clip_of(sine(659.26, 2.0, SR)), 30).curves["chroma"]
    assert np.argmax(a4[10:50].mean(axis=0)) == 9  # A
    assert np.argmax(e5[10:50].mean(axis=0)) == 4  # E


def test_percussive_and_harmonic_energies_separate_drums_from_a_tone():
    tone = compute_features(clip_of(sine(330, 4.0, SR)), 30).curves
    drums = compute_features(clip_of(clicks(120, 4.0, SR)[0]), 30).curves
    assert tone["harmonic"][15:100].mean() > tone["percussive"][15:100].mean()
    assert drums["percussive"][15:100].mean() > drums["harmonic"][15:100].mean()


def test_curves_are_float32_in_unit_range_and_stereo_is_accepted():
    stereo = np.stack([sine(220, 2.0, 44100), sine(880, 2.0, 44100)])
    features = compute_features(AudioClip(stereo, 44100), 25)
    for name, values in features.curves.items():
        assert values.dtype == np.float32 and values.min() >= 0.0 and values.max() <= 1.0, name
    assert features.curves["chroma"].shape == (features.frame_count, 12)


# ------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("samples, input_name", [
    (np.zeros((1, 0), np.float32), "audio"),
    (np.array([[0.1, np.nan] * 2000], np.float32), "audio"),
    (np.array([[0.1, np.inf] * 2000], np.float32), "audio"),
    (np.zeros((1, 100), np.float32), "audio"),  # shorter than one frame at 30 fps
])
def test_bad_audio_is_refused_with_a_named_input(samples, input_name):
    with pytest.raises(AudioWalkInputError) as error:
        compute_features(AudioClip(samples, SR), 30)
    assert error.value.input_name == input_name and input_name in str(error.value)


@pytest.mark.parametrize("fps", [0, -5, "0/1"])
def test_fps_must_be_positive(fps):
    with pytest.raises(AudioWalkInputError, match="fps"):
        compute_features(clip_of(sine(440, 1.0, SR)), fps)


@pytest.mark.parametrize("kwargs, input_name", [
    ({"low_frequency_skip": 12000.0}, "frequency_band_growth_rate"),
    ({"max_frequency_level": 10.0}, "frequency_band_growth_rate"),
    ({"frequency_band_growth_rate": 1.0}, "frequency_band_growth_rate"),
    ({"extra_detail": 1.0}, "extra_detail"),
])
def test_seed_parameters_that_leave_no_band_are_refused(kwargs, input_name):
    with pytest.raises(AudioWalkInputError) as error:
        compute_features(clip_of(sine(440, 2.0, SR)), 30, band_mode="seed", **kwargs)
    assert error.value.input_name == input_name
    assert "band" in str(error.value) or input_name in str(error.value)


def test_unknown_band_mode_and_band_count_are_refused():
    with pytest.raises(AudioWalkInputError, match="band_mode"):
        compute_features(clip_of(sine(440, 1.0, SR)), 30, band_mode="fancy")
    with pytest.raises(AudioWalkInputError, match="band_count"):
        compute_features(clip_of(sine(440, 1.0, SR)), 30, band_count=0)


def test_the_demo_song_is_deterministic_and_its_beats_are_found():
    from audiowalk_tools.demo import DEMO_BPM, demo_beat_times, synthesize_demo_song

    first, second = synthesize_demo_song(), synthesize_demo_song()
    assert first.samples.shape == (2, 20 * 44100) and np.array_equal(first.samples, second.samples)
    assert np.abs(first.samples).max() <= 1.0
    features = compute_features(first, 30)
    assert abs(features.tempo_bpm - DEMO_BPM) < 2.0
    truth = np.round(demo_beat_times() * 30).astype(int)
    hits = [np.min(np.abs(features.beat_frames - frame)) <= 1 for frame in truth]
    assert np.mean(hits) >= 0.95  # every kick within one frame (the very first may be missed)


# ------------------------------------------------------------------------------------------- harmonic energy vs pitch

def test_a_constant_level_sweep_gives_a_flat_harmonic_curve():
    seconds, low, high = 8.0, 220.0, 1760.0
    t = np.arange(int(seconds * SR)) / SR
    rate = math.log(high / low) / seconds  # exponential sweep: three octaves at a constant level
    sweep = (0.5 * np.sin(2 * np.pi * low * (np.exp(rate * t) - 1) / rate)).astype(np.float32)
    harmonic = compute_features(clip_of(sweep), 10).curves["harmonic"]
    start, end = harmonic[5:15].mean(), harmonic[-15:-5].mean()  # 0.5-1.5 s and the last 1.5-0.5 s
    assert start > 0.5 and 0.7 <= end / start <= 1.4, (start, end)


def test_equal_tones_give_equal_harmonic_energy_at_any_pitch():
    freqs = (110.0, 220.0, 440.0, 880.0, 1760.0, 3520.0)
    harmonic = compute_features(clip_of(np.concatenate([sine(f, 1.5, SR) for f in freqs])), 30).curves["harmonic"]
    levels = [harmonic[45 * i + 10:45 * i + 35].mean() for i in range(len(freqs))]  # the middle of each tone
    assert max(levels) / min(levels) <= 1.5, levels


def test_seed_mode_refuses_audio_too_short_or_not_finite():
    with pytest.raises(AudioWalkInputError) as error:
        compute_features(clip_of(sine(440, 1.0, SR)), 30, band_mode="seed")  # no whole one-second window
    assert error.value.input_name == "audio" and "seed_full_length" in str(error.value)
    assert compute_features(clip_of(sine(440, 1.0, SR)), 30, band_mode="seed_full_length").frame_count == 30
    with pytest.raises(AudioWalkInputError, match="mono"):
        seed_band_energies(np.array([0.1, np.nan] * SR, np.float32), SR)
    with pytest.raises(AudioWalkInputError, match="frame_count"):
        seed_band_energies(sine(440, 2.0, SR), SR, frame_count=-1)


@pytest.mark.parametrize("shape, size, axis", [((500, 96), 27, 0), ((500, 96), 25, 1), ((5, 4), 27, 0), ((7, 3), 9, 1)])
def test_running_median_equals_scipys_median_filter(shape, size, axis):
    from scipy.ndimage import median_filter

    from audiowalk_core.analysis import _running_median

    values = np.random.default_rng(2).random(shape).astype(np.float32) ** 4
    kernel = (size, 1) if axis == 0 else (1, size)
    assert np.array_equal(_running_median(values, size, axis), median_filter(values, size=kernel, mode="nearest"))


def test_song_scale_analysis_reads_blocks_and_equals_the_whole_song_computation():
    """Memory flat in song length: the STFT tables and the rms read the mono mix a block at a time, and HPSS runs
    on blocks of rows with margins; each equals the computation on the whole array."""
    from audiowalk_core.analysis import _StftTables, _harmonic_percussive, frame_rms, improved_band_edges
    from audiowalk_core.audio import AudioClip
    from audiowalk_core.clock import FrameClock

    rng = np.random.default_rng(3)
    stereo = (0.3 * rng.standard_normal((2, 7 * SR + 123))).astype(np.float32)
    clip = AudioClip(stereo, SR)
    mono = clip.mono()
    edges = improved_band_edges(SR, 2048, 24)
    whole = _StftTables(mono, SR, edges, block=4096)
    blocks = _StftTables(clip.mono_reader(), SR, edges, block=37)
    for name in ("bands", "log_bands", "chroma"):
        np.testing.assert_allclose(getattr(blocks, name), getattr(whole, name), rtol=2e-5, atol=1e-12)
    clock = FrameClock.for_duration(clip.num_samples, SR, 30)
    np.testing.assert_allclose(frame_rms(clip.mono_reader(), clock, block_frames=7), frame_rms(mono, clock),
                               rtol=1e-6)
    h_whole, p_whole = _harmonic_percussive(whole.log_bands, SR / 512, block_rows=10 ** 9)
    h_blocks, p_blocks = _harmonic_percussive(whole.log_bands, SR / 512, block_rows=50)
    np.testing.assert_allclose(h_blocks, h_whole, rtol=1e-6)
    np.testing.assert_allclose(p_blocks, p_whole, rtol=1e-6)


def test_onset_strength_in_blocks_equals_the_whole():
    from audiowalk_core.analysis import onset_strength

    log_bands = np.abs(np.random.default_rng(5).standard_normal((1000, 16))).astype(np.float32) ** 4
    np.testing.assert_allclose(onset_strength(log_bands, block_rows=7), onset_strength(log_bands, block_rows=10 ** 6),
                               rtol=1e-6, atol=1e-6)
