"""The frames a chunk of a Stable Diffusion walk diffuses (both render ways), the chunk of a song without BigGAN
latents, and the sampler choices each render way allows.

- ``keyframes``: the song's keyframes (every interpolation_steps + 1 frames, or on beats/onsets) that the chunk
  needs, crossfaded back to every frame by Interpolate Frames (as the diffused BigGAN template).
- ``every frame``: each frame of the chunk diffused, with a few-step model (SD-Turbo / SDXL-Turbo, SDXL-Lightning,
  Hyper-SD: euler + sgm_uniform, 1-8 steps, cfg 1-2).
"""
from __future__ import annotations

import dataclasses

import hashlib

import numpy as np

from ..chunks import plan_chunk, origin_of_prompt, render_id_of_prompt
from ..errors import AudioWalkInputError, require_choice
from ..keyframes import KEYFRAME_MODES, KeyframePlan, chunk_keyframes, select_keyframes

RENDER_WAYS = ("keyframes", "every frame")
# Sampler names whose steps draw fresh noise from the sampler seed over the whole batch (k-diffusion's
# default_noise_sampler): a frame's result would depend on its batch, so a chunk would not equal the whole render.
STOCHASTIC_SAMPLER_MARKS = ("ancestral", "sde", "lcm", "ddpm", "restart", "seeds_", "dpm_fast", "dpm_adaptive",
                            "er_sde", "sa_solver")
# Few-step presets of the every-frame way: (sampler, scheduler, steps range, cfg range)
FEW_STEP_PRESETS = {
    "Turbo (SD-Turbo, SDXL-Turbo)": ("euler", "sgm_uniform", (1, 4), (1.0, 2.0)),
    "Lightning (SDXL-Lightning 2/4/8 step)": ("euler", "sgm_uniform", (2, 8), (1.0, 2.0)),
    "Hyper-SD (1/2/4/8 step LoRA)": ("euler", "sgm_uniform", (1, 8), (1.0, 2.0)),
}
KEYFRAME_PRESET = ("dpmpp_2m", "karras", (1, 150), (1.0, 30.0))
SAMPLER_NODE = "SD Walk Sampler"


def chunk_frames(features, chunk=None, render_way: str = "keyframes", interpolation_steps: int = 3,
                 keyframe_mode: str = "every_n") -> KeyframePlan:
    """The KeyframePlan (AUDIOWALK_KEYFRAMES) of the frames to diffuse for ``chunk`` (None: the whole song):
    absolute frame indices; every frame: all of the chunk's frames (Interpolate Frames then passes them through)."""
    require_choice("render_way", render_way, RENDER_WAYS)
    total = int(features.frame_count)
    first, count = (0, total) if chunk is None else (int(chunk.start_frame), int(chunk.frame_count))
    if chunk is not None and int(chunk.total_frames) != total:
        raise AudioWalkInputError("chunk", f"a chunk of a {chunk.total_frames}-frame render on {total}-frame "
                                  "features", "the chunk of Render in Chunks fed by the same features")
    if render_way == "every frame":
        return KeyframePlan(count, tuple(range(first, first + count)), first, render_way)
    require_choice("keyframe_mode", keyframe_mode, KEYFRAME_MODES)
    song = select_keyframes(total, interpolation_steps, keyframe_mode, features)
    return dataclasses.replace(chunk_keyframes(song.indices, first, count), render_way=render_way)


def check_render_way(frames, render_way: str) -> None:
    """SD Walk Sampler's ``render_way`` must be the one SD Walk Frames chose its frames by (every frame with
    keyframe settings would run a keyframe sampler's 20 steps on every frame: hours for a song)."""
    chosen = getattr(frames, "render_way", "") or ""
    if chosen and chosen != render_way:
        raise AudioWalkInputError(f"{SAMPLER_NODE}: render_way", f"{render_way!r} for frames SD Walk Frames chose "
                                  f"by {chosen!r}", "the same render_way in SD Walk Frames and SD Walk Sampler")


def features_digest(features, chunk_frames_value: int) -> str:
    """16 hex digits identifying a render of these features (outside ComfyUI, where no prompt gives an id)."""
    digest = hashlib.sha256(f"{features.clock.fps}:{features.frame_count}:{chunk_frames_value}".encode())
    for name in sorted(features.curves):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(features.curves[name], np.float32).tobytes())
    return digest.hexdigest()[:16]


def song_chunk(features, chunk_frames_value: int, render: str, chunk_index: int, *, prompt=None, node_id: str = "",
               current_prompt_id=None, audio=None):
    """The RenderChunk of a render driven by features alone (no BigGAN latents): as chunks.render_chunk."""
    node_id = str(node_id or "")
    render_id = render_id_of_prompt(prompt, node_id) if prompt else features_digest(features, chunk_frames_value)
    return plan_chunk(features.frame_count, chunk_frames_value, chunk_index, features.clock, render_id, render,
                      origin=origin_of_prompt(prompt, node_id, current_prompt_id), node_id=node_id, prompt=prompt,
                      audio=audio)


def sampler_settings(render_way: str, few_step_model: str, steps: int, cfg: float,
                     guidance=None) -> tuple[str, str]:
    """``(sampler name, scheduler name)`` for a render way; AudioWalkInputError (naming SD Walk Sampler and the
    input) before any sampling when the steps, cfg or the per-frame ``guidance`` values (when given) cannot work
    for that way."""
    require_choice(f"{SAMPLER_NODE}: render_way", render_way, RENDER_WAYS)
    if render_way == "every frame":
        require_choice(f"{SAMPLER_NODE}: few_step_model", few_step_model, FEW_STEP_PRESETS)
        sampler, scheduler, (low, high), (cfg_low, cfg_high) = FEW_STEP_PRESETS[few_step_model]
        why = (f"'every frame' diffuses each frame: it needs a few-step model ({few_step_model}: {low}-{high} "
               "steps); a 20-step checkpoint there takes hours per song and gives noise at few steps")
    else:
        sampler, scheduler, (low, high), (cfg_low, cfg_high) = KEYFRAME_PRESET
        why = "keyframes with a regular checkpoint"
    if not low <= int(steps) <= high:
        raise AudioWalkInputError(f"{SAMPLER_NODE}: steps", f"{int(steps)} steps: {why}", f"{low} to {high} steps")
    if guidance is not None and len(guidance):
        name, low_value, high_value = "guidance", float(np.min(guidance)), float(np.max(guidance))
    else:
        name, low_value, high_value = "cfg", float(cfg), float(cfg)
    if not (cfg_low - 1e-9 <= low_value and high_value <= cfg_high + 1e-9):
        shown = f"{low_value:g}" if low_value == high_value else f"{low_value:g} to {high_value:g}"
        raise AudioWalkInputError(f"{SAMPLER_NODE}: {name}", f"{name} {shown} for {render_way}: "
                                  + ("few-step models are distilled for cfg about 1 (higher burns the picture)"
                                     if render_way == "every frame" else "outside the usual range"),
                                  f"{name} from {cfg_low:g} to {cfg_high:g}"
                                  + (" (the Feature Curve's low/high)" if name == "guidance" else ""))
    return sampler, scheduler


def check_deterministic_sampler(sampler_name: str, input_name: str = f"{SAMPLER_NODE}: sampler") -> str:
    """The name, when its steps draw no batch-dependent noise; else AudioWalkInputError (chunks would differ)."""
    name = str(sampler_name)
    if any(mark in name for mark in STOCHASTIC_SAMPLER_MARKS):
        raise AudioWalkInputError(input_name, f"{name!r} draws new noise at each step for the whole batch, so a "
                                  "frame would depend on its chunk", "a deterministic sampler such as euler, "
                                  "dpmpp_2m, heun, uni_pc")
    return name
