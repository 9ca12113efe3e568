"""Temporal smoothing of per-frame curves or latents (first axis = frames)."""
from __future__ import annotations

import math

import numpy as np

from .errors import AudioWalkInputError, require_choice
from .settings import DEFAULTS, SMOOTHING_METHODS, SMOOTHING_TARGETS  # noqa: F401 - re-exported


def _frames_array(values, input_name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0 or len(array) == 0:
        raise AudioWalkInputError(input_name, "has no frames", "an array [frames] or [frames, K]")
    if not np.isfinite(array).all():
        raise AudioWalkInputError(input_name, "contains NaN or infinite values", "finite values")
    return array


def smooth_ema(values, attack_frames: float, release_frames: float, input_name: str = "latents") -> np.ndarray:
    """Exponential smoothing with separate time constants (frames) for rising (attack) and falling (release)
    values, per column. 0 frames = follow at once. Returns float32 of the input's shape."""
    for name, frames in (("attack_frames", attack_frames), ("release_frames", release_frames)):
        if not math.isfinite(float(frames)) or float(frames) < 0:
            raise AudioWalkInputError(name, f"{frames!r} is negative or not finite", "a time constant >= 0 frames")
    array = np.asarray(values)
    if array.ndim == 0 or len(array) == 0:
        raise AudioWalkInputError(input_name, "has no frames", "an array [frames] or [frames, K]")
    flat = array.reshape(len(array), -1)
    up = 1.0 - math.exp(-1.0 / attack_frames) if attack_frames > 0 else 1.0
    down = 1.0 - math.exp(-1.0 / release_frames) if release_frames > 0 else 1.0
    out = np.empty(flat.shape, np.float32)  # the state runs in float64, one row at a time: no song-sized copy
    state = flat[0].astype(np.float64)
    if not np.isfinite(state).all():
        raise AudioWalkInputError(input_name, "contains NaN or infinite values", "finite values")
    out[0] = state
    for frame in range(1, len(flat)):
        delta = flat[frame] - state
        state += np.where(delta > 0, up, down) * delta
        out[frame] = state
    if not np.isfinite(state).all():  # a NaN or infinity anywhere reaches the last state
        raise AudioWalkInputError(input_name, "contains NaN or infinite values", "finite values")
    return out.reshape(array.shape)


def smooth_gaussian(values, sigma_frames: float, input_name: str = "latents") -> np.ndarray:
    """Gaussian smoothing along frames (sigma in frames; 0 = unchanged), edges held. float32, input's shape."""
    from scipy.ndimage import gaussian_filter1d

    if not math.isfinite(float(sigma_frames)) or float(sigma_frames) < 0:
        raise AudioWalkInputError("sigma_frames", f"{sigma_frames!r} is negative or not finite", "a sigma >= 0 frames")
    array = _frames_array(values, input_name)
    if sigma_frames == 0:
        return array.astype(np.float32)
    return gaussian_filter1d(array, float(sigma_frames), axis=0, mode="nearest").astype(np.float32)


def smooth_latents(latents, method: str = DEFAULTS.smoothing_method, target: str = DEFAULTS.smoothing_target, *,
                   attack_frames: float = DEFAULTS.attack_frames, release_frames: float = DEFAULTS.release_frames,
                   sigma_frames: float = DEFAULTS.sigma_frames):
    """A copy of WalkLatents with its noise, class weights or both smoothed over time (``method`` "ema" with
    attack/release frames, "gaussian" with sigma frames, or "none": the latents as they are); smoothed class weights
    are renormalised to sum to 1. Smoothing runs over the whole song, so a slice of the result equals those rows of
    any longer render."""
    import dataclasses

    require_choice("method", method, SMOOTHING_METHODS)
    require_choice("target", target, SMOOTHING_TARGETS)
    if method == "none":
        return latents

    def apply(values):
        if method == "ema":
            return smooth_ema(values, attack_frames, release_frames, "latents")
        return smooth_gaussian(values, sigma_frames, "latents")

    noise = apply(latents.noise) if target in ("noise", "both") else latents.noise
    classes = latents.class_weights
    if target in ("classes", "both"):
        # EMA with attack != release lets rising classes outrun falling ones: keep each frame a mix summing to 1
        classes = apply(classes)
        totals = classes.sum(axis=1, keepdims=True)
        classes = np.where(totals > 0, classes / np.where(totals > 0, totals, 1.0), classes).astype(np.float32)
    return dataclasses.replace(latents, noise=noise, class_weights=classes)
