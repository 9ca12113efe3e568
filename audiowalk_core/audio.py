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
    """Decoded audio: ``samples`` float32 ``[channels, num_samples]`` in [-1, 1], ``sample_rate`` in Hz."""

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
        if self.channels == 1:
            return self.samples[0]
        return self.samples.mean(axis=0, dtype=np.float32)


# The demo song the node pack ships (written by ``python -m audiowalk_tools.demo``; a test checks it is that song):
# Load Audio offers it when the input folder has no file of that name, so the shipped templates run as opened.
BUNDLED_DEMO_SONG = Path(__file__).resolve().parent / "data" / "audiowalk_demo.flac"


def validate_clip(clip: AudioClip, input_name: str = "audio") -> AudioClip:
    """Check that a clip is usable for analysis: non-empty, finite, positive sample rate."""
    if clip.sample_rate is None or int(clip.sample_rate) <= 0:
        raise AudioWalkInputError(input_name, f"sample rate {clip.sample_rate!r} is not positive",
                                  "a sample rate in Hz > 0")
    if clip.samples.ndim != 2 or clip.num_samples == 0 or clip.channels == 0:
        raise AudioWalkInputError(input_name, "contains no samples (zero-length audio)",
                                  "audio at least one video frame long")
    if not np.isfinite(clip.samples).all():
        bad = int(np.count_nonzero(~np.isfinite(clip.samples)))
        raise AudioWalkInputError(input_name, f"{bad} samples are NaN or infinite",
                                  "finite sample values (re-export the file or clean the upstream node)")
    return clip


def load_audio(path, start_seconds: float = 0.0, duration_seconds: float | None = None,
               input_name: str = "audio file") -> AudioClip:
    """Decode an audio file (wav, flac, ogg, mp3, m4a, ...) at its native sample rate and channel count.

    ``start_seconds`` skips the beginning; ``duration_seconds`` (None or <= 0: to the end) limits the length.
    Raises AudioWalkInputError for a missing, unreadable or empty file, or a start past its end.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AudioWalkInputError(input_name, f"{path!r} does not exist or is not a file",
                                  "an existing audio file (" + ", ".join(AUDIO_EXTENSIONS) + ")")
    if not math.isfinite(start_seconds) or start_seconds < 0:
        raise AudioWalkInputError("start_seconds", f"{start_seconds!r} is negative or not finite", "a time >= 0 s")
    if duration_seconds is not None and (not math.isfinite(duration_seconds) or duration_seconds <= 0):
        duration_seconds = None
    errors = []
    samples = sample_rate = None
    try:
        samples, sample_rate = _decode_with_pyav(path, start_seconds, duration_seconds)
    except Exception as exc:  # noqa: BLE001 - any decoder failure falls back to soundfile
        errors.append(f"PyAV: {exc}")
    if samples is None:
        try:
            samples, sample_rate = _decode_with_soundfile(path, start_seconds, duration_seconds)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"soundfile: {exc}")
    if samples is None:
        raise AudioWalkInputError(input_name, f"{os.path.basename(path)!r} could not be decoded as audio ("
                                  + "; ".join(errors) + ")", "a valid " + "/".join(e[1:] for e in AUDIO_EXTENSIONS)
                                  + " file")
    if samples.shape[1] == 0:
        if start_seconds > 0:
            raise AudioWalkInputError("start_seconds", f"{start_seconds} s is at or past the end of "
                                      f"{os.path.basename(path)!r}", "a start time inside the audio")
        raise AudioWalkInputError(input_name, f"{os.path.basename(path)!r} contains no audio samples",
                                  "a non-empty audio file")
    clip = AudioClip(np.ascontiguousarray(samples, dtype=np.float32), int(sample_rate))
    return validate_clip(clip, input_name)


def _decode_with_pyav(path: str, start_seconds: float, duration_seconds: float | None):
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
        chunks = []
        position = 0  # samples decoded so far (from the start of the stream)
        done = False
        for packet in container.demux(stream):
            for frame in packet.decode():
                for out in resampler.resample(frame):
                    array = out.to_ndarray().reshape(channels, -1)
                    begin, end = position, position + array.shape[1]
                    position = end
                    lo = max(first - begin, 0)
                    hi = array.shape[1] if stop is None else min(stop - begin, array.shape[1])
                    if hi > lo:
                        chunks.append(array[:, lo:hi])
                    if stop is not None and position >= stop:
                        done = True
                        break
                if done:
                    break
            if done:
                break
        if not done:
            for out in resampler.resample(None):
                array = out.to_ndarray().reshape(channels, -1)
                begin, end = position, position + array.shape[1]
                position = end
                lo = max(first - begin, 0)
                hi = array.shape[1] if stop is None else min(stop - begin, array.shape[1])
                if hi > lo:
                    chunks.append(array[:, lo:hi])
    if position == 0:
        raise ValueError("no audio frames decoded")
    samples = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    return samples.astype(np.float32, copy=False), sample_rate


def _decode_with_soundfile(path: str, start_seconds: float, duration_seconds: float | None):
    import soundfile

    with soundfile.SoundFile(path) as handle:
        sample_rate = handle.samplerate
        first = int(round(start_seconds * sample_rate))
        frames = -1 if duration_seconds is None else int(round(duration_seconds * sample_rate))
        if first >= handle.frames:
            return np.zeros((handle.channels, 0), np.float32), sample_rate
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
    clip = AudioClip(np.ascontiguousarray(waveform[0]), int(audio["sample_rate"]))
    return validate_clip(clip, input_name)


def audio_to_comfy(clip: AudioClip) -> dict:
    """AudioClip -> ComfyUI AUDIO dict with a float32 torch waveform ``[1, channels, samples]``."""
    import torch

    return {"waveform": torch.from_numpy(np.ascontiguousarray(clip.samples))[None], "sample_rate": clip.sample_rate}
