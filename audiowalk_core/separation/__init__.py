"""Stem separation of a mix, cached on disk per song digest + method + settings (``cache.py``).

Methods: "hpss" (DSP harmonic / percussive split, ``hpss.py``; not neural). A neural separator (HTDemucs) is not
part of this version.
"""
from __future__ import annotations

from ..errors import require_choice
from ..stems import Stems, stems_from_clips
from .cache import StemCache, cache_key, clip_digest
from .hpss import HPSS_SETTINGS, hpss_separate

SEPARATION_METHODS = ("hpss",)


def separate_stems(mix, method: str = "hpss", cache_root=None, song_digest: str | None = None,
                   on_progress=None, block_seconds: float = 30.0) -> Stems:
    """Stems of ``mix`` (an AudioClip) by ``method``. With ``cache_root`` the result is read from the cache when
    this song (``song_digest``, else the samples' digest), method and settings were separated before, and stored
    there otherwise (complete entries only: a cancelled separation stores nothing)."""
    require_choice("method", method, SEPARATION_METHODS)
    settings = dict(HPSS_SETTINGS)
    cache = key = None
    if cache_root is not None:
        cache = StemCache(cache_root)
        key = cache_key(song_digest or clip_digest(mix), method, settings)
        found = cache.load(key, mix.sample_rate, mix.num_samples)
        if found is not None:
            stems = stems_from_clips(mix, found[0], source=f"{method} (cached)")
            return stems
    clips = hpss_separate(mix, block_seconds=block_seconds, on_progress=on_progress, **settings)
    if cache is not None:
        cache.store(key, clips, method, settings)
    return stems_from_clips(mix, clips, source=method)


__all__ = ["SEPARATION_METHODS", "StemCache", "Stems", "cache_key", "clip_digest", "separate_stems"]
