"""The default pipeline, defined once: song -> features -> noise walk + class schedule -> latents -> smoothing.

``audiowalk render`` runs :func:`make_walk_latents` with :data:`DEFAULT_PIPELINE`; the shipped BigGAN workflows are
built from the same :class:`PipelineSettings` (the workflow builder reads ``node_values()``), and a test checks that
both give identical latents for the same song and seed. The settings themselves (defaults, ranges, tooltips, widget
names, CLI flags) are declared once in :mod:`audiowalk_core.settings`.
"""
from __future__ import annotations

from .latents import WalkLatents
from .settings import DEFAULTS, PRESETS, PipelineSettings, preset  # noqa: F401 - PipelineSettings: re-exported

# Every setting's default, range, tooltip, widget and CLI flag: audiowalk_core/settings.py (declared once).
DEFAULT_PIPELINE = DEFAULTS


def compute_song_features(clip, settings: PipelineSettings = DEFAULT_PIPELINE, on_progress=None, beat_model=None):
    """The Audio Features step of ``settings`` on an AudioClip -> AudioFeatures. ``beat_model``: the loaded
    tracker of ``settings.beat_tracker`` (:func:`load_song_beat_tracker`), else loaded from the default folder."""
    from .analysis import compute_features

    return compute_features(clip, settings.fps, band_mode=settings.band_mode,
                            max_frequency_level=settings.max_frequency_level,
                            low_frequency_skip=settings.low_frequency_skip,
                            frequency_band_growth_rate=settings.frequency_band_growth_rate,
                            extra_detail=settings.extra_detail, band_count=settings.band_count,
                            beat_tracker=settings.beat_tracker, beat_model=beat_model, on_progress=on_progress)


def load_song_beat_tracker(settings: PipelineSettings = DEFAULT_PIPELINE, search_dirs=None, **options):
    """The Beat This! tracker ``settings.beat_tracker`` asks for (None for "dsp"), from ``search_dirs`` (default
    ``$AUDIOWALK_HOME/models/beat_this``), downloaded when missing unless ``allow_download=False``: call it before
    the long work, so a missing checkpoint stops a run at once. ``options``: beat_tracking.load_beat_tracker's."""
    from .beat_tracking import default_search_dirs, load_beat_tracker

    if settings.beat_tracker == "dsp":
        return None
    folders = search_dirs if search_dirs is not None else default_search_dirs()
    return load_beat_tracker(settings.beat_tracker, folders, **options)


def make_noise_curves(features, settings: PipelineSettings = DEFAULT_PIPELINE, bank=None):
    """The Band Noise Walk step -> NoiseCurves (noise [N, 128] float32, scaled and clipped by the truncation).
    ``bank``: walk_mode seed only, a noise bank from elsewhere instead of the seeded draw (walk.seed_noise_walk)."""
    from .latents import NoiseCurves
    from .walk import band_noise_walk

    noise = band_noise_walk(features, seed=settings.seed, mode=settings.walk_mode, truncation=settings.truncation,
                            smoothing_factor=settings.smoothing_factor, iterations=settings.iterations,
                            chain_order_name=settings.chain_order, pulse_strength=settings.pulse_strength,
                            motion_strength=settings.motion_strength, bank=bank)
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


def make_walk_latents(features, settings: PipelineSettings = DEFAULT_PIPELINE, bank=None) -> WalkLatents:
    """Features -> smoothed WalkLatents, exactly as the shipped workflow's walk nodes compute them (``bank``: see
    :func:`make_noise_curves`)."""
    from .latents import combine_latents

    return smooth_walk(combine_latents(make_noise_curves(features, settings, bank),
                                       make_class_curves(features, settings)), settings)
