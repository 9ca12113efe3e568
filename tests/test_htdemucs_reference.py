"""Our HTDemucs against demucs' own code: a random-weight HTDemucs built by demucs' class, written in the format
demucs 4.1 downloads (.safetensors, float16, JSON settings; demucs' own reader loads it back), is loaded by our
loader and separates a mix of several segments; demucs' Separator-style apply_model (whole-song normalisation,
split, overlap 0.25, shifts 0) separates the same mix; the stems must agree within float rounding.

Skipped unless AUDIOWALK_DEMUCS_PYTHON names a Python with demucs installed (``pip install demucs``; outside the
pack's environment). AUDIOWALK_DEMUCS_FULL=1 adds the published htdemucs architecture (minutes on a CPU).
"""
import json
import os
import subprocess
from fractions import Fraction

import numpy as np
import pytest

from audiowalk_core.audio import AudioClip
from audiowalk_core.separation.htdemucs.config import PUBLISHED_CONFIGS
from audiowalk_core.separation.htdemucs.runtime import load_shared_htdemucs
from audiowalk_core.separation.neural import separate_segments
from htdemucs_support import TINY_KWARGS, noise_mix
from support import REPO_ROOT

PYTHON = os.environ.get("AUDIOWALK_DEMUCS_PYTHON")
pytestmark = pytest.mark.skipif(not PYTHON, reason="AUDIOWALK_DEMUCS_PYTHON (a Python with demucs) is not set")

CASES = {"tiny": (dict(TINY_KWARGS, sources=["drums", "bass"]), 3.7),
         "htdemucs": ({**PUBLISHED_CONFIGS["htdemucs"].to_kwargs(), "t_dropout": 0.02}, 17.0)}


def _kwargs_json(kwargs: dict, seed: int) -> str:
    plain = {key: (list(value) if isinstance(value, tuple) else value) for key, value in kwargs.items()}
    segment = Fraction(plain["segment"])
    plain["segment"] = [segment.numerator, segment.denominator]
    return json.dumps({**plain, "seed": seed})


@pytest.mark.parametrize("case", ["tiny", "htdemucs"])
def test_our_htdemucs_separates_as_demucs_does(case, tmp_path):
    if case == "htdemucs" and os.environ.get("AUDIOWALK_DEMUCS_FULL") != "1":
        pytest.skip("the full architecture takes minutes on a CPU: set AUDIOWALK_DEMUCS_FULL=1")
    kwargs, seconds = CASES[case]
    rate = int(kwargs["samplerate"])
    (tmp_path / "config.json").write_text(_kwargs_json(kwargs, seed=5))
    models = tmp_path / "models"
    models.mkdir()
    mix = noise_mix(seconds, rate, seed=2)
    np.save(tmp_path / "mix.npy", mix)
    done = subprocess.run([PYTHON, str(REPO_ROOT / "tests" / "demucs_reference.py"), str(tmp_path / "config.json"),
                           str(models / "theirs.safetensors"), str(tmp_path / "mix.npy"), str(tmp_path / "out.npy"),
                           "0.25", "0"], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = np.load(tmp_path / "out.npy")  # [sources, channels, samples]

    handle = load_shared_htdemucs("theirs.safetensors", [models], device="cpu")
    parts = {name: [] for name in handle.sources}
    count = separate_segments(AudioClip(mix, rate), handle.runner(), sources=handle.sources, model_rate=rate,
                              segment=handle.config.segment_samples, write=lambda blocks: [
                                  parts[name].append(block) for name, block in blocks.items()])
    ours = np.stack([np.concatenate(parts[name], axis=1) for name in handle.sources])
    difference = float(np.abs(ours - theirs).max())
    print(f"\n{case}: {count} segments, {ours.shape}, max abs difference to demucs {difference:.3g} "
          f"(largest sample {np.abs(theirs).max():.3g})")
    assert ours.shape == theirs.shape and count > 2
    assert difference < 1e-5 * max(1.0, float(np.abs(theirs).max()))
