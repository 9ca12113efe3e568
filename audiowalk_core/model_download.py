"""Shared pieces of the managed-model rules (used by BigGAN and Beat This!): the "(download, N MB)" mark of a
list entry whose file is not on disk, and a download to a temporary name renamed when complete.
"""
from __future__ import annotations

import re
from pathlib import Path

from .errors import AudioWalkInputError
from .paths import atomic_output, copy_stream

_DOWNLOAD_MARK = re.compile(r"^(?P<name>.+?) \(download, [^()]*\)$")


def download_label(name: str, size_bytes: int) -> str:
    """The list entry of a model that is not on disk: ``"<name> (download, <MB> MB)"`` (MB = 10^6 bytes)."""
    return f"{name} (download, {max(round(size_bytes / 1e6), 1)} MB)"


def name_from_choice(choice) -> str:
    """The name of a list entry: the download mark removed, a plain name unchanged."""
    choice = str(choice)
    match = _DOWNLOAD_MARK.match(choice)
    return match.group("name") if match else choice


def download_file(url: str, target, *, input_name: str, min_bytes: int = 0, on_progress=None,
                  timeout_s: float = 30.0) -> Path:
    """Stream ``url`` into ``target`` through a temporary name beside it, renamed only when complete: the byte
    count must equal the server's Content-Length (when it gives one) and reach ``min_bytes``; else
    AudioWalkInputError naming ``input_name`` (nothing is left under ``target``). ``on_progress(done, total)``
    follows the bytes. Network errors (offline, DNS, HTTP) propagate for the caller to explain."""
    import urllib.request

    target = Path(target)
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        expected = int(response.headers.get("Content-Length") or 0)
        if expected and expected < min_bytes:
            raise AudioWalkInputError(input_name, f"{url} has {expected} bytes, fewer than the {min_bytes} bytes "
                                      "the model needs", "the published file")
        with atomic_output(target) as temporary:
            report = (lambda done: on_progress(done, expected or max(done, min_bytes))) if on_progress else None
            done = copy_stream(response, temporary, report)
            if (expected and done != expected) or done < min_bytes:
                raise AudioWalkInputError(input_name, f"download of {url} stopped at {done} bytes (announced "
                                          f"{expected or 'nothing'}, at least {min_bytes} needed)",
                                          "a complete download (try again)")
    return target
