"""BigGAN nodes: load a generator (safetensors or the original files, downloads when missing) and render frames."""
from __future__ import annotations

from ..audiowalk_core.biggan import (BIGGAN_MODELS, DEVICES, DTYPES, OUTPUT_MAPPINGS, generate_frames,
                                     load_biggan)
from ..audiowalk_core.errors import AudioWalkInputError
from .comfy_adapter import (free_device_memory, model_directories, progress_callback, register_model_folder,
                            torch_device)

MODEL_KIND = "biggan"
register_model_folder(MODEL_KIND, {".safetensors", ".bin", ".json"})


def _model_choices() -> list[str]:
    """The three published models plus every *.safetensors in the biggan model folders."""
    names = list(BIGGAN_MODELS)
    for directory in model_directories(MODEL_KIND):
        if directory.is_dir():
            for path in sorted(directory.glob("*.safetensors")):
                if path.stem not in names:
                    names.append(path.stem)
    return names


class AudioWalkLoadBigGAN:
    DESCRIPTION = ("Loads a BigGAN-deep generator from ComfyUI's models/biggan folder: <name>.safetensors or the "
                   "original <name>/config.json + pytorch_model.bin. Every weight is checked against the "
                   "architecture. Downloads the published files when missing and allowed.")
    CATEGORY = "AudioWalk/BigGAN"
    RETURN_TYPES = ("BIGGAN_MODEL",)
    RETURN_NAMES = ("model",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model_name": (_model_choices(), {"default": "biggan-deep-128", "tooltip":
                           "BigGAN-deep model: 128, 256 or 512 px output, or a converted .safetensors file "
                           "found in models/biggan."}),
            "dtype": (list(DTYPES), {"default": "auto", "tooltip":
                      "Weights/compute precision. auto: bfloat16 on CUDA with bf16 support, float16 on other "
                      "CUDA GPUs, float32 on CPU and MPS."}),
            "device": (list(DEVICES), {"default": "auto", "tooltip":
                       "Where to run. auto: ComfyUI's device (GPU when there is one)."}),
            "allow_download": ("BOOLEAN", {"default": True, "tooltip":
                               "Download the published weights into models/biggan when the model is missing."}),
        }}

    def load(self, model_name, dtype, device, allow_download):
        resolved_device = torch_device() if device == "auto" else device
        on_progress = progress_callback(100) if allow_download else None
        handle = load_biggan(model_name, model_directories(MODEL_KIND), dtype=dtype, device=resolved_device,
                             allow_download=bool(allow_download), on_progress=on_progress)
        return (handle,)


class AudioWalkBigGANGenerate:
    DESCRIPTION = ("Renders one BigGAN frame per latent row in batches: frames [start_frame, start_frame + "
                   "frame_count) of the walk. A range rendered alone equals the same frames of a whole render.")
    CATEGORY = "AudioWalk/BigGAN"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    FUNCTION = "generate"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": ("BIGGAN_MODEL", {"tooltip": "Generator from Load BigGAN."}),
            "latents": ("AUDIOWALK_LATENTS", {"tooltip": "Per-frame noise and class weights (Make Latents)."}),
            "start_frame": ("INT", {"default": 0, "min": 0, "max": 10_000_000, "tooltip":
                            "First frame to render (index into the latents)."}),
            "frame_count": ("INT", {"default": 0, "min": 0, "max": 10_000_000, "tooltip":
                            "How many frames to render; 0 = to the end. Long songs: render in chunks."}),
            "batch_size": ("INT", {"default": 8, "min": 1, "max": 256, "tooltip":
                           "Frames per forward pass. Larger is faster until memory runs out; does not change "
                           "the pictures."}),
            "output_mapping": (list(OUTPUT_MAPPINGS), {"default": "fixed", "tooltip":
                               "fixed: BigGAN's [-1, 1] mapped to [0, 1] (steady brightness). per_frame_minmax: "
                               "the seed notebook's per-frame stretch (flickers)."}),
        }}

    def generate(self, model, latents, start_frame, frame_count, batch_size, output_mapping):
        import torch

        if not hasattr(model, "model") or not hasattr(model, "config"):
            raise AudioWalkInputError("model", f"got a {type(model).__name__}", "a BIGGAN_MODEL from Load BigGAN")
        part = latents.slice_frames(int(start_frame), int(frame_count))
        on_progress = progress_callback(part.frame_count)
        try:
            batches = list(generate_frames(model, part, batch_size=int(batch_size), output_mapping=output_mapping,
                                           on_progress=on_progress))
        finally:
            free_device_memory()
        return (torch.cat(batches, dim=0),)


NODE_CLASS_MAPPINGS = {
    "AudioWalkLoadBigGAN": AudioWalkLoadBigGAN,
    "AudioWalkBigGANGenerate": AudioWalkBigGANGenerate,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "AudioWalkLoadBigGAN": "Load BigGAN",
    "AudioWalkBigGANGenerate": "BigGAN Generate",
}
