"""Latent walk nodes: Band Noise Walk, Class Schedule, Make Latents, Smooth Latents."""
from __future__ import annotations

from audiowalk_core.classes import SCHEDULE_MODES
from audiowalk_core.latents import combine_latents
from audiowalk_core.pipeline import DEFAULT_PIPELINE, make_class_curves, make_noise_curves, smooth_walk
from audiowalk_core.plots import plot_latents, rgb_to_comfy_image
from audiowalk_core.smoothing import SMOOTHING_METHODS, SMOOTHING_TARGETS
from audiowalk_core.walk import CHAIN_ORDERS, WALK_MODES

_SEED = ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True,
                 "tooltip": "Seed of every random draw; the same seed and inputs give the same walk."})
_TRUNCATION = ("FLOAT", {"default": 0.7, "min": 0.02, "max": 1.0, "step": 0.01,
                         "tooltip": "BigGAN truncation in (0, 1]: lower is calmer and more typical, higher is "
                                    "more varied; also scales the noise vectors."})


class AudioWalkBandNoiseWalk:
    DESCRIPTION = ("Makes BigGAN's noise vector for every frame from the music. improved: still in silence, pushed "
                   "by the band energies, kicked by onsets (a new direction on every beat) and drifting with "
                   "loudness. seed: the notebook's band vector bank and weighted sum, seeded.")
    CATEGORY = "AudioWalk/walk"
    RETURN_TYPES = ("AUDIOWALK_NOISE",)
    RETURN_NAMES = ("noise",)
    FUNCTION = "walk"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "features": ("AUDIOWALK_FEATURES", {"tooltip": "Per-frame audio features (Audio Features)."}),
            "seed": _SEED,
            "mode": (list(WALK_MODES), {"default": "improved", "tooltip": "improved (default) or the seed's walk."}),
            "truncation": _TRUNCATION,
            "smoothing_factor": ("FLOAT", {"default": 0.1, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip":
                                           "Mixing of neighbouring bands' noise vectors (1 = all the same)."}),
            "iterations": ("INT", {"default": 1, "min": 0, "max": 100,
                                   "tooltip": "Passes of that mixing across the bands."}),
            "chain_order": (list(CHAIN_ORDERS), {"default": "lowest_correlation", "tooltip":
                            "Order of the band vectors: lowest_correlation (what the seed did), "
                            "highest_correlation (what it meant: smoother), none."}),
            "pulse_strength": ("FLOAT", {"default": 0.6, "min": 0.0, "max": 5.0, "step": 0.05,
                                         "tooltip": "improved: how hard onsets kick the image."}),
            "motion_strength": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 5.0, "step": 0.05,
                                          "tooltip": "improved: how far loudness makes the image drift."}),
        }}

    def walk(self, features, seed, mode, truncation, smoothing_factor, iterations, chain_order,
             pulse_strength=0.6, motion_strength=0.5):
        settings = DEFAULT_PIPELINE.replace(seed=int(seed), walk_mode=mode, truncation=float(truncation),
                                            smoothing_factor=smoothing_factor, iterations=iterations,
                                            chain_order=chain_order, pulse_strength=pulse_strength,
                                            motion_strength=motion_strength)
        return (make_noise_curves(features, settings),)


class AudioWalkClassSchedule:
    DESCRIPTION = ("Makes BigGAN's ImageNet class weights for every frame from labels (names or indices 0-999, "
                   "separated by |): interpolate (the seed: label to label over the song), chroma (each label "
                   "follows a pitch class), beats (next label every N beats, with a crossfade), bars (every N bars), "
                   "sections (each song section's label its own class).")
    CATEGORY = "AudioWalk/walk"
    RETURN_TYPES = ("AUDIOWALK_CLASSES",)
    RETURN_NAMES = ("classes",)
    FUNCTION = "schedule"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "features": ("AUDIOWALK_FEATURES", {"tooltip": "Per-frame audio features (Audio Features)."}),
            "labels": ("STRING", {"default": "teapot | bubble | mushroom", "multiline": False,
                                  "tooltip": "ImageNet class names or indices separated by |, e.g. "
                                             "'teapot | bubble | 947'. A single label is held for the whole "
                                             "song."}),
            "mode": (list(SCHEDULE_MODES), {"default": "interpolate", "tooltip":
                     "interpolate: over the whole song; chroma: label j follows pitch class j (C, C#, ...); "
                     "beats: switch every beats_per_switch beats; bars: every beats_per_switch bars (on downbeats); "
                     "sections: each distinct song section (A, B ...) its own label, a repeat returns to it."}),
            "beats_per_switch": ("INT", {"default": 4, "min": 1, "max": 256,
                                         "tooltip": "beats mode: beats between label changes; bars mode: bars."}),
            "crossfade_frames": ("INT", {"default": 8, "min": 0, "max": 1000,
                                         "tooltip": "beats, bars, sections modes: frames of the fade from one label to "
                                                    "the next."}),
        }}

    def schedule(self, features, labels, mode, beats_per_switch=4, crossfade_frames=8):
        settings = DEFAULT_PIPELINE.replace(labels=labels, class_mode=mode, beats_per_switch=beats_per_switch,
                                            crossfade_frames=crossfade_frames)
        return (make_class_curves(features, settings),)


class AudioWalkMakeLatents:
    DESCRIPTION = ("Combines the noise walk and the class schedule into BigGAN latents, with a preview of the class "
                   "weights and the latent motion over time. BigGAN receives the truncation of Band Noise Walk, "
                   "the one that scaled and clipped the noise.")
    CATEGORY = "AudioWalk/walk"
    RETURN_TYPES = ("AUDIOWALK_LATENTS", "IMAGE", "INT")
    RETURN_NAMES = ("latents", "preview", "frame_count")
    FUNCTION = "combine"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "noise": ("AUDIOWALK_NOISE", {"tooltip": "Noise per frame (Band Noise Walk), with its truncation."}),
            "classes": ("AUDIOWALK_CLASSES", {"tooltip": "Class weights per frame (Class Schedule)."}),
        }}

    def combine(self, noise, classes):
        latents = combine_latents(noise, classes)
        return (latents, rgb_to_comfy_image(plot_latents(latents)), latents.frame_count)


class AudioWalkSmoothLatents:
    DESCRIPTION = ("Smooths the latents over time: exponential with separate attack and release (frames), or "
                   "Gaussian (sigma in frames); on the noise, the class weights or both.")
    CATEGORY = "AudioWalk/walk"
    RETURN_TYPES = ("AUDIOWALK_LATENTS",)
    RETURN_NAMES = ("latents",)
    FUNCTION = "smooth"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "latents": ("AUDIOWALK_LATENTS", {"tooltip": "Latents to smooth (Make Latents)."}),
            "method": (list(SMOOTHING_METHODS), {"default": "ema", "tooltip":
                       "ema: follows rises with the attack time and falls with the release time; gaussian: "
                       "symmetric blur over time."}),
            "target": (list(SMOOTHING_TARGETS), {"default": "noise", "tooltip": "What to smooth."}),
            "attack_frames": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1000.0, "step": 0.5,
                                        "tooltip": "ema: time constant (frames) for rising values; 0 = instant."}),
            "release_frames": ("FLOAT", {"default": 6.0, "min": 0.0, "max": 1000.0, "step": 0.5,
                                         "tooltip": "ema: time constant (frames) for falling values."}),
            "sigma_frames": ("FLOAT", {"default": 2.0, "min": 0.0, "max": 1000.0, "step": 0.5,
                                       "tooltip": "gaussian: sigma in frames."}),
        }}

    def smooth(self, latents, method, target, attack_frames=1.0, release_frames=6.0, sigma_frames=2.0):
        settings = DEFAULT_PIPELINE.replace(smoothing_method=method, smoothing_target=target,
                                            attack_frames=attack_frames, release_frames=release_frames,
                                            sigma_frames=sigma_frames)
        return (smooth_walk(latents, settings),)


NODE_CLASS_MAPPINGS = {"AudioWalkBandNoiseWalk": AudioWalkBandNoiseWalk,
                       "AudioWalkClassSchedule": AudioWalkClassSchedule,
                       "AudioWalkMakeLatents": AudioWalkMakeLatents,
                       "AudioWalkSmoothLatents": AudioWalkSmoothLatents}
NODE_DISPLAY_NAME_MAPPINGS = {"AudioWalkBandNoiseWalk": "Band Noise Walk",
                              "AudioWalkClassSchedule": "Class Schedule",
                              "AudioWalkMakeLatents": "Make Latents",
                              "AudioWalkSmoothLatents": "Smooth Latents"}
