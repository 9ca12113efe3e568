"""Audio loading (PyAV, soundfile as fallback) and conversion to and from ComfyUI's AUDIO dict."""
from __future__ import annotations

import math
import os
from pathlib import Path
from dataclasses import dataclass

import numpy as np

from .errors import AudioWalkInputError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus", ".aif", ".aiff")


@dataclass(frozen=True)
class AudioClip:
    """Decoded audio: ``samples`` float32 ``[channels, num_samples]`` in [-1, 1], ``sample_rate`` in Hz.

    ``samples`` is an array, or an object read in blocks (audio_file.DiskSamples: ``shape``, ``ndim`` and
    ``samples[channels, first:stop]``); the methods here only read it that way."""

    samples: np.ndarray
    sample_rate: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_seconds(self) -> float:
        return self.num_samples / self.sample_rate

    def mono(self) -> np.ndarray:
        """Channel mean, float32 ``[num_samples]``."""
        return self.mono_between(0, self.num_samples)

    def mono_between(self, first: int, stop: int) -> np.ndarray:
        """Channel mean of samples ``[first, stop)``, float32 (a new array, or a view for mono clips)."""
        part = self.samples[:, first:stop]
        return part[0] if self.channels == 1 else part.mean(axis=0, dtype=np.float32)

    def mono_reader(self):
        """``mono_between`` as a callable carrying ``num_samples``: for analysis that reads the song in blocks."""
        def mono_between(first: int, stop: int) -> np.ndarray:
            return self.mono_between(first, stop)

        mono_between.num_samples = self.num_samples
        return mono_between


# The demo song the node pack ships (written by ``python -m audiowalk_tools.demo``; a test checks it is that song):
# Load Audio offers it when the input folder has no file of that name, so the shipped templates run as opened.
BUNDLED_DEMO_SONG = Path(__file__).resolve().parent / "data" / "audiowalk_demo.flac"


def place_demo_song(input_dir) -> Path | None:
    """Copy the bundled demo song into ``input_dir`` (ComfyUI's input folder) when no file there has its name, so
    the frontend's player, which asks ``/view?filename=<name>&type=input``, plays it like any upload (ComfyUI's
    own /view answers only for files in its folders; a route of ours could not take that URL). Written under a
    temporary name and renamed; a folder that refuses it (read-only) is left alone. Returns the copy, or None."""
    import shutil

    from .paths import atomic_output

    folder = Path(input_dir)
    target = folder / BUNDLED_DEMO_SONG.name
    if target.exists():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as temporary:
            shutil.copyfile(BUNDLED_DEMO_SONG, temporary)
    except OSError:
        return None
    return target


def _all_finite(samples: np.ndarray, block: int = 1 << 20) -> bool:
    """``np.isfinite(samples).all()`` a block of samples at a time (no song-sized boolean array)."""
    return all(np.isfinite(samples[:, first:first + block]).all() for first in range(0, samples.shape[1], block))


def validate_clip(clip: AudioClip, input_name: str = "audio") -> AudioClip:
    """Check that a clip is usable for analysis: non-empty, finite, positive sample rate."""
    if clip.sample_rate is None or int(clip.sample_rate) <= 0:
        raise AudioWalkInputError(input_name, f"sample rate {clip.sample_rate!r} is not positive",
                                  "a sample rate in Hz > 0")
    if clip.samples.ndim != 2 or clip.num_samples == 0 or clip.channels == 0:
        raise AudioWalkInputError(input_name, "contains no samples (zero-length audio)",
                                  "audio at least one video frame long")
    if not _all_finite(clip.samples):
        bad = int(np.count_nonzero(~np.isfinite(clip.samples)))
        raise AudioWalkInputError(input_name, f"{bad} samples are NaN or infinite",
                                  "finite sample values (re-export the file or clean the upstream node)")
    return clip


AUDIO_FILE_EXPECTED = "an audio file (" + ", ".join(AUDIO_EXTENSIONS) + ")"

# First bytes of common files that are not audio, and what to call them in an error.
_NON_AUDIO_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
                         (b"GIF87a", "a GIF image"), (b"GIF89a", "a GIF image"), (b"%PDF-", "a PDF document"),
                         (b"PK\x03\x04", "a zip archive"), (b"\x1f\x8b", "a gzip archive"),
                         (b"\x7fELF", "a program"))


def check_audio_file(path, input_name: str = "audio") -> str:
    """``path`` as a string when it names a non-empty file that is not obviously something else; else an
    AudioWalkInputError that says what it is: missing, a folder, empty (0 bytes), text, or an image/document/archive
    (from its first bytes). Text is refused before any decoder sees it (FFmpeg reads playlists as media)."""
    path = os.fspath(path)
    name = os.path.basename(path.rstrip("/\\")) or path
    if os.path.isdir(path):
        raise AudioWalkInputError(input_name, f"{name!r} is a folder, not a file", AUDIO_FILE_EXPECTED)
    if not os.path.exists(path):
        raise AudioWalkInputError(input_name, f"{path!r} does not exist", AUDIO_FILE_EXPECTED)
    if not os.path.isfile(path):
        raise AudioWalkInputError(input_name, f"{name!r} is not a regular file", AUDIO_FILE_EXPECTED)
    if os.path.getsize(path) == 0:
        raise AudioWalkInputError(input_name, f"{name!r} is an empty file (0 bytes)", AUDIO_FILE_EXPECTED)
    with open(path, "rb") as handle:
        head = handle.read(1024)
    kind = _non_audio_kind(head)
    if kind is not None:
        raise AudioWalkInputError(input_name, f"{name!r} is not an audio file (looks like {kind})", AUDIO_FILE_EXPECTED)
    return path


def _non_audio_kind(head: bytes) -> str | None:
    """"text", "a PNG image", ... when the first bytes of a file show it is no audio file; None otherwise."""
    for signature, kind in _NON_AUDIO_SIGNATURES:
        if head.startswith(signature):
            return kind
    if b"\x00" in head:
        return None  # every audio container has binary headers; text has no NUL bytes
    text = head.decode("utf-8", errors="ignore")
    if len(text.encode("utf-8")) < len(head) - 3:  # more than a multi-byte character cut at the end is not UTF-8
        return None
    printable = sum(char.isprintable() or char in "\t\n\r\f" for char in text)
    return "text" if text and printable >= 0.95 * len(text) else None


def silence_warning(clip: AudioClip, input_name: str = "audio") -> str | None:
    """A warning when every sample is 0 (digital silence): valid, but the noise walk then stands still, so only the
    class schedule changes the picture (with a chroma or beats schedule: one still picture). None otherwise (even
    -140 dBFS of noise moves the walk: the feature curves are normalised)."""
    block = 1 << 20
    if any(np.any(clip.samples[:, first:first + block]) for first in range(0, clip.num_samples, block)):
        return None
    return (f"{input_name}: all {clip.duration_seconds:.2f} s are digital silence (every sample is 0): the noise "
            "walk stands still, only the class schedule changes the picture")


def load_audio(path, start_seconds: float = 0.0, duration_seconds: float | None = None,
               input_name: str = "audio file") -> AudioClip:
    """Decode an audio file (wav, flac, ogg, mp3, m4a, ...) at its native sample rate and channel count.

    ``start_seconds`` skips the beginning; ``duration_seconds`` (None or <= 0: to the end) limits the length.
    Raises AudioWalkInputError naming ``input_name`` for a missing, empty, non-audio (see :func:`check_audio_file`)
    or undecodable file, or a start past its end. PyAV decodes; soundfile is the fallback, and the judge when PyAV
    stops short of the length the file's header declares (a corrupt FLAC, say).
    """
    path = check_audio_file(path, input_name)
    name = os.path.basename(path)
    if not math.isfinite(start_seconds) or start_seconds < 0:
        raise AudioWalkInputError("start_seconds", f"{start_seconds!r} is negative or not finite", "a time >= 0 s")
    if duration_seconds is not None and (not math.isfinite(duration_seconds) or duration_seconds <= 0):
        duration_seconds = None
    reasons = []
    samples = sample_rate = None
    short_note = None
    try:
        samples, sample_rate, short_note = _decode_with_pyav(path, start_seconds, duration_seconds)
    except Exception as exc:  # noqa: BLE001 - any decoder failure falls back to soundfile
        reasons.append(f"PyAV: {_short_reason(exc)}")
    if samples is None or short_note is not None:
        if short_note is not None:
            reasons.append(f"PyAV: {short_note}")
        try:
            fallback = _decode_with_soundfile(path, start_seconds, duration_seconds)
        except _FormatNotReadable as exc:  # soundfile does not know the format: PyAV's result stands
            fallback = None
            if exc.reason:
                reasons.append(f"soundfile: {exc.reason}")
        except Exception as exc:  # noqa: BLE001 - opened but could not be read: corrupt
            samples = fallback = None
            reasons.append(f"soundfile: {_short_reason(exc)}")
        if fallback is not None and (samples is None or fallback[0].shape[1] >= samples.shape[1]):
            samples, sample_rate = fallback
    if samples is None:
        raise AudioWalkInputError(input_name, f"{name!r} could not be decoded as audio (" + "; ".join(reasons)
                                  + ")", "a valid, complete " + "/".join(e[1:] for e in AUDIO_EXTENSIONS) + " file")
    if samples.shape[1] == 0:
        if start_seconds > 0:
            raise AudioWalkInputError("start_seconds", f"{start_seconds} s is at or past the end of "
                                      f"{name!r}", "a start time inside the audio")
        raise AudioWalkInputError(input_name, f"{name!r} contains no audio samples", "a non-empty audio file")
    clip = AudioClip(np.asarray(samples, dtype=np.float32), int(sample_rate))  # no copy of a long song
    return validate_clip(clip, input_name)


class _FormatNotReadable(Exception):
    """soundfile cannot open the file (unknown format); ``reason`` is its short message, '' when misleading."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _short_reason(exc: BaseException) -> str:
    """A decoder's message without the file name it repeats (PyAV's strerror, libsndfile's error string)."""
    text = getattr(exc, "error_string", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).strip().removeprefix("Error : ").rstrip(".")


def _decode_with_pyav(path: str, start_seconds: float, duration_seconds: float | None, collector=None):
    """``(samples, sample_rate, short)``; ``short`` is None, or says how far decoding got when the stream ended well
    before the length its header declares (PyAV stops quietly at garbage in some formats, e.g. FLAC).
    ``collector(channels, expected_samples)``: where the samples go (default: one buffer in memory)."""
    import av

    with av.open(path) as container:
        streams = [s for s in container.streams if s.type == "audio"]
        if not streams:
            raise ValueError("no audio stream")
        stream = streams[0]
        sample_rate = int(stream.codec_context.sample_rate or stream.rate)
        channels = stream.codec_context.channels or 1
        first = int(round(start_seconds * sample_rate))
        stop = None if duration_seconds is None else first + int(round(duration_seconds * sample_rate))
        resampler = av.AudioResampler(format="fltp", layout=stream.codec_context.layout, rate=sample_rate)
        declared = None if stream.duration is None else int(stream.duration * stream.time_base * sample_rate)
        wanted = None if declared is None else max(0, (declared if stop is None else min(stop, declared)) - first)
        collected = (collector or _SampleCollector)(channels, wanted)
        position = 0  # samples decoded so far (from the start of the stream)
        done = False

        def take(out) -> None:
            nonlocal position
            array = out.to_ndarray().reshape(channels, -1)
            begin = position
            position += array.shape[1]
            lo = max(first - begin, 0)
            hi = array.shape[1] if stop is None else min(stop - begin, array.shape[1])
            if hi > lo:
                collected.append(array[:, lo:hi])

        for packet in container.demux(stream):
            for frame in packet.decode():
                for out in resampler.resample(frame):
                    take(out)
                    if stop is not None and position >= stop:
                        done = True
                        break
                if done:
                    break
            if done:
                break
        if not done:
            for out in resampler.resample(None):
                take(out)
    if position == 0:
        raise ValueError("no audio frames decoded")
    expected = declared if declared is None or stop is None else min(stop, declared)
    short = not done and expected is not None and position + max(sample_rate // 10, expected // 50) < expected
    short_note = (f"decoding stopped after {position / sample_rate:.2f} s of the {declared / sample_rate:.2f} s its "
                  "header declares") if short else None
    return collected.samples(), sample_rate, short_note


class _SampleCollector:
    """Decoded blocks gathered into one float32 buffer sized from the stream's declared length, so a long song is
    held once, not as blocks plus their concatenation. Frames are rows ([samples, channels]); the result is its
    transpose [channels, samples] (a view, not C-contiguous), trimmed in place."""

    def __init__(self, channels: int, expected: int | None):
        self.channels = channels
        self.buffer = np.empty((max(int(expected or 0), 1), channels), np.float32)
        self.count = 0

    def append(self, block: np.ndarray) -> None:
        """Add ``block`` [channels, n]."""
        n = block.shape[1]
        if self.count + n > len(self.buffer):  # the header under-declared: grow by half
            self.buffer.resize((max(self.count + n, int(len(self.buffer) * 1.5)), self.channels), refcheck=False)
        self.buffer[self.count:self.count + n] = block.T
        self.count += n

    def samples(self) -> np.ndarray:
        self.buffer.resize((self.count, self.channels), refcheck=False)  # in place: rows are the flat prefix
        return self.buffer.T


def _decode_with_soundfile(path: str, start_seconds: float, duration_seconds: float | None):
    """``(samples, sample_rate)``; _FormatNotReadable when soundfile cannot open the file."""
    import soundfile

    try:
        handle = soundfile.SoundFile(path)
    except Exception as exc:  # noqa: BLE001
        reason = _short_reason(exc)
        # libsndfile says "File does not exist" of files it cannot parse (mp3 data, images): not worth quoting
        raise _FormatNotReadable("" if "does not exist" in reason else reason) from exc
    with handle:
        sample_rate = handle.samplerate
        first = int(round(start_seconds * sample_rate))
        frames = -1 if duration_seconds is None else int(round(duration_seconds * sample_rate))
        if first >= handle.frames:
            return np.zeros((handle.channels, 0), np.float32), sample_rate
        if first:
            handle.seek(first)
        data = handle.read(frames=frames, dtype="float32", always_2d=True)
    return data.T, sample_rate


def audio_from_comfy(audio, input_name: str = "audio") -> AudioClip:
    """ComfyUI AUDIO dict ``{"waveform": [batch, channels, samples], "sample_rate": int}`` -> AudioClip.

    Uses the first item of the batch. Validates finiteness and length.
    """
    if isinstance(audio, AudioClip):
        return validate_clip(audio, input_name)
    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise AudioWalkInputError(input_name, f"got {type(audio).__name__}",
                                  "a ComfyUI AUDIO value (dict with 'waveform' and 'sample_rate')")
    waveform = audio["waveform"]
    if hasattr(waveform, "detach"):
        waveform = waveform.detach().to("cpu").float().numpy()
    waveform = np.asarray(waveform, dtype=np.float32)
    if waveform.ndim == 1:
        waveform = waveform[None, None, :]
    elif waveform.ndim == 2:
        waveform = waveform[None]
    if waveform.ndim != 3 or waveform.shape[0] == 0:
        raise AudioWalkInputError(input_name, f"waveform has shape {tuple(waveform.shape)}",
                                  "a waveform of shape [batch, channels, samples]")
    clip = AudioClip(waveform[0], int(audio["sample_rate"]))  # a view: the song is not copied
    return validate_clip(clip, input_name)


def audio_to_comfy(clip: AudioClip) -> dict:
    """AudioClip -> ComfyUI AUDIO dict with a float32 torch waveform ``[1, channels, samples]`` (a clip read from disk,
    such as a cached stem, is read whole: AUDIO is a tensor)."""
    import torch

    samples = clip.samples if isinstance(clip.samples, np.ndarray) else np.asarray(clip.samples)  # from disk: read
    return {"waveform": torch.from_numpy(samples)[None], "sample_rate": clip.sample_rate}  # shared, not copied
