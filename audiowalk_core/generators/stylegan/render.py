"""``audiowalk render SONG --model MODEL.pkl|.pt|.safetensors``: a song rendered with a StyleGAN, streaming."""
from __future__ import annotations

import math
from pathlib import Path

from ...errors import AudioWalkInputError


def render_stylegan_song(song_path, output_path, model_path, *, settings=None, batch_size: int = 8,
                         on_progress=None, start_seconds: float = 0.0, duration_seconds: float | None = None,
                         crf: int = 18, device: str = "auto", dtype: str = "auto", noise_mode: str = "random",
                         on_message=None, **walk_options) -> Path:
    """Song -> features (the pipeline's settings) -> :func:`.walk.stylegan_latents` -> frames -> mp4 with the
    song. The model is read and checked before the audio is analysed; the mp4 is written to a temporary name
    and renamed at the end (VideoWriter). ``walk_options`` go to ``stylegan_latents`` (strengths, features ...)."""
    from ...audio import load_audio
    from ...clock import parse_fps
    from ...pipeline import DEFAULT_PIPELINE, compute_song_features
    from ...video import VideoWriter
    from .shared import load_shared_stylegan
    from .walk import stylegan_latents

    say = on_message or (lambda text: None)
    output_path = Path(output_path)
    if output_path.suffix.lower() != ".mp4":
        raise AudioWalkInputError("output", f"{str(output_path)!r} does not end in .mp4", "an .mp4 file name")
    if int(batch_size) < 1:
        raise AudioWalkInputError("batch_size", f"{batch_size!r} is below 1", "a batch size of at least 1")
    handle = load_shared_stylegan(model_path, dtype=dtype, device=device, noise_mode=noise_mode)
    config = handle.network.config
    say(f"model {Path(model_path).name}: {config.kind} {config.resolution}x{config.resolution}, z {config.z_dim}, "
        f"c {config.c_dim}, on {handle.device} ({str(handle.dtype).replace('torch.', '')})")
    settings = settings or DEFAULT_PIPELINE
    clip = load_audio(song_path, start_seconds, duration_seconds or None, input_name="song")
    features = compute_song_features(clip, settings)
    for warning in features.warnings:
        say(f"WARNING: {warning}")
    truncation = settings.truncation if math.isfinite(settings.truncation) else 0.7
    latents = stylegan_latents(features, z_dim=config.z_dim, c_dim=config.c_dim, seed=settings.seed,
                               truncation=truncation, walk_mode=settings.walk_mode, **walk_options)
    say(f"{Path(song_path).name}: {clip.num_samples / clip.sample_rate:.2f} s -> {latents.frame_count} frames "
        f"at {parse_fps(settings.fps)} fps")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(output_path, parse_fps(settings.fps), audio=clip, crf=crf,
                     total_frames=latents.frame_count) as writer:
        for frames in handle.generate_frames(latents, batch_size=int(batch_size), output_format="uint8",
                                             on_progress=on_progress):
            writer.write(frames)
    return output_path
