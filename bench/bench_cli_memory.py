"""Peak memory of ``audiowalk render`` against the song's length: flat (target: a 60-minute song within 10% of a
1-minute song).

Synthesises long songs (44.1 kHz stereo 16-bit wav: chords and a kick on every beat, written in blocks) in a temp
folder, renders each in a fresh process (tiny random BigGAN, low fps: the song's length is what grows, not the
model), and reads each process's peak resident set (ru_maxrss from os.wait4). The naive reference, in the same run:
a process that only decodes the longest song whole (what holding the song costs: 0.34 MiB per second of music).

    .venv/bin/python bench/bench_cli_memory.py                       # 1 and 60 minutes at 1 fps
    .venv/bin/python bench/bench_cli_memory.py --minutes 1,10 --fps 2
    .venv/bin/python bench/bench_cli_memory.py --smoke               # seconds: 6 and 12 s songs (CI)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 44100
BLOCK_SECONDS = 10


def write_long_song(path: Path, seconds: float, sample_rate: int = SAMPLE_RATE, channels: int = 2) -> Path:
    """A deterministic 16-bit wav (stereo, or mono with ``channels=1``) ``seconds`` long, written ``BLOCK_SECONDS`` at a time (never held whole):
    an A minor chord whose loudness swells every 8 s, and a decaying 60 Hz kick on every beat at 120 BPM."""
    total = int(round(seconds * sample_rate))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        for first in range(0, total, BLOCK_SECONDS * sample_rate):
            t = np.arange(first, min(first + BLOCK_SECONDS * sample_rate, total)) / sample_rate
            chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63)) / 3
            swell = 0.5 + 0.5 * np.sin(2 * np.pi * t / 8.0)
            since_beat = np.mod(t, 0.5)
            kick = np.sin(2 * np.pi * 60.0 * since_beat) * np.exp(-since_beat / 0.08)
            left = 0.3 * swell * chord + 0.5 * kick
            right = 0.3 * swell * np.roll(chord, 7) + 0.5 * kick
            pcm = (np.stack([left, right][:channels], axis=1) * 32767 * 0.9).astype("<i2")
            out.writeframes(pcm.tobytes())
    return path


def peak_mib(argv: list[str], env: dict) -> tuple[float, float, str]:
    """(peak RSS MiB, wall seconds, stderr tail) of one fresh process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        tail = errors.read()[-2000:]
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])} ... failed ({process.returncode}):\n{tail}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start, tail


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--minutes", default="1,60", help="comma list of song lengths in minutes")
    parser.add_argument("--fps", default="1", help="video frame rate (low: the song's length is what grows)")
    parser.add_argument("--band-mode", default="improved")
    parser.add_argument("--keep", type=Path, default=None, help="keep the songs in this folder (reused when there)")
    parser.add_argument("--smoke", action="store_true", help="6 and 12 s songs: checks the script runs (CI)")
    args = parser.parse_args(argv)
    minutes = [0.1, 0.2] if args.smoke else [float(m) for m in args.minutes.split(",")]

    from audiowalk_core.generators.biggan import random_biggan_weights, save_biggan_safetensors, tiny_config

    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="bench-cli-memory-") as scratch:
        folder = Path(scratch)
        songs = args.keep or folder
        songs.mkdir(parents=True, exist_ok=True)
        models = folder / "models"
        models.mkdir()
        config = tiny_config()
        save_biggan_safetensors(random_biggan_weights(config, 0), config, models / "biggan-deep-128.safetensors")
        rows = []
        for length in minutes:
            song = songs / f"song-{length:g}min.wav"
            if not song.exists():
                write_long_song(song, length * 60)
            command = [sys.executable, "-m", "audiowalk_tools.cli", "render", str(song), "-o",
                       str(folder / "out.mp4"), "--models-dir", str(models), "--fps", args.fps, "--batch-size", "16",
                       "--band-mode", args.band_mode]
            mib, wall, _ = peak_mib(command, env)
            rows.append((length, mib, wall))
            print(f"{length:7g} min song ({song.stat().st_size / 2 ** 20:7.0f} MiB wav): peak RSS {mib:7.0f} MiB, "
                  f"{wall:6.1f} s", flush=True)
        longest = songs / f"song-{max(minutes):g}min.wav"
        naive_code = ("import sys; from audiowalk_core.audio import load_audio; "
                      "clip = load_audio(sys.argv[1]); print(clip.num_samples)")
        naive, _, _ = peak_mib([sys.executable, "-c", naive_code, str(longest)], env)
    (short, short_mib, _), (long, long_mib, _) = rows[0], rows[-1]
    print(f"\n{long:g} min / {short:g} min peak RSS: {long_mib / short_mib:.3f} (target <= 1.10)")
    print(f"naive reference: decoding the {max(minutes):g} min song whole: {naive:.0f} MiB peak "
          f"(the render's peak is {long_mib / naive:.2f}x that)")


if __name__ == "__main__":
    main()
