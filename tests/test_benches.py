"""Benches that cannot rot: every bench/ script runs at its smallest size (``--smoke``: tiny random BigGAN, a few
frames, one round) in a subprocess, so an import or API change breaks CI, not a user's ``make bench``. No speed or
ratio is asserted (speed is never asserted by tests); only that each script runs to the end and prints its table."""
import os
import shutil
import subprocess
import sys

import pytest

from support import REPO_ROOT

BENCHES = sorted(p.name for p in (REPO_ROOT / "bench").glob("bench_*.py"))
# what each prints last, or near the end: the script got through its whole table
LAST_WORDS = {"bench_beat_tracking.py": "peak RSS ratio", "bench_biggan.py": "shared machine", "bench_cli_memory.py": "naive reference", "bench_features.py": "all features warm",
              "bench_generator_vs_commit.py": "median of per-round ratios", "bench_render.py": "medians of 1 rounds",
              "bench_video.py": "frames naive", "bench_music_map.py": "ratio with / before",
              "bench_sd_walk.py": "walk + travel + guidance", "bench_stylegan.py": "frames/s",
              "bench_separation.py": "ratio naive / streaming"}


def test_every_bench_has_a_smoke_check():
    assert BENCHES and set(BENCHES) == set(LAST_WORDS), "a new bench needs --smoke and its line in LAST_WORDS"
    for name in BENCHES:
        assert "--smoke" in (REPO_ROOT / "bench" / name).read_text(), name


@pytest.mark.parametrize("name", BENCHES)
def test_bench_runs_at_its_smallest_size(name, tmp_path):
    if name == "bench_generator_vs_commit.py" and not (REPO_ROOT / ".git").exists():
        pytest.skip("compares against a git commit: needs the repository's history")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
               AUDIOWALK_HOME=str(tmp_path), TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "inductor"))
    done = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / name), "--smoke"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert LAST_WORDS[name] in done.stdout, done.stdout[-2000:]


def test_gpu_check_script_parses():
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    done = subprocess.run(["bash", "-n", str(REPO_ROOT / "bench" / "gpu_check.sh")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
