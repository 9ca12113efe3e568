"""Per-frame guidance and strength, the frames each render way diffuses, sampler checks, reactivity figure."""
import numpy as np
import pytest
import torch

from audiowalk_core.chunks import plan_chunk
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.sd_walk.frames import (chunk_frames, check_deterministic_sampler, sampler_settings,
                                           song_chunk)
from audiowalk_core.sd_walk.guidance import PerFrameGuidance, strength_mask, values_of_frames
from audiowalk_core.sd_walk.reactivity import ReactivityMeter, frame_changes, reactivity
from sd_walk_support import song_features


def test_per_frame_guidance_is_cfg_with_each_rows_scale():
    x = torch.randn(3, 4, 8, 8)
    cond_denoised, uncond_denoised = torch.randn(3, 4, 8, 8), torch.randn(3, 4, 8, 8)
    scales = values_of_frames([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 3, 5], "guidance")
    patch = PerFrameGuidance(scales)
    result = x - patch({"cond": x - cond_denoised, "uncond": x - uncond_denoised})  # what ComfyUI does with it
    for row, scale in enumerate((2.0, 4.0, 6.0)):
        expected = uncond_denoised[row] + (cond_denoised[row] - uncond_denoised[row]) * scale
        assert torch.allclose(result[row], expected, atol=1e-5)
    with pytest.raises(AudioWalkInputError, match="Music Guidance: frames"):
        patch({"cond": torch.zeros(2, 4, 8, 8), "uncond": torch.zeros(2, 4, 8, 8)})
    with pytest.raises(AudioWalkInputError, match="guidance.*frame 9"):
        values_of_frames([1.0, 2.0], [9], "guidance")


def test_strength_mask_is_each_frames_strength_everywhere():
    mask = strength_mask((3, 4, 8, 6), [0.2, 0.5, 1.0], "strength")
    assert mask.shape == (3, 1, 8, 6) and torch.allclose(mask[:, 0, 3, 2], torch.tensor([0.2, 0.5, 1.0]))
    with pytest.raises(AudioWalkInputError, match="strength"):
        strength_mask((3, 4, 8, 6), [0.2, 1.5, 1.0], "strength")
    with pytest.raises(AudioWalkInputError, match="batch of 2 for 3"):
        strength_mask((2, 4, 8, 6), [0.2, 0.5, 1.0], "strength")


def test_each_render_way_diffuses_the_chunks_frames():
    features = song_features(100, beats=range(0, 100, 7))
    chunk = plan_chunk(100, 30, 1, features.clock, "r")  # frames 30-59
    every = chunk_frames(features, chunk, "every frame")
    assert every.indices == tuple(range(30, 60)) and every.first_frame == 30 and every.frame_count == 30
    keys = chunk_frames(features, chunk, "keyframes", interpolation_steps=3)
    assert keys.indices[0] == 28 and keys.indices[-1] == 60 and all(k % 4 == 0 for k in keys.indices)
    beats = chunk_frames(features, chunk, "keyframes", interpolation_steps=3, keyframe_mode="beats")
    assert set(range(35, 60, 7)) <= set(beats.indices)
    assert chunk_frames(features, None, "every frame").indices == tuple(range(100))
    with pytest.raises(AudioWalkInputError, match="chunk"):
        chunk_frames(song_features(90), chunk, "every frame")


def test_song_chunk_plans_from_features_alone():
    features = song_features(100)
    chunk = song_chunk(features, 40, "whole song", 2)
    assert (chunk.start_frame, chunk.frame_count, chunk.count) == (80, 20, 3)
    assert chunk.render_id == song_chunk(features, 40, "whole song", 0).render_id
    assert chunk.render_id != song_chunk(song_features(100, onsets=(3,)), 40, "whole song", 0).render_id


def test_sampler_settings_per_render_way_and_refusals():
    assert sampler_settings("keyframes", "Turbo (SD-Turbo, SDXL-Turbo)", 20, 7.0) == ("dpmpp_2m", "karras")
    assert sampler_settings("every frame", "Turbo (SD-Turbo, SDXL-Turbo)", 1, 1.0) == ("euler", "sgm_uniform")
    with pytest.raises(AudioWalkInputError, match="SD Walk Sampler: steps.*few-step"):
        sampler_settings("every frame", "Lightning (SDXL-Lightning 2/4/8 step)", 20, 1.0)
    with pytest.raises(AudioWalkInputError, match="SD Walk Sampler: cfg.*distilled"):
        sampler_settings("every frame", "Hyper-SD (1/2/4/8 step LoRA)", 4, 7.0)
    with pytest.raises(AudioWalkInputError, match="SD Walk Sampler: guidance.*5 to 9.*Feature Curve"):
        sampler_settings("every frame", "Hyper-SD (1/2/4/8 step LoRA)", 4, 1.0, np.array([5.0, 9.0]))
    assert sampler_settings("keyframes", "Hyper-SD (1/2/4/8 step LoRA)", 20, 1.0, np.array([5.0, 9.0]))
    assert check_deterministic_sampler("dpmpp_2m") == "dpmpp_2m"
    for name in ("euler_ancestral", "dpmpp_sde", "lcm", "dpmpp_2m_sde_gpu"):
        with pytest.raises(AudioWalkInputError, match="depend on its chunk"):
            check_deterministic_sampler(name)


def _frames_reacting(onset, lag, size=8):
    """Frames whose picture jumps ``lag`` frames after each onset (by the onset's strength)."""
    rng = np.random.default_rng(0)
    level, frames = 0.5, []
    for i in range(len(onset)):
        level += (onset[i - lag] * 0.3 if i >= lag else 0.0) * (-1 if level > 0.5 else 1)  # stays in 0.2..0.8
        frames.append(np.clip(np.full((size, size, 3), level) + rng.normal(0, 0.002, (size, size, 3)), 0, 1))
    return torch.tensor(np.array(frames), dtype=torch.float32)


def test_reactivity_finds_the_lag_of_a_picture_that_follows_the_onsets():
    rng = np.random.default_rng(1)
    onset = np.where(rng.random(200) < 0.15, rng.uniform(0.3, 1.0, 200), 0.0)
    frames = _frames_reacting(onset, lag=3)
    figure = reactivity(frame_changes(frames), onset, fps=30)
    assert figure.lag_frames == 3 and figure.correlation > 0.9
    assert figure.lag_seconds == pytest.approx(0.1)
    still = reactivity(frame_changes(_frames_reacting(np.zeros(200), lag=0)), onset, fps=30)
    assert abs(still.correlation) < 0.35
    # chunk by chunk (in order, the previous chunk's last frame carried over) equals the whole render
    meter = ReactivityMeter()
    for start in range(0, 200, 64):
        meter.add("r", 200, start, frames[start:start + 64])
    chunked = meter.result("r", onset, fps=30)
    assert chunked.lag_frames == 3 and chunked.correlation == pytest.approx(figure.correlation, abs=1e-9)
    assert "lag 3 frames" in chunked.describe()
