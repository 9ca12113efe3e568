"""StyleGAN walked by the music: layer routing on known answers, noise inputs, class schedules, chunked == whole."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch

from audiowalk_core.clock import FrameClock
from audiowalk_core.features import AudioFeatures
from audiowalk_core.generators.stylegan.runtime import StyleGANHandle
from audiowalk_core.generators.stylegan.walk import class_schedule, layer_groups, stylegan_latents, wide_noise_walk
from audiowalk_core.walk import band_noise_walk
from stylegan_support import random_network

FRAMES = 40


def bass_only_features(frames=FRAMES):
    """Six bands; only the two lowest (bass) move, as a ramp that is 0 on the first 10 frames; a beat every 8."""
    t = np.arange(frames)
    bass = np.clip((t - 9) / (frames - 10), 0, 1).astype(np.float32)
    bands = np.zeros((frames, 6), np.float32)
    bands[:, 0], bands[:, 1] = bass, 0.5 * bass
    percussive = (t % 8 == 0).astype(np.float32)
    curves = {"bands": bands, "rms": 0.2 * bass, "onset": percussive, "percussive": percussive,
              "harmonic": np.zeros(frames, np.float32)}
    return AudioFeatures(FrameClock(Fraction(10), 22050, frames), curves, beat_frames=np.arange(0, frames, 8))


def handle(name="sg2-skip"):
    network = random_network(name)
    return StyleGANHandle(network, torch.device("cpu"), torch.float32, "z", "random")


def test_layer_groups_follow_the_papers_split():
    assert layer_groups("stylegan2", 14).tolist() == [0] * 4 + [1] * 4 + [2] * 6  # 256 px
    assert layer_groups("stylegan2", 18).tolist() == [0] * 4 + [1] * 4 + [2] * 10  # 1024 px
    assert layer_groups("stylegan3", 16).tolist() == [0] * 6 + [1] * 5 + [2] * 5


def test_wide_walk_extends_the_projects_noise_walk():
    features = bass_only_features()
    wide = wide_noise_walk(features, 300, seed=5)
    assert wide.shape == (FRAMES, 300)
    np.testing.assert_array_equal(wide[:, :128], band_noise_walk(features, seed=5, truncation=1.0))
    assert not np.allclose(wide[:, :128], wide[:, 128:256])


def test_bass_moves_only_the_coarse_layers():
    features = bass_only_features()
    latents = stylegan_latents(features, z_dim=16, seed=3, coarse_strength=2.0)
    group_z = latents.extras["stylegan_group_z"]
    base = latents.noise
    np.testing.assert_array_equal(group_z[:, 1], base)  # mids: silent
    np.testing.assert_array_equal(group_z[:, 2], base)  # highs: silent
    push = group_z[:, 0] - base
    bass = features.curves["bands"][:, :2].mean(axis=1)
    direction = push[-1] / 2.0  # the loudest frame has feature 1
    np.testing.assert_allclose(push, (bass / bass.max())[:, None] * 2.0 * direction[None], atol=1e-5)
    # through the generator: the coarse w inputs move, the middle and fine ones stay the base walk's w
    h = handle()
    ws = h.ws_for_rows(latents, slice(0, FRAMES))
    base_ws = h.network.ws_from_z(torch.from_numpy(base), None, latents.truncation)
    groups = layer_groups("stylegan2", h.num_ws)
    assert torch.allclose(ws[:, groups > 0], base_ws[:, groups > 0], atol=1e-6)
    assert torch.allclose(ws[:10, groups == 0], base_ws[:10, groups == 0], atol=1e-6)  # bass silent there
    assert (ws[-1, groups == 0] - base_ws[-1, groups == 0]).abs().max() > 1e-3


def test_noise_inputs_follow_percussive_energy():
    features = bass_only_features()
    latents = stylegan_latents(features, z_dim=16, noise_base=0.0, noise_gain=1.0)
    np.testing.assert_array_equal(latents.extras["stylegan_noise"], features.curves["percussive"])
    h = handle()
    random_frames = torch.cat(list(h.generate_frames(latents, batch_size=7)))
    h.noise_mode = "none"
    quiet_frames = torch.cat(list(h.generate_frames(latents, batch_size=7)))
    hits = features.curves["percussive"] > 0
    assert torch.equal(random_frames[~hits], quiet_frames[~hits])  # strength 0: no noise
    assert not torch.equal(random_frames[hits], quiet_frames[hits])


def test_class_schedule_known_answers():
    np.testing.assert_allclose(class_schedule(5, [2, 0], 3), [[0, 0, 1], [0.25, 0, 0.75], [0.5, 0, 0.5],
                                                               [0.75, 0, 0.25], [1, 0, 0]])
    beats = class_schedule(6, [1, 2], 3, "beats", beat_frames=[2, 4])
    assert beats.argmax(1).tolist() == [1, 1, 2, 2, 1, 1]
    assert class_schedule(4, [0], 0).shape == (4, 0)


def test_chunked_render_equals_whole_frame_for_frame():
    for name in ("sg2-resnet-cond", "sg3-t"):
        h = handle(name)
        features = bass_only_features()
        latents = stylegan_latents(features, z_dim=16, c_dim=h.condition_dim, seed=9, classes=[0, 2])
        assert latents.class_weights.shape == (FRAMES, h.condition_dim)
        whole = torch.cat(list(h.generate_frames(latents, batch_size=5)))
        parts = [torch.cat(list(h.generate_frames(latents.slice_frames(start, 13), batch_size=5)))
                 for start in range(0, FRAMES, 13)]
        assert whole.shape == (FRAMES, 32, 32, 3)
        assert torch.equal(torch.cat(parts), whole), name
        assert whole.std(dim=0).mean() > 0.01  # the frames move
