"""StyleGAN nodes: Load StyleGAN (models/stylegan), StyleGAN Latents (the music walk), StyleGAN Generate."""
from __future__ import annotations

import dataclasses


from audiowalk_core.generators.batches import collect_frames
from audiowalk_core.generators.stylegan.shared import DEVICES, load_shared_stylegan, locate_model, model_files
from audiowalk_core.generators.stylegan.walk import GROUP_FEATURES, stylegan_latents
from audiowalk_core.walk import WALK_MODES
from .comfy_adapter import (free_device_memory, load_managed, manage_module, model_devices, model_directories,
                            progress_callback, register_model_folder)
from .generate_inputs import frame_range_inputs

MODEL_KIND = "stylegan"
register_model_folder(MODEL_KIND, {".pkl", ".pt", ".pth", ".safetensors"})
NO_MODEL = "(none in models/stylegan)"  # short: the placeholder fits the node in the template


class AudioWalkLoadStyleGAN:
    DESCRIPTION = ("Loads your StyleGAN2 or StyleGAN3 (T or R) generator from ComfyUI's models/stylegan folder: an "
                   "NVlabs .pkl snapshot (read without running any code in it), a rosinality .pt, or a .safetensors "
                   "from `audiowalk convert-stylegan`. Every weight is checked against the architecture first. "
                   "ComfyUI's model manager places and frees it; loaders of the same file share one copy.")
    CATEGORY = "AudioWalk/stylegan"
    RETURN_TYPES = ("STYLEGAN_MODEL",)
    RETURN_NAMES = ("model",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        choices = model_files(model_directories(MODEL_KIND)) or [NO_MODEL]
        return {"required": {
            "model_name": (choices, {"default": choices[0], "tooltip":
                           "The model file in models/stylegan (.pkl, .pt or .safetensors)."}),
            "dtype": (["auto", "float32", "bfloat16", "float16"], {"default": "auto", "tooltip":
                      "auto: bfloat16 on recent NVIDIA GPUs, float16 on other GPUs, float32 on CPUs."}),
            "device": (list(DEVICES), {"default": "auto", "tooltip":
                       "auto: where ComfyUI puts its models (the CPU with --cpu)."}),
            "noise_mode": (["random", "const", "none"], {"default": "random", "tooltip":
                           "Per-layer noise inputs: random (drawn per frame from the seed, scaled by the music's "
                           "percussive energy), const (the model's stored noise), none."}),
        }}

    def load(self, model_name, dtype, device, noise_mode="random"):
        path = locate_model(model_name, model_directories(MODEL_KIND))
        handle = load_shared_stylegan(path, dtype=dtype, device=device, noise_mode=noise_mode,
                                      host_devices=model_devices(), manage=manage_module)
        return (handle,)


_FEATURE = lambda default, what: (list(GROUP_FEATURES), {"default": default, "tooltip": what})  # noqa: E731


class AudioWalkStyleGANLatents:
    DESCRIPTION = ("Makes a StyleGAN walk from the music: the band noise walk drives z (any z_dim), and the coarse "
                   "(4-8 px: pose, layout), middle (16-32 px: features) and fine (64 px and up: texture, colour) "
                   "layers each follow their own feature; noise inputs follow percussive energy; conditional "
                   "models get a class schedule.")
    CATEGORY = "AudioWalk/stylegan"
    RETURN_TYPES = ("AUDIOWALK_LATENTS",)
    RETURN_NAMES = ("latents",)
    FUNCTION = "walk"

    @classmethod
    def INPUT_TYPES(cls):
        strength = lambda default, what: ("FLOAT", {"default": default, "min": 0.0, "max": 10.0,  # noqa: E731
                                                    "step": 0.05, "tooltip": what})
        return {"required": {
            "model": ("STYLEGAN_MODEL", {"tooltip": "The generator (Load StyleGAN): gives z_dim and classes."}),
            "features": ("AUDIOWALK_FEATURES", {"tooltip": "Per-frame audio features (Audio Features)."}),
            "seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True,
                             "tooltip": "Seed of every random draw; the same seed and inputs give the same walk."}),
            "truncation": ("FLOAT", {"default": 0.7, "min": 0.02, "max": 1.0, "step": 0.01, "tooltip":
                                     "psi: pulls every w towards the model's average (lower = calmer, typical)."}),
            "walk_mode": (list(WALK_MODES), {"default": "improved", "tooltip": "The band noise walk's mode."}),
            "coarse_feature": _FEATURE("bass", "What moves the coarse layers (pose, layout)."),
            "coarse_strength": strength(1.0, "How far that feature pushes the coarse layers' z."),
            "middle_feature": _FEATURE("mids", "What moves the middle layers (features)."),
            "middle_strength": strength(0.7, "How far that feature pushes the middle layers' z."),
            "fine_feature": _FEATURE("highs", "What moves the fine layers (texture, colour)."),
            "fine_strength": strength(0.5, "How far that feature pushes the fine layers' z."),
            "noise_feature": _FEATURE("percussive", "What scales the per-layer noise inputs."),
            "noise_base": strength(0.3, "Noise-input strength in silence (1 = the model's own)."),
            "noise_gain": strength(1.0, "Extra noise-input strength at the feature's peak."),
            "classes": ("STRING", {"default": "0", "tooltip": "Conditional models: class indices, e.g. 0, 3, 7 "
                                   "(crossfaded over the song). Ignored by unconditional models."}),
            "class_mode": (["interpolate", "beats"], {"default": "interpolate", "tooltip":
                           "interpolate: crossfade class to class over the song; beats: next class on every beat."}),
        }}

    def walk(self, model, features, seed, truncation, walk_mode, coarse_feature, coarse_strength, middle_feature,
             middle_strength, fine_feature, fine_strength, noise_feature, noise_base, noise_gain, classes="0",
             class_mode="interpolate"):
        from audiowalk_core.errors import AudioWalkInputError

        try:
            indices = [int(part) for part in str(classes).replace("|", ",").split(",") if part.strip()]
        except ValueError:
            raise AudioWalkInputError("classes", f"{classes!r}", "class indices separated by commas") from None
        latents = stylegan_latents(
            features, z_dim=model.network.config.z_dim, c_dim=model.condition_dim, seed=int(seed),
            truncation=float(truncation), walk_mode=walk_mode, coarse_feature=coarse_feature,
            middle_feature=middle_feature, fine_feature=fine_feature, coarse_strength=coarse_strength,
            middle_strength=middle_strength, fine_strength=fine_strength, noise_feature=noise_feature,
            noise_base=noise_base, noise_gain=noise_gain, classes=indices, class_mode=class_mode)
        return (latents,)


class AudioWalkStyleGANGenerate:
    DESCRIPTION = ("Renders the latents (or a frame range of them, e.g. one chunk) with StyleGAN, a batch at a "
                   "time, with a progress bar; cancel stops between batches. A frame range equals those frames of "
                   "a full run (noise inputs are drawn per absolute frame).")
    CATEGORY = "AudioWalk/stylegan"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    FUNCTION = "generate"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": ("STYLEGAN_MODEL", {"tooltip": "The generator (Load StyleGAN)."}),
            "latents": ("AUDIOWALK_LATENTS", {"tooltip": "Per-frame StyleGAN inputs (StyleGAN Latents)."}),
            **frame_range_inputs("StyleGAN"),
        }}

    def generate(self, model, latents, start_frame, frame_count, batch_size):
        part = latents.slice_frames(int(start_frame), int(frame_count))
        batch = int(batch_size)  # not shortened for a short chunk: the batches sit on the song's frame grid
        device = load_managed(model.patcher, model.generation_bytes(batch))
        if device is not None:
            model = dataclasses.replace(model, device=device)
        try:
            images = collect_frames(model.generate_frames(part, batch_size=batch,
                                                          on_progress=progress_callback(part.frame_count)),
                                    part.frame_count)
        finally:
            free_device_memory()
        return (images,)


NODE_CLASS_MAPPINGS = {"AudioWalkLoadStyleGAN": AudioWalkLoadStyleGAN,
                       "AudioWalkStyleGANLatents": AudioWalkStyleGANLatents,
                       "AudioWalkStyleGANGenerate": AudioWalkStyleGANGenerate}
NODE_DISPLAY_NAME_MAPPINGS = {"AudioWalkLoadStyleGAN": "Load StyleGAN", "AudioWalkStyleGANLatents": "StyleGAN Latents",
                              "AudioWalkStyleGANGenerate": "StyleGAN Generate"}
