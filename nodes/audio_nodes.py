"""Audio nodes: Load Song (AudioWalkLoadAudio, from ComfyUI's input folder) and Audio Features."""
from __future__ import annotations

import logging
import os

from audiowalk_core.audio import (AUDIO_EXTENSIONS, BUNDLED_DEMO_SONG, audio_from_comfy, audio_to_comfy,
                                  check_audio_file, load_audio, place_demo_song)
from audiowalk_core.beat_tracking import MODEL_KIND as BEAT_MODEL_KIND, check_tracker_choice, tracker_choices
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.model_download import name_from_choice
from audiowalk_core.pipeline import compute_song_features, load_song_beat_tracker
from audiowalk_core.paths import file_digest, resolve_inside
from audiowalk_core.plots import plot_features, rgb_to_comfy_image
from audiowalk_core.settings import FEATURES_NODE, node_inputs, setting, settings_from_widgets
from .comfy_adapter import (input_directory, load_managed, manage_module, model_devices, model_directories,
                            never_equal, progress_callback, register_model_folder)

register_model_folder(BEAT_MODEL_KIND, {".ckpt"})

_ANNOTATION = " [input]"


def _audio_files() -> list[str]:
    """The songs in ComfyUI's input folder, with the bundled demo song placed there on first use."""
    folder = input_directory()
    place_demo_song(folder)
    names = sorted(name for name in os.listdir(folder) if name.lower().endswith(AUDIO_EXTENSIONS)) \
        if folder.is_dir() else []
    if BUNDLED_DEMO_SONG.name not in names:  # the input folder could not take it: loaded from the pack
        names.append(BUNDLED_DEMO_SONG.name)
    return names


def _audio_path(name: str):
    """The file of a Load Song choice: the input folder's, else the bundled demo song for its name."""
    if name.endswith(_ANNOTATION):
        name = name[:-len(_ANNOTATION)]
    path = resolve_inside(input_directory(), name, "audio")
    if not path.exists() and name == BUNDLED_DEMO_SONG.name:
        return BUNDLED_DEMO_SONG
    return path


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
                "audio": (_audio_files(), {"audio_upload": True, "tooltip":
                                           "Song in ComfyUI's input folder (upload one with the button); "
                                           f"{BUNDLED_DEMO_SONG.name} is the pack's 20 s demo song."}),
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
            return file_digest(_audio_path(audio))  # once per file version, not once per chunk of a render
        except Exception:  # noqa: BLE001 - VALIDATE_INPUTS reports the problem
            return never_equal()

    @classmethod
    def VALIDATE_INPUTS(cls, audio):
        """Only ``audio`` is checked here, so a missing song gives ONE message (ComfyUI blames every input a
        validator takes)."""
        try:
            path = _audio_path(audio)
            if not path.exists():
                return (f"audio: the song {audio!r} is not in ComfyUI's input folder; upload one with Load "
                        f"Song's 'choose file to upload' button, or pick one from its list (the bundled "
                        f"{BUNDLED_DEMO_SONG.name} is always there)")
            check_audio_file(path, "audio")  # a folder, an empty file, text, an image ...
        except Exception as exc:  # noqa: BLE001
            return str(exc)
        return True


class AudioWalkAudioFeatures:
    DESCRIPTION = ("Describes the song frame by frame at the video's fps: FFT band energies (improved, or the seed "
                   "notebook's exact maths), loudness, onsets, beats, downbeats, sections, chroma and "
                   "harmonic/percussive energy. Beats come from the pack's DSP tracker or the Beat This! neural "
                   "tracker (models/beat_this). Also outputs the frame count and a plot of the curves with the beats "
                   "marked.")
    CATEGORY = "AudioWalk/audio"
    RETURN_TYPES = ("AUDIOWALK_FEATURES", "INT", "FLOAT", "IMAGE")
    RETURN_NAMES = ("features", "frame_count", "fps", "plot")
    FUNCTION = "analyse"

    @classmethod
    def INPUT_TYPES(cls):
        later = node_inputs(FEATURES_NODE, optional=True)  # declared once: audiowalk_core/settings.py
        trackers, options = later["beat_tracker"]  # neural trackers not on disk carry "(download, N MB)"
        later["beat_tracker"] = (tracker_choices(trackers, model_directories(BEAT_MODEL_KIND)), options)
        return {"required": {
            "audio": ("AUDIO", {"tooltip": "The song (Load Song, or ComfyUI's own Load Audio)."}),
            **node_inputs(FEATURES_NODE, optional=False),
        }, "optional": {
            **later,
            "allow_download": ("BOOLEAN", {"default": True, "tooltip":
                               "Download the Beat This! checkpoint into models/beat_this when beat_tracker needs "
                               "it and it is missing."}),
        }}

    def analyse(self, audio, *values, allow_download=True, **widgets):
        clip = audio_from_comfy(audio)
        settings = settings_from_widgets(FEATURES_NODE, widgets, values=values)
        settings = settings.replace(beat_tracker=name_from_choice(settings.beat_tracker))
        log = logging.getLogger("audiowalk")
        tracker = load_song_beat_tracker(settings, model_directories(BEAT_MODEL_KIND), allow_download=allow_download,
                                         host_devices=model_devices(), manage=manage_module,
                                         on_progress=progress_callback(1))
        if tracker is not None:
            load_managed(tracker.patcher, tracker.inference_bytes())  # ComfyUI places it (GPU when there is one)
        features = compute_song_features(clip, settings, on_progress=progress_callback(4 + (tracker is not None)),
                                         beat_model=tracker)
        if tracker is not None:  # once per song: the chunks of a render reuse this node's cached output
            log.info("Audio Features: Beat This! %s: %d beats, %d downbeats, meter %d", tracker.name,
                     len(features.beat_seconds), len(features.downbeat_seconds), features.meter)
        for warning in features.warnings:  # to ComfyUI's console
            log.warning("Audio Features: %s", warning)
        plot = rgb_to_comfy_image(plot_features(features))
        return (features, features.frame_count, float(features.clock.fps), plot)

    @classmethod
    def VALIDATE_INPUTS(cls, beat_tracker=setting("beat_tracker").default, allow_download=True):
        """Replaces ComfyUI's list check of ``beat_tracker`` (marked and plain names both name a tracker); a
        neural tracker without its checkpoint and without allow_download fails here, before anything runs."""
        try:
            check_tracker_choice(beat_tracker, model_directories(BEAT_MODEL_KIND), bool(allow_download))
        except AudioWalkInputError as exc:
            return str(exc)
        return True


NODE_CLASS_MAPPINGS = {"AudioWalkLoadAudio": AudioWalkLoadAudio, "AudioWalkAudioFeatures": AudioWalkAudioFeatures}
# "Load Audio" is ComfyUI's own LoadAudio node: ours is "Load Song".
NODE_DISPLAY_NAME_MAPPINGS = {"AudioWalkLoadAudio": "Load Song",
                              "AudioWalkAudioFeatures": "Audio Features"}
