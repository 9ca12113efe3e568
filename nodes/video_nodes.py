"""Video nodes: Save Video (mp4 with the music, chunked renders), Select Keyframes, Interpolate Frames."""
from __future__ import annotations

from audiowalk_core.audio import audio_from_comfy
from audiowalk_core.clock import parse_fps
from audiowalk_core.keyframes import KEYFRAME_MODES, interpolate_frames, select_keyframes
from audiowalk_core.video import save_video
from .comfy_adapter import output_directory


class AudioWalkSaveVideo:
    DESCRIPTION = ("Encodes the frames to an H.264 mp4 with the music (AAC) in ComfyUI's output folder, audio and "
                   "video the same length, with a preview. For long songs render frame ranges in several runs: "
                   "give each run's chunk_start_frame and the render's total_frames; the last chunk joins all parts "
                   "into one file without re-encoding.")
    CATEGORY = "AudioWalk/video"
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("path",)
    OUTPUT_NODE = True
    FUNCTION = "save"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "Frames to encode, in order."}),
                "fps": ("FLOAT", {"default": 30.0, "min": 0.001, "max": 240.0, "step": 0.001,
                                  "tooltip": "Frame rate; 29.97 is written as 30000/1001."}),
                "filename_prefix": ("STRING", {"default": "AudioWalk/video", "tooltip":
                                    "Name inside the output folder; a number is added like ComfyUI's savers."}),
                "crf": ("INT", {"default": 18, "min": 0, "max": 51,
                                "tooltip": "x264 quality: lower is better and larger (18 is visually lossless)."}),
            },
            "optional": {
                "audio": ("AUDIO", {"tooltip": "The music; trimmed or padded to the video's length."}),
                "chunk_start_frame": ("INT", {"default": 0, "min": 0, "max": 10_000_000,
                                              "tooltip": "Chunked renders: first frame of these images."}),
                "total_frames": ("INT", {"default": 0, "min": 0, "max": 10_000_000, "tooltip":
                                         "Chunked renders: frames of the whole video; 0 = these images are all."}),
            },
        }

    def save(self, images, fps, filename_prefix, crf, audio=None, chunk_start_frame=0, total_frames=0):
        clip = audio_from_comfy(audio) if audio is not None else None
        saved = save_video(output_directory(), filename_prefix, images, parse_fps(fps), audio=clip, crf=crf,
                           chunk_start_frame=chunk_start_frame, total_frames=total_frames)
        if saved.path is None:
            return {"ui": {"text": [saved.message]}, "result": ("",)}
        return {"ui": {"images": [{"filename": saved.filename, "subfolder": saved.subfolder, "type": "output"}],
                       "animated": (True,)}, "result": (str(saved.path),)}


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
                         "every_n: regular keyframes; beats / onsets: keyframes on the music (needs features)."}),
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
NODE_DISPLAY_NAME_MAPPINGS = {"AudioWalkSaveVideo": "Save Video (AudioWalk)",
                              "AudioWalkSelectKeyframes": "Select Keyframes (AudioWalk)",
                              "AudioWalkInterpolateFrames": "Interpolate Frames (AudioWalk)"}
