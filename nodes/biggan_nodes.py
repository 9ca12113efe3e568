"""BigGAN nodes: Load BigGAN (models/biggan) and BigGAN Generate (latents -> frames, in batches)."""
from __future__ import annotations


from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.generators import OUTPUT_MAPPINGS, generate_frames
from audiowalk_core.generators.batches import collect_frames
from audiowalk_core.generators.biggan.store import check_choice, load_shared_biggan, model_choices
from audiowalk_core.generators.devices import DEVICES, DTYPES
from .comfy_adapter import (free_device_memory, manage_model, model_devices, model_directories, progress_callback,
                            ready_model, register_model_folder)
from .generate_inputs import frame_range_inputs

MODEL_KIND = "biggan"
register_model_folder(MODEL_KIND, {".safetensors", ".bin", ".json"})


class AudioWalkLoadBigGAN:
    DESCRIPTION = ("Loads a BigGAN-deep generator (128, 256 or 512 px) from ComfyUI's models/biggan folder, or "
                   "downloads the published weights first (entries marked 'download'). ComfyUI's model manager "
                   "places it like its own models: it follows --cpu and low-VRAM modes, gives way to other "
                   "models and is released by 'Unload models'. Loaders of the same model share one copy.")
    CATEGORY = "AudioWalk/biggan"
    RETURN_TYPES = ("BIGGAN_MODEL",)
    RETURN_NAMES = ("model",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        choices = model_choices(model_directories(MODEL_KIND))
        return {"required": {
            "model_name": (choices, {"default": choices[0], "tooltip":
                           "Which BigGAN-deep (output size in px; 128 is the lightest). Entries marked 'download' "
                           "are not in models/biggan yet: they are downloaded when first run."}),
            "dtype": (list(DTYPES), {"default": "auto", "tooltip":
                      "auto: bfloat16 on recent NVIDIA GPUs and AMX CPUs, float16 on other GPUs, float32 on other CPUs."}),
            "device": (list(DEVICES), {"default": "auto", "tooltip":
                       "auto: where ComfyUI puts its models (the CPU with --cpu or --novram); outside ComfyUI CUDA, "
                       "then MPS, then CPU."}),
            "allow_download": ("BOOLEAN", {"default": True, "tooltip":
                               "Download the published weights into models/biggan when they are missing."}),
        }}

    def load(self, model_name, dtype, device, allow_download=True):
        handle = load_shared_biggan(model_name, model_directories(MODEL_KIND), dtype=dtype, device=device,
                                    host_devices=model_devices(), manage=manage_model,
                                    allow_download=allow_download, on_progress=progress_callback(1))
        return (handle,)

    @classmethod
    def VALIDATE_INPUTS(cls, model_name):
        # replaces ComfyUI's "value in list" check: saved plain names and marked entries both name a model
        try:
            check_choice(model_name, model_directories(MODEL_KIND))
        except AudioWalkInputError as exc:
            return str(exc)
        return True


class AudioWalkBigGANGenerate:
    DESCRIPTION = ("Renders the latents (or a frame range of them) to images with BigGAN, a batch at a time, with "
                   "a progress bar; cancel stops between batches. A frame range equals those frames of a full run.")
    CATEGORY = "AudioWalk/biggan"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    FUNCTION = "generate"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": ("BIGGAN_MODEL", {"tooltip": "The generator (Load BigGAN)."}),
            "latents": ("AUDIOWALK_LATENTS", {"tooltip": "Per-frame BigGAN inputs (Make Latents)."}),
            **frame_range_inputs("BigGAN"),
            "output_mapping": (list(OUTPUT_MAPPINGS), {"default": "fixed", "tooltip":
                               "fixed: BigGAN's [-1, 1] -> [0, 1] (no flicker). per_frame_minmax: stretch each "
                               "frame on its own, as the seed did (flickers)."}),
        }}

    def generate(self, model, latents, start_frame, frame_count, batch_size, output_mapping="fixed"):
        part = latents.slice_frames(int(start_frame), int(frame_count))
        on_progress = progress_callback(part.frame_count)
        try:
            model = ready_model(model, model.generation_bytes(min(int(batch_size), max(part.frame_count, 1))))
            images = collect_frames(generate_frames(model, part, batch_size=batch_size, output_mapping=output_mapping,
                                                    on_progress=on_progress), part.frame_count)
        finally:
            free_device_memory()
        return (images,)


NODE_CLASS_MAPPINGS = {"AudioWalkLoadBigGAN": AudioWalkLoadBigGAN, "AudioWalkBigGANGenerate": AudioWalkBigGANGenerate}
NODE_DISPLAY_NAME_MAPPINGS = {"AudioWalkLoadBigGAN": "Load BigGAN",
                              "AudioWalkBigGANGenerate": "BigGAN Generate"}
