"""A disk cache of separated stems, keyed by the song's digest + the separation method + its settings.

An entry is a folder ``<root>/<key>/`` with one 24-bit FLAC per stem and ``manifest.json`` (names, sample rate,
length, method, settings). It is written in a hidden temporary folder beside it and renamed into place only when
every file is complete, so a cancelled or killed separation leaves no entry (and its temporary folder is removed,
or swept by the next store once its process is gone).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from pathlib import Path

import numpy as np

from ..audio import AudioClip
from ..paths import process_alive

MANIFEST = "manifest.json"
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
        """``(clips {name: AudioClip}, manifest)`` of a complete entry, or None. An entry that cannot be read, or
        whose stems do not have ``sample_rate`` / ``num_samples`` (when given), is damaged: it is removed and
        None returned, so the caller separates again."""
        import shutil

        import soundfile

        folder = self.entry(key)
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            return None
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            clips = {}
            for name in manifest["names"]:
                data, rate = soundfile.read(folder / f"{name}.flac", dtype="float32", always_2d=True)
                if (sample_rate is not None and int(rate) != int(sample_rate)) or \
                        (num_samples is not None and len(data) != int(num_samples)):
                    raise ValueError(f"stem {name}: {len(data)} samples at {rate} Hz")
                clips[name] = AudioClip(np.ascontiguousarray(data.T), int(rate))
        except Exception:  # noqa: BLE001 - a damaged entry is a cache miss, never a failed render
            shutil.rmtree(folder, ignore_errors=True)
            return None
        return clips, manifest

    def store(self, key: str, clips: dict, method: str, settings: dict) -> Path:
        """Write an entry (temporary folder, then one rename); an existing entry is kept as it is."""
        import soundfile

        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep()
        final = self.entry(key)
        if (final / MANIFEST).is_file():
            return final
        temporary = self.root / f".{key}.{os.getpid()}.{secrets.token_hex(4)}.part"
        temporary.mkdir()
        try:
            first = next(iter(clips.values()))
            for name, clip in clips.items():
                soundfile.write(temporary / f"{name}.flac", np.clip(clip.samples.T, -1.0, 1.0), clip.sample_rate,
                                subtype="PCM_24")
            manifest = {"names": list(clips), "sample_rate": first.sample_rate, "num_samples": first.num_samples,
                        "method": method, "settings": settings}
            (temporary / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
            try:
                os.replace(temporary, final)
            except OSError:  # another process stored the same entry first
                if not (final / MANIFEST).is_file():
                    raise
                shutil.rmtree(temporary, ignore_errors=True)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        return final

    def _sweep(self) -> None:
        """Remove temporary folders whose writer is no longer alive."""
        for path in self.root.iterdir():
            match = _TEMPORARY.match(path.name)
            if match and not process_alive(int(match["pid"])):
                shutil.rmtree(path, ignore_errors=True)
