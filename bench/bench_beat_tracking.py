"""The Beat This! neural beat tracker against the DSP one: seconds per minute of audio on this machine, and peak
memory against the song's length.

1. Speed, in this process, best of ``--runs``: Audio Features of a synthetic song (44.1 kHz stereo: chords and a
   kick at 120 BPM) with ``beat_tracker`` dsp and with the neural tracker (the published final architecture with
   random weights: the real cost, meaningless beats), and the neural stage's parts (log-mel front end, network
   over the 30 s chunks, post-processing). The ratio: neural Audio Features / DSP Audio Features.
2. Memory: ``audiowalk features SONG --beat-tracker beat_this`` in a fresh process per song length (``--minutes``),
   the checkpoint in a temporary ``$AUDIOWALK_HOME/models/beat_this``; peak RSS (ru_maxrss), and the ratio of the
   longest song's to the shortest's.

    .venv/bin/python bench/bench_beat_tracking.py                   # 60 s for speed; 1 and 10 minutes memory
    .venv/bin/python bench/bench_beat_tracking.py --model small --seconds 180
    .venv/bin/python bench/bench_beat_tracking.py --smoke           # seconds: a narrow network without the front
                                                                    # end's attention, 8 and 16 s songs
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other benches' song writer, meters and timer
from bench_cli_memory import peak_mib, write_long_song  # noqa: E402
from bench_music_map import best_of  # noqa: E402


def save_random_checkpoint(path: Path, config) -> Path:
    """A Lightning-layout checkpoint of a randomly initialised network of ``config``."""
    import torch

    from audiowalk_core.beat_tracking.network import BeatThisNetwork

    torch.manual_seed(0)
    network = BeatThisNetwork(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {"model." + k: v for k, v in network.state_dict().items()},
                "hyper_parameters": config.to_dict()}, path)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="song length for the speed part (default 60)")
    parser.add_argument("--model", choices=("final", "small"), default="final", help="architecture (default final)")
    parser.add_argument("--minutes", default="1,10", help="song lengths of the memory part (default 1,10)")
    parser.add_argument("--runs", type=int, default=2, help="best of this many runs (default 2)")
    parser.add_argument("--smoke", action="store_true", help="a narrow network, short songs, one run (CI)")
    args = parser.parse_args(argv)
    import torch

    from audiowalk_core.analysis import compute_features
    from audiowalk_core.audio_file import close_clip, load_audio_to_disk
    from audiowalk_core.beat_tracking import load_beat_tracker
    from audiowalk_core.beat_tracking.config import BeatThisConfig
    from audiowalk_core.beat_tracking.inference import beats_from_logits, frame_logits
    from audiowalk_core.beat_tracking.spectrogram import log_mel_spectrogram

    if args.smoke:
        config = BeatThisConfig(transformer_dim=32, n_layers=1, partial_transformers=False)
        seconds, minutes, runs = 8.0, [8 / 60, 16 / 60], 1
    else:
        config = BeatThisConfig(transformer_dim=512 if args.model == "final" else 128)
        seconds, minutes, runs = args.seconds, [float(m) for m in args.minutes.split(",")], args.runs
    with tempfile.TemporaryDirectory(prefix="bench-beat-tracking-") as scratch:
        home = Path(scratch)
        save_random_checkpoint(home / "models" / "beat_this" / "final0.ckpt", config)
        tracker = load_beat_tracker("beat_this", [home / "models" / "beat_this"], allow_download=False, device="cpu")
        song_path = write_long_song(home / "song.wav", seconds)
        clip = load_audio_to_disk(song_path, home, input_name="song")
        try:
            compute_features(clip, 30)  # warm-up: imports, FFT plans, the network's first pass
            frame_logits(tracker.network, np.zeros((100, 128), np.float32))
            dsp, _ = best_of(runs, compute_features, clip, 30)
            neural, features = best_of(runs, compute_features, clip, 30, beat_tracker="beat_this", beat_model=tracker)
            reader = clip.mono_reader()
            front, spect = best_of(runs, log_mel_spectrogram, reader, clip.num_samples, clip.sample_rate)
            network, logits = best_of(runs, frame_logits, tracker.network, spect)
            post, _ = best_of(runs, beats_from_logits, *logits)
        finally:
            close_clip(clip)
        per_minute = 60.0 / seconds
        print(f"song: {seconds:.0f} s stereo 44100 Hz at 30 fps; Beat This! {config.transformer_dim} wide, "
              f"{sum(p.numel() for p in tracker.network.parameters()):,} parameters (random weights) on the CPU "
              f"({torch.get_num_threads()} threads); best of {runs}")
        print(f"{'stage':52s} {'seconds':>8s} {'s per minute':>13s}")
        for label, value in (("Audio Features, beat_tracker dsp", dsp),
                             ("Audio Features, beat_tracker beat_this", neural),
                             ("  neural: log-mel front end (resample + STFT + mel)", front),
                             (f"  neural: network, {int(np.ceil(len(spect) / 1488))} chunk(s) of 30 s", network),
                             ("  neural: minimal post-processing", post)):
            print(f"{label:52s} {value:8.2f} {value * per_minute:13.2f}")
        print(f"ratio neural / dsp Audio Features: {neural / dsp:.2f}x ({len(features.beat_seconds)} beats, "
              f"meter {features.meter})")

        env = dict(os.environ, AUDIOWALK_HOME=str(home))
        peaks = []
        for length in minutes:
            song = write_long_song(home / f"song-{length:g}.wav", length * 60.0)
            argv = [sys.executable, "-m", "audiowalk_tools.cli", "features", str(song), "--fps", "1",
                    "--beat-tracker", "beat_this"]
            peak, wall, _ = peak_mib(argv, env)
            peaks.append(peak)
            print(f"audiowalk features --beat-tracker beat_this, {length * 60:6.0f} s song: peak RSS {peak:7.1f} MiB "
                  f"({wall:.1f} s)")
        print(f"peak RSS ratio {minutes[-1] * 60:.0f} s / {minutes[0] * 60:.0f} s song: {peaks[-1] / peaks[0]:.2f}x")


if __name__ == "__main__":
    main()
