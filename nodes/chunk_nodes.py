"""Chunk nodes: Render in Chunks (one Run renders a whole song, chunk by chunk), Keyframe Latents and Keyframe Noise
(frame-coherent img2img on the keyframes of a chunk)."""
from __future__ import annotations

import time

from audiowalk_core.chunks import (CHUNK_INDEX_INPUT, DEFAULT_CHUNK_FRAMES, RENDER_MODES, ChunkTimer,
                                   earlier_chunk_prompt_ids, render_chunk)
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.frame_noise import FrameKeyedNoise
from audiowalk_core.sd_walk.frames import song_chunk
from audiowalk_core.keyframes import KEYFRAME_MODES, keyframe_latents
from .comfy_adapter import (current_prompt_id, forget_history_entries, never_equal, remember_running_chunk,
                            show_chunk_progress)


CHUNK_TIMER = ChunkTimer()  # this server's render in progress (core: chunks.ChunkTimer)


class AudioWalkRenderChunks:
    DESCRIPTION = ("Renders a whole song in chunks of frames from ONE Run: this execution renders one chunk, and "
                   "Save Video queues the next one until the last, then joins all parts into one mp4 with the "
                   "music. Memory is bounded by the chunk, not the song. 'one chunk' renders only chunk_index "
                   "(for spreading a song over several servers).")
    CATEGORY = "AudioWalk/render"
    RETURN_TYPES = ("AUDIOWALK_LATENTS", "AUDIOWALK_CHUNK", "INT", "INT")
    RETURN_NAMES = ("chunk_latents", "chunk", "start_frame", "frame_count")
    FUNCTION = "plan"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "chunk_frames": ("INT", {"default": DEFAULT_CHUNK_FRAMES, "min": 0, "max": 100_000, "step": 1,
                                         "tooltip": "Frames per chunk; memory and the KSampler batch follow it. "
                                                    "240 fits the diffused workflow at 512 px in a 24 GB GPU. "
                                                    "0 = the whole song at once."}),
                "render": (list(RENDER_MODES), {"default": RENDER_MODES[0], "tooltip":
                           "whole song: every chunk from one Run, joined into one mp4. one chunk: only "
                           "chunk_index, saved as a part (headless multi-server renders)."}),
                CHUNK_INDEX_INPUT: ("INT", {"default": 0, "min": 0, "max": 100_000, "tooltip":
                                            "The chunk to start with (0: from the beginning; a later one resumes a "
                                            "cancelled render of the same graph). The render moves it on by "
                                            "itself."}),
            },
            "optional": {
                "latents": ("AUDIOWALK_LATENTS", {"tooltip": "The whole song's latents (Smooth Latents); leave "
                            "it unlinked and link features for a Stable Diffusion walk."}),
                "features": ("AUDIOWALK_FEATURES", {"tooltip": "The song's features, when no latents are linked "
                             "(Stable Diffusion walk): the chunks cover their frames."}),
                "audio": ("AUDIO", {"tooltip": "The song: Save Music Video muxes it into the joined video (then "
                                    "the song needs no second link to Save Music Video)."}),
            },
            "hidden": {"prompt": "PROMPT", "unique_id": "UNIQUE_ID"},
        }

    @classmethod
    def IS_CHANGED(cls, **_):
        """Never reuse a cached chunk from another prompt: ComfyUI's cache keys on the inputs only, and the chunk
        carries its prompt (to queue the next chunk) and the render id, so a Run that changed only nodes downstream
        (steps, a prefix) would otherwise queue its later chunks from the previous Run's prompt."""
        return never_equal()

    def plan(self, chunk_frames, render, chunk_index, latents=None, features=None, audio=None, prompt=None,
             unique_id=None):
        if latents is None:  # the Stable Diffusion walk: chunks of the features' frames, no latents
            if features is None:
                raise AudioWalkInputError("Render in Chunks: latents", "neither latents nor features are linked",
                                          "the song's latents (a BigGAN or StyleGAN walk) or its features (the "
                                          "Stable Diffusion walk)")
            part = None
            chunk = song_chunk(features, chunk_frames, render, chunk_index, prompt=prompt, node_id=unique_id or "",
                               current_prompt_id=current_prompt_id(), audio=audio)
        else:
            chunk, part = render_chunk(latents, chunk_frames, render, chunk_index, prompt=prompt,
                                       node_id=unique_id or "", current_prompt_id=current_prompt_id(), audio=audio)
        show_chunk_progress(unique_id, chunk.index, chunk.count, CHUNK_TIMER.text(chunk, time.monotonic()))
        remember_running_chunk(chunk)
        # The Queue panel (frontend 1.27) draws one card per history entry, outputs or not: the finished chunks'
        # entries go as the next one starts, so a render is one card (the running chunk, then the mp4). A client
        # following the chunk prompts that finds one gone looks for the render's later chunks (audiowalk comfy-run).
        forget_history_entries(earlier_chunk_prompt_ids(chunk))
        return (part, chunk, chunk.start_frame, chunk.frame_count)


class AudioWalkKeyframeLatents:
    DESCRIPTION = ("Picks the keyframes for img2img (every interpolation_steps + 1 frames as the seed did, or on "
                   "the beats or onsets) and outputs only their latents, so BigGAN renders just the frames that "
                   "get diffused. With a chunk it gives that chunk's keyframes plus the ones bracketing it, so "
                   "Interpolate Frames outputs exactly the chunk's frames, equal to a whole-song render.")
    CATEGORY = "AudioWalk/render"
    RETURN_TYPES = ("AUDIOWALK_LATENTS", "AUDIOWALK_KEYFRAMES", "INT")
    RETURN_NAMES = ("keyframe_latents", "keyframe_info", "keyframe_count")
    FUNCTION = "select"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "latents": ("AUDIOWALK_LATENTS", {"tooltip": "The whole song's latents (Smooth Latents)."}),
                "interpolation_steps": ("INT", {"default": 3, "min": 0, "max": 100, "tooltip":
                                                "Frames crossfaded between keyframes (the seed's value: 3)."}),
                "mode": (list(KEYFRAME_MODES), {"default": "every_n", "tooltip":
                         "every_n: regular keyframes; beats / onsets / downbeats / sections: keyframes on the music "
                         "(needs features; sections: the first frame of each song section)."}),
            },
            "optional": {
                "chunk": ("AUDIOWALK_CHUNK", {"tooltip": "The chunk being rendered (Render in Chunks)."}),
                "features": ("AUDIOWALK_FEATURES", {"tooltip": "Audio features, for the beats and onsets modes."}),
            },
        }

    def select(self, latents, interpolation_steps, mode, chunk=None, features=None):
        rows, plan = keyframe_latents(latents, interpolation_steps, mode, chunk, features)
        return (rows, plan, len(plan.indices))


class AudioWalkKeyframeNoise:
    DESCRIPTION = ("img2img noise for SamplerCustomAdvanced that depends only on the seed and each keyframe's "
                   "frame index, never on its place in a batch or chunk: a chunked render equals a whole one, and "
                   "'coherence' shares part of the noise between keyframes (correlation = coherence squared) "
                   "so neighbouring keyframes flicker less.")
    CATEGORY = "AudioWalk/render"
    RETURN_TYPES = ("NOISE",)
    RETURN_NAMES = ("noise",)
    FUNCTION = "make"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "keyframe_info": ("AUDIOWALK_KEYFRAMES", {"tooltip": "The keyframes being sampled (Keyframe Latents)."}),
            "noise_seed": ("INT", {"default": 42, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True,
                                   "tooltip": "Seed of the noise (the seed project used 42)."}),
            "coherence": ("FLOAT", {"default": 0.8, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip":
                                    "Share of one song-wide noise in every keyframe's noise: 0 = independent per "
                                    "keyframe, 1 = the same noise everywhere. Keyframes correlate by its square."}),
        }}

    def make(self, keyframe_info, noise_seed, coherence):
        return (FrameKeyedNoise(keyframe_info.indices, noise_seed, coherence),)


NODE_CLASS_MAPPINGS = {"AudioWalkRenderChunks": AudioWalkRenderChunks,
                       "AudioWalkKeyframeLatents": AudioWalkKeyframeLatents,
                       "AudioWalkKeyframeNoise": AudioWalkKeyframeNoise}
NODE_DISPLAY_NAME_MAPPINGS = {"AudioWalkRenderChunks": "Render in Chunks",
                              "AudioWalkKeyframeLatents": "Keyframe Latents",
                              "AudioWalkKeyframeNoise": "Keyframe Noise"}
