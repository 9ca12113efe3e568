"""Stem separation of a mix, cached on disk per song digest + method + settings (``cache.py``).

Methods: "hpss" (DSP harmonic / percussive split, ``hpss.py``; no weights), and the HTDemucs models ("htdemucs":
drums, bass, other, vocals; "htdemucs_6s": also guitar, piano; or your own HTDemucs file in the demucs models
folder), this project's implementation of the network (``htdemucs/``) run segment by segment in bounded memory
(``neural.py``), its stems streamed into the cache and read back from disk in blocks.
"""
from __future__ import annotations

import math
import shutil
import tempfile

from ..audio import validate_clip
from ..errors import AudioWalkInputError
from ..stems import Stems, stems_from_clips
from .cache import StemCache, cache_key, clip_digest
from .hpss import HPSS_SETTINGS, hpss_separate
from .htdemucs.store import PUBLISHED_MODELS, check_model_choice, model_identity
from .neural import DEFAULT_OVERLAP, separate_segments

SEPARATION_METHODS = ("hpss",) + tuple(PUBLISHED_MODELS)  # and HTDemucs files in the models folder
NEURAL_VERSION = 1  # part of the cache key: bump when the separation's output changes


def is_neural(method: str) -> bool:
    return method != "hpss"


def _cached_stems(mix, found, source: str) -> Stems:
    clips, _ = found
    return Stems(clips, mix.sample_rate, mix.num_samples, (), source)


def separate_stems(mix, method: str = "hpss", cache_root=None, song_digest: str | None = None,
                   on_progress=None, block_seconds: float = 30.0, *, model_dirs=(), allow_download: bool = False,
                   device="auto", overlap: float = DEFAULT_OVERLAP, shifts: int = 0, seed: int = 0,
                   load_model=None, on_download=None) -> Stems:
    """Stems of ``mix`` (an AudioClip, in memory or on disk) by ``method``: "hpss", a published HTDemucs model or a
    model file in ``model_dirs`` (a list entry with its download mark is accepted). With ``cache_root`` the result
    is read from the cache when this song (``song_digest``, else the samples' digest), method and settings were
    separated before, and stored there otherwise (complete entries only: a cancelled separation stores nothing).

    HTDemucs: ``overlap`` of consecutive segments (0 to 0.9), ``shifts`` extra passes over randomly delayed copies
    of the song averaged (0: one pass; the delays drawn from ``seed``), the model from ``load_model(name)`` (a
    runtime.DemucsHandle; default: loaded from ``model_dirs`` onto ``device``, downloading when
    ``allow_download``, ``on_download(done_bytes, total_bytes)``). The stems returned read their files in blocks;
    without ``cache_root`` those files sit in a temporary folder removed when the stems are freed."""
    if not is_neural(method):
        return _separate_hpss(mix, cache_root, song_digest, on_progress, block_seconds)
    name = check_model_choice(method, list(model_dirs), "method")
    validate_clip(mix, "audio")
    if not 0.0 <= float(overlap) <= 0.9 or not math.isfinite(float(overlap)):
        raise AudioWalkInputError("overlap", f"{overlap!r} is outside 0 to 0.9", "a fraction such as 0.25")
    if int(shifts) != shifts or not 0 <= int(shifts) <= 20:
        raise AudioWalkInputError("shifts", f"{shifts!r} is not a whole number from 0 to 20", "0 (one pass) to 20")
    settings = {"model": model_identity(name, list(model_dirs)), "overlap": float(overlap), "shifts": int(shifts),
                "seed": int(seed) if shifts else 0, "version": NEURAL_VERSION}
    temporary = cache_root is None
    cache = StemCache(tempfile.mkdtemp(prefix="audiowalk-stems-") if temporary else cache_root)
    key = cache_key(song_digest or ("unsaved" if temporary else clip_digest(mix)), name, settings)
    found = None if temporary else cache.load(key, mix.sample_rate, mix.num_samples)
    if found is not None:
        return _cached_stems(mix, found, f"{name} (cached)")
    try:
        handle = load_model(name) if load_model is not None else _default_model(name, model_dirs, device,
                                                                                allow_download, on_download)
        config = handle.config
        channels = 1 if mix.channels == 1 else config.audio_channels
        with cache.writer(key, handle.sources, mix.sample_rate, channels, name, settings) as writer:
            separate_segments(mix, handle.runner(), sources=handle.sources, model_rate=config.samplerate,
                              segment=config.segment_samples, write=writer.write, on_progress=on_progress,
                              overlap=float(overlap), shifts=int(shifts), seed=int(seed),
                              model_channels=config.audio_channels)
        found = cache.load(key, mix.sample_rate, mix.num_samples)
        if found is None:
            raise RuntimeError(f"the stems written to {cache.entry(key)} could not be read back")
    except BaseException:
        if temporary:
            shutil.rmtree(cache.root, ignore_errors=True)
        raise
    if temporary:
        remover = _FolderRemover(cache.root)
        for clip in found[0].values():
            clip.samples.owner = remover
    return _cached_stems(mix, found, name)


def _default_model(name, model_dirs, device, allow_download, on_download):
    from .htdemucs.runtime import load_shared_htdemucs

    return load_shared_htdemucs(name, list(model_dirs), device=device, allow_download=allow_download,
                                on_progress=on_download)


class _FolderRemover:
    """Removes a folder when the last object holding it is freed."""

    def __init__(self, folder):
        self.folder = folder

    def __del__(self):
        shutil.rmtree(self.folder, ignore_errors=True)


def _separate_hpss(mix, cache_root, song_digest, on_progress, block_seconds) -> Stems:
    settings = dict(HPSS_SETTINGS)
    cache = key = None
    if cache_root is not None:
        cache = StemCache(cache_root)
        key = cache_key(song_digest or clip_digest(mix), "hpss", settings)
        found = cache.load(key, mix.sample_rate, mix.num_samples)
        if found is not None:
            return _cached_stems(mix, found, "hpss (cached)")
    clips = hpss_separate(mix, block_seconds=block_seconds, on_progress=on_progress, **settings)
    if cache is not None:
        cache.store(key, clips, "hpss", settings)
    return stems_from_clips(mix, clips, source="hpss")


__all__ = ["SEPARATION_METHODS", "StemCache", "Stems", "cache_key", "clip_digest", "is_neural", "separate_stems"]
