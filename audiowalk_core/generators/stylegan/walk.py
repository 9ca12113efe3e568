"""StyleGAN latents walked by the music: z of any z_dim, coarse / middle / fine layer groups following different
features, noise inputs following percussive energy, class schedules as c.

The base z walk is the project's noise walk (audiowalk_core.walk.band_noise_walk, "improved" or "seed" mode),
run with truncation 1 (StyleGAN truncates in w, towards w_avg, with the latents' ``truncation`` as psi); a z
wider than one walk's 128 columns is the concatenation of walks drawn from derived seeds. Each layer group g then
gets ``z_g(t) = z(t) + strength_g * f_g(t) * d_g``: ``f_g`` the group's feature in [0, 1] (mean band energy of
the group's share of the bands, bass to coarse, highs to fine, or any named curve), ``d_g`` a seeded unit-variance
direction. The generator maps each group's z and gives each synthesis layer its group's w (layer groups:
:func:`layer_groups`). Everything is computed over the whole song, rows keyed to the absolute frame.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import AudioWalkInputError, require_choice
from ...latents import WalkLatents
from ...walk import band_noise_walk, check_truncation

GROUPS = ("coarse", "middle", "fine")
GROUP_FEATURES = ("bass", "mids", "highs", "rms", "onset", "percussive", "harmonic", "none")
WALK_WIDTH = 128


def layer_groups(kind: str, num_ws: int) -> np.ndarray:
    """Group index (0 coarse, 1 middle, 2 fine) of each of the ``num_ws`` w inputs, int ``[num_ws]``.

    StyleGAN2: the StyleGAN papers' split by resolution, 4-8 px coarse (w 0-3), 16-32 px middle (w 4-7), the
    rest fine. StyleGAN3 (all layers at every scale): thirds of the layer stack, in order.
    """
    index = np.arange(num_ws)
    if kind == "stylegan2":
        return np.where(index < 4, 0, np.where(index < 8, 1, 2)).astype(np.int64)
    return np.minimum(index * 3 // num_ws, 2).astype(np.int64)


def wide_noise_walk(features, width: int, seed: int, mode: str = "improved", **walk_options) -> np.ndarray:
    """float32 ``[frames, width]``: ``ceil(width / 128)`` noise walks (truncation 1) side by side, walk k drawn
    from seed ``seed + 7919 k`` (walk 0 is exactly ``band_noise_walk(seed=seed)``)."""
    blocks = [band_noise_walk(features, seed=int(seed) + 7919 * k, mode=mode, truncation=1.0, **walk_options)
              for k in range(math.ceil(width / WALK_WIDTH))]
    return np.concatenate(blocks, axis=1)[:, :width].astype(np.float32)


def _unit(curve: np.ndarray) -> np.ndarray:
    curve = np.asarray(curve, np.float64)
    top = float(curve.max()) if curve.size else 0.0
    return curve / top if top > 0 else np.zeros_like(curve)


def group_feature(features, name: str) -> np.ndarray:
    """The feature curve a layer group follows, float64 ``[frames]`` scaled to peak 1 over the song (0 if
    silent): "bass" / "mids" / "highs" = mean of the lowest / middle / highest third of the bands."""
    require_choice("feature", name, GROUP_FEATURES)
    if name == "none":
        return np.zeros(features.frame_count)
    if name in ("bass", "mids", "highs"):
        bands = np.asarray(features.curve("bands", "features"), np.float64)
        thirds = np.array_split(np.arange(bands.shape[1]), 3)
        part = thirds[("bass", "mids", "highs").index(name)]
        return _unit(bands[:, part].mean(axis=1) if len(part) else np.zeros(len(bands)))
    return _unit(features.curve(name, "features"))


def class_schedule(frame_count: int, classes, c_dim: int, mode: str = "interpolate", beat_frames=()) -> np.ndarray:
    """float32 ``[frames, c_dim]`` conditioning: ``classes`` (indices into the model's labels) crossfaded evenly
    over the song ("interpolate"), or switched to the next one on every beat ("beats"); empty for c_dim 0."""
    if c_dim == 0:
        return np.zeros((frame_count, 0), np.float32)
    classes = [int(c) for c in classes] or [0]
    for c in classes:
        if not 0 <= c < c_dim:
            raise AudioWalkInputError("classes", f"class {c} is outside 0..{c_dim - 1}", "indices of the model's classes")
    require_choice("class_mode", mode, ("interpolate", "beats"))
    out = np.zeros((frame_count, c_dim), np.float32)
    frames = np.arange(frame_count)
    if mode == "beats":
        which = np.searchsorted(np.asarray(beat_frames, np.int64), frames, side="right") % len(classes)
        out[frames, np.asarray(classes)[which]] = 1.0
        return out
    if len(classes) == 1 or frame_count == 1:
        out[:, classes[0]] = 1.0
        return out
    position = frames / (frame_count - 1) * (len(classes) - 1)
    low = np.minimum(np.floor(position).astype(int), len(classes) - 2)
    share = (position - low).astype(np.float32)
    np.add.at(out, (frames, np.asarray(classes)[low]), 1.0 - share)
    np.add.at(out, (frames, np.asarray(classes)[low + 1]), share)
    return out


def stylegan_latents(features, *, z_dim: int, c_dim: int = 0, seed: int = 0, truncation: float = 0.7,
                     walk_mode: str = "improved", coarse_feature: str = "bass", middle_feature: str = "mids",
                     fine_feature: str = "highs", coarse_strength: float = 1.0, middle_strength: float = 0.7,
                     fine_strength: float = 0.5, noise_feature: str = "percussive", noise_base: float = 0.3,
                     noise_gain: float = 1.0, classes=(0,), class_mode: str = "interpolate",
                     **walk_options) -> WalkLatents:
    """WalkLatents for a StyleGAN: ``noise`` the base z [N, z_dim], ``class_weights`` c [N, c_dim], extras
    ``stylegan_group_z`` [N, 3, z_dim] (z of the coarse, middle, fine layers) and ``stylegan_noise`` [N]
    (noise-input strength: ``noise_base + noise_gain * f(t)``, 1 = the model's own). ``truncation`` is psi."""
    psi = check_truncation(truncation)
    strengths = (coarse_strength, middle_strength, fine_strength)
    for name, value in zip(("coarse_strength", "middle_strength", "fine_strength", "noise_base", "noise_gain"),
                           strengths + (noise_base, noise_gain)):
        if not math.isfinite(float(value)) or float(value) < 0:
            raise AudioWalkInputError(name, f"{value!r} is negative or not finite", "a value >= 0")
    if int(z_dim) < 1:
        raise AudioWalkInputError("model", f"z_dim {z_dim}", "a model with a z input (z_dim >= 1)")
    base = wide_noise_walk(features, int(z_dim), seed, walk_mode, **walk_options)
    directions = np.random.default_rng([int(seed), 0x5747]).standard_normal((3, int(z_dim)))
    group_z = np.empty((len(base), 3, int(z_dim)), np.float32)
    for g, name in enumerate((coarse_feature, middle_feature, fine_feature)):
        push = group_feature(features, name)[:, None] * (float(strengths[g]) * directions[g])[None, :]
        group_z[:, g] = base + push
    noise_strength = (float(noise_base) + float(noise_gain) * group_feature(features, noise_feature)).astype(np.float32)
    c = class_schedule(len(base), classes, int(c_dim), class_mode, getattr(features, "beat_frames", ()))
    return WalkLatents(base, c, psi, int(seed), features.clock, condition_count=int(c_dim),
                       extras={"stylegan_group_z": group_z, "stylegan_noise": noise_strength})
