"""Stable Diffusion walk nodes: the frames a chunk diffuses, Music Noise Walk (NOISE), Prompt Travel
(CONDITIONING per frame), SD Walk Sampler (GUIDER/SAMPLER/SIGMAS per render way, guidance per frame) and Music
Strength (per-frame img2img strength as a noise mask). Logic in audiowalk_core.sd_walk."""
from __future__ import annotations

from audiowalk_core.keyframes import KEYFRAME_MODES
from audiowalk_core.sd_walk.frames import (FEW_STEP_PRESETS, RENDER_WAYS, check_deterministic_sampler,
                                           check_render_way, chunk_frames, sampler_settings)
from audiowalk_core.sd_walk.guidance import PerFrameGuidance, check_guidance, strength_mask, values_of_frames
from audiowalk_core.sd_walk.music_noise import MusicNoiseWalk, NoiseWalkSettings, walk_path
from audiowalk_core.sd_walk.reactivity import reactivity_line
from audiowalk_core.sd_walk.prompt_travel import (SCHEDULE_MODES, blend_conditionings, linked_conditionings,
                                                  schedule_knots, travel_weights)
from .comfy_adapter import sampler_and_sigmas, sub_batched_guider

PROMPT_INPUTS = 8
_FEATURES = ("AUDIOWALK_FEATURES", {"tooltip": "The song's features (Audio Features / the music map)."})
_FRAMES = ("AUDIOWALK_KEYFRAMES", {"tooltip": "The frames this chunk diffuses (SD Walk Frames)."})


class AudioWalkSDWalkFrames:
    DESCRIPTION = ("Which frames of the chunk Stable Diffusion diffuses. keyframes: every interpolation_steps + 1 "
                   "frames (or on beats/onsets), crossfaded back by Interpolate Frames; every frame: all of the "
                   "chunk's frames (a few-step model: Turbo, Lightning, Hyper-SD). frame_count is the latent batch: "
                   "link it to the empty latent's batch_size.")
    CATEGORY = "AudioWalk/sd walk"
    RETURN_TYPES = ("AUDIOWALK_KEYFRAMES", "INT")
    RETURN_NAMES = ("frames", "frame_count")
    OUTPUT_TOOLTIPS = ("The frames' absolute indices (for the noise, the prompts, Interpolate Frames).",
                       "How many latents to diffuse in this chunk.")
    FUNCTION = "frames"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "features": _FEATURES,
            "render_way": (list(RENDER_WAYS), {"default": RENDER_WAYS[0], "tooltip":
                           "keyframes: diffuse some frames and crossfade (any checkpoint); every frame: diffuse "
                           "each frame (few-step checkpoint or LoRA)."}),
            "interpolation_steps": ("INT", {"default": 3, "min": 0, "max": 100, "tooltip":
                                    "keyframes: frames crossfaded between two keyframes."}),
            "keyframe_mode": (list(KEYFRAME_MODES), {"default": "every_n", "tooltip":
                              "keyframes: every_n regular; beats / onsets on the music."}),
        }, "optional": {"chunk": ("AUDIOWALK_CHUNK", {"tooltip": "The chunk being rendered (Render in Chunks); "
                                                      "without it the whole song."})}}

    def frames(self, features, render_way, interpolation_steps, keyframe_mode, chunk=None):
        plan = chunk_frames(features, chunk, render_way, interpolation_steps, keyframe_mode)
        return (plan, len(plan.indices))


class AudioWalkMusicNoiseWalk:
    DESCRIPTION = ("Noise for SamplerCustomAdvanced that moves with the music: still in quiet passages, pushed on "
                   "onsets, beats and loudness, restarting on each section label's own noise (an 'A' section "
                   "returns to A's noise). Each frame's noise depends only on the seed, its frame index and the "
                   "music, so chunks equal a whole render; any latent shape (SD1.5/SDXL 4 channels, SD3/Flux 16). "
                   "Use a deterministic sampler (euler, dpmpp_2m).")
    CATEGORY = "AudioWalk/sd walk"
    RETURN_TYPES = ("NOISE",)
    RETURN_NAMES = ("noise",)
    FUNCTION = "make"

    @classmethod
    def INPUT_TYPES(cls):
        def motion(default, text):
            return ("FLOAT", {"default": default, "min": 0.0, "max": 4.0, "step": 0.01, "tooltip": text})
        return {"required": {
            "features": _FEATURES,
            "frames": _FRAMES,
            "noise_seed": ("INT", {"default": 42, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True,
                                   "tooltip": "Seed of the anchor noises."}),
            "drift": motion(0.0, "Motion of every frame (1 = a wholly new noise per frame); 0 keeps silence still."),
            "onset_push": motion(0.25, "Motion on an onset of strength 1 (drum hits, note attacks)."),
            "beat_push": motion(0.3, "Motion on each beat frame."),
            "energy_push": motion(0.02, "Motion per frame at full loudness (rms 1)."),
            "use_sections": ("BOOLEAN", {"default": True, "tooltip": "Restart each section on its label's noise "
                                         "(needs the music map's sections; ignored without them)."}),
        }}

    def make(self, features, frames, noise_seed, drift, onset_push, beat_push, energy_push, use_sections):
        path = walk_path(features, NoiseWalkSettings(drift, onset_push, beat_push, energy_push, bool(use_sections)))
        return (MusicNoiseWalk(path, frames.indices, noise_seed),)


class AudioWalkPromptTravel:
    DESCRIPTION = ("Each frame of the chunk gets its own blend of the prompts, scheduled by the music: by section "
                   "labels ('A: 1, B: 2'), bars or beats ('0: 1, 8: 2'), or seconds. One CONDITIONING batched by "
                   "frame: the sampler diffuses every frame with its own prompt in one call (SD1.5, SDXL pooled, "
                   "SD3, Flux: any CLIP Text Encode output).")
    CATEGORY = "AudioWalk/sd walk"
    RETURN_TYPES = ("CONDITIONING",)
    RETURN_NAMES = ("conditioning",)
    FUNCTION = "travel"

    @classmethod
    def INPUT_TYPES(cls):
        optional = {f"conditioning_{i}": ("CONDITIONING", {"tooltip": f"Prompt {i} (CLIP Text Encode)."})
                    for i in range(2, PROMPT_INPUTS + 1)}
        return {"required": {
            "features": _FEATURES,
            "frames": _FRAMES,
            "mode": (list(SCHEDULE_MODES), {"default": "seconds", "tooltip":
                     "sections: keys are section labels (music map); bars / beats: bar or beat numbers from 0; "
                     "seconds: times."}),
            "schedule": ("STRING", {"default": "0: 1, 10: 2", "multiline": True, "tooltip":
                         "key: prompt entries, commas or new lines. Prompts numbered from 1 (conditioning_N). "
                         "sections: 'A: 1, B: 2, *: 3'; bars: '0: 1, 8: 2'; seconds: '0: 1, 12.5: 2'."}),
            "transition_frames": ("INT", {"default": 0, "min": 0, "max": 10_000, "tooltip":
                                  "0: travel linearly from key to key (sections: cut); N: hold each prompt and "
                                  "crossfade over the N frames before the next key or section."}),
            "conditioning_1": ("CONDITIONING", {"tooltip": "Prompt 1 (CLIP Text Encode)."}),
        }, "optional": optional}

    def travel(self, features, frames, mode, schedule, transition_frames, conditioning_1, **more):
        conditionings = linked_conditionings(conditioning_1, more, PROMPT_INPUTS)
        knots = schedule_knots(features, schedule, mode, transition_frames)
        weights = travel_weights(knots, frames.indices, len(conditionings))
        return (blend_conditionings(conditionings, weights),)


class AudioWalkSDWalkSampler:
    DESCRIPTION = ("Guider, sampler and sigmas for the render way of SD Walk Frames. keyframes: dpmpp_2m + karras, "
                   "1-150 steps, any checkpoint. every frame: euler + sgm_uniform, 1-8 steps, cfg 1-2, with a few-step "
                   "model (SD/SDXL-Turbo, SDXL-Lightning, Hyper-SD LoRA). Steps or cfg that cannot work for the "
                   "way are refused before sampling. 'guidance' (Feature Curve floats) sets cfg per frame.")
    CATEGORY = "AudioWalk/sd walk"
    RETURN_TYPES = ("GUIDER", "SAMPLER", "SIGMAS")
    RETURN_NAMES = ("guider", "sampler", "sigmas")
    FUNCTION = "make"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": ("MODEL", {"tooltip": "The checkpoint's model (Load Checkpoint), with LoRAs if any."}),
            "positive": ("CONDITIONING", {"tooltip": "Prompt Travel's per-frame conditioning (or one prompt)."}),
            "negative": ("CONDITIONING", {"tooltip": "The negative prompt."}),
            "frames": _FRAMES,
            "render_way": (list(RENDER_WAYS), {"default": RENDER_WAYS[0], "tooltip":
                           "The same way as SD Walk Frames: it sets sampler, scheduler and allowed steps."}),
            "few_step_model": (list(FEW_STEP_PRESETS), {"default": next(iter(FEW_STEP_PRESETS)), "tooltip":
                               "every frame: which few-step family the checkpoint or LoRA is."}),
            "steps": ("INT", {"default": 20, "min": 1, "max": 150, "tooltip":
                      "Sampling steps (keyframes 1-150, about 20 for a regular checkpoint; every frame: the "
                      "model's 1-8)."}),
            "cfg": ("FLOAT", {"default": 7.0, "min": 0.0, "max": 30.0, "step": 0.1, "tooltip":
                    "Guidance scale (every frame: 1 to 2). Ignored where 'guidance' is linked."}),
            "denoise": ("FLOAT", {"default": 1.0, "min": 0.01, "max": 1.0, "step": 0.01, "tooltip":
                        "1 for text-to-image; below 1 for img2img (the last steps of a longer schedule)."}),
            "frames_per_batch": ("INT", {"default": 0, "min": 0, "max": 256, "tooltip":
                                 "Latents per sampler call within the chunk: 0 = from the device and size (one "
                                 "512 px frame at a time on a CPU, where Cancel then acts within one layer). "
                                 "Memory follows it; results do not depend on it (beyond float rounding)."}),
        }, "optional": {"guidance": ("FLOATS", {"tooltip": "Guidance per song frame (Feature Curve 'floats', e.g. "
                                                "low 5, high 9): each frame's cfg follows the music."})}}

    def make(self, model, positive, negative, frames, render_way, few_step_model, steps, cfg, denoise,
             frames_per_batch=0, guidance=None):
        scales = None
        if guidance is not None:
            scales = check_guidance(values_of_frames(guidance, frames.indices, "SD Walk Sampler: guidance"),
                                    "SD Walk Sampler: guidance")
        sampler_name, scheduler = sampler_settings(render_way, few_step_model, steps, cfg, scales)
        check_deterministic_sampler(sampler_name)
        check_render_way(frames, render_way)
        guidance_rows = PerFrameGuidance(scales) if scales is not None else None
        sampler, sigmas = sampler_and_sigmas(model, sampler_name, scheduler, steps, denoise)
        return (sub_batched_guider(model, positive, negative, cfg, guidance_rows, frames_per_batch), sampler, sigmas)


class AudioWalkMusicStrength:
    DESCRIPTION = ("img2img strength per frame from the music: a noise mask on the latents with each frame's "
                   "strength (Feature Curve floats in 0..1). Put core Differential Diffusion on the model so a mask "
                   "of m denoises that frame with strength m (relative to the sampler's denoise).")
    CATEGORY = "AudioWalk/sd walk"
    RETURN_TYPES = ("LATENT",)
    RETURN_NAMES = ("latent",)
    FUNCTION = "mask"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "latent": ("LATENT", {"tooltip": "The encoded frames (VAE Encode), one per frame of 'frames'."}),
            "frames": _FRAMES,
            "strength": ("FLOATS", {"tooltip": "Strength per song frame (Feature Curve 'floats', low/high in 0..1)."}),
        }}

    def mask(self, latent, frames, strength):
        values = values_of_frames(strength, frames.indices, "Music Strength: strength")
        out = dict(latent)
        out["noise_mask"] = strength_mask(tuple(latent["samples"].shape), values, "Music Strength: latent")
        return (out,)


NODE_CLASS_MAPPINGS = {"AudioWalkSDWalkFrames": AudioWalkSDWalkFrames,
                       "AudioWalkMusicNoiseWalk": AudioWalkMusicNoiseWalk,
                       "AudioWalkPromptTravel": AudioWalkPromptTravel,
                       "AudioWalkSDWalkSampler": AudioWalkSDWalkSampler,
                       "AudioWalkMusicStrength": AudioWalkMusicStrength}
NODE_DISPLAY_NAME_MAPPINGS = {"AudioWalkSDWalkFrames": "SD Walk Frames", "AudioWalkMusicNoiseWalk": "Music Noise Walk",
                              "AudioWalkPromptTravel": "Prompt Travel", "AudioWalkSDWalkSampler": "SD Walk Sampler",
                              "AudioWalkMusicStrength": "Music Strength"}


def reactivity_text(images, chunk=None, features=None) -> str:
    """Save Music Video's reactivity line ("" without features that have an onset curve)."""
    curves = getattr(features, "curves", {}) if features is not None else {}
    if "onset" not in curves:
        return ""
    return reactivity_line(images, curves["onset"], float(features.clock.fps), chunk)
