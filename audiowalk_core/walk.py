"""Noise walks: per-frame BigGAN noise vectors [frames, 128] driven by audio features.

Two modes:
- ``seed``: the notebook's steps 6-7 exactly (docs/seed_algorithm.md), but seeded: a bank of one vector per band
  (truncated normal in [-2, 2] times ``truncation``, or a bank given as is), greedily chained by Pearson
  correlation, smoothed across the band index, ``z_t = clip(sum_b w_tb v_b, -1, 1)``.
- ``improved``: a still base latent that the music moves. Band energies push it along the (smoothed) band vectors,
  normalised by the square root of the band count so the sum stays in range; onsets kick it ("pulse": instant
  attack, exponential release) in a direction that changes on every beat; loudness makes it drift ("motion": the
  accumulated RMS is the position along a smooth seeded path). Silence gives the same latent on every frame.

Every random draw comes from ``numpy.random.default_rng(seed)``; everything recursive runs over the whole song,
so a frame range sliced from the result equals those rows of any longer render with the same inputs.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import AudioWalkInputError, require_choice
from .features import AudioFeatures
from .latents import NOISE_DIM
from .settings import CHAIN_ORDERS, DEFAULTS, WALK_MODES  # noqa: F401 - re-exported


def check_truncation(truncation: float) -> float:
    """``truncation`` as float; AudioWalkInputError unless it is in (0, 1]."""
    value = float(truncation)
    if not (0.0 < value <= 1.0) or not math.isfinite(value):
        raise AudioWalkInputError("truncation", f"{truncation!r} is outside (0, 1]", "a truncation in (0, 1], e.g. 0.7")
    return value


def _finite_curve(features: AudioFeatures, name: str) -> np.ndarray:
    values = np.asarray(features.curve(name, "features"), dtype=np.float64)
    if not np.isfinite(values).all():
        raise AudioWalkInputError("features", f"curve {name!r} contains NaN or infinite values",
                                  "finite feature curves (recompute the features from valid audio)")
    return values


def noise_bank(band_count: int, truncation: float, rng: np.random.Generator) -> np.ndarray:
    """``band_count`` noise vectors [B, 128] from a normal truncated to [-2, 2], times ``truncation`` (float64)."""
    from scipy.stats import truncnorm

    return truncnorm.rvs(-2.0, 2.0, size=(band_count, NOISE_DIM), random_state=rng) * truncation


def chain_order(vectors: np.ndarray, order: str = "lowest_correlation") -> np.ndarray:
    """The notebook's greedy chain through the rows of ``vectors`` [B, D]; returns the B row indices in chain order.

    The reference starts as row 0 and the pool holds every row, row 0 included. Each step takes the pooled row with
    the lowest (the notebook's rule; ``order="highest_correlation"``: the highest, what its comment meant) Pearson
    correlation with the reference, first index on ties, appends it, removes it from the pool and makes it the
    reference. With "lowest" the chain does not start with row 0; with "highest" row 0 picks itself first.
    ``order="none"`` keeps the rows as they are.
    """
    require_choice("chain_order", order, CHAIN_ORDERS)
    vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        raise AudioWalkInputError("bank", f"vectors of shape {vectors.shape}", "a 2-D bank [bands, 128]")
    count = len(vectors)
    if order == "none" or count < 2:
        return np.arange(count)
    correlation = np.corrcoef(vectors)
    if order == "highest_correlation":
        np.fill_diagonal(correlation, np.inf)  # row 0 first even when another row correlates as well
    pooled = np.ones(count, bool)
    pick = np.argmin if order == "lowest_correlation" else np.argmax
    excluded = np.inf if order == "lowest_correlation" else -np.inf
    chain = []
    reference = 0
    for _ in range(count):
        candidates = np.where(pooled, correlation[reference], excluded)
        reference = int(pick(candidates))  # argmin/argmax return the first index on ties
        chain.append(reference)
        pooled[reference] = False
    return np.asarray(chain, np.int64)


def smooth_across_bands(vectors: np.ndarray, smoothing_factor: float, iterations: int) -> np.ndarray:
    """``iterations`` passes of ``v[b] = s * v[b-1] + (1 - s) * v[b]`` for b = 1.. in order, in place as the seed's
    loop did (each band mixes with its already-updated neighbour), on a copy."""
    if not (0.0 <= float(smoothing_factor) <= 1.0):
        raise AudioWalkInputError("smoothing_factor", f"{smoothing_factor!r} is outside [0, 1]", "a value in [0, 1]")
    if int(iterations) < 0:
        raise AudioWalkInputError("iterations", f"{iterations!r} is negative", "0 or more passes")
    out = np.array(vectors, dtype=np.float64)
    s = float(smoothing_factor)
    for _ in range(int(iterations)):
        for band in range(1, len(out)):
            out[band] = s * out[band - 1] + (1.0 - s) * out[band]
    return out


def seed_noise_walk(band_weights: np.ndarray, *, bank: np.ndarray | None = None, seed: int = 0,
                    truncation: float = 0.7, smoothing_factor: float = 0.1, iterations: int = 1,
                    chain: str = "lowest_correlation") -> np.ndarray:
    """The notebook's walk (steps 6-7) from band weights [frames, B]: float32 noise [frames, 128] in [-1, 1].

    ``bank`` [B, 128]: the noise vectors, used as given (already multiplied by the truncation, as the notebook's
    draw returns them; not scaled again). None draws it from ``seed``: a normal truncated to [-2, 2], times
    ``truncation``. The bank is put in :func:`chain_order`, smoothed across the band index in place
    (:func:`smooth_across_bands`), and ``z_t = clip(sum_b w_tb v_b, -1, 1)``.
    """
    weights = np.asarray(band_weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[1] == 0 or not np.isfinite(weights).all():
        raise AudioWalkInputError("features", f"band weights of shape {weights.shape} (or with non-finite values)",
                                  "finite bands [frames, B >= 1]")
    if bank is None:
        truncation = check_truncation(truncation)
        bank = noise_bank(weights.shape[1], truncation, np.random.default_rng(int(seed)))
    else:
        bank = np.asarray(bank, dtype=np.float64)
        if bank.shape != (weights.shape[1], NOISE_DIM) or not np.isfinite(bank).all():
            raise AudioWalkInputError("bank", f"a bank of shape {bank.shape} (or with non-finite values) for "
                                      f"{weights.shape[1]} bands", f"finite vectors [{weights.shape[1]}, {NOISE_DIM}]")
    bank = smooth_across_bands(bank[chain_order(bank, chain)], smoothing_factor, iterations)
    return np.clip(weights @ bank, -1.0, 1.0).astype(np.float32)


def release_envelope(values: np.ndarray, release_frames: float) -> np.ndarray:
    """Instant attack, exponential release: ``e_t = max(x_t, e_{t-1} * exp(-1 / release_frames))`` over [frames]."""
    decay = math.exp(-1.0 / max(float(release_frames), 1e-6))
    out = np.empty(len(values), np.float64)
    level = 0.0
    for index, value in enumerate(values):
        level = max(float(value), level * decay)
        out[index] = level
    return out


def _smooth_path_shape(rng: np.random.Generator, components: int = 4) -> tuple:
    """The seeded shape of a smooth path in 128-d: ``(frequencies, phases, amplitudes)``, each [components, 128]."""
    frequencies = rng.uniform(0.05, 0.25, size=(components, NOISE_DIM))  # cycles per unit of position
    phases = rng.uniform(0.0, 2.0 * np.pi, size=(components, NOISE_DIM))
    amplitudes = rng.standard_normal(size=(components, NOISE_DIM)) / math.sqrt(components)
    return frequencies, phases, amplitudes


def _smooth_path(position: np.ndarray, shape: tuple) -> np.ndarray:
    """The path at ``position`` [frames]: a sum of a few sinusoids per dimension, unit-ish variance, [frames, 128]."""
    frequencies, phases, amplitudes = shape
    path = np.zeros((len(position), NOISE_DIM))
    for k in range(len(frequencies)):
        path += amplitudes[k] * np.sin(2.0 * np.pi * frequencies[k] * position[:, None] + phases[k])
    return path * math.sqrt(2.0)


def band_noise_walk(features: AudioFeatures, *, seed: int = DEFAULTS.seed, mode: str = DEFAULTS.walk_mode,
                    truncation: float = DEFAULTS.truncation, smoothing_factor: float = DEFAULTS.smoothing_factor,
                    iterations: int = DEFAULTS.iterations, chain_order_name: str = DEFAULTS.chain_order,
                    band_strength: float = 1.0, pulse_strength: float = DEFAULTS.pulse_strength,
                    pulse_release_seconds: float = 0.3, motion_strength: float = DEFAULTS.motion_strength,
                    motion_speed: float = 1.0, block_frames: int = 4096, bank=None) -> np.ndarray:
    """Noise per frame, float32 ``[frames, 128]`` (computed ``block_frames`` frames at a time).

    ``mode`` "seed": :func:`seed_noise_walk` on ``features`` bands (values in [-1, 1]). "improved": base + band
    push + pulse + motion (see module docstring), each scaled by ``truncation`` and clipped to BigGAN's truncated
    range ``[-2 * truncation, 2 * truncation]``. ``pulse_release_seconds`` is the decay time constant of a kick;
    ``motion_speed`` is path units per second of full-scale loudness. ``bank`` (seed mode only): the notebook's
    noise vectors [bands, 128] as given, already scaled by the truncation (see :func:`seed_noise_walk`), instead of
    the seeded draw.
    """
    require_choice("mode", mode, WALK_MODES)
    truncation = check_truncation(truncation)
    bands = _finite_curve(features, "bands")
    if mode == "seed":
        return seed_noise_walk(bands, bank=bank, seed=seed, truncation=truncation,
                               smoothing_factor=smoothing_factor, iterations=iterations, chain=chain_order_name)
    if bank is not None:
        raise AudioWalkInputError("bank", "is given for the improved walk", "a bank only with mode seed")
    for name, value in (("band_strength", band_strength), ("pulse_strength", pulse_strength),
                        ("motion_strength", motion_strength), ("motion_speed", motion_speed)):
        if not math.isfinite(float(value)) or float(value) < 0:
            raise AudioWalkInputError(name, f"{value!r} is negative or not finite", "a strength >= 0")
    fps = float(features.clock.fps)
    rng = np.random.default_rng(int(seed))
    base = noise_bank(1, 1.0, rng)[0]
    bank = noise_bank(bands.shape[1], 1.0, rng)
    bank = smooth_across_bands(bank[chain_order(bank, chain_order_name)], smoothing_factor, iterations)

    onset = np.maximum(_finite_curve(features, "onset"), _finite_curve(features, "percussive") * 0.5)
    envelope = release_envelope(onset, pulse_release_seconds * fps)
    beat_frames = np.asarray(features.beat_frames, np.int64)
    directions = rng.standard_normal(size=(len(beat_frames) + 1, NOISE_DIM))
    beat_index = np.searchsorted(beat_frames, np.arange(features.frame_count), side="right")

    rms = _finite_curve(features, "rms")
    position = np.cumsum(rms) * (motion_speed / fps)
    path_shape = _smooth_path_shape(rng)
    path_start = _smooth_path(position[:1], path_shape)[0]  # the walk starts at the base latent

    noise = np.empty((features.frame_count, NOISE_DIM), np.float32)
    for first in range(0, features.frame_count, block_frames):  # [block, 128] at a time: flat in song length
        rows = slice(first, min(first + block_frames, features.frame_count))
        push = bands[rows] @ bank / math.sqrt(max(bands.shape[1], 1))
        pulse = envelope[rows, None] * directions[beat_index[rows]]
        motion = _smooth_path(position[rows], path_shape) - path_start
        block = base + band_strength * push + pulse_strength * pulse + motion_strength * motion
        noise[rows] = np.clip(block * truncation, -2.0 * truncation, 2.0 * truncation)
    return noise
