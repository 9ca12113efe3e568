"""Same pictures as NVlabs' own code: their networks (from a clone outside the project, pointed at by
$AUDIOWALK_NVLABS_STYLEGAN3 and $AUDIOWALK_NVLABS_STYLEGAN2ADA) build and pickle random-weight generators and
render seeds; our loader reads the same .pkl and `audiowalk stylegan-images` renders the same seeds.
Skipped without the clones (CI has none). Target: mean |difference| <= 1 level, 99.9th percentile <= 4."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from audiowalk_tools.cli import main

HERE = Path(__file__).resolve().parent
CASES = [("AUDIOWALK_NVLABS_STYLEGAN2ADA", "ada", 0), ("AUDIOWALK_NVLABS_STYLEGAN3", "sg2", 0),
         ("AUDIOWALK_NVLABS_STYLEGAN3", "sg3t", 0), ("AUDIOWALK_NVLABS_STYLEGAN3", "sg3r", 0),
         ("AUDIOWALK_NVLABS_STYLEGAN3", "sg2", 3), ("AUDIOWALK_NVLABS_STYLEGAN3", "sg3t", 3)]


@pytest.mark.parametrize("psi", ["1.0", "0.7"])
@pytest.mark.parametrize("variable, flavour, c_dim", CASES, ids=[f"{f}-c{c}" for _, f, c in CASES])
def test_images_equal_nvlabs_own_code(tmp_path, variable, flavour, c_dim, psi):
    clone = os.environ.get(variable)
    if not clone:
        pytest.skip(f"set {variable} to a clone of NVlabs' repository to compare against it")
    seeds = "0,1,42"
    for noise in ("const", "none"):
        model, theirs, ours = tmp_path / f"{noise}.pkl", tmp_path / f"theirs-{noise}", tmp_path / f"ours-{noise}"
        subprocess.run([sys.executable, str(HERE / "nvlabs_reference.py"), clone, flavour, str(model), str(theirs),
                        seeds, psi, noise, "64", str(c_dim)], check=True, capture_output=True)
        args = ["stylegan-images", str(model), "--seeds", seeds, "--trunc", psi, "--noise-mode", noise,
                "--outdir", str(ours)] + (["--class", "1"] if c_dim else [])
        assert main(args) == 0
        diff = np.concatenate([np.abs(np.asarray(Image.open(theirs / f"seed{int(s):04d}.png"), np.int16)
                                      - np.asarray(Image.open(ours / f"seed{int(s):04d}.png"), np.int16)).ravel()
                               for s in seeds.split(",")])
        print(f"{flavour} c{c_dim} psi {psi} {noise}: mean |diff| {diff.mean():.4f}, "
              f"p99.9 {np.percentile(diff, 99.9):.1f}, max {diff.max()}")
        assert diff.mean() <= 1.0 and np.percentile(diff, 99.9) <= 4
