"""Audio nodes: Load Audio (from ComfyUI's input folder) and Audio Features."""
from __future__ import annotations

import hashlib
import os

from audiowalk_core.analysis import BAND_MODES, compute_features
from audiowalk_core.audio import AUDIO_EXTENSIONS, audio_from_comfy, audio_to_comfy, load_audio
from audiowalk_core.paths import resolve_inside
from audiowalk_core.plots import plot_features, rgb_to_comfy_image
from .comfy_adapter import input_directory, progress_callback

_ANNOTATION = " [input]"


def _audio_files() -> list[str]:
    folder = input_directory()
    if not folder.is_dir():
        return []
    return sorted(name for name in os.listdir(folder) if name.lower().endswith(AUDIO_EXTENSIONS))


def _audio_path(name: str):
    if name.endswith(_ANNOTATION):
        name = name[:-len(_ANNOTATION)]
    return resolve_inside(input_directory(), name, "audio")


class AudioWalkLoadAudio:
    DESCRIPTION = ("Loads a song from ComfyUI's input folder (mp3, wav, flac, ogg, m4a) at its own sample rate and "
                   "channels, optionally a part of it. Outputs ComfyUI's AUDIO, so the built-in audio nodes work too.")
    CATEGORY = "AudioWalk/audio"
    RETURN_TYPES = ("AUDIO",)
    RETURN_NAMES = ("audio",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "audio": (_audio_files(), {"audio_upload": True,
                                           "tooltip": "Song in ComfyUI's input folder (upload one with the button)."}),
                "start_seconds": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 86400.0, "step": 0.1,
                                            "tooltip": "Skip this many seconds at the start of the song."}),
                "duration_seconds": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 86400.0, "step": 0.1,
                                               "tooltip": "Seconds to load from the start time; 0 = to the end."}),
            },
            "optional": {
                # the frontend attaches its audio player to this slot next to an audio_upload combo
                "audioUI": ("AUDIO_UI", {"tooltip": "Player for the chosen song (display only)."}),
            },
        }

    def load(self, audio, start_seconds=0.0, duration_seconds=0.0, audioUI=None):
        clip = load_audio(_audio_path(audio), start_seconds, duration_seconds or None, input_name="audio")
        return (audio_to_comfy(clip),)

    @classmethod
    def IS_CHANGED(cls, audio, **_):
        try:
            digest = hashlib.sha256()
            with open(_audio_path(audio), "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            return digest.hexdigest()
        except Exception:  # noqa: BLE001 - VALIDATE_INPUTS reports the problem
            return float("nan")

    @classmethod
    def VALIDATE_INPUTS(cls, audio, **_):
        try:
            path = _audio_path(audio)
        except Exception as exc:  # noqa: BLE001
            return str(exc)
        return True if path.is_file() else f"audio: {audio!r} is not in the input folder"


class AudioWalkAudioFeatures:
    DESCRIPTION = ("Describes the song frame by frame at the video's fps: FFT band energies (improved, or the seed "
                   "notebook's exact maths), loudness, onsets, beats, chroma and harmonic/percussive energy. Also "
                   "outputs the frame count and a plot of the curves with the beats marked.")
    CATEGORY = "AudioWalk/audio"
    RETURN_TYPES = ("AUDIOWALK_FEATURES", "INT", "FLOAT", "IMAGE")
    RETURN_NAMES = ("features", "frame_count", "fps", "plot")
    FUNCTION = "analyse"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "audio": ("AUDIO", {"tooltip": "The song (Load Audio, or ComfyUI's own audio nodes)."}),
            "fps": ("FLOAT", {"default": 30.0, "min": 0.001, "max": 240.0, "step": 0.001,
                              "tooltip": "Video frame rate; 29.97 and 23.976 are taken as 30000/1001 and 24000/1001."}),
            "band_mode": (list(BAND_MODES), {"default": "improved", "tooltip":
                          "improved: centred windows, log bands over the whole spectrum, normalised. seed: the "
                          "notebook's one-second look-ahead softmax bands (uses the four parameters below)."}),
            "max_frequency_level": ("FLOAT", {"default": 11000.0, "min": 100.0, "max": 96000.0, "step": 1.0,
                                              "tooltip": "seed mode: highest frequency (Hz) that feeds a band."}),
            "low_frequency_skip": ("FLOAT", {"default": 16.0, "min": 0.0, "max": 20000.0, "step": 1.0,
                                             "tooltip": "seed mode: first frequency (Hz) that feeds a band."}),
            "frequency_band_growth_rate": ("FLOAT", {"default": 1.01, "min": 1.0001, "max": 2.0, "step": 0.001,
                                                     "tooltip": "seed mode: geometric growth of band width."}),
            "extra_detail": ("FLOAT", {"default": 0.9, "min": 0.0, "max": 0.999, "step": 0.01,
                                       "tooltip": "seed mode: softmax temperature in [0, 1); near 0 the loudest "
                                                  "frequency takes all weight, near 1 all bands count alike."}),
            "band_count": ("INT", {"default": 48, "min": 1, "max": 512,
                                   "tooltip": "improved mode: number of log-spaced bands."}),
        }}

    def analyse(self, audio, fps, band_mode, max_frequency_level, low_frequency_skip, frequency_band_growth_rate,
                extra_detail, band_count=48):
        clip = audio_from_comfy(audio)
        features = compute_features(clip, fps, band_mode=band_mode, max_frequency_level=max_frequency_level,
                                    low_frequency_skip=low_frequency_skip,
                                    frequency_band_growth_rate=frequency_band_growth_rate,
                                    extra_detail=extra_detail, band_count=band_count,
                                    on_progress=progress_callback(4))
        plot = rgb_to_comfy_image(plot_features(features))
        return (features, features.frame_count, float(features.clock.fps), plot)


NODE_CLASS_MAPPINGS = {"AudioWalkLoadAudio": AudioWalkLoadAudio, "AudioWalkAudioFeatures": AudioWalkAudioFeatures}
# "Load Audio" is ComfyUI's own LoadAudio node: ours is "Load Song".
NODE_DISPLAY_NAME_MAPPINGS = {"AudioWalkLoadAudio": "Load Song",
                              "AudioWalkAudioFeatures": "Audio Features"}
