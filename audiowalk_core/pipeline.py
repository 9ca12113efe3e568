"""The default pipeline, defined once: song -> features -> noise walk + class schedule -> latents -> smoothing.

``audiowalk render`` runs :func:`make_walk_latents` with :data:`DEFAULT_PIPELINE`; the shipped BigGAN workflows are
built from the same :class:`PipelineSettings` (the workflow builder reads ``node_values()``), and a test checks that
both give identical latents for the same song and seed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .latents import WalkLatents


@dataclass(frozen=True)
class PipelineSettings:
    """Every choice of the walk, with the node that takes it. Units: fps in frames/s, frequencies in Hz, smoothing
    times in frames. ``truncation`` is the one truncation of the walk: it scales and clips the noise and is what
    BigGAN receives."""

    # Audio Features
    fps: str = "30"
    band_mode: str = "improved"
    max_frequency_level: float = 11000.0
    low_frequency_skip: float = 16.0
    frequency_band_growth_rate: float = 1.01
    extra_detail: float = 0.9
    band_count: int = 48
    # Band Noise Walk
    seed: int = 0
    walk_mode: str = "improved"
    truncation: float = 0.7
    smoothing_factor: float = 0.1
    iterations: int = 1
    chain_order: str = "lowest_correlation"
    pulse_strength: float = 0.6
    motion_strength: float = 0.5
    # Class Schedule
    labels: str = "teapot | bubble | mushroom"
    class_mode: str = "interpolate"
    beats_per_switch: int = 4
    crossfade_frames: int = 8
    # Smooth Latents
    smoothing_method: str = "ema"
    smoothing_target: str = "noise"
    attack_frames: float = 1.0
    release_frames: float = 6.0
    sigma_frames: float = 2.0

    def replace(self, **changes) -> "PipelineSettings":
        """A copy with some settings changed (unknown names raise TypeError)."""
        return dataclasses.replace(self, **changes)

    def node_values(self) -> dict[str, dict]:
        """Widget values per node type of the shipped workflows (node class id -> {widget: value})."""
        return {
            "AudioWalkAudioFeatures": {"fps": self.fps, "band_mode": self.band_mode,
                                       "max_frequency_level": self.max_frequency_level,
                                       "low_frequency_skip": self.low_frequency_skip,
                                       "frequency_band_growth_rate": self.frequency_band_growth_rate,
                                       "extra_detail": self.extra_detail, "band_count": self.band_count},
            "AudioWalkBandNoiseWalk": {"seed": self.seed, "mode": self.walk_mode, "truncation": self.truncation,
                                       "smoothing_factor": self.smoothing_factor, "iterations": self.iterations,
                                       "chain_order": self.chain_order, "pulse_strength": self.pulse_strength,
                                       "motion_strength": self.motion_strength},
            "AudioWalkClassSchedule": {"labels": self.labels, "mode": self.class_mode,
                                       "beats_per_switch": self.beats_per_switch,
                                       "crossfade_frames": self.crossfade_frames},
            "AudioWalkSmoothLatents": {"method": self.smoothing_method, "target": self.smoothing_target,
                                       "attack_frames": self.attack_frames, "release_frames": self.release_frames,
                                       "sigma_frames": self.sigma_frames},
        }


DEFAULT_PIPELINE = PipelineSettings()


def compute_song_features(clip, settings: PipelineSettings = DEFAULT_PIPELINE, on_progress=None):
    """The Audio Features step of ``settings`` on an AudioClip -> AudioFeatures."""
    from .analysis import compute_features

    return compute_features(clip, settings.fps, band_mode=settings.band_mode,
                            max_frequency_level=settings.max_frequency_level,
                            low_frequency_skip=settings.low_frequency_skip,
                            frequency_band_growth_rate=settings.frequency_band_growth_rate,
                            extra_detail=settings.extra_detail, band_count=settings.band_count,
                            on_progress=on_progress)


def make_noise_curves(features, settings: PipelineSettings = DEFAULT_PIPELINE):
    """The Band Noise Walk step -> NoiseCurves (noise [N, 128] float32, scaled and clipped by the truncation)."""
    from .latents import NoiseCurves
    from .walk import band_noise_walk

    noise = band_noise_walk(features, seed=settings.seed, mode=settings.walk_mode, truncation=settings.truncation,
                            smoothing_factor=settings.smoothing_factor, iterations=settings.iterations,
                            chain_order_name=settings.chain_order, pulse_strength=settings.pulse_strength,
                            motion_strength=settings.motion_strength)
    return NoiseCurves(noise, features.clock, int(settings.seed), float(settings.truncation))


def make_class_curves(features, settings: PipelineSettings = DEFAULT_PIPELINE):
    """The Class Schedule step -> ClassCurves (compact weights [N, distinct labels] float32, rows summing to 1)."""
    from .classes import class_schedule_columns, load_imagenet_labels, parse_labels
    from .latents import ClassCurves

    indices = parse_labels(settings.labels)
    columns, weights = class_schedule_columns(features, indices, mode=settings.class_mode,
                                              beats_per_switch=settings.beats_per_switch,
                                              crossfade_frames=settings.crossfade_frames)
    names = load_imagenet_labels()
    return ClassCurves(weights, features.clock, tuple(names[i] for i in indices), columns)


def smooth_walk(latents: WalkLatents, settings: PipelineSettings = DEFAULT_PIPELINE) -> WalkLatents:
    """The Smooth Latents step."""
    from .smoothing import smooth_latents

    return smooth_latents(latents, settings.smoothing_method, settings.smoothing_target,
                          attack_frames=settings.attack_frames, release_frames=settings.release_frames,
                          sigma_frames=settings.sigma_frames)


def make_walk_latents(features, settings: PipelineSettings = DEFAULT_PIPELINE) -> WalkLatents:
    """Features -> smoothed WalkLatents, exactly as the shipped workflow's walk nodes compute them."""
    from .latents import combine_latents

    return smooth_walk(combine_latents(make_noise_curves(features, settings), make_class_curves(features, settings)),
                       settings)
