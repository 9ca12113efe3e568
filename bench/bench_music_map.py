"""What the music map (beats with drifting tempo, downbeats, meter, sections) adds to the feature analysis.

On a synthetic song of ``--seconds`` (44.1 kHz stereo, sections A B A B C ..., a tempo change), best of three runs
in this process: the whole analysis (compute_features, music map included), the music map stage alone
(analyse_music_map on the same STFT tables), and the stage it replaced (the global-tempo beat tracker,
estimate_tempo + track_beats, in onsets.py), and the DSP stem separation per minute of audio. The ratio "with / before" compares the analysis as it is with
the analysis as it was (whole - music map + old beat stage): the issue's budget is 2x.

    .venv/bin/python bench/bench_music_map.py [--seconds 180] [--smoke]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def best_of(runs: int, function, *args, **kwargs) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=180.0, help="song length (default 180 s)")
    parser.add_argument("--smoke", action="store_true", help="a 20-second song, one run: finishes in seconds")
    args = parser.parse_args()
    from audiowalk_core import analysis
    from audiowalk_core.audio import AudioClip
    from audiowalk_core.music_map import analyse_music_map
    from audiowalk_tools.synthetic_songs import synthesize_song

    seconds = 20.0 if args.smoke else args.seconds
    runs = 1 if args.smoke else 3
    sample_rate = 44100
    bars = max(int(seconds / 2.2), 5)
    plan = [("A", 0), ("B", 0), ("A", 0), ("B", 0), ("C", 0)]
    per = bars // len(plan)
    sections = tuple((label, per if i < len(plan) - 1 else bars - per * (len(plan) - 1))
                     for i, (label, _) in enumerate(plan))
    song = synthesize_song(sections, bpm=(116, 100), sample_rate=sample_rate)
    stereo = np.stack([song.mix, 0.9 * song.mix]).astype(np.float32)
    clip = AudioClip(stereo, sample_rate)
    analysis.compute_features(clip, 30)  # warm-up (imports, FFT plans)
    whole, features = best_of(runs, analysis.compute_features, clip, 30)

    n_fft, _ = analysis._stft_size(sample_rate)
    tables = analysis._StftTables(clip.mono(), sample_rate, analysis.improved_band_edges(sample_rate, n_fft, 48))
    low_hz = analysis._log_band_matrix(sample_rate, n_fft)[0] * sample_rate / n_fft
    music_map, _ = best_of(runs, analyse_music_map, tables.log_bands, tables.chroma, tables.frame_times(),
                           n_fft / sample_rate, low_hz, clip.duration_seconds)
    onset = analysis.onset_strength(tables.log_bands)
    rate = sample_rate / tables.hop

    def old_beats():
        return analysis.track_beats(onset, rate, analysis.estimate_tempo(onset, rate))

    old, _ = best_of(runs, old_beats)
    before = whole - music_map + old
    print(f"song: {song.seconds:.1f} s stereo {sample_rate} Hz, 30 fps, {len(features.sections)} sections "
          f"({' '.join(s.label for s in features.sections)}), meter {features.meter}, "
          f"tempo {features.tempo_bpm:.1f} BPM; best of {runs}")
    print(f"{'stage':58s} {'seconds':>8s}")
    print(f"{'whole analysis with the music map (compute_features)':58s} {whole:8.3f}")
    print(f"{'music map alone (beats, downbeats, meter, sections)':58s} {music_map:8.3f}")
    print(f"{'the beat stage it replaced (estimate_tempo + track_beats)':58s} {old:8.3f}")
    print(f"{'analysis as it was (whole - music map + old beat stage)':58s} {before:8.3f}")
    print(f"ratio with / before: {whole / before:.2f}x (budget: under 2x)")
    from audiowalk_core.separation.hpss import hpss_separate

    separation, _ = best_of(1, hpss_separate, clip, 30.0)
    print(f"DSP separation (hpss, stereo, 30 s blocks): {separation:.2f} s, "
          f"{separation / (song.seconds / 60):.2f} s per minute of audio")


if __name__ == "__main__":
    main()
