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


PLOT_POINTS = 1600  # at most this many points per curve: a plot is ~800 px wide, a long song has 10,000s of frames


def _frame_step(frames: int) -> int:
    """Frames per plotted point, so a curve of ``frames`` frames has at most PLOT_POINTS points."""
    return max(1, -(-int(frames) // PLOT_POINTS))


def _peaks(values: np.ndarray, step: int) -> np.ndarray:
    """Max over groups of ``step`` rows (keeps onsets and beats visible), float32 ``[ceil(rows/step), ...]``."""
    values = np.asarray(values, np.float32)
    if step == 1:
        return values
    groups = -(-len(values) // step)
    padded = np.full((groups * step,) + values.shape[1:], -np.inf, np.float32)
    padded[:len(values)] = values
    return padded.reshape((groups, step) + values.shape[1:]).max(axis=1)


def plot_features(features, max_seconds: float | None = None) -> np.ndarray:
    """Feature curves over time (seconds) with beat marks: bands (image), rms/onset/beat, harmonic/percussive,
    chroma (image). uint8 ``[H, W, 3]``."""
    fps = float(features.clock.fps)
    frames = features.frame_count if max_seconds is None else min(features.frame_count, int(max_seconds * fps))
    step = _frame_step(frames)
    seconds = np.arange(0, frames, step) / fps
    extent_end = frames / fps
    figure = _figure(4)
    axes = figure.subplots(4, 1, sharex=True)
    bands = _peaks(features.curves["bands"][:frames], step)
    axes[0].imshow(bands.T, aspect="auto", origin="lower", extent=(0, extent_end, 0, bands.shape[1]), cmap="magma")
    axes[0].set_ylabel(f"bands ({features.band_mode})")
    for name in ("rms", "onset", "beat"):
        axes[1].plot(seconds, _peaks(features.curves[name][:frames], step), label=name, linewidth=0.8)
    axes[1].legend(loc="upper right", fontsize=7)
    for name in ("harmonic", "percussive"):
        axes[2].plot(seconds, _peaks(features.curves[name][:frames], step), label=name, linewidth=0.8)
    axes[2].legend(loc="upper right", fontsize=7)
    axes[3].imshow(_peaks(features.curves["chroma"][:frames], step).T, aspect="auto", origin="lower",
                   extent=(0, extent_end, 0, 12), cmap="viridis")
    axes[3].set_yticks(np.arange(12) + 0.5, ["C", "", "D", "", "E", "F", "", "G", "", "A", "", "B"], fontsize=6)
    axes[3].set_ylabel("chroma")
    beats = features.beat_frames[features.beat_frames < frames] / fps
    for axis in axes[1:3]:
        axis.vlines(beats, 0, 1, transform=axis.get_xaxis_transform(), color="red", alpha=0.25, linewidth=0.6)
    axes[-1].set_xlabel(f"seconds (tempo {features.tempo_bpm:.1f} BPM, {len(features.beat_frames)} beats)")
    return figure_to_rgb(figure)


def plot_latents(latents, labels: dict | None = None) -> np.ndarray:
    """Class weights of the classes used and the latent motion |z_t - z_{t-1}| over time. uint8 ``[H, W, 3]``."""
    from .classes import load_imagenet_labels

    fps = float(latents.clock.fps)
    step = _frame_step(latents.frame_count)
    seconds = (latents.first_frame + np.arange(0, latents.frame_count, step)) / fps
    figure = _figure(2)
    axes = figure.subplots(2, 1, sharex=True)
    classes, weights = latents.class_columns()
    used = np.nonzero(weights.max(axis=0) > 1e-3)[0][:12]
    names = load_imagenet_labels()
    for column in used:
        axes[0].plot(seconds, _peaks(weights[:, column], step), label=names[classes[column]], linewidth=0.9)
    axes[0].set_ylabel("class weight")
    axes[0].legend(loc="upper right", fontsize=7)
    motion = np.zeros(latents.frame_count, np.float32)
    for first in range(1, latents.frame_count, 4096):  # in blocks: no [N, 128] difference array at once
        last = min(first + 4096, latents.frame_count)
        motion[first:last] = np.linalg.norm(latents.noise[first:last] - latents.noise[first - 1:last - 1], axis=1)
    axes[1].plot(seconds, _peaks(motion, step), color="black", linewidth=0.8)
    axes[1].set_ylabel("latent motion")
    axes[1].set_xlabel(f"seconds (truncation {latents.truncation:g}, seed {latents.seed})")
    return figure_to_rgb(figure)
