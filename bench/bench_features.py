"""Feature timings on a 180 s stereo 44.1 kHz track (the demo song's synthesis, 180 s long).

Prints, per feature, the time warm (best of three calls after a warm-up in this process) and cold (first call in a fresh process, imports
included), real-time factors, and the seed-compatible bands against a naive per-frame float64 loop written from
SEED_ALGORITHM.md (timed on the first 300 frames and extrapolated: the whole loop takes minutes).

    .venv/bin/python bench/bench_features.py [--seconds 180]
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time

import numpy as np

SAMPLE_RATE = 44100


def track(seconds: float):
    from audiowalk_tools.demo import synthesize_demo_song

    return synthesize_demo_song(SAMPLE_RATE, seconds)


def stages(clip, fps=30):
    """Each feature's own computation, timed: {name: seconds}."""
    from audiowalk_core import analysis
    from audiowalk_core.clock import FrameClock

    mono = clip.mono()
    clock = FrameClock.for_duration(clip.num_samples, clip.sample_rate, fps)
    times = {}

    def timed(name, function, *args, **kwargs):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        times[name] = time.perf_counter() - start
        return result

    timed("seed bands (405 bands)", analysis.seed_band_energies, mono, clip.sample_rate, 11000, 16, 1.01, 0.9)
    n_fft, _ = analysis._stft_size(clip.sample_rate)
    edges = analysis.improved_band_edges(clip.sample_rate, n_fft, 48)
    tables = timed("STFT tables (improved bands, log bands, chroma)", analysis._StftTables, mono, clip.sample_rate,
                   edges)
    rate = clip.sample_rate / tables.hop
    onset = timed("onset strength", analysis.onset_strength, tables.log_bands)
    tempo = timed("tempo", analysis.estimate_tempo, onset, rate)
    timed("beats", analysis.track_beats, onset, rate, tempo)
    timed("harmonic/percussive", analysis._harmonic_percussive, tables.log_bands, rate)
    timed("rms", analysis.frame_rms, mono, clock)
    timed("all features, improved (compute_features)", analysis.compute_features, clip, fps)
    timed("all features, seed bands (compute_features)", analysis.compute_features, clip, fps, band_mode="seed")
    return times


def naive_seed_bands(mono, sample_rate, frames, fps=30):
    """The seed's per-frame loop (float64, log10, logsumexp, a Python loop over bands)."""
    from scipy.special import logsumexp

    hop = math.ceil(sample_rate / fps)
    out = []
    for frame in range(frames):
        window = mono[frame * hop:frame * hop + sample_rate].astype(np.float64)
        with np.errstate(divide="ignore"):
            db = 20 * np.log10(np.abs(np.fft.rfft(window)))
        db = np.nan_to_num(db, nan=0.0, posinf=50.0, neginf=-50.0)
        weights = np.exp(0.1 * (db - logsumexp(db)))
        bands, position, k = [], 16, 1
        while True:
            width = int(1.01 ** k)
            if position + width > 11000:
                break
            if width > 1:
                bands.append(weights[position:position + width].mean())
            position += width
            k += 1
        out.append(bands)
    return np.asarray(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--cold-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--smoke", action="store_true",
                        help="a 3 s track, one warm run: checks the script runs (seconds; CI), no figures")
    args = parser.parse_args()
    if args.smoke:
        args.seconds = min(args.seconds, 3.0)
    if args.cold_child:
        start = time.perf_counter()
        clip = track(args.seconds)
        synth = time.perf_counter() - start
        times = stages(clip)
        times["(synthesising the track)"] = synth
        print(json.dumps(times))
        return
    cold = json.loads(subprocess.run([sys.executable, __file__, "--cold-child", "--seconds", str(args.seconds)],
                                     check=True, capture_output=True, text=True).stdout)
    clip = track(args.seconds)
    stages(clip)  # warm-up
    runs = [stages(clip) for _ in range(1 if args.smoke else 3)]
    warm = {name: min(run[name] for run in runs) for name in runs[0]}  # best of 3: least disturbed by other jobs
    from audiowalk_core.analysis import seed_frame_count

    seed_frames = seed_frame_count(clip.num_samples, SAMPLE_RATE)
    sample_frames = min(10 if args.smoke else 300, seed_frames)
    start = time.perf_counter()
    naive_seed_bands(clip.mono(), SAMPLE_RATE, sample_frames)
    naive_total = (time.perf_counter() - start) * seed_frames / sample_frames
    print(f"track: {args.seconds:g} s stereo {SAMPLE_RATE} Hz; 30 fps; {seed_frames} seed frames")
    print(f"{'feature':50s} {'cold s':>8s} {'warm s':>8s} {'x real time (warm)':>20s}")
    for name, seconds in warm.items():
        print(f"{name:50s} {cold.get(name, float('nan')):8.3f} {seconds:8.3f} {args.seconds / seconds:20.0f}")
    ours = warm["seed bands (405 bands)"]
    print(f"naive per-frame seed bands (float64 loop, extrapolated from {sample_frames} frames): {naive_total:.1f} s")
    print(f"seed bands: {args.seconds / ours:.0f}x real time; {naive_total / ours:.1f}x faster than the naive loop "
          f"(target: >= 300x real time)")
    print(f"all features warm: {warm['all features, improved (compute_features)']:.2f} s improved, "
          f"{warm['all features, seed bands (compute_features)']:.2f} s with seed bands (target: < 4 s)")


if __name__ == "__main__":
    main()
