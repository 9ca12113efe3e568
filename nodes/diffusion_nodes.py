"""Diffuse Keyframes: Stable Diffusion img2img on a chunk's keyframes in sub-batches (memory follows the sub-batch,
Cancel acts within one sampler step, the render's cost is shown after the first sub-batch)."""
from __future__ import annotations

import logging

from audiowalk_core.keyframe_diffusion import (AUTO, MAX_KEYFRAMES_PER_BATCH, KeyframeRun, choose_keyframes_per_batch,
                                               diffuse_keyframes)
from .comfy_adapter import img2img_batch_runner, progress_callback, sampling_device_budget, send_node_text

log = logging.getLogger("AudioWalk")
UPSCALE_METHODS = ("bilinear", "bicubic", "nearest-exact", "area", "lanczos")


class AudioWalkDiffuseKeyframes:
    DESCRIPTION = ("Stable Diffusion img2img on the keyframes (what Upscale, VAE Encode, SamplerCustomAdvanced and "
                   "VAE Decode do), a few keyframes at a time: memory follows keyframes_per_batch, Cancel stops "
                   "within one sampler step, and after the first sub-batch the node shows what the whole song will "
                   "take (\"about 40 min for this song\") and, on every chunk, the time left. The noise stays keyed "
                   "to each keyframe's frame index, so the sub-batch size does not change the result.")
    CATEGORY = "AudioWalk/render"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("keyframes",)
    FUNCTION = "diffuse"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The keyframes (BigGAN Generate of Keyframe Latents)."}),
                "noise": ("NOISE", {"tooltip": "Keyframe Noise of the same keyframes (frame-keyed img2img noise)."}),
                "guider": ("GUIDER", {"tooltip": "The model and prompts (CFG Guider)."}),
                "sampler": ("SAMPLER", {"tooltip": "The sampler (KSamplerSelect); a deterministic one (euler, "
                                        "dpmpp_2m) keeps chunked renders equal to whole ones."}),
                "sigmas": ("SIGMAS", {"tooltip": "The img2img schedule (BasicScheduler with denoise < 1)."}),
                "vae": ("VAE", {"tooltip": "The checkpoint's VAE (encode before, decode after sampling)."}),
                "width": ("INT", {"default": 512, "min": 64, "max": 4096, "step": 8,
                                  "tooltip": "Width (px) the keyframes are scaled to for Stable Diffusion."}),
                "height": ("INT", {"default": 512, "min": 64, "max": 4096, "step": 8,
                                   "tooltip": "Height (px) the keyframes are scaled to for Stable Diffusion."}),
                "upscale_method": (list(UPSCALE_METHODS), {"default": "bilinear",
                                   "tooltip": "How the keyframes are scaled to width x height."}),
                "keyframes_per_batch": ("INT", {"default": AUTO, "min": 0, "max": 256, "tooltip":
                                        "Keyframes per sampler call. 0 = auto: on a CPU one 512 px keyframe (4 at "
                                        f"256 px), on a GPU what its free memory holds (at most "
                                        f"{MAX_KEYFRAMES_PER_BATCH})."}),
            },
            "optional": {
                "chunk": ("AUDIOWALK_CHUNK", {"tooltip": "The chunk being rendered (Render in Chunks): for the "
                                              "song's cost estimate and the time left."}),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def diffuse(self, images, noise, guider, sampler, sigmas, vae, width, height, upscale_method,
                keyframes_per_batch, chunk=None, unique_id=None):
        count = int(images.shape[0])
        frame_indices = list(getattr(noise, "frame_indices", range(count)))
        on_cpu, free_bytes, per_keyframe = sampling_device_budget(guider, width, height)
        size = choose_keyframes_per_batch(keyframes_per_batch, count, width, height, on_cpu=on_cpu,
                                          free_bytes=free_bytes, bytes_per_keyframe=per_keyframe)
        run = KeyframeRun(count, size, chunk)
        progress = progress_callback(count * 1000)

        def on_step(step, total_steps):
            if progress is not None:
                progress(run.step_thousandths(step, total_steps), count * 1000)

        def on_batch(done, total, seconds):
            text, first = run.finish_batch(done, seconds)
            if first:
                log.info("AudioWalk Diffuse Keyframes: %s", text)
            send_node_text(unique_id, text)
            if progress is not None:
                progress(done * 1000, count * 1000)

        img2img = img2img_batch_runner(vae, guider, sampler, sigmas, noise, width, height, upscale_method, on_step,
                                       cancel_per_layer=on_cpu)

        def run_batch(batch_images, batch_indices):
            run.batch = len(batch_indices)
            return img2img(batch_images, batch_indices)

        send_node_text(unique_id, run.start_text())
        return (diffuse_keyframes(images, frame_indices, size, run_batch, on_batch=on_batch),)


NODE_CLASS_MAPPINGS = {"AudioWalkDiffuseKeyframes": AudioWalkDiffuseKeyframes}
NODE_DISPLAY_NAME_MAPPINGS = {"AudioWalkDiffuseKeyframes": "Diffuse Keyframes"}
