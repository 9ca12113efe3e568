"""Music map nodes: Load Stems (the user's stem files), Separate Stems (HTDemucs or DSP), Stem Audio, Stem Features,
Music Map (plot and summary)."""
from __future__ import annotations

import dataclasses
import logging

from audiowalk_core.audio import audio_from_comfy, audio_to_comfy
from audiowalk_core.music_map import sections_text
from audiowalk_core.music_map_plot import plot_music_map
from audiowalk_core.paths import file_digest, resolve_inside
from audiowalk_core.plots import rgb_to_comfy_image
from audiowalk_core.stems import load_stems, parse_stem_list, stem_energies, stem_features
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.separation import is_neural, separate_stems
from audiowalk_core.separation.htdemucs.runtime import load_shared_htdemucs
from audiowalk_core.separation.htdemucs.store import MODEL_KIND as DEMUCS_KIND, check_model_choice
from audiowalk_core.separation.htdemucs.store import model_choices as demucs_model_choices
from audiowalk_core.settings import DEFAULTS, setting
from .comfy_adapter import (cache_directory, free_device_memory, input_directory, load_managed, manage_module,
                            model_devices, model_directories, never_equal, progress_callback,
                            register_model_folder)

_STEM_LIST_DEFAULT = "drums = drums.wav\nbass = bass.wav\nvocals = vocals.wav\nother = other.wav"
_STEM_CHOICE = ("STRING", {"default": "drums", "tooltip": "Name of the stem, as listed in Load Stems (e.g. drums, "
                                                          "bass, vocals)."})
_LOG = logging.getLogger("audiowalk")
# fps is declared once (audiowalk_core/settings.py), as in Audio Features; linked to the mix, the stem follows it
_STEM_FPS = (setting("fps").input_type()[0], {**setting("fps").input_type()[1], "tooltip":
             setting("fps").input_type()[1]["tooltip"] + " Not used when mix_features is linked: the stem then "
             "follows the mix's frame rate."})
register_model_folder(DEMUCS_KIND, {".safetensors", ".th"})


def _stem_files(stems: str) -> dict:
    """{name: path inside ComfyUI's input folder} of a Load Stems list."""
    files = parse_stem_list(stems)
    return {name: resolve_inside(input_directory(), str(path), f"stem {name}") for name, path in files.items()}


class AudioWalkLoadStems:
    DESCRIPTION = ("Loads your own stems of the song (a DAW export: one file per instrument, names free) from "
                   "ComfyUI's input folder, checked against the mix: same length (within one frame at 24 fps), "
                   "another sample rate is resampled with a note. Every feature node can then follow one stem.")
    CATEGORY = "AudioWalk/music map"
    RETURN_TYPES = ("AUDIOWALK_STEMS", "STRING")
    RETURN_NAMES = ("stems", "names")
    OUTPUT_TOOLTIPS = ("The stems on the mix's clock.", "The stem names, separated by |.")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "audio": ("AUDIO", {"tooltip": "The whole mix (Load Song): the stems are checked against it."}),
            "stems": ("STRING", {"default": _STEM_LIST_DEFAULT, "multiline": True, "tooltip":
                      "One 'name = file' per line; files in ComfyUI's input folder (sub-folders allowed), any audio "
                      "format; names are yours (letters, digits, _ and -)."}),
        }}

    def load(self, audio, stems):
        loaded = load_stems(audio_from_comfy(audio), _stem_files(stems))
        for note in loaded.notes:
            _LOG.warning("Load Stems: %s", note)
        return (loaded, " | ".join(loaded.names))

    @classmethod
    def IS_CHANGED(cls, stems, **_):
        try:
            return "|".join(f"{name}:{file_digest(path)}" for name, path in _stem_files(stems).items())
        except Exception:  # noqa: BLE001 - load reports the problem
            return never_equal()


class AudioWalkSeparateStems:
    DESCRIPTION = ("Splits the mix into stems. htdemucs (Demucs v4, MIT, the default): drums, bass, other, vocals; "
                   "htdemucs_6s adds guitar and piano; the weights (84 / 55 MB) go in ComfyUI's models/demucs and "
                   "are downloaded when missing and allowed. hpss: percussive + harmonic by median filtering (DSP, "
                   "no weights, seconds). The song is separated a segment at a time (memory does not grow with its "
                   "length) and cached on disk per song, model and settings (ComfyUI's user folder, "
                   "audiowalk/cache), so requeued chunks and later runs, after a restart too, do not separate "
                   "again. HTDemucs on a 2-core CPU takes half a minute to two minutes per minute of music.")
    CATEGORY = "AudioWalk/music map"
    RETURN_TYPES = ("AUDIOWALK_STEMS", "STRING")
    RETURN_NAMES = ("stems", "names")
    OUTPUT_TOOLTIPS = ("The stems on the mix's clock.", "The stem names, separated by |.")
    FUNCTION = "separate"

    @classmethod
    def INPUT_TYPES(cls):
        choices = ["hpss"] + demucs_model_choices(model_directories(DEMUCS_KIND))
        return {"required": {
            "audio": ("AUDIO", {"tooltip": "The whole mix (Load Song)."}),
            "method": (choices, {"default": choices[1], "tooltip":
                       "htdemucs: drums, bass, other, vocals (neural, 84 MB of weights). htdemucs_6s: also guitar "
                       "and piano (55 MB; its piano stem is weak). '(download, N MB)': not in models/demucs yet. "
                       "Your own HTDemucs .safetensors / .th files in models/demucs are listed too. hpss: "
                       "percussive + harmonic by median filtering (Fitzgerald 2010), no weights."}),
        }, "optional": {  # added after 0.1.0: optional, so prompts saved before still validate
            "allow_download": ("BOOLEAN", {"default": True, "tooltip":
                               "Download the published HTDemucs weights into models/demucs when they are missing "
                               "(from the Hugging Face hub, as demucs does)."}),
            "shifts": ("INT", {"default": 0, "min": 0, "max": 10, "tooltip":
                       "HTDemucs only: extra passes over the song delayed by a random 0-0.5 s, averaged (demucs' "
                       "shift trick: slightly cleaner stems, each pass costs a whole separation). 0: one pass."}),
            "shift_seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFF, "tooltip":
                           "HTDemucs with shifts: the seed of the random delays (not used when shifts is 0). Not "
                           "called 'seed': the frontend would add a randomize-after-run control, and every Run "
                           "would separate the song again."}),
        }}

    def separate(self, audio, method, allow_download=True, shifts=0, shift_seed=0):
        directories = model_directories(DEMUCS_KIND)

        def load_model(name):
            handle = load_shared_htdemucs(name, directories, host_devices=model_devices(), manage=manage_module,
                                          allow_download=bool(allow_download), on_progress=progress_callback(1))
            self.held_model = handle  # the node keeps its last model (ComfyUI offloads or frees it as it needs)
            device = load_managed(handle.patcher, handle.segment_bytes())
            return dataclasses.replace(handle, device=device) if device is not None else handle

        try:
            stems = separate_stems(audio_from_comfy(audio), method, cache_directory() / "stems",
                                   on_progress=progress_callback(1), model_dirs=directories,
                                   allow_download=bool(allow_download), shifts=int(shifts), seed=int(shift_seed),
                                   load_model=load_model)
        finally:
            if is_neural(method):
                free_device_memory()
        return (stems, " | ".join(stems.names))

    @classmethod
    def VALIDATE_INPUTS(cls, method):
        # replaces ComfyUI's "value in list" check: plain names and marked entries both name a model
        if method == "hpss":
            return True
        try:
            check_model_choice(method, model_directories(DEMUCS_KIND), "method")
        except AudioWalkInputError as exc:
            return str(exc)
        return True


class AudioWalkStemAudio:
    DESCRIPTION = "One stem as ComfyUI AUDIO: plug it into Audio Features (all its settings) or any audio node."
    CATEGORY = "AudioWalk/music map"
    RETURN_TYPES = ("AUDIO",)
    RETURN_NAMES = ("audio",)
    FUNCTION = "pick"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"stems": ("AUDIOWALK_STEMS", {"tooltip": "Stems (Load Stems or Separate Stems)."}),
                             "stem": _STEM_CHOICE}}

    def pick(self, stems, stem):
        return (audio_to_comfy(stems.clip(str(stem).strip())),)


class AudioWalkStemFeatures:
    DESCRIPTION = ("The features of one stem (bands, loudness, onsets, beats, chroma, harmonic/percussive) on the "
                   "mix's clock, so 'the kick drives the noise' is Load Stems -> Stem Features (drums) -> Band Noise "
                   "Walk. Linked to the mix's features, the stem keeps the song's beats, bars and sections.")
    CATEGORY = "AudioWalk/music map"
    RETURN_TYPES = ("AUDIOWALK_FEATURES", "INT")
    RETURN_NAMES = ("features", "frame_count")
    FUNCTION = "analyse"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "stems": ("AUDIOWALK_STEMS", {"tooltip": "Stems (Load Stems or Separate Stems)."}),
            "stem": _STEM_CHOICE,
            "fps": _STEM_FPS,
            "band_count": setting("band_count").input_type(),
        }, "optional": {
            "mix_features": ("AUDIOWALK_FEATURES", {"tooltip": "The mix's features (Audio Features): the stem "
                                                               "then moves on the song's beats, bars and sections."}),
        }}

    def analyse(self, stems, stem, fps, band_count=DEFAULTS.band_count, mix_features=None):
        fps = str(fps).strip()
        features = stem_features(stems, str(stem).strip(), fps, mix_features, band_count=int(band_count),
                                 on_progress=progress_callback(4))
        return (features, features.frame_count)


class AudioWalkMusicMap:
    DESCRIPTION = ("The music map on one time axis: labelled sections, loudness with beats and downbeats, and each "
                   "stem's energy; with the tempo, the meter and the sections as text.")
    CATEGORY = "AudioWalk/music map"
    RETURN_TYPES = ("IMAGE", "STRING", "FLOAT", "INT")
    RETURN_NAMES = ("plot", "sections", "tempo_bpm", "beats_per_bar")
    OUTPUT_TOOLTIPS = ("The picture.", "One line per section: start-end seconds and label.",
                       "Median tempo (BPM).", "Beats per bar (3 or 4; 0 when unknown).")
    FUNCTION = "draw"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"features": ("AUDIOWALK_FEATURES", {"tooltip": "The mix's features (Audio Features)."})},
                "optional": {"stems": ("AUDIOWALK_STEMS", {"tooltip": "Stems, drawn one row each (Load Stems or Separate Stems)."})}}

    def draw(self, features, stems=None):
        energy = stem_energies(stems, features.clock) if stems is not None else None
        return (rgb_to_comfy_image(plot_music_map(features, energy)), sections_text(features), float(features.tempo_bpm),
                int(getattr(features, "meter", 0)))


NODE_CLASS_MAPPINGS = {"AudioWalkLoadStems": AudioWalkLoadStems, "AudioWalkSeparateStems": AudioWalkSeparateStems,
                       "AudioWalkStemAudio": AudioWalkStemAudio,
                       "AudioWalkStemFeatures": AudioWalkStemFeatures, "AudioWalkMusicMap": AudioWalkMusicMap}
NODE_DISPLAY_NAME_MAPPINGS = {"AudioWalkLoadStems": "Load Stems", "AudioWalkSeparateStems": "Separate Stems",
                              "AudioWalkStemAudio": "Stem Audio",
                              "AudioWalkStemFeatures": "Stem Features", "AudioWalkMusicMap": "Music Map"}
