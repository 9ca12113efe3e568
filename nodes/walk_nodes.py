"""Latent walk nodes: Band Noise Walk, Class Schedule, Make Latents, Smooth Latents."""
from __future__ import annotations

from audiowalk_core.latents import combine_latents
from audiowalk_core.pipeline import make_class_curves, make_noise_curves, smooth_walk
from audiowalk_core.plots import plot_latents, rgb_to_comfy_image
# The walk settings' widgets (default, range, tooltip, name) come from audiowalk_core/settings.py, declared once.
from audiowalk_core.settings import CLASSES_NODE, NOISE_NODE, SMOOTH_NODE, node_inputs, settings_from_widgets


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
            **node_inputs(NOISE_NODE),
        }}

    def walk(self, features, *values, **widgets):
        settings = settings_from_widgets(NOISE_NODE, widgets, values=values)
        return (make_noise_curves(features, settings),)


class AudioWalkClassSchedule:
    DESCRIPTION = ("Makes BigGAN's ImageNet class weights for every frame from labels (names or indices 0-999, "
                   "separated by |): interpolate (label to label over the song), chroma (each label follows a "
                   "pitch class), beats (next label every N beats, with a crossfade), bars (every N bars), sections "
                   "(each song section's label its own class), seed (the notebook's schedule over its own frame "
                   "count).")
    CATEGORY = "AudioWalk/walk"
    RETURN_TYPES = ("AUDIOWALK_CLASSES",)
    RETURN_NAMES = ("classes",)
    FUNCTION = "schedule"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "features": ("AUDIOWALK_FEATURES", {"tooltip": "Per-frame audio features (Audio Features)."}),
            **node_inputs(CLASSES_NODE),
        }}

    def schedule(self, features, *values, **widgets):
        settings = settings_from_widgets(CLASSES_NODE, widgets, values=values)
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
                   "Gaussian (sigma in frames), or none (the seed notebook's: no smoothing); on the noise, the class "
                   "weights or both.")
    CATEGORY = "AudioWalk/walk"
    RETURN_TYPES = ("AUDIOWALK_LATENTS",)
    RETURN_NAMES = ("latents",)
    FUNCTION = "smooth"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "latents": ("AUDIOWALK_LATENTS", {"tooltip": "Latents to smooth (Make Latents)."}),
            **node_inputs(SMOOTH_NODE),
        }}

    def smooth(self, latents, *values, **widgets):
        settings = settings_from_widgets(SMOOTH_NODE, widgets, values=values)
        return (smooth_walk(latents, settings),)


NODE_CLASS_MAPPINGS = {"AudioWalkBandNoiseWalk": AudioWalkBandNoiseWalk,
                       "AudioWalkClassSchedule": AudioWalkClassSchedule,
                       "AudioWalkMakeLatents": AudioWalkMakeLatents,
                       "AudioWalkSmoothLatents": AudioWalkSmoothLatents}
NODE_DISPLAY_NAME_MAPPINGS = {"AudioWalkBandNoiseWalk": "Band Noise Walk",
                              "AudioWalkClassSchedule": "Class Schedule",
                              "AudioWalkMakeLatents": "Make Latents",
                              "AudioWalkSmoothLatents": "Smooth Latents"}
