"""Helpers shared by the tests: load the node pack as ComfyUI does, and synthesise signals with known answers."""
from __future__ import annotations

from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
PACK_NAME = "audiowalk_pack"


def load_pack():
    """Import the repo root as a package (as ComfyUI imports custom_nodes/<folder>), without touching sys.path."""
    from audiowalk_tools.workflow_tools import import_node_pack

    return import_node_pack(REPO_ROOT, PACK_NAME)


def sine(freq_hz: float, seconds: float, sample_rate: int = 22050, amplitude: float = 0.5) -> np.ndarray:
    """Mono float32 sine."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def clicks(bpm: float, seconds: float, sample_rate: int = 22050, first_click_s: float = 0.5,
           click_ms: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Mono float32 click track (decaying noise bursts) and the click times in seconds."""
    n = int(round(seconds * sample_rate))
    out = np.zeros(n, np.float32)
    period = 60.0 / bpm
    times = np.arange(first_click_s, seconds - 0.05, period)
    rng = np.random.default_rng(0)
    length = int(click_ms * 1e-3 * sample_rate)
    envelope = np.exp(-np.arange(length) / (length / 5)).astype(np.float32)
    for t in times:
        start = int(round(t * sample_rate))
        seg = out[start:start + length]
        seg += (0.9 * rng.standard_normal(len(seg)) * envelope[:len(seg)]).astype(np.float32)
    return out, times


def write_wav(path, samples: np.ndarray, sample_rate: int) -> Path:
    """Write float samples ([n] or [channels, n]) as a 16-bit wav with soundfile."""
    import soundfile

    data = samples if samples.ndim == 1 else samples.T
    soundfile.write(str(path), data, sample_rate, subtype="PCM_16")
    return Path(path)


def save_tiny_biggan(folder) -> Path:
    """Save a tiny random BigGAN (the real architecture at channel width 4, 32 px) in ``folder`` under the name
    biggan-deep-128, as renders look it up; returns the folder."""
    from audiowalk_core.biggan import build_random_biggan, save_biggan_safetensors, tiny_config

    folder = Path(folder)
    config = tiny_config()
    save_biggan_safetensors(build_random_biggan(config, 0), config, folder / "biggan-deep-128.safetensors")
    return folder
