"""Feature curve nodes: a feature of the music as numbers any node can take (denoise, strength, weights ...)."""
from __future__ import annotations

from audiowalk_core.curves import CURVE_NAMES, curve_value_at_frame, feature_curve

_SELECTION = {
    "features": ("AUDIOWALK_FEATURES", {"tooltip": "Per-frame audio features (Audio Features)."}),
    "curve": (list(CURVE_NAMES), {"default": "rms", "tooltip":
              "rms: loudness; onset: note and drum attacks; beat: 1 on each beat, fading; harmonic / percussive: "
              "tonal and drum energy; band: one frequency band (index); chroma: one pitch class (index); "
              "downbeat: 1 on each bar's first beat, fading; bar_phase: 0 to 1 through each bar; section_index: "
              "the song section's number scaled to 0 (first) .. 1 (last); section_change: 1 where a section "
              "starts, fading over a second."}),
    "index": ("INT", {"default": 0, "min": 0, "max": 511, "tooltip":
              "band: which band, 0 = lowest frequencies; chroma: 0 = C, 1 = C#, ... 11 = B. Unused otherwise."}),
    "low": ("FLOAT", {"default": 0.0, "min": -10000.0, "max": 10000.0, "step": 0.01, "tooltip":
            "Output when the feature is 0 (silence). May be above high to invert the curve."}),
    "high": ("FLOAT", {"default": 1.0, "min": -10000.0, "max": 10000.0, "step": 0.01,
                       "tooltip": "Output when the feature is 1 (the song's strongest moments)."}),
}


class AudioWalkFeatureCurve:
    DESCRIPTION = ("One feature of the music (loudness, onsets, beats, a band, a pitch class ...) scaled to "
                   "low..high, one number per video frame. 'values' is a FLOAT list: a node it feeds runs once per "
                   "frame. 'floats' is the whole list as one value, for nodes that take schedules (FLOATS).")
    CATEGORY = "AudioWalk/curves"
    RETURN_TYPES = ("FLOAT", "FLOATS")
    RETURN_NAMES = ("values", "floats")
    OUTPUT_IS_LIST = (True, False)
    OUTPUT_TOOLTIPS = ("One FLOAT per frame, as a ComfyUI list (the next node runs once per value).",
                       "The same numbers as one list value (type FLOATS, as other packs' schedules use).")
    FUNCTION = "curve"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": dict(_SELECTION)}

    def curve(self, features, curve, index, low, high):
        values = feature_curve(features, curve, index, low, high)
        return (values, values)


class AudioWalkFeatureValueAtFrame:
    DESCRIPTION = ("The value of one feature of the music at one video frame, scaled to low..high: link a chunk's "
                   "or keyframe's frame index to drive e.g. img2img denoise with the music.")
    CATEGORY = "AudioWalk/curves"
    RETURN_TYPES = ("FLOAT",)
    RETURN_NAMES = ("value",)
    OUTPUT_TOOLTIPS = ("The scaled feature at that frame.",)
    FUNCTION = "value"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {**_SELECTION,
                             "frame": ("INT", {"default": 0, "min": 0, "max": 10_000_000, "tooltip":
                                       "Frame index on the features' clock (0 = first frame); can be linked."})}}

    def value(self, features, curve, index, low, high, frame):
        return (curve_value_at_frame(features, curve, index, low, high, frame),)


NODE_CLASS_MAPPINGS = {"AudioWalkFeatureCurve": AudioWalkFeatureCurve,
                       "AudioWalkFeatureValueAtFrame": AudioWalkFeatureValueAtFrame}
NODE_DISPLAY_NAME_MAPPINGS = {"AudioWalkFeatureCurve": "Feature Curve",
                              "AudioWalkFeatureValueAtFrame": "Feature Value at Frame"}
