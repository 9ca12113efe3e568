"""The shipped template "AudioWalk Stable Diffusion music video": a Stable Diffusion walk driven by the music.

Song -> features -> Render in Chunks (features alone) -> SD Walk Frames (keyframes or every frame of the chunk)
-> Music Noise Walk (NOISE) + Prompt Travel (three prompts by time) + SD Walk Sampler (guidance per frame from a
Feature Curve) -> SamplerCustomAdvanced on an Empty Latent Image of the chunk's frame count -> VAE Decode ->
Interpolate Frames -> Save Music Video. Registered in workflow_builder.WORKFLOWS.
"""
from __future__ import annotations

from audiowalk_core.chunks import DEFAULT_CHUNK_FRAMES, RENDER_WHOLE_SONG

from .workflow_tools import GraphNode

SD_WALK_UI_NAME = "AudioWalk Stable Diffusion music video.json"
SD_WALK_API_NAME = "audiowalk_sd_walk.json"
PROMPTS = ("a misty forest at dawn, soft light, highly detailed painting",
           "a neon city at night in the rain, vivid colours, highly detailed painting",
           "a calm ocean under a starry sky, dreamlike, highly detailed painting")
NEGATIVE = "blurry, low quality, text, watermark, frame"
SCHEDULE = "0: 1, 8: 2, 16: 3"

(LOAD_AUDIO, FEATURES, CHUNKS, FRAMES, CHECKPOINT, PROMPT_1, PROMPT_2, PROMPT_3, NEGATIVE_PROMPT, TRAVEL, LATENT,
 NOISE, GUIDANCE_CURVE, WALK_SAMPLER, SAMPLE, DECODE, INTERPOLATE, SAVE) = range(1, 19)


def sd_walk_workflow(x, group, note, song: str, features_values: dict, checkpoint: str, wide: int = 280,
                     slot: int = 20):
    """``(nodes, notes, groups)`` of the template; ``x(column)``, ``group(...)`` and ``note(text, height)`` are the
    builder's layout helpers, so the template looks like the others."""
    chunks_y = 820
    nodes = [
        GraphNode(LOAD_AUDIO, "AudioWalkLoadAudio", (0, chunks_y + slot), (wide, 160), title="Load Song",
                  values={"audio": song, "start_seconds": 0.0, "duration_seconds": 0.0}),
        GraphNode(FEATURES, "AudioWalkAudioFeatures", (x(1), 0), (wide, 280), title="Audio Features",
                  values=dict(features_values), links={"audio": (LOAD_AUDIO, 0)}),
        GraphNode(CHUNKS, "AudioWalkRenderChunks", (x(2), chunks_y), (wide, 190), title="Render in Chunks",
                  values={"chunk_frames": DEFAULT_CHUNK_FRAMES, "render": RENDER_WHOLE_SONG, "chunk_index": 0},
                  links={"features": (FEATURES, 0), "audio": (LOAD_AUDIO, 0)}),
        GraphNode(FRAMES, "AudioWalkSDWalkFrames", (x(3), 0), (wide, 170), title="SD Walk Frames",
                  values={"render_way": "keyframes", "interpolation_steps": 3, "keyframe_mode": "every_n"},
                  links={"features": (FEATURES, 0), "chunk": (CHUNKS, 1)}),
        GraphNode(CHECKPOINT, "CheckpointLoaderSimple", (x(2), 300), (wide, 110), title="Load Checkpoint",
                  values={"ckpt_name": checkpoint}),
        GraphNode(PROMPT_1, "CLIPTextEncode", (x(3), 220), (wide, 120), title="Prompt 1",
                  values={"text": PROMPTS[0]}, links={"clip": (CHECKPOINT, 1)}),
        GraphNode(PROMPT_2, "CLIPTextEncode", (x(3), 380), (wide, 120), title="Prompt 2",
                  values={"text": PROMPTS[1]}, links={"clip": (CHECKPOINT, 1)}),
        GraphNode(PROMPT_3, "CLIPTextEncode", (x(3), 540), (wide, 120), title="Prompt 3",
                  values={"text": PROMPTS[2]}, links={"clip": (CHECKPOINT, 1)}),
        GraphNode(NEGATIVE_PROMPT, "CLIPTextEncode", (x(3), 700), (wide, 100), title="Negative Prompt",
                  values={"text": NEGATIVE}, links={"clip": (CHECKPOINT, 1)}),
        GraphNode(TRAVEL, "AudioWalkPromptTravel", (x(4), 220), (wide, 330), title="Prompt Travel",
                  values={"mode": "seconds", "schedule": SCHEDULE, "transition_frames": 0},
                  links={"features": (FEATURES, 0), "frames": (FRAMES, 0), "conditioning_1": (PROMPT_1, 0),
                         "conditioning_2": (PROMPT_2, 0), "conditioning_3": (PROMPT_3, 0)}),
        GraphNode(LATENT, "EmptyLatentImage", (x(4), 0), (wide, 130), title="Empty Latent (chunk frames)",
                  values={"width": 512, "height": 512}, links={"batch_size": (FRAMES, 1)}),
        GraphNode(NOISE, "AudioWalkMusicNoiseWalk", (x(5), 0), (wide, 280), title="Music Noise Walk",
                  values={"noise_seed": 42, "drift": 0.0, "onset_push": 0.25, "beat_push": 0.3,
                          "energy_push": 0.02, "use_sections": True},
                  links={"features": (FEATURES, 0), "frames": (FRAMES, 0)}),
        GraphNode(GUIDANCE_CURVE, "AudioWalkFeatureCurve", (x(4), 600), (wide, 170), title="Guidance from Loudness",
                  values={"curve": "rms", "index": 0, "low": 5.0, "high": 9.0}, links={"features": (FEATURES, 0)}),
        GraphNode(WALK_SAMPLER, "AudioWalkSDWalkSampler", (x(5), 330), (wide, 330), title="SD Walk Sampler",
                  values={"render_way": "keyframes", "steps": 20, "cfg": 7.0, "denoise": 1.0},
                  links={"model": (CHECKPOINT, 0), "positive": (TRAVEL, 0), "negative": (NEGATIVE_PROMPT, 0),
                         "frames": (FRAMES, 0), "guidance": (GUIDANCE_CURVE, 1)}),
        GraphNode(SAMPLE, "SamplerCustomAdvanced", (x(6), 0), (wide, 130), title="Sample the Chunk",
                  links={"noise": (NOISE, 0), "guider": (WALK_SAMPLER, 0), "sampler": (WALK_SAMPLER, 1),
                         "sigmas": (WALK_SAMPLER, 2), "latent_image": (LATENT, 0)}),
        GraphNode(DECODE, "VAEDecode", (x(6), 300), (wide, 60), title="VAE Decode",
                  links={"samples": (SAMPLE, 0), "vae": (CHECKPOINT, 2)}),
        GraphNode(INTERPOLATE, "AudioWalkInterpolateFrames", (x(7), 0), (wide, 80), title="Interpolate Frames",
                  links={"keyframes": (DECODE, 0), "keyframe_info": (FRAMES, 0)}),
        GraphNode(SAVE, "AudioWalkSaveVideo", (x(7), chunks_y), (300, 330), title="Save Music Video",
                  values={"filename_prefix": "AudioWalk/sd_walk", "crf": 18},
                  links={"images": (INTERPOLATE, 0), "chunk": (CHUNKS, 1), "features": (FEATURES, 0)}),
    ]
    groups = [group("1  Song and its features", "song", 0, 0, x(1) + wide, chunks_y + 200),
              group("2  Checkpoint and chunks", "song", x(2), 300, x(2) + wide, chunks_y + 200),
              group("3  Prompts travel with the music", "sd", x(3), 0, x(4) + wide, 800),
              group("4  Music noise and sampling", "sd", x(5), 0, x(6) + wide, 660),
              group("5  Crossfade and video with the music", "video", x(7), 0, x(7) + 300, chunks_y + 350)]
    text = ("## AudioWalk: Stable Diffusion music video\n"
            "Pick your checkpoint in **Load Checkpoint** and press **Run**: the bundled demo song becomes an mp4 "
            "in `output/AudioWalk/`, rendered chunk by chunk from one Run.\n\n"
            "**Music Noise Walk** moves the picture's noise on onsets, beats and loudness (still when the music "
            "is); **Prompt Travel** blends the three prompts over time (mode sections: by the song's parts); "
            "the guidance follows the loudness (Feature Curve).\n\n"
            "**keyframes** (SD Walk Frames and SD Walk Sampler): every 4th frame diffused, crossfaded between. "
            "**every frame**: set both to every frame and use a few-step model (SD/SDXL-Turbo, "
            "SDXL-Lightning, Hyper-SD), steps 1-8, guidance (Guidance from Loudness) 1-2.\n\n"
            "Headless: `audiowalk comfy-run audiowalk_sd_walk --audio song.mp3 -o out.mp4`.")
    return nodes, [note(text, 600)], groups
