"""The BigGAN-only pipeline without ComfyUI: song -> features -> latent walk -> BigGAN -> mp4 with the song.

Frames stream from BigGAN batch by batch into the video file, so they never accumulate. The decoded song waits in a
temporary file (0.34 MiB per second at 44.1 kHz stereo, on disk) and is read in blocks; what is held whole grows with
the song only by the per-frame curves and latents (about 1 KB per frame) and the analysis' per-STFT-frame tables. The heavy modules (torch, the model, the encoder) are imported inside the function, so
``audiowalk --help`` stays fast.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import AudioWalkCancelled, AudioWalkInputError, require_choice

RANDOM_WEIGHTS_WARNING = (
    "WARNING: no {model} weights could be loaded ({reason}).\n"
    "WARNING: rendering with RANDOM weights (the real architecture, meaningless pictures), because "
    "--random-weights was given.\n"
    "WARNING: put the weights in {dirs} (or render once with network access) for real images.")


def default_models_dir() -> Path:
    """``$AUDIOWALK_HOME/models/biggan`` (``AUDIOWALK_HOME`` defaults to the current folder), as outside ComfyUI."""
    from .paths import audiowalk_home

    return audiowalk_home() / "models" / "biggan"


def render_song(song_path, output_path, *, settings=None, model_name: str = "biggan-deep-128", models_dir=None,
                batch_size: int = 8, allow_random_weights: bool = False, on_progress=None,
                start_seconds: float = 0.0, duration_seconds: float | None = None, crf: int = 18,
                device: str = "auto", dtype: str = "auto", on_message=None, keep_whole_song: bool = False,
                output_mapping: str = "fixed",
                **setting_changes) -> Path:
    """Render ``song_path`` to the mp4 ``output_path`` with the default pipeline; returns the output path.

    ``settings``: a :class:`~audiowalk_core.pipeline.PipelineSettings` (default: ``DEFAULT_PIPELINE``, the shipped
    BigGAN workflow's values); ``setting_changes`` override single settings (``fps=24, seed=3, labels=...``).
    ``fps`` (int, float, "29.97" or "30000/1001"): the video has exactly as many frames as the (optionally cut:
    ``start_seconds``, ``duration_seconds``) song lasts at that rate and carries the same audio.
    ``models_dir``: folder searched for the weights (default :func:`default_models_dir`). When the weights cannot
    be loaded (absent and no download possible) the error says so, unless ``allow_random_weights``: then the model
    is built from its real config with random weights seeded by ``seed``, after a loud warning through
    ``on_message(text)``. ``on_progress(done_frames, total_frames)`` follows the BigGAN frames. The file is written
    to a temporary name and renamed at the end, so a failed render leaves nothing behind. ``keep_whole_song``: the
    music runs to its end even where the video is shorter (band_mode seed ends about a second early: the seed
    notebook kept the whole song, see settings.PRESET_RENDER_OPTIONS); otherwise it is cut to the video.
    ``output_mapping``: BigGAN's "fixed" (x + 1) / 2, or the notebook's "per_frame_minmax" (flickers).
    """
    from .audio_file import close_clip, load_audio_to_disk
    from .clock import parse_fps
    from .pipeline import DEFAULT_PIPELINE, compute_song_features, load_song_beat_tracker, make_walk_latents

    say = on_message or (lambda text: None)
    output_path = check_render_output(output_path, batch_size)
    settings = (settings or DEFAULT_PIPELINE).replace(**setting_changes)
    frame_rate = parse_fps(settings.fps)
    seed = settings.seed
    search_dirs = [Path(models_dir)] if models_dir is not None else [default_models_dir()]
    beat_model = load_song_beat_tracker(settings)  # a missing neural beat tracker stops the render here
    with tempfile.TemporaryDirectory(prefix="audiowalk-render-") as scratch:
        # the decoded song waits on disk and is read in blocks (analysis, music track): memory flat in its length
        clip = load_audio_to_disk(song_path, scratch, start_seconds, duration_seconds or None, input_name="song")
        try:
            features = compute_song_features(clip, settings, beat_model=beat_model)
            for warning in features.warnings:
                say(f"WARNING: {warning}")
            latents = make_walk_latents(features, settings)
            del features
            say(f"{Path(song_path).name}: {clip.num_samples / clip.sample_rate:.2f} s -> {latents.frame_count} "
                f"frames at {frame_rate} fps")
            handle = _load_model(model_name, search_dirs, seed=seed, dtype=dtype, device=device,
                                 allow_random_weights=allow_random_weights, scratch=Path(scratch), say=say)
            say(f"model {model_name}: {handle.resolution}x{handle.resolution} on {handle.device} ({handle.dtype})")
            output_path.parent.mkdir(parents=True, exist_ok=True)
            render_frames(handle, latents, output_path, frame_rate, audio=clip, batch_size=int(batch_size),
                          crf=crf, on_progress=on_progress, keep_whole_audio=keep_whole_song,
                          output_mapping=output_mapping)
            if handle.compile_error:
                say(f"torch.compile failed, rendered without it: {handle.compile_error}")
            elif handle.compile_seconds is not None:
                say(f"torch.compile: {handle.compile_seconds:.1f} s for the first batch (kernels cached in "
                    f"{handle.compile_cache_dir})")
        finally:
            close_clip(clip)
    return output_path


def check_render_output(output_path, batch_size) -> Path:
    """What every render checks before any work: ``output_path`` names an .mp4 and ``batch_size`` is at least 1."""
    output_path = Path(output_path)
    if output_path.suffix.lower() != ".mp4":
        raise AudioWalkInputError("output", f"{str(output_path)!r} does not end in .mp4", "an .mp4 file name")
    if int(batch_size) < 1:
        raise AudioWalkInputError("batch_size", f"{batch_size!r} is below 1", "a batch size of at least 1")
    return output_path


def render_stylegan_song(song_path, output_path, model_path, *, settings=None, batch_size: int = 8,
                         on_progress=None, start_seconds: float = 0.0, duration_seconds: float | None = None,
                         crf: int = 18, device: str = "auto", dtype: str = "auto", noise_mode: str = "random",
                         on_message=None, **walk_options) -> Path:
    """``audiowalk render SONG --model MODEL.pkl|.pt|.safetensors``: song -> features (the pipeline's settings) ->
    ``generators.stylegan.walk.stylegan_latents`` -> frames -> mp4 with the song, streaming like
    :func:`render_song` (the song read from a temporary file in blocks). The model is read and checked before the
    audio is analysed; ``walk_options`` go to ``stylegan_latents`` (strengths, features ...)."""
    import math

    from .audio_file import close_clip, load_audio_to_disk
    from .clock import parse_fps
    from .generators.stylegan.shared import load_shared_stylegan
    from .generators.stylegan.walk import stylegan_latents
    from .pipeline import DEFAULT_PIPELINE, compute_song_features, load_song_beat_tracker

    say = on_message or (lambda text: None)
    output_path = check_render_output(output_path, batch_size)
    handle = load_shared_stylegan(model_path, dtype=dtype, device=device, noise_mode=noise_mode)
    config = handle.network.config
    say(f"model {Path(model_path).name}: {config.kind} {config.resolution}x{config.resolution}, z {config.z_dim}, "
        f"c {config.c_dim}, on {handle.device} ({str(handle.dtype).replace('torch.', '')})")
    settings = settings or DEFAULT_PIPELINE
    frame_rate = parse_fps(settings.fps)
    beat_model = load_song_beat_tracker(settings)
    with tempfile.TemporaryDirectory(prefix="audiowalk-render-") as scratch:
        clip = load_audio_to_disk(song_path, scratch, start_seconds, duration_seconds or None, input_name="song")
        try:
            features = compute_song_features(clip, settings, beat_model=beat_model)
            for warning in features.warnings:
                say(f"WARNING: {warning}")
            truncation = settings.truncation if math.isfinite(settings.truncation) else 0.7
            latents = stylegan_latents(features, z_dim=config.z_dim, c_dim=config.c_dim, seed=settings.seed,
                                       truncation=truncation, walk_mode=settings.walk_mode, **walk_options)
            del features
            say(f"{Path(song_path).name}: {clip.num_samples / clip.sample_rate:.2f} s -> {latents.frame_count} "
                f"frames at {frame_rate} fps")
            output_path.parent.mkdir(parents=True, exist_ok=True)
            render_frames(handle, latents, output_path, frame_rate, audio=clip, batch_size=int(batch_size),
                          crf=crf, on_progress=on_progress)
        finally:
            close_clip(clip)
    return output_path


def render_frames(handle, latents, output_path, fps, *, audio=None, batch_size: int = 8, crf: int = 18,
                  preset: str = "medium", on_progress=None, keep_whole_audio: bool = False,
                  output_mapping: str = "fixed") -> Path:
    """The frames of ``latents`` from any generator ``handle`` -> ``output_path`` (mp4 with ``audio``), generation
    and encoding at once.

    The frames leave the device as uint8 (``generate_frames(output_format="uint8")``) and go through the
    VideoWriter's bounded queue to its encoder thread, so the generator works on batch n+1 while x264 encodes
    batch n; the render takes about as long as the slower of the two. An error in either, or Ctrl-C, stops both
    and leaves nothing under ``output_path``. Memory: a few batches of frames, whatever the song's length."""
    from .generators import generate_frames
    from .video import VideoWriter

    with VideoWriter(output_path, fps, audio=audio, crf=crf, preset=preset, total_frames=latents.frame_count,
                     keep_whole_audio=keep_whole_audio) as writer:
        for frames in generate_frames(handle, latents, batch_size=int(batch_size), on_progress=on_progress,
                                      output_format="uint8", output_mapping=output_mapping):
            writer.write(frames)
    return Path(output_path)


def _load_model(model_name, search_dirs, *, seed, dtype, device, allow_random_weights, scratch: Path, say):
    """The BigGAN handle: real weights (local, or downloaded when possible), else random ones when allowed."""
    from .generators.biggan import (BIGGAN_MODELS, builtin_config, load_biggan, random_biggan_weights,
                                    save_biggan_safetensors)

    require_choice("model", model_name, BIGGAN_MODELS, "is not a known BigGAN")
    try:
        return load_biggan(model_name, search_dirs, dtype=dtype, device=device, allow_download=True)
    except (AudioWalkCancelled, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to get real weights is reported or replaced below
        reason = str(exc) or type(exc).__name__
        if not allow_random_weights:
            if isinstance(exc, AudioWalkInputError):
                raise AudioWalkInputError("model", exc.problem, f"{exc.expected}; or --random-weights to try the "
                                          "pipeline with random weights") from exc
            raise AudioWalkInputError(
                "model", f"the {model_name} weights cannot be loaded ({reason})",
                f"the weights in {', '.join(str(d) for d in search_dirs)} or network access to download them; "
                "or --random-weights to try the pipeline with random weights") from exc
    say(RANDOM_WEIGHTS_WARNING.format(model=model_name, reason=reason,
                                      dirs=", ".join(str(d) for d in search_dirs)))
    weights = random_biggan_weights(model_name, seed)
    folder = scratch / "random-biggan"
    folder.mkdir()
    save_biggan_safetensors(weights, builtin_config(model_name), folder / f"{model_name}.safetensors")
    del weights
    try:
        return load_biggan(model_name, [folder], dtype=dtype, device=device, allow_download=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
