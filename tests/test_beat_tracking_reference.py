"""Our Beat This! against the beat_this package itself (skipped unless AUDIOWALK_BEAT_THIS_PYTHON names a Python
with beat_this installed, e.g. a venv outside the repository with torch and torchaudio of one release,
``pip install torch==2.9.1 torchaudio==2.9.1 beat-this``).

Their code builds a random network, saves it as a Lightning checkpoint, and runs their whole inference on a
synthetic song (65 s: three chunks); ours loads that file strictly and must give the same spectrogram, logits,
beats and downbeats."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

REFERENCE_PYTHON = os.environ.get("AUDIOWALK_BEAT_THIS_PYTHON")
pytestmark = pytest.mark.skipif(not REFERENCE_PYTHON, reason="set AUDIOWALK_BEAT_THIS_PYTHON to a Python with "
                                                             "beat_this installed")


def synthetic_song(sample_rate: int, seconds: float = 65.0) -> np.ndarray:
    """Kicks at 120 BPM (the first of each four louder), a bass note per bar, hats, noise: float32 mono."""
    rng = np.random.default_rng(3)
    samples = int(seconds * sample_rate)
    song = 0.02 * rng.standard_normal(samples)
    t = np.arange(int(0.25 * sample_rate)) / sample_rate
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
    hat = rng.standard_normal(len(t)) * np.exp(-t * 80) * 0.2
    for beat, start in enumerate(np.arange(0.3, seconds - 0.3, 0.5)):
        at = int(start * sample_rate)
        stop = min(at + len(t), samples)
        song[at:stop] += (1.0 if beat % 4 == 0 else 0.5) * kick[:stop - at]
        quarter = min(at + int(0.25 * sample_rate), samples)
        song[quarter:min(quarter + len(t), samples)] += hat[:min(len(t), samples - quarter)]
        if beat % 4 == 0:
            song[at:min(at + 4 * len(t), samples)] += 0.2 * np.sin(
                2 * np.pi * 55 * np.arange(min(4 * len(t), samples - at)) / sample_rate)
    return (song / np.abs(song).max() * 0.8).astype(np.float32)


@pytest.mark.parametrize("sample_rate,width", [(22050, 512), (44100, 128)])
def test_our_beat_this_equals_theirs_on_a_checkpoint_they_saved(tmp_path, sample_rate, width):
    from audiowalk_core.beat_tracking.inference import beats_from_logits, frame_logits
    from audiowalk_core.beat_tracking.network import BeatThisNetwork
    from audiowalk_core.beat_tracking.spectrogram import log_mel_spectrogram
    from audiowalk_core.beat_tracking.store import read_checkpoint

    song = synthetic_song(sample_rate)
    np.save(tmp_path / "song.npy", song)
    script = Path(__file__).resolve().parent / "beat_this_reference.py"
    subprocess.run([REFERENCE_PYTHON, str(script), str(tmp_path / "song.npy"), str(sample_rate), str(width),
                    str(tmp_path / "theirs.ckpt"), str(tmp_path / "theirs.npz")], check=True, timeout=900)
    theirs = np.load(tmp_path / "theirs.npz")

    config, state = read_checkpoint(tmp_path / "theirs.ckpt")  # strict: every key and shape
    assert config.transformer_dim == width
    network = BeatThisNetwork(config)
    network.load_state_dict(state, strict=True)
    network.eval()

    spect = log_mel_spectrogram(lambda first, stop: song[first:stop], len(song), sample_rate)
    assert spect.shape == theirs["spect"].shape == (1 + int(np.ceil(len(song) * 22050 / sample_rate)) // 441, 128)
    difference = np.abs(spect - theirs["spect"])
    if sample_rate == 22050:  # the same samples: torchaudio's float32 filterbank and FFT against ours
        assert difference.max() < 1e-3, difference.max()
    else:  # their soxr resampler against scipy's polyphase one: the same spectrogram up to the filters' ripple
        assert np.median(difference) < 1e-4 and np.percentile(difference, 99) < 0.05 and difference.max() < 0.15

    # their spectrogram through our network and chunking: the logits they got
    beat, downbeat = frame_logits(network, theirs["spect"])
    assert np.abs(beat - theirs["beat"]).max() < 1e-4 and np.abs(downbeat - theirs["downbeat"]).max() < 1e-4
    beats, downbeats = beats_from_logits(beat, downbeat)
    assert len(theirs["beats"]) > 20 and len(theirs["downbeats"]) > 5
    assert np.array_equal(beats, theirs["beats"]) and np.array_equal(downbeats, theirs["downbeats"])

    # all ours, from the samples: the same beats, allowing a frame where a peak nearly ties
    ours_beat, ours_downbeat = frame_logits(network, spect)
    ours_beats, _ = beats_from_logits(ours_beat, ours_downbeat)
    matched = np.mean([np.min(np.abs(theirs["beats"] - b)) <= 0.02 + 1e-9 for b in ours_beats])
    assert abs(len(ours_beats) - len(theirs["beats"])) <= 0.05 * len(theirs["beats"]) and matched > 0.95, matched
