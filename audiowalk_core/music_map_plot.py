"""The Music Map picture: loudness, each stem's energy, beats, downbeats and labelled sections on one time axis.

A ``matplotlib.figure.Figure`` with the Agg canvas directly (never pyplot). Readable from a minute to ten: curves
are reduced to at most plots.PLOT_POINTS points (peaks kept), beats are drawn only while they are at least ~3 px
apart (downbeats while bars are), section labels sit in their spans, and time ticks read minutes:seconds.
"""
from __future__ import annotations

import numpy as np

from .plots import _frame_step, _peaks, figure_to_rgb

SECTION_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7",
                   "#9c755f", "#bab0ac")
_WIDTH_PX = 1200
_DPI = 100


def _minutes_seconds(value, _position=None) -> str:
    return f"{int(value // 60)}:{int(value % 60):02d}"


def plot_music_map(features, stem_energy: dict | None = None, title: str = "") -> np.ndarray:
    """uint8 RGB ``[H, W, 3]``: a sections strip (coloured spans with their labels), loudness (rms) with beats and
    downbeats, then one row per stem of ``stem_energy`` {name: [frames] in [0, 1]} on the same axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    stem_energy = dict(stem_energy or {})
    fps = float(features.clock.fps)
    frames = features.frame_count
    duration = frames / fps if frames else 1.0
    step = _frame_step(frames)
    seconds = np.arange(0, frames, step) / fps
    ratios = [0.6, 1.6] + [0.8] * len(stem_energy)
    figure = Figure(figsize=(_WIDTH_PX / _DPI, 0.9 * sum(ratios) + 0.9), dpi=_DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    axes = np.atleast_1d(axes)
    sections = tuple(getattr(features, "sections", ()) or ())
    distinct = []
    for section in sections:
        if section.label not in distinct:
            distinct.append(section.label)
    strip = axes[0]
    for section in sections:
        colour = SECTION_COLOURS[distinct.index(section.label) % len(SECTION_COLOURS)]
        strip.axvspan(section.start_seconds, section.end_seconds, color=colour, alpha=0.85, linewidth=0)
        for axis in axes[1:]:
            axis.axvspan(section.start_seconds, section.end_seconds, color=colour, alpha=0.10, linewidth=0)
        width_px = (section.end_seconds - section.start_seconds) / duration * _WIDTH_PX * 0.85
        if width_px > 14:
            strip.text(0.5 * (section.start_seconds + section.end_seconds), 0.5, section.label, ha="center",
                       va="center", fontsize=10 if width_px > 30 else 7, color="white", fontweight="bold")
    strip.set_yticks([])
    strip.set_ylabel("sections", fontsize=8)
    meter = int(getattr(features, "meter", 0) or 0)
    strip.set_title(title or f"{len(sections)} sections ({', '.join(distinct)}), tempo {features.tempo_bpm:.1f} BPM"
                    + (f", {meter}/4" if meter else "") + f", {duration / 60:.1f} min", fontsize=9)

    loud = axes[1]
    if "rms" in features.curves and frames:
        rms = _peaks(features.curves["rms"], step)
        loud.fill_between(seconds, 0, rms, color="#555555", alpha=0.6, linewidth=0)
    pixels_per_second = _WIDTH_PX * 0.85 / duration
    beats = np.asarray(getattr(features, "beat_seconds", ()), np.float64)
    if len(beats) == 0:
        beats = np.asarray(features.beat_frames, np.float64) / fps
    downbeats = np.asarray(getattr(features, "downbeat_seconds", ()), np.float64)
    if len(beats) > 1 and np.median(np.diff(beats)) * pixels_per_second >= 2.5:
        loud.vlines(beats, 0.9, 1.0, transform=loud.get_xaxis_transform(), color="#1f3b8f", linewidth=0.6)
    if len(downbeats) > 1 and np.median(np.diff(downbeats)) * pixels_per_second >= 3:
        loud.vlines(downbeats, 0, 0.9, transform=loud.get_xaxis_transform(), color="#d62728", linewidth=0.5,
                    alpha=0.6)
    loud.set_ylim(0, 1.05)
    loud.set_ylabel("loudness\nbeats (blue, top)\ndownbeats (red)", fontsize=7)
    for axis, (name, energy) in zip(axes[2:], stem_energy.items()):
        values = _peaks(np.asarray(energy, np.float32)[:frames], step)
        axis.fill_between(seconds[:len(values)], 0, values, color="#2a9d8f", alpha=0.8, linewidth=0)
        axis.set_ylim(0, 1.05)
        axis.set_ylabel(name, fontsize=8)
        axis.set_yticks([])
    for axis in axes:
        axis.set_xlim(0, duration)
        axis.tick_params(labelsize=7)
    tick = next((t for t in (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600) if duration / t <= 16), 1200)
    axes[-1].xaxis.set_major_locator(MultipleLocator(tick))
    axes[-1].xaxis.set_major_formatter(FuncFormatter(_minutes_seconds))
    axes[-1].set_xlabel("time (minutes:seconds)", fontsize=8)
    return figure_to_rgb(figure)
