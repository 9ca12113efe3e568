"""Benchmark: the whole render against its two halves, and Save Video against raw PyAV, in one run.

Each round measures, on the same frames and settings:
  generator  frames/s of ``generate_frames(..., output_format="uint8")``: BigGAN frames delivered as uint8 on the CPU
  encoder    raw PyAV libx264 on those uint8 frames: ``VideoFrame.from_ndarray(rgb24)`` -> ``stream.encode`` (PyAV's
             own swscale conversion), same preset and CRF, threads auto, video only
  whole      ``render.render_frames``, the path ``audiowalk render`` takes: generation and encoding at once, with music
  writer     Save Video's way: ``VideoWriter`` fed float IMAGE batches of 64 frames, with music, at --video-size
  writer_uint8  the same frames as uint8 batches, no music (the writer's own machinery against raw PyAV)
  raw        raw PyAV libx264 on the same frames as uint8 (video only)
and prints medians over the rounds with the ratios whole / min(generator, encoder) and writer / raw (targets >= 0.9),
both as a ratio of medians and as the median of each round's ratio, and the process's CPU time per frame (all
threads). Rounds interleave the measurements, so a shared machine's load hits all of them alike. Random weights, real
architecture. ``--parts`` picks some of the six; ``--check`` first compares the frames with the library model's
(float32, unfused, TF32 off); ``--song-seconds S`` also times ``render.render_song`` end to end (weights loaded from
a file, features, latents, render) on a synthesised song of S seconds.

    python bench/bench_render.py                  # biggan-deep-128, 96 frames, on CUDA when present (bf16 on AMX CPUs)
    python bench/bench_render.py --device cuda --model biggan-deep-512 --dtype bfloat16 --batch-size 32 \\
        --frames 960 --video-size 512 --song-seconds 180 --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from audiowalk_core.generators import biggan, devices, generate_frames
from audiowalk_core.audio import AudioClip
from audiowalk_core.clock import FrameClock
from audiowalk_core.latents import WalkLatents
from audiowalk_core.pixels import to_uint8
from audiowalk_core.render import render_frames
from audiowalk_core.video import VideoWriter
from biggan_reference import count_flops_per_frame, library_biggan  # bench/ (the script's folder)

SAVE_VIDEO_BATCH = 64  # frames per VideoWriter.write in save_video (video.WRITE_BATCH_FRAMES)


def cpu_seconds() -> float:
    """CPU time of this process so far, every thread (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def synchronize(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def make_latents(frames: int, seed: int = 0, truncation: float = 0.4) -> WalkLatents:
    """Walk-like latents (clipped noise, sparse class mixtures) for ``frames`` frames at 30 fps."""
    rng = np.random.default_rng(seed)
    noise = (np.clip(rng.standard_normal((frames, 128)), -2, 2) * truncation).astype(np.float32)
    classes = rng.dirichlet(np.full(1000, 0.05), size=frames).astype(np.float32)
    return WalkLatents(noise, classes, truncation, seed, FrameClock(Fraction(30), 44100, frames))


def music(seconds: float) -> AudioClip:
    """The demo song (drums, bass, chords), ``seconds`` long: AAC costs what it costs on music, not on a sine."""
    from audiowalk_tools.demo import synthesize_demo_song

    return synthesize_demo_song(duration_seconds=max(seconds, 0.1))


def matmul_rate(device, dtype, size: int) -> float:
    """FLOP/s of ``torch.mm`` of two ``size``^2 matrices (best of 5)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    torch.mm(a, b)
    synchronize(device)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size ** 3 / best


def time_generator(handle, latents, batch_size: int, keep: bool) -> tuple[float, np.ndarray | None]:
    """frames/s of generate_frames to uint8 CPU frames; the frames too when ``keep``."""
    kept = []
    synchronize(handle.device)
    start = time.perf_counter()
    for frames in generate_frames(handle, latents, batch_size=batch_size, output_format="uint8"):
        if keep:
            kept.append(frames.numpy().copy())
    seconds = time.perf_counter() - start
    return latents.frame_count / seconds, (np.concatenate(kept) if keep else None)


def time_raw_pyav(pixels: np.ndarray, path: Path, fps: int, preset: str, crf: int) -> float:
    """frames/s of PyAV's own path: uint8 RGB frames -> from_ndarray -> libx264 (its swscale), threads auto."""
    import av

    start = time.perf_counter()
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = pixels.shape[2], pixels.shape[1], "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        stream.codec_context.thread_count = 0
        for rgb in pixels:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))
    return len(pixels) / (time.perf_counter() - start)


def time_whole(handle, latents, batch_size: int, path: Path, fps: int, preset: str, crf: int) -> float:
    clip = music(latents.frame_count / fps)
    start = time.perf_counter()
    render_frames(handle, latents, path, fps, audio=clip, batch_size=batch_size, crf=crf, preset=preset)
    return latents.frame_count / (time.perf_counter() - start)


def time_video_writer(images, path: Path, fps: int, preset: str, crf: int, with_music: bool = True) -> float:
    """frames/s of VideoWriter fed batches of ``images`` (float IMAGE or uint8) as Save Video feeds it."""
    clip = music(len(images) / fps) if with_music else None
    start = time.perf_counter()
    with VideoWriter(path, fps, audio=clip, crf=crf, preset=preset) as writer:
        for first in range(0, len(images), SAVE_VIDEO_BATCH):
            writer.write(images[first:first + SAVE_VIDEO_BATCH])
    return len(images) / (time.perf_counter() - start)


def save_video_frames(pixels: np.ndarray, size: int, count: int) -> torch.Tensor:
    """float IMAGE [count, size, size, 3] in [0, 1]: the generated frames (cycled) resized bilinearly."""
    chosen = torch.from_numpy(pixels[np.arange(count) % len(pixels)]).permute(0, 3, 1, 2).float() / 255.0
    resized = torch.nn.functional.interpolate(chosen, size=(size, size), mode="bilinear", align_corners=False)
    return resized.clamp(0, 1).permute(0, 2, 3, 1).contiguous()


def library_error(handle, config: dict, frames: int) -> float:
    """||ours - library|| / ||library|| over ``frames`` frames in [0, 1]: ``handle``'s frames against the library
    model's (float32, spectral-norm hooks, no fusion) on the same device, TF32 off for the reference."""
    reference = library_biggan(config, biggan.random_biggan_weights(config, 0)).to(handle.device)
    latents = make_latents(frames, seed=5)
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.inference_mode():
            images = reference(torch.from_numpy(latents.noise).to(handle.device),
                               torch.from_numpy(latents.class_weights).to(handle.device), latents.truncation)
            expected = ((images + 1.0) * 0.5).clamp(0.0, 1.0).permute(0, 2, 3, 1).cpu()
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    ours = torch.cat(list(generate_frames(handle, latents, batch_size=frames)))
    if not torch.isfinite(ours).all():
        return float("nan")
    return float((ours - expected).norm() / expected.norm())


def time_song_render(args, seconds: float, folder: Path) -> dict:
    """Wall time of render.render_song (the CLI's function) on a synthesised song, weights from a local file."""
    import wave

    from audiowalk_tools.demo import synthesize_demo_song
    from audiowalk_core.render import render_song

    song = synthesize_demo_song(duration_seconds=seconds)
    song_path = folder / "song.wav"
    pcm = (np.clip(song.samples.T, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(song_path), "wb") as out:  # the standard library: no soundfile (cffi) on the GPU machines
        out.setnchannels(pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(song.sample_rate)
        out.writeframes(pcm.tobytes())
    models = folder / "models"
    models.mkdir()
    config = biggan.builtin_config(args.model)
    biggan.save_biggan_safetensors(biggan.random_biggan_weights(config, 0), config,
                                   models / f"{args.model}.safetensors")
    messages = []
    start = time.perf_counter()
    render_song(song_path, folder / "song.mp4", fps=args.fps, model_name=args.model, models_dir=models,
                batch_size=args.batch_size, device=args.device, dtype=args.dtype, on_message=messages.append)
    wall = time.perf_counter() - start
    frames = int(round(seconds * args.fps))
    return {"song_seconds": seconds, "frames": frames, "wall_s": wall, "messages": messages}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--model", default="biggan-deep-128", choices=biggan.BIGGAN_MODELS)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu, cuda")
    parser.add_argument("--dtype", default="auto", help="auto (bf16 on CUDA and AMX CPUs), float32, bfloat16, float16")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--frames", type=int, default=96, help="frames per generator / encoder / whole run")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                        help="torch.compile the generator (auto: AUDIOWALK_COMPILE, else on for CUDA only)")
    parser.add_argument("--compile-mode", default=None, help="torch.compile mode, e.g. reduce-overhead")
    parser.add_argument("--no-fused-upsampling", action="store_true",
                        help="nearest up-sampling + 3x3 convolution instead of one transposed convolution")
    parser.add_argument("--video-size", type=int, default=512, help="frame size (px) for writer vs raw")
    parser.add_argument("--video-frames", type=int, default=128, help="frames for writer vs raw")
    parser.add_argument("--song-seconds", type=float, default=0.0, help="also time render_song on a song this long")
    parser.add_argument("--parts", default="generator,encoder,whole,writer,writer_uint8,raw",
                        help="comma list of generator, encoder, whole, writer, writer_uint8, raw")
    parser.add_argument("--check", action="store_true", help="compare the frames with the library model first")
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--smoke", action="store_true", help="smallest sizes, tiny random BigGAN, one round: checks the script runs (seconds; CI), no figures")
    args = parser.parse_args(argv)
    if args.smoke:
        args.frames, args.batch_size, args.rounds, args.video_size, args.video_frames = 4, 2, 1, 32, 4
        args.preset, args.compile, args.device = "ultrafast", "off", "cpu"
        args.song_seconds = min(args.song_seconds, 1.0) if args.song_seconds else 0.0

    if args.compile != "auto":  # render_song (--song-seconds) reads these, as the CLI does
        os.environ[devices.COMPILE_ENV] = "1" if args.compile == "on" else "0"
    if args.compile_mode:
        os.environ[devices.COMPILE_MODE_ENV] = args.compile_mode
    device = devices.resolve_device(args.device)
    args.device = device.type
    config = biggan.tiny_config() if args.smoke else biggan.builtin_config(args.model)
    handle = biggan.handle_from_weights(
        biggan.random_biggan_weights(config, 0), config, dtype=args.dtype, device=args.device,
        fused_upsampling=not args.no_fused_upsampling, compile_mode=args.compile_mode,
        compile_model={"auto": None, "on": True, "off": False}[args.compile])
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    print(f"{args.model} ({handle.resolution} px) {handle.dtype} batch {args.batch_size} on {device} {gpu}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; compile {handle.compile}"
          f"{' (' + str(handle.compile_mode) + ')' if handle.compile else ''}; x264 {args.preset} crf {args.crf}")
    figures = {"model": args.model, "device": str(device), "gpu": gpu, "dtype": str(handle.dtype),
               "batch_size": args.batch_size, "frames": args.frames, "compile": handle.compile,
               "compile_mode": handle.compile_mode, "preset": args.preset, "crf": args.crf,
               "fused_upsampling": not args.no_fused_upsampling, "torch": torch.__version__}
    flops = count_flops_per_frame(handle)
    rate = matmul_rate(device, handle.dtype, 256 if args.smoke else 8192 if device.type == "cuda" else 2048)
    figures.update(flops_per_frame=flops, matmul_rate=rate)
    print(f"{flops / 1e9:.1f} GFLOP per frame; {handle.dtype} matmul rate {rate / 1e12:.2f} TFLOP/s")

    if args.check:
        figures["library_relative_error"] = library_error(handle, config, args.batch_size)
        print(f"frames vs the library model (float32, TF32 off), ||ours - library|| / ||library||: "
              f"{figures['library_relative_error']:.2e}")
    latents = make_latents(args.frames)
    start = time.perf_counter()
    for _ in generate_frames(handle, latents.slice_frames(0, args.batch_size), batch_size=args.batch_size,
                                    output_format="uint8"):
        pass
    figures["warm_up_s"] = time.perf_counter() - start
    figures["compile_s"], figures["compile_error"] = handle.compile_seconds, handle.compile_error
    if handle.compile:
        print(f"torch.compile: {handle.compile_seconds or 0:.1f} s for the first batch (cache "
              f"{handle.compile_cache_dir}){' FAILED: ' + handle.compile_error if handle.compile_error else ''}")

    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    rates = {name: [] for name in parts}
    cpu_ms = {name: [] for name in parts}  # CPU milliseconds per frame, all threads
    pixels = images = raw_pixels = None

    def measure(name: str, frames: int, run) -> None:
        if name in rates:
            before = cpu_seconds()
            rates[name].append(run())
            cpu_ms[name].append((cpu_seconds() - before) * 1000 / frames)

    with tempfile.TemporaryDirectory(prefix="bench-render-") as scratch:
        folder = Path(scratch)
        for round_index in range(args.rounds):
            before = cpu_seconds()
            fps, kept = time_generator(handle, latents, args.batch_size, keep=pixels is None)
            if "generator" in rates:
                rates["generator"].append(fps)
                cpu_ms["generator"].append((cpu_seconds() - before) * 1000 / args.frames)
            if pixels is None:
                pixels = kept
                images = save_video_frames(pixels, args.video_size, args.video_frames)
                raw_pixels = to_uint8(images).numpy()
            measure("encoder", args.frames,
                    lambda: time_raw_pyav(pixels, folder / "raw.mp4", args.fps, args.preset, args.crf))
            measure("whole", args.frames, lambda: time_whole(handle, latents, args.batch_size, folder / "whole.mp4",
                                                             args.fps, args.preset, args.crf))
            measure("writer", args.video_frames,
                    lambda: time_video_writer(images, folder / "writer.mp4", args.fps, args.preset, args.crf))
            measure("writer_uint8", args.video_frames,
                    lambda: time_video_writer(raw_pixels, folder / "writer_uint8.mp4", args.fps, args.preset, args.crf,
                                              with_music=False))
            measure("raw", args.video_frames,
                    lambda: time_raw_pyav(raw_pixels, folder / "raw_video.mp4", args.fps, args.preset, args.crf))
            done = ", ".join(f"{name} {values[-1]:.1f}" for name, values in rates.items())
            print(f"round {round_index + 1}: {done}", flush=True)
        if args.song_seconds > 0:
            figures["song"] = time_song_render(args, args.song_seconds, folder)

    medians = {name: statistics.median(values) for name, values in rates.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu_ms.items()}
    figures.update(rates=rates, medians=medians, cpu_ms_per_frame=cpu_ms, cpu_ms_medians=cpu_medians)
    size = handle.resolution
    labels = {"generator": f"generator alone (uint8 frames on the CPU, {size} px)",
              "encoder": f"encoder alone (raw PyAV libx264, {size} px)",
              "whole": f"whole render (generate + encode + music, {size} px)",
              "writer": f"VideoWriter, float IMAGE batches + music ({args.video_size} px)",
              "writer_uint8": f"VideoWriter, uint8 batches, no music ({args.video_size} px)",
              "raw": f"raw PyAV libx264 on the same frames ({args.video_size} px)"}
    print(f"\nmedians of {args.rounds} rounds:{'frames/s':>41} {'CPU ms/frame':>13}")
    for name in rates:
        print(f"  {labels[name]:<54} {medians[name]:9.1f} {cpu_medians[name]:13.2f}")
    if "generator" in medians:
        figures["generator_fraction_of_matmul"] = medians["generator"] * flops / rate
        print(f"  generator: {figures['generator_fraction_of_matmul']:.1%} of the {handle.dtype} matmul rate")
    if {"generator", "encoder", "whole"} <= set(rates):
        figures["whole_over_min"] = medians["whole"] / min(medians["generator"], medians["encoder"])
        figures["whole_over_min_per_round"] = statistics.median(
            whole / min(generator, encoder)
            for whole, generator, encoder in zip(rates["whole"], rates["generator"], rates["encoder"]))
        print(f"  whole / min(generator, encoder) = {figures['whole_over_min']:.2f} (median of each round's: "
              f"{figures['whole_over_min_per_round']:.2f}; target >= 0.9)")
    if {"writer", "raw"} <= set(rates):
        figures["writer_over_raw"] = medians["writer"] / medians["raw"]
        figures["writer_over_raw_per_round"] = statistics.median(
            writer / raw for writer, raw in zip(rates["writer"], rates["raw"]))
        print(f"  VideoWriter / raw PyAV = {figures['writer_over_raw']:.2f} (median of each round's: "
              f"{figures['writer_over_raw_per_round']:.2f}; target >= 0.9)")
    if {"writer_uint8", "raw"} <= set(rates):
        figures["writer_uint8_over_raw"] = medians["writer_uint8"] / medians["raw"]
        print(f"  VideoWriter on uint8 without music / raw PyAV = {figures['writer_uint8_over_raw']:.2f}")
    if "song" in figures:
        song = figures["song"]
        print(f"  render_song, {song['song_seconds']:.0f} s song at {args.fps} fps ({song['frames']} frames): "
              f"{song['wall_s']:.1f} s wall ({song['frames'] / song['wall_s']:.1f} frames/s)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
