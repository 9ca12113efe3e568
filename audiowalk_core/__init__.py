"""ComfyUI-AudioWalk core library: audio features, latent walks, BigGAN frames and video, with no ComfyUI import."""
from .audio import AudioClip, audio_from_comfy, audio_to_comfy, load_audio
from .clock import FrameClock, parse_fps
from .errors import AudioWalkCancelled, AudioWalkInputError
from .features import AudioFeatures
from .latents import WalkLatents

__version__ = "0.1.0"

__all__ = ["AudioClip", "AudioFeatures", "AudioWalkCancelled", "AudioWalkInputError", "FrameClock", "WalkLatents",
           "audio_from_comfy", "audio_to_comfy", "load_audio", "parse_fps", "__version__"]
