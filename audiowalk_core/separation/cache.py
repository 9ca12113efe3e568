"""A disk cache of separated stems, keyed by the song's digest + the separation method + its settings.

An entry is a folder ``<root>/<key>/`` with one 24-bit FLAC per stem and ``manifest.json`` (names, sample rate,
channels, length, each file's size, method, settings). It is written a block at a time (a separation streams its
stems in as they are final) in a hidden temporary folder beside it and renamed into place only when every file is
complete, so a cancelled or killed separation leaves no entry (and its temporary folder is removed, or swept by the
next store once its process is gone). A loaded entry's stems are read from their files in blocks, never whole.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..audio import AudioClip
from ..paths import process_alive

MANIFEST = "manifest.json"
MANIFEST_VERSION = 2  # 2: channels and file sizes recorded, stems read from disk in blocks
_TEMPORARY = re.compile(r"^\.(?P<key>[0-9a-f]{64})\.(?P<pid>\d+)\.[0-9a-f]{8}\.part$")


def cache_key(song_digest: str, method: str, settings: dict) -> str:
    """SHA-256 (hex) of the song digest, the method and its settings (JSON, sorted keys)."""
    text = json.dumps({"song": song_digest, "method": method, "settings": settings}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def clip_digest(clip: AudioClip) -> str:
    """SHA-256 of a clip's samples and sample rate (for audio that did not come from a file)."""
    digest = hashlib.sha256(str((clip.sample_rate, clip.samples.shape)).encode())
    for first in range(0, clip.num_samples, 1 << 20):
        digest.update(np.ascontiguousarray(clip.samples[:, first:first + (1 << 20)], np.float32).tobytes())
    return digest.hexdigest()


class StemCache:
    """Separated stems on disk under ``root`` (created on first store)."""

    def __init__(self, root):
        self.root = Path(root)

    def entry(self, key: str) -> Path:
        return self.root / key

    def load(self, key: str, sample_rate: int | None = None, num_samples: int | None = None):
        """``(clips {name: AudioClip}, manifest)`` of a complete entry, or None. The clips read their FLAC file in
        blocks (audio_file.SoundFileSamples): nothing is decoded here. An entry whose files are not the size its
        manifest records, whose headers disagree with it, or whose stems do not have ``sample_rate`` /
        ``num_samples`` (when given) is damaged: it is removed and None returned, so the caller separates again."""
        import soundfile

        from ..audio_file import SoundFileSamples

        folder = self.entry(key)
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            return None
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if manifest.get("version") != MANIFEST_VERSION:
                raise ValueError(f"manifest version {manifest.get('version')!r}")
            rate, count, channels = int(manifest["sample_rate"]), int(manifest["num_samples"]), int(manifest["channels"])
            if (sample_rate is not None and rate != int(sample_rate)) or \
                    (num_samples is not None and count != int(num_samples)):
                raise ValueError(f"{count} samples at {rate} Hz")
            clips = {}
            for name in manifest["names"]:
                path = folder / f"{name}.flac"
                info = soundfile.info(str(path))
                if path.stat().st_size != int(manifest["bytes"][name]) or (info.frames, info.samplerate,
                                                                          info.channels) != (count, rate, channels):
                    raise ValueError(f"stem {name} does not match the manifest")
                clips[name] = AudioClip(SoundFileSamples(path, channels, count), rate)
        except Exception:  # noqa: BLE001 - a damaged entry is a cache miss, never a failed render
            shutil.rmtree(folder, ignore_errors=True)
            return None
        return clips, manifest

    @contextmanager
    def writer(self, key: str, names, sample_rate: int, channels: int, method: str, settings: dict):
        """Write an entry a block at a time: yields a :class:`StemWriter` (``write({name: [channels, n]})``); the
        entry appears (one rename) only when the block ends normally, and is kept as it is when another run stored
        it first. Any exception (a cancel) removes everything written."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep()
        final = self.entry(key)
        temporary = self.root / f".{key}.{os.getpid()}.{secrets.token_hex(4)}.part"
        temporary.mkdir()
        writer = StemWriter(temporary, list(names), int(sample_rate), int(channels))
        try:
            yield writer
            writer.close()
            manifest = {"version": MANIFEST_VERSION, "names": list(names), "sample_rate": int(sample_rate),
                        "channels": int(channels), "num_samples": writer.count, "method": method,
                        "settings": settings,
                        "bytes": {name: (temporary / f"{name}.flac").stat().st_size for name in names}}
            (temporary / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
            if (final / MANIFEST).is_file():
                shutil.rmtree(temporary, ignore_errors=True)
                return
            try:
                os.replace(temporary, final)
            except OSError:  # another process stored the same entry first
                if not (final / MANIFEST).is_file():
                    raise
                shutil.rmtree(temporary, ignore_errors=True)
        except BaseException:
            writer.close()
            shutil.rmtree(temporary, ignore_errors=True)
            raise

    def store(self, key: str, clips: dict, method: str, settings: dict) -> Path:
        """Write an entry of whole clips {name: AudioClip} (see :meth:`writer`)."""
        first = next(iter(clips.values()))
        block = 1 << 20
        with self.writer(key, list(clips), first.sample_rate, first.channels, method, settings) as writer:
            for start in range(0, first.num_samples, block):
                writer.write({name: clip.samples[:, start:start + block] for name, clip in clips.items()})
        return self.entry(key)

    def _sweep(self) -> None:
        """Remove temporary folders whose writer is no longer alive."""
        for path in self.root.iterdir():
            match = _TEMPORARY.match(path.name)
            if match and not process_alive(int(match["pid"])):
                shutil.rmtree(path, ignore_errors=True)


class StemWriter:
    """24-bit FLAC files, one per stem, in ``folder``, appended a block at a time (``count`` samples so far)."""

    def __init__(self, folder: Path, names: list, sample_rate: int, channels: int):
        import soundfile

        self.channels, self.count = channels, 0
        self.files = {}
        for name in names:
            self.files[name] = soundfile.SoundFile(str(folder / f"{name}.flac"), "w", samplerate=sample_rate,
                                                   channels=channels, format="FLAC", subtype="PCM_24")

    def write(self, blocks: dict) -> None:
        """Append ``blocks`` {name: float [channels, n]} (the same n for every stem), clipped to [-1, 1]."""
        sizes = {np.shape(block)[1] for block in blocks.values()}
        if set(blocks) != set(self.files) or len(sizes) != 1:
            raise ValueError(f"a block of every stem, of one length: got {sorted(blocks)} of {sorted(sizes)}")
        for name, block in blocks.items():
            self.files[name].write(np.clip(np.asarray(block, np.float32).T, -1.0, 1.0))
        self.count += sizes.pop()

    def close(self) -> None:
        for handle in self.files.values():
            if not handle.closed:
                handle.close()
