"""Video nodes: Save Video (mp4 with the music, chunked renders), Select Keyframes, Interpolate Frames."""
from __future__ import annotations

import time

from audiowalk_core.audio import audio_from_comfy
from audiowalk_core.chunks import next_chunk_request
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.keyframes import KEYFRAME_MODES, interpolate_frames, select_keyframes
from audiowalk_core.save_music_video import MUSIC_LENGTHS, save_video, saved_video_ui
from audiowalk_core.video import check_output_prefix, comfy_metadata
from .comfy_adapter import (metadata_disabled, numbered_output_path, output_directory, progress_callback,
                            queue_chunk_request, send_node_text)
from .chunk_nodes import CHUNK_TIMER
from .sd_walk_nodes import reactivity_text


class AudioWalkSaveVideo:
    DESCRIPTION = ("Encodes the frames to an H.264 mp4 with the music (AAC) in ComfyUI's output folder, audio and "
                   "video the same length, the prompt and workflow embedded (drop the mp4 on the canvas to get the "
                   "graph back), with a preview. Connected to Render in Chunks it saves each chunk as a part, "
                   "queues the next chunk, and joins all parts into one mp4 after the last.")
    CATEGORY = "AudioWalk/video"
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("path",)
    OUTPUT_NODE = True
    FUNCTION = "save"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "Frames to encode, in order (a chunk's frames with Render in Chunks)."}),
                "filename_prefix": ("STRING", {"default": "AudioWalk/video", "tooltip":
                                    "Name inside the output folder (subfolders with /); a number is added like "
                                    "ComfyUI's savers."}),
                "crf": ("INT", {"default": 18, "min": 0, "max": 51,
                                "tooltip": "x264 quality: lower is better and larger (18 is visually lossless)."}),
            },
            "optional": {
                "chunk": ("AUDIOWALK_CHUNK", {"tooltip": "The chunk these frames are (Render in Chunks): its exact "
                                              "frame rate, the parts to join, and the song it carries."}),
                "audio": ("AUDIO", {"tooltip": "The music (else the chunk's song); trimmed or padded to the "
                                    "video's length."}),
                "features": ("AUDIOWALK_FEATURES", {"tooltip": "The song's features: their exact frame rate "
                                                    "(e.g. 30000/1001) and frame count, when no chunk is given."}),
                "fps": ("STRING", {"default": "30", "tooltip": "Frame rate when neither chunk nor features is "
                                   "connected: 30, 29.97 (= 30000/1001) or a fraction such as 24000/1001."}),
                "music_length": (list(MUSIC_LENGTHS), {"default": "video", "tooltip":
                                 "video: the music is cut (or padded) to the video's length. whole song: the "
                                 "whole song plays under a shorter video, as the seed notebook leaves it (its "
                                 "video ends about a second before the music; seed preset, docs/presets.md)."}),
            },
            "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO", "unique_id": "UNIQUE_ID"},
        }

    @classmethod
    def VALIDATE_INPUTS(cls, filename_prefix):
        try:
            check_output_prefix(output_directory(), filename_prefix)
        except AudioWalkInputError as exc:
            return str(exc)
        return True

    def save(self, images, filename_prefix, crf, chunk=None, audio=None, features=None, fps="30",
             music_length="video", prompt=None, extra_pnginfo=None, unique_id=None):
        clip = audio_from_comfy(audio) if audio is not None else None
        metadata = None if metadata_disabled() else comfy_metadata(prompt, extra_pnginfo)
        output_dir = output_directory()
        height, width = int(images.shape[1]), int(images.shape[2])
        saved = save_video(output_dir, filename_prefix, images, fps, audio=clip, crf=crf, chunk=chunk,
                           clock=features.clock if features is not None else None, metadata=metadata,
                           numbered_path=lambda prefix: numbered_output_path(output_dir, prefix, width, height)[0],
                           on_progress=progress_callback(int(images.shape[0])), music_length=music_length)
        request = next_chunk_request(chunk) if chunk is not None else None
        if request is not None:
            queue_chunk_request(request)
        message = "\n".join(t for t in (saved.message, reactivity_text(images, chunk, features)) if t)
        send_node_text(unique_id, message)
        if chunk is not None and chunk.is_last and chunk.count > 1 and saved.complete and chunk.node_id:
            # Render in Chunks still says "chunk n of n ... left": it says the render is done
            send_node_text(chunk.node_id, CHUNK_TIMER.finished_text(chunk, time.monotonic()))
        ui = saved_video_ui(saved)
        if ui is None:  # a part of a longer render: no output, so the Queue panel shows no card for this chunk
            return {"result": ("",)}
        return {"ui": ui, "result": (str(saved.path),)}


class AudioWalkSelectKeyframes:
    DESCRIPTION = ("Picks the keyframes to send through img2img: every (interpolation_steps + 1)-th frame as the "
                   "seed did, or frames on the beats or onsets. Interpolate Frames crossfades back afterwards.")
    CATEGORY = "AudioWalk/video"
    RETURN_TYPES = ("IMAGE", "AUDIOWALK_KEYFRAMES")
    RETURN_NAMES = ("keyframes", "keyframe_info")
    FUNCTION = "select"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "All frames (BigGAN Generate)."}),
                "interpolation_steps": ("INT", {"default": 3, "min": 0, "max": 100, "tooltip":
                                                "Frames crossfaded between keyframes (the seed's value: 3)."}),
                "mode": (list(KEYFRAME_MODES), {"default": "every_n", "tooltip":
                         "every_n: regular keyframes; beats / onsets / downbeats / sections: keyframes on the music "
                         "(needs features; sections: the first frame of each song section)."}),
            },
            "optional": {
                "features": ("AUDIOWALK_FEATURES", {"tooltip": "Audio features, for the beats and onsets modes."}),
                "start_frame": ("INT", {"default": 0, "min": 0, "max": 10_000_000, "tooltip":
                                        "Where these images start on the features' clock (chunked renders)."}),
            },
        }

    def select(self, images, interpolation_steps, mode, features=None, start_frame=0):
        plan = select_keyframes(int(images.shape[0]), interpolation_steps, mode, features, int(start_frame))
        return (images[list(plan.indices)], plan)


class AudioWalkInterpolateFrames:
    DESCRIPTION = "Crossfades between the (img2img-processed) keyframes back to the full frame count."
    CATEGORY = "AudioWalk/video"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("frames",)
    FUNCTION = "interpolate"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "keyframes": ("IMAGE", {"tooltip": "The keyframes after img2img (VAE Decode), same order and count."}),
            "keyframe_info": ("AUDIOWALK_KEYFRAMES", {"tooltip": "The plan from Select Keyframes."}),
        }}

    def interpolate(self, keyframes, keyframe_info):
        return (interpolate_frames(keyframes, keyframe_info),)


NODE_CLASS_MAPPINGS = {"AudioWalkSaveVideo": AudioWalkSaveVideo, "AudioWalkSelectKeyframes": AudioWalkSelectKeyframes,
                       "AudioWalkInterpolateFrames": AudioWalkInterpolateFrames}
NODE_DISPLAY_NAME_MAPPINGS = {"AudioWalkSaveVideo": "Save Music Video",
                              "AudioWalkSelectKeyframes": "Select Keyframes",
                              "AudioWalkInterpolateFrames": "Interpolate Frames"}
