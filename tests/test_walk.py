"""Latent walk, class schedules and smoothing on synthetic features with known answers (issue #3); the seed walk
against the notebook's own figures (tests/data/seed_reference, issue #11)."""
import json
from pathlib import Path

import numpy as np
import audiowalk_core
import pytest
from scipy.stats import truncnorm

from audiowalk_core.classes import class_schedule, label_index, load_imagenet_labels, parse_labels
from audiowalk_core.clock import FrameClock
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.features import AudioFeatures
from audiowalk_core.pipeline import DEFAULT_PIPELINE, make_walk_latents
from audiowalk_core.smoothing import smooth_ema, smooth_gaussian
from audiowalk_core.walk import band_noise_walk, chain_order, noise_bank, seed_noise_walk

FPS = 30
SEED_REFERENCE = Path(__file__).resolve().parent / "data" / "seed_reference"


def synthetic_features(frames=120, bands=16, rng_seed=0, silent=False, clicks=(), chroma_class=None):
    """AudioFeatures built from curves with known content."""
    rng = np.random.default_rng(rng_seed)
    curves = {name: np.zeros(frames, np.float32) for name in ("rms", "onset", "beat", "harmonic", "percussive")}
    curves["bands"] = np.zeros((frames, bands), np.float32)
    curves["chroma"] = np.zeros((frames, 12), np.float32)
    if not silent:
        curves["bands"] = rng.random((frames, bands)).astype(np.float32)
        curves["rms"][:] = 0.5
        curves["chroma"] = rng.random((frames, 12)).astype(np.float32) * 0.1
    for frame in clicks:
        curves["onset"][frame] = 1.0
        curves["percussive"][frame] = 1.0
    if chroma_class is not None:
        curves["chroma"][:] = 0.05
        curves["chroma"][:, chroma_class] = 1.0
    return AudioFeatures(FrameClock(FPS, 22050, frames), curves, beat_frames=np.asarray(clicks, np.int64),
                         tempo_bpm=120.0 if clicks else 0.0)


# ------------------------------------------------------------------------------------------- the seed's walk

def reference_chain(bank, highest=False):
    """The notebook's chain from the text: reference = vector 0, the pool holds every vector (0 included)."""
    reference, pool, order = bank[0], list(range(len(bank))), []
    while pool:
        scores = [np.corrcoef(reference, bank[j])[0, 1] for j in pool]
        pick = pool[int(np.argmax(scores) if highest else np.argmin(scores))]
        order.append(pick)
        pool.remove(pick)
        reference = bank[pick]
    return order


def reference_seed_walk(weights, bank, smoothing_factor, iterations, highest=False):
    """docs/seed_algorithm.md steps 6-7 from the text, with loops, float64, on a given bank."""
    vectors = np.asarray(bank, np.float64)[reference_chain(bank, highest)].copy()
    for _ in range(iterations):
        for b in range(1, len(vectors)):
            vectors[b] = smoothing_factor * vectors[b - 1] + (1 - smoothing_factor) * vectors[b]
    out = np.zeros((len(weights), 128))
    for t in range(len(weights)):
        out[t] = np.clip(sum(weights[t, b] * vectors[b] for b in range(len(vectors))), -1, 1)
    return out


@pytest.mark.parametrize("highest", [False, True])
@pytest.mark.parametrize("smoothing_factor, iterations", [(0.1, 1), (0.34, 2)])
def test_seed_walk_matches_an_independent_reference(highest, smoothing_factor, iterations):
    weights = synthetic_features(frames=20, bands=12).curves["bands"] * 0.3
    ours = seed_noise_walk(weights, seed=5, truncation=0.7, smoothing_factor=smoothing_factor,
                           iterations=iterations, chain="highest_correlation" if highest else "lowest_correlation")
    bank = truncnorm.rvs(-2, 2, size=(12, 128), random_state=np.random.default_rng(5)) * 0.7
    expected = reference_seed_walk(weights, bank, smoothing_factor, iterations, highest)
    np.testing.assert_allclose(ours, expected, atol=1e-6)


def test_the_chain_keeps_vector_zero_in_the_pool():
    bank = truncnorm.rvs(-2, 2, size=(40, 128), random_state=np.random.default_rng(3)).astype(np.float32)
    chain = chain_order(bank)
    assert list(chain) == reference_chain(bank) and sorted(chain) == list(range(40))
    assert chain[0] != 0  # vector 0 is the first reference, not the first link
    assert chain_order(bank, "highest_correlation")[0] == 0 and list(chain_order(bank, "none")) == list(range(40))
    ties = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])  # rows 1 and 2 tie
    assert list(chain_order(ties)) == [1, 0, 2, 3]  # first index on ties, then the reference changes


def load_seed_reference():
    info = json.loads((SEED_REFERENCE / "reference.json").read_text())
    return info, {name: np.load(SEED_REFERENCE / f"{name}.npy") for name in ("bank", "bands", "chain_order", "noise")}


def test_chain_reproduces_the_notebooks_order():
    info, ref = load_seed_reference()
    assert ref["bank"].shape == (info["bands"], 128)
    assert np.array_equal(chain_order(ref["bank"]), ref["chain_order"])


def test_seed_walk_reproduces_the_notebooks_noise():
    info, ref = load_seed_reference()
    noise = seed_noise_walk(ref["bands"], bank=ref["bank"], smoothing_factor=info["smoothing_factor"],
                            iterations=info["iterations"])
    assert noise.shape == ref["noise"].shape == (info["frames_with_noise"], 128)
    np.testing.assert_allclose(noise, ref["noise"], rtol=0, atol=1e-4)
    silent = info["silent_frames"]
    assert np.all(noise[silent] == 0.0) and np.all(ref["noise"][silent] == 0.0)  # silence: a zero latent
    # the bank is used as given: the truncation that scaled it is not applied a second time
    again = seed_noise_walk(ref["bands"], bank=ref["bank"], truncation=0.2, smoothing_factor=info["smoothing_factor"],
                            iterations=info["iterations"])
    assert np.array_equal(again, noise)


def test_band_noise_walk_seed_mode_is_the_notebooks_walk_on_a_seeded_bank():
    info, ref = load_seed_reference()
    features = AudioFeatures(FrameClock(FPS, 22050, len(ref["bands"])), {"bands": ref["bands"]}, band_mode="seed")
    noise = band_noise_walk(features, seed=11, mode="seed", truncation=info["truncation"],
                            smoothing_factor=info["smoothing_factor"], iterations=info["iterations"])
    bank = noise_bank(info["bands"], info["truncation"], np.random.default_rng(11))
    expected = reference_seed_walk(ref["bands"], bank, info["smoothing_factor"], info["iterations"])
    np.testing.assert_allclose(noise, expected, rtol=0, atol=1e-5)
    assert np.all(noise[info["silent_frames"]] == 0.0)


@pytest.mark.parametrize("bank_shape", [(404, 128), (405, 127)])
def test_a_bank_of_the_wrong_shape_is_refused(bank_shape):
    info, ref = load_seed_reference()
    with pytest.raises(AudioWalkInputError, match="bank"):
        seed_noise_walk(ref["bands"], bank=np.zeros(bank_shape, np.float32))
    bands = ref["bands"].copy()
    bands[3, 7] = np.nan
    with pytest.raises(AudioWalkInputError, match="features"):
        seed_noise_walk(bands, bank=ref["bank"])


def test_seed_walk_collapses_to_the_first_vector_at_smoothing_one():
    weights = np.eye(6, dtype=np.float32) * 0.5
    out = seed_noise_walk(weights, seed=0, truncation=1.0, smoothing_factor=1.0, iterations=1)
    assert np.allclose(out, out[0])


@pytest.mark.parametrize("mode", ["improved", "seed"])
def test_same_seed_same_walk_other_seed_differs(mode):
    features = synthetic_features(clicks=(10, 40, 70))
    a = band_noise_walk(features, seed=3, mode=mode)
    b = band_noise_walk(features, seed=3, mode=mode)
    c = band_noise_walk(features, seed=4, mode=mode)
    assert a.dtype == np.float32 and a.shape == (120, 128)
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_a_frame_range_equals_those_rows_of_the_whole():
    features = synthetic_features(clicks=(10, 40, 70))
    latents = make_walk_latents(features, DEFAULT_PIPELINE.replace(seed=9, labels="teapot | bubble | mushroom"))
    part = latents.slice_frames(37, 50)
    assert part.first_frame == 37 and part.frame_count == 50
    assert np.array_equal(part.noise, latents.noise[37:87])
    assert np.array_equal(part.class_weights, latents.class_weights[37:87])
    again = make_walk_latents(features, DEFAULT_PIPELINE.replace(seed=9, labels="teapot | bubble | mushroom"))
    assert np.array_equal(again.noise, latents.noise) and np.array_equal(again.class_weights, latents.class_weights)


def test_silence_keeps_the_improved_latent_still():
    noise = band_noise_walk(synthetic_features(silent=True), seed=1)
    assert np.all(noise == noise[0]) and np.abs(noise[0]).max() > 0


def test_latent_change_peaks_on_the_click_frames():
    click_frames = (15, 45, 75, 105)
    features = synthetic_features(clicks=click_frames)
    features.curves["bands"][:] = 0.5  # steady spectrum: only the clicks and the steady loudness move the latent
    noise = band_noise_walk(features, seed=2)
    change = np.linalg.norm(np.diff(noise, axis=0), axis=1)  # change[t-1] = |z_t - z_{t-1}|
    peaks = np.sort(np.argsort(change)[-len(click_frames):] + 1)
    assert tuple(peaks) == click_frames


def test_improved_walk_does_not_saturate_with_many_bands():
    features = synthetic_features(bands=400)
    noise = band_noise_walk(features, seed=0, truncation=0.7, pulse_strength=0, motion_strength=0)
    assert np.mean(np.abs(noise) >= 2 * 0.7 - 1e-6) < 0.05


# ------------------------------------------------------------------------------------------- classes

def test_label_table_and_lookup():
    names = load_imagenet_labels()
    assert len(names) == 1000
    assert parse_labels("teapot | bubble | mushroom") == [849, 971, 947]
    assert parse_labels("Teapot|971, 0") == [849, 971, 0]
    assert label_index("goldfish") == 1


def test_unknown_label_lists_close_matches():
    with pytest.raises(AudioWalkInputError) as error:
        parse_labels("teapott | bubble")
    assert error.value.input_name == "labels" and "teapot" in str(error.value)


@pytest.mark.parametrize("bad", ["", " | ", "1000", "-3"])
def test_no_labels_or_bad_indices_are_refused(bad):
    with pytest.raises(AudioWalkInputError, match="labels"):
        parse_labels(bad)


def test_interpolate_goes_from_label_to_label_over_the_song():
    features = synthetic_features(frames=101)
    weights = class_schedule(features, "teapot | bubble | mushroom")
    assert weights.shape == (101, 1000) and np.allclose(weights.sum(axis=1), 1.0)
    assert weights[0, 849] == 1.0 and weights[50, 971] == 1.0 and weights[100, 947] == 1.0
    assert np.isclose(weights[25, 849], 0.5) and np.isclose(weights[25, 971], 0.5)


def test_one_label_is_held():
    weights = class_schedule(synthetic_features(), "teapot", mode="interpolate")
    assert np.all(weights[:, 849] == 1.0)


def test_chroma_mode_follows_a_played_pitch():
    labels = ",".join(str(i) for i in range(12))  # label j = class j follows pitch class j
    weights = class_schedule(synthetic_features(chroma_class=9), labels, mode="chroma")
    assert np.all(np.argmax(weights, axis=1) == 9)
    silent = class_schedule(synthetic_features(silent=True), "teapot | bubble", mode="chroma")
    assert np.allclose(silent[:, [849, 971]], 0.5)


def test_beats_mode_switches_every_n_beats_with_a_crossfade():
    beats = tuple(range(10, 120, 10))
    weights = class_schedule(synthetic_features(clicks=beats), "teapot | bubble | mushroom", mode="beats",
                             beats_per_switch=2, crossfade_frames=4)
    # beats at frames 10, 20, 30 ...: two beats on the first label, the switch comes on the third beat (frame 30)
    assert weights[5, 849] == 1.0 and weights[29, 849] == 1.0
    assert 0 < weights[31, 971] < 1 and np.isclose(weights[31].sum(), 1.0)  # crossfading over 4 frames
    assert weights[35, 971] == 1.0 and weights[55, 947] == 1.0 and weights[75, 849] == 1.0  # wraps around


def test_nan_features_and_bad_truncation_are_refused():
    features = synthetic_features()
    features.curves["bands"][3, 2] = np.nan
    with pytest.raises(AudioWalkInputError, match="features"):
        band_noise_walk(features)
    for bad in (0.0, 1.5, -0.1, float("nan")):
        with pytest.raises(AudioWalkInputError, match="truncation"):
            band_noise_walk(synthetic_features(), truncation=bad)


# ------------------------------------------------------------------------------------------- smoothing

def test_ema_attack_and_release():
    step = np.r_[np.zeros(5), np.ones(30), np.zeros(30)]
    fast_attack = smooth_ema(step, attack_frames=0, release_frames=10)
    assert fast_attack[5] == 1.0  # instant attack
    assert np.isclose(fast_attack[35], np.exp(-1 / 10)) and fast_attack[45] > 0.3  # slow release
    slow_attack = smooth_ema(step, attack_frames=10, release_frames=0)
    assert slow_attack[5] < 0.2 and slow_attack[35] == 0.0


def test_gaussian_smoothing_preserves_the_mean_and_removes_jitter():
    rng = np.random.default_rng(0)
    jitter = rng.standard_normal((200, 4))
    smooth = smooth_gaussian(jitter, sigma_frames=5)
    assert smooth.shape == jitter.shape and smooth.std() < 0.3 * jitter.std()
    with pytest.raises(AudioWalkInputError, match="sigma_frames"):
        smooth_gaussian(jitter, -1)


def test_smooth_latents_targets_and_refuses_unknown_options():
    from audiowalk_core.smoothing import smooth_latents

    latents = make_walk_latents(synthetic_features(clicks=(10, 40, 70)), DEFAULT_PIPELINE.replace(seed=1))
    noise_only = smooth_latents(latents, "gaussian", "noise", sigma_frames=3.0)
    assert np.array_equal(noise_only.class_weights, latents.class_weights)
    assert np.abs(np.diff(noise_only.noise, axis=0)).mean() < np.abs(np.diff(latents.noise, axis=0)).mean()
    both = smooth_latents(latents, "ema", "both", attack_frames=0.0, release_frames=5.0)
    assert both.noise.shape == latents.noise.shape and np.allclose(both.class_weights.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(AudioWalkInputError, match="method"):
        smooth_latents(latents, "median", "noise")
    with pytest.raises(AudioWalkInputError, match="target"):
        smooth_latents(latents, "ema", "everything")
