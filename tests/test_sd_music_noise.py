"""Music Noise Walk: standard normal per frame, keyed to seed + frame, still in silence, moving on onsets/beats,
sections restart on their label's anchors, shape from the latent (4 and 16 channels, video latents)."""
import math

import numpy as np
import pytest
import torch

from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.frame_noise import standard_normal
from audiowalk_core.sd_walk.music_noise import (MusicNoiseWalk, NoiseWalkSettings, anchor_seed, walk_noise,
                                                walk_path)
from sd_walk_support import section, song_features

SHAPE = (4, 32, 32)


def correlation(a, b) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()))


def test_every_frame_is_standard_normal():
    features = song_features(400, onsets=range(5, 400, 7), beats=range(0, 400, 5), rms=0.5)
    path = walk_path(features)
    frames = list(range(0, 400, 13))
    # many positions strictly between anchors (t in (0, 1)), where the slerp mixes two anchors
    assert sum(0.2 < p % 1 < 0.8 for p in path.position[frames]) > 10
    noise = walk_noise(path, frames, (4, 64, 64), seed=7)
    for row in noise:
        assert abs(float(row.mean())) < 0.03
        assert abs(float(row.std()) - 1.0) < 0.03
    assert noise.dtype == torch.float32


def test_a_frame_range_equals_that_range_of_the_whole_song():
    features = song_features(300, onsets=(10, 50, 120, 200), beats=range(0, 300, 6), rms=0.3,
                             sections=(section(0, 10, "A"), section(10, 20, "B"), section(20, 30, "A")))
    path = walk_path(features)
    whole = MusicNoiseWalk(path, range(300), seed=3).generate_noise({"samples": torch.zeros(300, *SHAPE)})
    for start, count in ((0, 40), (97, 64), (250, 50)):
        part = MusicNoiseWalk(path, range(start, start + count), seed=3)
        assert torch.equal(part.generate_noise({"samples": torch.zeros(count, *SHAPE)}), whole[start:start + count])
    keyframes = [0, 4, 8, 120, 121, 299]
    picked = MusicNoiseWalk(path, keyframes, seed=3).generate_noise({"samples": torch.zeros(6, *SHAPE)})
    assert torch.equal(picked, whole[keyframes])


def test_silence_gives_still_noise_and_onsets_move_it():
    still = walk_noise(walk_path(song_features(100, quiet=True)), range(100), SHAPE, seed=1)
    assert all(torch.equal(still[0], frame) for frame in still)

    onsets = (30, 60)
    features = song_features(100, onsets=onsets)
    noise = walk_noise(walk_path(features, NoiseWalkSettings(drift=0.02)), range(100), SHAPE, seed=1)
    steps = [correlation(noise[f - 1], noise[f]) for f in range(1, 100)]
    quiet = [c for f, c in zip(range(1, 100), steps) if f not in onsets]
    assert min(quiet) >= 0.99
    for f in onsets:
        assert steps[f - 1] < 0.95  # onset_push 0.25 + drift: cos(pi * 0.27 / 2) = 0.91
    # the size of the move follows the music: a stronger push moves further
    strong = walk_noise(walk_path(features, NoiseWalkSettings(onset_push=0.8)), [29, 30], SHAPE, seed=1)
    assert correlation(strong[0], strong[1]) < correlation(noise[29], noise[30]) - 0.3


def test_beats_kick_the_noise():
    features = song_features(60, beats=(20, 40))
    path = walk_path(features, NoiseWalkSettings(beat_push=0.5, onset_push=0.0, energy_push=0.0))
    assert list(np.nonzero(path.motion)[0]) == [20, 40]
    noise = walk_noise(path, range(60), SHAPE, seed=5)
    assert correlation(noise[19], noise[20]) == pytest.approx(math.cos(math.pi * 0.25), abs=0.02)
    assert torch.equal(noise[21], noise[39])


def test_sections_start_on_their_labels_anchors():
    # 10 fps: sections A 0-100, B 100-200, A 200-300 (frames)
    features = song_features(300, onsets=range(3, 300, 9), sections=(
        section(0, 10, "A"), section(10, 20, "B"), section(20, 30, "A")))
    path = walk_path(features)
    assert path.position[100] == 0 and path.position[200] == 0
    noise = walk_noise(path, [0, 100, 200, 199], SHAPE, seed=2)
    assert torch.equal(noise[0], noise[2])  # both A sections start from A's first anchor
    assert abs(correlation(noise[0], noise[1])) < 0.05  # B: new anchors
    assert correlation(noise[3], noise[2]) < 0.5  # the section change is a cut
    ignored = walk_path(features, NoiseWalkSettings(use_sections=False))
    assert ignored.position[100] > 0


def test_a_late_frame_is_the_closed_form_of_its_two_anchors():
    """No walking from frame 0: frame 20,000's noise is cos/sin of two anchors picked by its position alone."""
    frame_count = 20_001
    features = song_features(frame_count, onsets=range(1, frame_count, 3), rms=0.4, fps=30)
    path = walk_path(features)
    position = float(path.position[20_000])
    assert position > 1000
    k, t = math.floor(position), position - math.floor(position)
    expected = (standard_normal(SHAPE, anchor_seed(9, 0, k)) * math.cos(math.pi * t / 2)
                + standard_normal(SHAPE, anchor_seed(9, 0, k + 1)) * math.sin(math.pi * t / 2))
    assert torch.allclose(walk_noise(path, [20_000], SHAPE, seed=9)[0], expected, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 4, 8, 8), (2, 16, 8, 12), (2, 16, 3, 8, 8)])
def test_noise_takes_the_latents_shape(shape):
    walk = MusicNoiseWalk(walk_path(song_features(50, onsets=(3,))), [3, 4], seed=0)
    latent = torch.zeros(shape, dtype=torch.float16)
    noise = walk.generate_noise({"samples": latent})
    assert tuple(noise.shape) == shape and noise.dtype == torch.float16
    assert walk.seed == 0


def test_seed_changes_the_noise():
    path = walk_path(song_features(20))
    assert not torch.equal(walk_noise(path, [5], SHAPE, 1), walk_noise(path, [5], SHAPE, 2))


def test_a_latent_batch_that_is_not_the_chunk_is_refused_before_sampling():
    walk = MusicNoiseWalk(walk_path(song_features(50)), range(10, 20), seed=0)
    with pytest.raises(AudioWalkInputError, match="Music Noise Walk: latent_image.*12 latents for 10 frames"):
        walk.generate_noise({"samples": torch.zeros(12, *SHAPE)})
    with pytest.raises(AudioWalkInputError, match="frame"):
        walk_noise(walk_path(song_features(50)), [50], SHAPE, 0)
    with pytest.raises(AudioWalkInputError, match="onset_push"):
        NoiseWalkSettings(onset_push=-1.0)
