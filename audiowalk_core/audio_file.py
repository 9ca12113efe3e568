"""A decoded song kept on disk and read in blocks, so a long song costs disk, not memory (``audiowalk render``).

:func:`load_audio_to_disk` decodes like :func:`~audiowalk_core.audio.load_audio` (same decoder, start/duration
rounding, checks and errors) but writes the samples as raw float32 to a file in a folder the caller owns and returns
an :class:`~audiowalk_core.audio.AudioClip` whose ``samples`` is a :class:`DiskSamples`: it has ``shape``, ``ndim``
and ``dtype`` and answers ``samples[channels, first:stop]`` by reading just those samples from the file
(:class:`SoundFileSamples` does the same for a FLAC or WAV file, e.g. a cached stem). Analysis
(``clip.mono_between``), the silence and finiteness checks and the video's music track read clips only that way, so
memory stays flat in song length; the file costs 4 bytes per sample per channel (1.2 GB for an hour of 44.1 kHz
stereo) in that folder, removed with it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .audio import AudioClip, _decode_with_pyav, check_audio_file, load_audio, validate_clip


class _BlockSamples:
    """float32 samples ``[channels, num_samples]`` read on demand: subclasses give ``read(first, stop)`` and
    ``close()``. Indexing reads just what it names: ``[c, a:b]``, ``[:, a:b]``, ``[:2, a:b]``, ``[c]`` (a whole
    channel: for the seed band modes, which need the whole mono signal). ``np.asarray`` reads everything (avoid
    on long songs)."""

    dtype = np.dtype(np.float32)
    ndim = 2

    @property
    def shape(self) -> tuple[int, int]:
        return (self.channels, self.num_samples)

    def __len__(self) -> int:
        return self.channels

    def __getitem__(self, key):
        channel_key, sample_key = key if isinstance(key, tuple) else (key, slice(None))
        if not isinstance(sample_key, slice) or sample_key.step not in (None, 1):
            raise TypeError(f"{type(self).__name__} reads [channels, first:stop]")
        first, stop, _ = sample_key.indices(self.num_samples)
        return self.read(first, stop)[channel_key]

    def __array__(self, dtype=None, copy=None):
        whole = self.read(0, self.num_samples)
        return whole if dtype is None else whole.astype(dtype)

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class DiskSamples(_BlockSamples):
    """Samples stored frame-interleaved (``[num_samples, channels]`` float32) in a raw file."""

    def __init__(self, path, channels: int, num_samples: int):
        self.path = Path(path)
        self.channels, self.num_samples = int(channels), int(num_samples)
        self._fd = os.open(self.path, os.O_RDONLY)

    def read(self, first: int, stop: int) -> np.ndarray:
        """Samples ``[first, stop)`` of every channel, float32 ``[channels, stop - first]`` (a fresh array)."""
        first, stop = max(int(first), 0), min(int(stop), self.num_samples)
        count = max(stop - first, 0)
        rows = np.empty((count, self.channels), np.float32)
        view, offset = memoryview(rows).cast("B"), first * self.channels * 4
        while view.nbytes:
            got = os.preadv(self._fd, [view], offset)
            if got <= 0:
                raise OSError(f"{self.path} ended before sample {stop}")
            view, offset = view[got:], offset + got
        return rows.T

    def close(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None


class SoundFileSamples(_BlockSamples):
    """Samples of an audio file that libsndfile reads with exact seeking (FLAC, WAV), decoded a block at a time, so
    a cached stem of a long song costs disk, not memory. One open handle, reopened after ``close``; consecutive
    reads need no seek. ``owner``: kept alive with the samples (e.g. a temporary folder's remover)."""

    def __init__(self, path, channels: int, num_samples: int, owner=None):
        import threading

        self.path = Path(path)
        self.channels, self.num_samples = int(channels), int(num_samples)
        self.owner = owner
        self._handle = None
        self._lock = threading.Lock()

    def read(self, first: int, stop: int) -> np.ndarray:
        """Samples ``[first, stop)`` of every channel, float32 ``[channels, stop - first]`` (a fresh array)."""
        import soundfile

        first, stop = max(int(first), 0), min(int(stop), self.num_samples)
        count = max(stop - first, 0)
        with self._lock:
            if self._handle is None:
                self._handle = soundfile.SoundFile(str(self.path))
            if self._handle.tell() != first:
                self._handle.seek(first)
            rows = self._handle.read(frames=count, dtype="float32", always_2d=True)
        if rows.shape[0] != count:
            raise OSError(f"{self.path} ended at sample {first + rows.shape[0]}, before {stop}")
        return rows.T

    def close(self) -> None:
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


class _DiskCollector:
    """What ``_decode_with_pyav`` fills (``append(block [channels, n])``, ``samples()``), writing to a file."""

    def __init__(self, path: Path, channels: int):
        self.path, self.channels, self.count = path, channels, 0
        self.handle = open(path, "wb")

    def append(self, block: np.ndarray) -> None:
        self.handle.write(np.ascontiguousarray(block.T, np.float32).tobytes())
        self.count += block.shape[1]

    def samples(self) -> DiskSamples:
        self.handle.close()
        return DiskSamples(self.path, self.channels, self.count)


def close_clip(clip: AudioClip) -> None:
    """Close the file a clip from :func:`load_audio_to_disk` reads (nothing for clips in memory)."""
    close = getattr(clip.samples, "close", None)
    if close is not None:
        close()


def load_audio_to_disk(path, folder, start_seconds: float = 0.0, duration_seconds: float | None = None,
                       input_name: str = "audio file") -> AudioClip:
    """:func:`~audiowalk_core.audio.load_audio` with the samples in a raw file in ``folder`` (which the caller
    removes), read back in blocks. When PyAV cannot decode the file cleanly (an error, or a stream ending well
    before its declared length) this falls back to ``load_audio`` itself (in memory, its soundfile judge and its
    errors), so every file that loads one way loads the other, with the same samples."""
    import math

    path = check_audio_file(path, input_name)
    if not math.isfinite(start_seconds) or start_seconds < 0:
        return load_audio(path, start_seconds, duration_seconds, input_name)  # its error
    if duration_seconds is not None and (not math.isfinite(duration_seconds) or duration_seconds <= 0):
        duration_seconds = None
    target = Path(folder) / "decoded-song.f32"
    try:
        samples, sample_rate, short_note = _decode_with_pyav(
            path, start_seconds, duration_seconds, collector=lambda channels, wanted: _DiskCollector(target, channels))
    except Exception:  # noqa: BLE001 - load_audio says what is wrong, or decodes it with soundfile
        samples = short_note = None
    if samples is None or short_note is not None or samples.num_samples == 0:
        if samples is not None:
            samples.close()
        target.unlink(missing_ok=True)
        return load_audio(path, start_seconds, duration_seconds, input_name)
    return validate_clip(AudioClip(samples, int(sample_rate)), input_name)
