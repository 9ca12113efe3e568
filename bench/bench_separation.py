"""HTDemucs stem separation: seconds per minute of audio, and peak memory against the song's length.

Speed: the full-size htdemucs (the published architecture, random weights: the same compute) separates a
``--speed-seconds`` song (44.1 kHz stereo) the streaming way (audiowalk_core.separation: segments of 7.8 s, overlap
0.25, stems streamed to FLAC files), and the naive way in the same process (bench/separation_reference.py: the
whole song and every segment's output held in memory, as demucs' apply_model does). Both print seconds per minute
of audio; the ratio is naive / streaming.

Memory: fresh processes separate a 1 and a 10 minute song (wav on disk, read in blocks; ``separate_stems`` through
a model file and the stem cache) and report their peak RSS (ru_maxrss); the naive way separates the longest song in
one more process. The model for this part is ``--memory-model``: "slim" (the published class at 44.1 kHz with
7.8 s segments, four stereo sources, narrow layers: every song-sized buffer as in htdemucs, minutes instead of an
hour of CPU) or "htdemucs" (the full model: about 2 minutes of CPU per minute of audio on 2 cores).

    .venv/bin/python bench/bench_separation.py                      # speed on 30 s, memory at 1 and 10 min
    .venv/bin/python bench/bench_separation.py --memory-model htdemucs --minutes 1,10
    .venv/bin/python bench/bench_separation.py --smoke              # seconds: a tiny model, 6 and 12 s songs (CI)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from bench_cli_memory import peak_mib, write_long_song

SLIM = dict(channels=8, bottom_channels=64, t_layers=2, t_heads=4, dconv_mode=3, segment=Fraction(39, 5))
TINY = dict(sources=("drums", "bass"), channels=8, nfft=512, depth=3, dconv_mode=3, bottom_channels=32, t_layers=3,
            t_heads=4, segment=Fraction(1, 2), samplerate=8000, norm_starts=2)


def model_config(kind: str):
    from audiowalk_core.separation.htdemucs.config import PUBLISHED_CONFIGS, HTDemucsConfig

    if kind == "htdemucs":
        return PUBLISHED_CONFIGS["htdemucs"]
    return HTDemucsConfig(**(SLIM if kind == "slim" else TINY))


def write_model(kind: str, folder: Path) -> str:
    from audiowalk_core.separation.htdemucs.model import build_htdemucs
    from audiowalk_core.separation.htdemucs.weights import save_demucs_safetensors

    config = model_config(kind)
    name = f"bench-{kind}.safetensors"
    save_demucs_safetensors(build_htdemucs(config, seed=0), config, folder / name)
    return name


def child(mode: str, song: str = "", models: str = "", name: str = "", cache: str = "") -> None:
    """One measured process: separate ``song`` streaming (``mode`` stream) or naively (``mode`` naive); or write the
    model file (``mode`` write-model: ``song`` is the model kind, ``models`` the folder)."""
    if mode == "write-model":
        print(write_model(song, Path(models)))
        return
    from audiowalk_core.audio import load_audio
    from audiowalk_core.audio_file import load_audio_to_disk
    from audiowalk_core.separation import separate_stems

    if mode == "stream":
        clip = load_audio_to_disk(song, cache)
        stems = separate_stems(clip, name, Path(cache) / "stems", song_digest=song, model_dirs=[models])
        print(stems.names)
        return
    import soundfile

    from audiowalk_core.separation.htdemucs.runtime import load_shared_htdemucs
    from audiowalk_core.separation.neural import model_rate_reader
    from separation_reference import separate_in_memory

    handle = load_shared_htdemucs(name, [models])
    clip = load_audio(song)
    reader = model_rate_reader(clip, handle.config.samplerate)
    out = separate_in_memory(handle.runner(), reader.read(0, reader.length), handle.config.segment_samples,
                             len(handle.sources), handle.config.samplerate)
    for index, source in enumerate(handle.sources):
        soundfile.write(Path(cache) / f"{source}.flac", np.clip(out[index].T, -1, 1), clip.sample_rate,
                        subtype="PCM_24")


def speed(kind: str, seconds: float, device: str = "cpu", rounds: int = 2) -> dict:
    """Best of ``rounds`` (interleaved) of the streaming and the naive separation of a ``seconds`` song with the
    ``kind`` model on ``device``: {way: (total seconds, seconds inside the network)} and the segment count."""
    from audiowalk_core.audio import AudioClip
    from audiowalk_core.separation.cache import StemCache
    from audiowalk_core.separation.htdemucs.model import build_htdemucs
    from audiowalk_core.separation.htdemucs.runtime import handle_for_network
    from audiowalk_core.separation.neural import MODEL_CALLS, model_rate_reader, separate_segments
    from separation_reference import separate_in_memory

    config = model_config(kind)
    handle = handle_for_network(build_htdemucs(config, device=device, seed=0))
    rate = 44100
    t = np.arange(int(seconds * rate)) / rate
    mix = np.stack([0.3 * np.sin(2 * np.pi * 110 * t) + 0.1 * np.sin(2 * np.pi * 440 * t) * (np.mod(t, 0.5) < 0.1),
                    0.3 * np.sin(2 * np.pi * 165 * t)]).astype(np.float32)
    clip = AudioClip(mix, rate)
    network = handle.runner()
    inside = [0.0]

    def run(window):
        start = time.perf_counter()
        out = network(window)
        inside[0] += time.perf_counter() - start
        return out

    run(np.zeros((2, config.segment_samples), np.float32))  # warm-up: thread pools, kernels (not timed)

    def streaming():
        with tempfile.TemporaryDirectory(prefix="bench-separation-") as scratch:
            with StemCache(scratch).writer("0" * 64, handle.sources, rate, 2, "bench", {}) as writer:
                separate_segments(clip, run, sources=handle.sources, model_rate=config.samplerate,
                                  segment=config.segment_samples, write=writer.write)

    def naive():
        reader = model_rate_reader(clip, config.samplerate)
        separate_in_memory(run, reader.read(0, reader.length), config.segment_samples, len(handle.sources),
                           config.samplerate)

    best = {"streaming": (float("inf"), 0.0), "naive": (float("inf"), 0.0)}
    before = MODEL_CALLS.value
    for _ in range(rounds):
        for way, function in (("streaming", streaming), ("naive", naive)):
            inside[0] = 0.0
            start = time.perf_counter()
            function()
            total = time.perf_counter() - start
            if total < best[way][0]:
                best[way] = (total, inside[0])
    best["segments"] = (MODEL_CALLS.value - before) // (2 * rounds)
    return best


def main(argv=None) -> None:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:7])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--speed-seconds", type=float, default=30.0, help="song length for the speed part")
    parser.add_argument("--speed-model", default="htdemucs", choices=("htdemucs", "slim", "tiny"))
    parser.add_argument("--minutes", default="1,10", help="comma list of song lengths for the memory part")
    parser.add_argument("--memory-model", default="slim", choices=("htdemucs", "slim", "tiny"))
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the speed part (best taken)")
    parser.add_argument("--device", default="cpu", help="where the speed part runs (cpu, cuda); the memory part "
                        "uses the device policy (CUDA when present)")
    parser.add_argument("--smoke", action="store_true", help="the tiny model, 6 s speed, 6 and 12 s songs (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.speed_seconds, args.speed_model, args.memory_model = 6.0, "tiny", "tiny"
    minutes = [0.1, 0.2] if args.smoke else [float(m) for m in args.minutes.split(",")]

    # Memory first, in fresh processes started from this one while it holds nothing but numpy: a child's peak RSS
    # (ru_maxrss) counts what it shared with this process when it was forked.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                                     os.environ.get("PYTHONPATH")])))
    with tempfile.TemporaryDirectory(prefix="bench-separation-memory-") as scratch:
        folder = Path(scratch)
        name = subprocess.run([sys.executable, __file__, "--child", "write-model", args.memory_model, str(folder)],
                              env=env, check=True, capture_output=True, text=True).stdout.strip()
        rows = []
        for length in minutes + [None]:
            mode = "naive" if length is None else "stream"
            length = max(minutes) if length is None else length
            song = folder / f"song-{length:g}min.wav"
            if not song.exists():
                write_long_song(song, length * 60)
            cache = folder / f"cache-{mode}-{length:g}"
            cache.mkdir()
            command = [sys.executable, __file__, "--child", mode, str(song), str(folder), name, str(cache)]
            mib, wall, _ = peak_mib(command, env)
            rows.append((mode, length, mib, wall))
            print(f"memory: {mode:6s} {length:5g} min song ({args.memory_model} model): peak RSS {mib:7.0f} MiB, "
                  f"{wall:7.1f} s", flush=True)
    streams = [row for row in rows if row[0] == "stream"]
    (_, short, short_mib, _), (_, long, long_mib, _) = streams[0], streams[-1]
    naive_mib = rows[-1][2]
    print(f"peak RSS {long:g} min / {short:g} min (streaming): {long_mib / short_mib:.3f}")
    print(f"naive reference at {long:g} min: {naive_mib:.0f} MiB, {naive_mib / long_mib:.2f}x the streaming peak")

    import torch

    rounds = 1 if args.smoke else args.rounds
    result = speed(args.speed_model, args.speed_seconds, args.device, rounds=rounds)
    per_minute = 60.0 / args.speed_seconds
    where = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else f"{torch.get_num_threads()} threads"
    print(f"speed: {args.speed_model} (random weights), {args.speed_seconds:g} s song at 44.1 kHz, "
          f"{result['segments']} segments, {args.device} ({where}), best of {rounds} interleaved rounds")
    for way, label in (("streaming", "streaming (segments, FLAC stems)"), ("naive", "naive (whole song in memory)")):
        total, inside = result[way]
        print(f"  {label:34s} {total * per_minute:8.1f} s per minute of audio ({inside * per_minute:.1f} in the "
              f"network, {(total - inside) * per_minute:.2f} around it)")
    ratio = result["naive"][0] / result["streaming"][0]
    print(f"  ratio naive / streaming: {ratio:.2f}x (the same network calls; the naive way holds the whole song)")


if __name__ == "__main__":
    main()
