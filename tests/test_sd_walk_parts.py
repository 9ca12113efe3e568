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
    chunked, covered = meter.result("r", onset, fps=30)
    assert covered == (0, 200)
    assert chunked.lag_frames == 3 and chunked.correlation == pytest.approx(figure.correlation, abs=1e-9)
    assert "lag 3 frames" in chunked.describe()


def test_a_resumed_render_reports_the_frames_it_saw_not_a_whole_song():
    """Chunks seen only from frame 64 on (a resume in a fresh process): the figure covers frames 64-199, never a
    one-frame 'whole song' correlation."""
    rng = np.random.default_rng(2)
    onset = np.where(rng.random(200) < 0.15, rng.uniform(0.3, 1.0, 200), 0.0)
    frames = _frames_reacting(onset, lag=0)
    meter = ReactivityMeter()
    for start in range(64, 200, 64):
        meter.add("resumed", 200, start, frames[start:start + 64])
    figure, covered = meter.result("resumed", onset, fps=30)
    assert covered == (65, 200)  # frame 64's change needs frame 63, which this process never saw
    assert figure.lag_frames == 0 and figure.correlation > 0.9
    short = ReactivityMeter()
    short.add("short", 200, 100, frames[100:105])
    assert short.result("short", onset, fps=30) is None  # 4 known changes: too few for the lags



def test_prompt_travel_refuses_a_gap_in_its_linked_prompts():
    from audiowalk_core.sd_walk.prompt_travel import linked_conditionings

    one, two, three = object(), object(), object()
    assert linked_conditionings(one, {"conditioning_2": two, "conditioning_3": three}, 8) == [one, two, three]
    assert linked_conditionings(one, {}, 8) == [one]
    with pytest.raises(AudioWalkInputError) as caught:
        linked_conditionings(one, {"conditioning_2": None, "conditioning_3": three}, 8)
    assert caught.value.input_name == "Prompt Travel: conditioning_2" and "conditioning_3" in str(caught.value)


def test_sub_batches_take_their_own_rows_of_the_per_frame_conditioning_and_guidance():
    from audiowalk_core.sd_walk.prompt_travel import slice_conditioning

    cond = torch.arange(5 * 2 * 3, dtype=torch.float32).reshape(5, 2, 3)
    pooled = torch.arange(5 * 4, dtype=torch.float32).reshape(5, 4)
    negative = [[torch.zeros(1, 2, 3), {"pooled_output": torch.zeros(1, 4)}]]
    [[part, extras]] = slice_conditioning([[cond, {"pooled_output": pooled, "other": "kept"}]], 1, 3, 5)
    assert torch.equal(part, cond[1:3]) and torch.equal(extras["pooled_output"], pooled[1:3])
    assert extras["other"] == "kept"
    [[neg, neg_extras]] = slice_conditioning(negative, 1, 3, 5)  # batch-1 entries stay whole (repeated by ComfyUI)
    assert neg.shape == (1, 2, 3) and neg_extras["pooled_output"].shape == (1, 4)
    guidance = PerFrameGuidance([1.0, 2.0, 3.0, 4.0, 5.0])
    assert list(guidance.rows(1, 3).scales) == [2.0, 3.0]
    c, u = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    whole = guidance({"cond": torch.cat([c, c, c])[:5], "uncond": torch.cat([u, u, u])[:5]})
    part_result = guidance.rows(1, 3)({"cond": torch.cat([c, c, c])[1:3], "uncond": torch.cat([u, u, u])[1:3]})
    assert torch.allclose(part_result, whole[1:3])


def test_the_sampler_refuses_a_render_way_other_than_the_frames_one_both_ways():
    from audiowalk_core.sd_walk.frames import check_render_way

    features = song_features(120)
    keyframes = chunk_frames(features, None, "keyframes", interpolation_steps=0)  # every frame is a keyframe
    every = chunk_frames(features, None, "every frame")
    assert keyframes.indices == every.indices  # the frames alone cannot tell the two ways apart
    check_render_way(keyframes, "keyframes")
    check_render_way(every, "every frame")
    for frames, way in ((keyframes, "every frame"), (every, "keyframes")):
        with pytest.raises(AudioWalkInputError) as caught:
            check_render_way(frames, way)
        assert caught.value.input_name == "SD Walk Sampler: render_way"


def test_cancel_between_layers_stops_a_forward_and_always_removes_its_hook(pack, monkeypatch):
    """With ComfyUI's Cancel flag set, the next layer's forward raises ComfyUI's interrupt; the global hook is gone
    after a normal exit and after the interrupt, and other threads' forwards are not checked."""
    import sys
    import threading
    import types

    class Interrupted(Exception):
        pass

    flag = {"set": False}

    def throw():
        if flag["set"]:
            flag["set"] = False  # ComfyUI clears the flag when it raises
            raise Interrupted()

    stand_in = types.SimpleNamespace(throw_exception_if_processing_interrupted=throw,
                                     InterruptProcessingException=Interrupted)  # comfy.model_management's API
    comfy = types.ModuleType("comfy")
    comfy.model_management = stand_in
    monkeypatch.setitem(sys.modules, "comfy", comfy)
    monkeypatch.setitem(sys.modules, "comfy.model_management", stand_in)
    adapter = pack.nodes.comfy_adapter
    hooks = torch.nn.modules.module._global_forward_pre_hooks
    before = len(hooks)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 4))
    with adapter.cancel_between_layers(torch):
        assert len(hooks) == before + 1
        model(torch.zeros(1, 4))  # no Cancel: runs
        flag["set"] = True
        other = threading.Thread(target=lambda: model(torch.zeros(1, 4)))
        other.start()
        other.join()
        assert flag["set"]  # another thread's forward does not take our Cancel
        with pytest.raises(Interrupted):
            model(torch.zeros(1, 4))
    assert len(hooks) == before
    with pytest.raises(Interrupted):
        with adapter.cancel_between_layers(torch):
            flag["set"] = True
            model(torch.zeros(1, 4))
    assert len(hooks) == before
    with adapter.cancel_between_layers(torch, enabled=False):  # off (a GPU): no hook, no check
        assert len(hooks) == before


def test_a_keyframe_run_reports_the_songs_cost_from_its_first_batch():
    from audiowalk_core.clock import FrameClock
    from audiowalk_core.keyframe_diffusion import KeyframeRun

    clock = FrameClock.for_duration(48000 * 180, 48000, "30")  # 5,400 frames
    chunk = plan_chunk(clock.frame_count, 240, 0, clock, "run-1")
    run = KeyframeRun(61, 2, chunk)
    assert run.start_text() == "chunk 1 of 23, 61 keyframes, 2 per batch: timing the first batch ..."
    assert run.step_thousandths(5, 10) == 1000  # half of a batch of 2 keyframes
    text, first = run.finish_batch(2, 24.0)
    assert first and text.startswith("chunk 1 of 23, keyframes 2 of 61 (2 per batch): about 4 h 35 min for this song")
    text, first = run.finish_batch(4, 24.0)
    assert not first and "keyframes 4 of 61" in text
    later = KeyframeRun(61, 2, plan_chunk(clock.frame_count, 240, 1, clock, "run-1"))
    assert later.cost is run.cost  # the render's cost carries over its chunks; a new render starts afresh
    assert KeyframeRun(61, 2, plan_chunk(clock.frame_count, 240, 1, clock, "run-2")).cost is not run.cost
