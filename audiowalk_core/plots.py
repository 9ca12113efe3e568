"""Pictures that help tune a walk: feature curves with beat marks, class weights and latent motion over time.

Drawn on a ``matplotlib.figure.Figure`` with the Agg canvas directly (never pyplot, never ``matplotlib.use``: that
would change the backend of the whole ComfyUI process).
"""
from __future__ import annotations

import numpy as np


def _figure(rows: int, width_in: float = 10.0, row_height_in: float = 1.6):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, row_height_in * rows), dpi=80)
    FigureCanvasAgg(figure)
    return figure


def figure_to_rgb(figure) -> np.ndarray:
    """Render a Figure to uint8 RGB ``[H, W, 3]``."""
    figure.tight_layout()
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def rgb_to_comfy_image(rgb: np.ndarray):
    """uint8 ``[H, W, 3]`` -> ComfyUI IMAGE float32 tensor ``[1, H, W, 3]`` in [0, 1]."""
    import torch

    return torch.from_numpy(rgb.astype(np.float32) / 255.0)[None]


def plot_features(features, max_seconds: float | None = None) -> np.ndarray:
    """Feature curves over time (seconds) with beat marks: bands (image), rms/onset/beat, harmonic/percussive,
    chroma (image). uint8 ``[H, W, 3]``."""
    fps = float(features.clock.fps)
    frames = features.frame_count if max_seconds is None else min(features.frame_count, int(max_seconds * fps))
    seconds = np.arange(frames) / fps
    extent_end = frames / fps
    figure = _figure(4)
    axes = figure.subplots(4, 1, sharex=True)
    bands = features.curves["bands"][:frames]
    axes[0].imshow(bands.T, aspect="auto", origin="lower", extent=(0, extent_end, 0, bands.shape[1]), cmap="magma")
    axes[0].set_ylabel(f"bands ({features.band_mode})")
    for name in ("rms", "onset", "beat"):
        axes[1].plot(seconds, features.curves[name][:frames], label=name, linewidth=0.8)
    axes[1].legend(loc="upper right", fontsize=7)
    for name in ("harmonic", "percussive"):
        axes[2].plot(seconds, features.curves[name][:frames], label=name, linewidth=0.8)
    axes[2].legend(loc="upper right", fontsize=7)
    axes[3].imshow(features.curves["chroma"][:frames].T, aspect="auto", origin="lower",
                   extent=(0, extent_end, 0, 12), cmap="viridis")
    axes[3].set_yticks(np.arange(12) + 0.5, ["C", "", "D", "", "E", "F", "", "G", "", "A", "", "B"], fontsize=6)
    axes[3].set_ylabel("chroma")
    beats = features.beat_frames[features.beat_frames < frames] / fps
    for axis in axes[1:3]:
        for beat in beats:
            axis.axvline(beat, color="red", alpha=0.25, linewidth=0.6)
    axes[-1].set_xlabel(f"seconds (tempo {features.tempo_bpm:.1f} BPM, {len(features.beat_frames)} beats)")
    return figure_to_rgb(figure)


def plot_latents(latents, labels: dict | None = None) -> np.ndarray:
    """Class weights of the classes used and the latent motion |z_t - z_{t-1}| over time. uint8 ``[H, W, 3]``."""
    from .classes import load_imagenet_labels

    fps = float(latents.clock.fps)
    seconds = (latents.first_frame + np.arange(latents.frame_count)) / fps
    figure = _figure(2)
    axes = figure.subplots(2, 1, sharex=True)
    used = np.nonzero(latents.class_weights.max(axis=0) > 1e-3)[0][:12]
    names = load_imagenet_labels()
    for index in used:
        axes[0].plot(seconds, latents.class_weights[:, index], label=names[index], linewidth=0.9)
    axes[0].set_ylabel("class weight")
    axes[0].legend(loc="upper right", fontsize=7)
    motion = np.zeros(latents.frame_count)
    if latents.frame_count > 1:
        motion[1:] = np.linalg.norm(np.diff(latents.noise, axis=0), axis=1)
    axes[1].plot(seconds, motion, color="black", linewidth=0.8)
    axes[1].set_ylabel("latent motion")
    axes[1].set_xlabel(f"seconds (truncation {latents.truncation:g}, seed {latents.seed})")
    return figure_to_rgb(figure)
