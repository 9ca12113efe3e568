"""The AUDIOWALK_STEMS value: named tracks of one song (drums, bass, vocals ... names are free) on the mix's clock,
from the user's own stem files (a DAW export), and the features of one stem.

Every stem has the mix's sample rate and length: a stem at another rate is resampled (polyphase, with a note), one
whose length differs from the mix by more than ``LENGTH_TOLERANCE_SECONDS`` (one frame at 24 fps, the lowest
common video rate) is refused, a shorter difference is padded with silence or trimmed. All files are checked before
any is decoded, and every error names the stem.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from .audio import AudioClip, check_audio_file, load_audio, validate_clip
from .errors import AudioWalkInputError

LENGTH_TOLERANCE_SECONDS = 1.0 / 24.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,39}$")


@dataclass(frozen=True)
class Stems:
    """Named tracks ``clips`` {name: AudioClip} of one song, each ``[channels, num_samples]`` at ``sample_rate`` Hz,
    in the order given; ``notes`` say what was adjusted (resampled, padded); ``source`` "files" or a model name."""

    clips: dict
    sample_rate: int
    num_samples: int
    notes: tuple = ()
    source: str = "files"
    digests: dict = field(default_factory=dict)

    @property
    def names(self) -> tuple:
        return tuple(self.clips)

    def clip(self, name: str, input_name: str = "stem") -> AudioClip:
        """The stem called ``name``; a clear error lists the stems otherwise."""
        if name not in self.clips:
            raise AudioWalkInputError(input_name, f"no stem named {name!r}", "one of " + ", ".join(self.clips))
        return self.clips[name]


def parse_stem_list(text, input_name: str = "stems") -> dict:
    """``"drums = drums.wav\\nbass = bass.flac"`` (one ``name = file`` per line, or ``name=file`` items) ->
    {name: file}. Names: letters, digits, ``_`` and ``-``, unique (case-insensitive)."""
    items = list(text.items()) if isinstance(text, dict) else None
    if items is None:
        items = []
        for number, line in enumerate(str(text or "").splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "=" not in line:
                raise AudioWalkInputError(input_name, f"line {number} {line!r} has no '='",
                                          "one 'name = file' per line, e.g. 'drums = drums.wav'")
            name, path = (part.strip() for part in line.split("=", 1))
            items.append((name, path))
    if not items:
        raise AudioWalkInputError(input_name, "no stems given", "one 'name = file' per line, e.g. 'drums = drums.wav'")
    seen, out = set(), {}
    for name, path in items:
        if not _NAME.match(str(name)):
            raise AudioWalkInputError(input_name, f"stem name {name!r} is not a plain name",
                                      "letters, digits, _ or - (up to 40), e.g. drums, lead-vocals")
        if name.lower() in seen:
            raise AudioWalkInputError(input_name, f"stem {name!r} is given twice", "each stem name once")
        if not str(path):
            raise AudioWalkInputError(f"stem {name}", "no file given", "an audio file after '='")
        seen.add(name.lower())
        out[str(name)] = path
    return out


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling of float32 ``[channels, samples]`` from ``from_rate`` to ``to_rate`` Hz."""
    from scipy.signal import resample_poly

    ratio = Fraction(int(to_rate), int(from_rate))
    out = resample_poly(samples, ratio.numerator, ratio.denominator, axis=1)
    return np.ascontiguousarray(out, np.float32)


def fit_stem(name: str, clip: AudioClip, sample_rate: int, num_samples: int) -> tuple[AudioClip, list[str]]:
    """The stem at the mix's rate and length, with notes; an error naming the stem when the lengths differ by more
    than LENGTH_TOLERANCE_SECONDS."""
    notes = []
    stem_seconds, mix_seconds = clip.samples.shape[1] / clip.sample_rate, num_samples / sample_rate
    if abs(stem_seconds - mix_seconds) > LENGTH_TOLERANCE_SECONDS:  # checked before any resampling work
        raise AudioWalkInputError(
            f"stem {name}", f"lasts {stem_seconds:.3f} s where the mix lasts {mix_seconds:.3f} s",
            f"a stem as long as the mix (within {LENGTH_TOLERANCE_SECONDS:.3f} s: "
            "export every stem from the start of the song to its end)")
    samples = clip.samples
    if clip.sample_rate != sample_rate:
        samples = resample(samples, clip.sample_rate, sample_rate)
        notes.append(f"stem {name}: resampled from {clip.sample_rate} Hz to the mix's {sample_rate} Hz")
    difference = samples.shape[1] - num_samples
    if difference < 0:
        samples = np.pad(samples, ((0, 0), (0, -difference)))
        notes.append(f"stem {name}: {-difference} samples of silence added at the end")
    elif difference > 0:
        samples = samples[:, :num_samples]
        notes.append(f"stem {name}: {difference} samples cut at the end")
    return validate_clip(AudioClip(np.ascontiguousarray(samples, np.float32), sample_rate), f"stem {name}"), notes


def stems_from_clips(mix: AudioClip, clips: dict, source: str = "files") -> Stems:
    """Stems from decoded clips {name: AudioClip}, fitted to ``mix`` (see :func:`fit_stem`)."""
    validate_clip(mix, "audio")
    fitted, notes = {}, []
    for name, clip in clips.items():
        fitted[name], stem_notes = fit_stem(name, clip, mix.sample_rate, mix.num_samples)
        notes += stem_notes
    return Stems(fitted, mix.sample_rate, mix.num_samples, tuple(notes), source)


def load_stems(mix: AudioClip, files: dict, resolve=None, start_seconds: float = 0.0,
               duration_seconds: float | None = None) -> Stems:
    """Decode the stem ``files`` {name: path} and fit them to ``mix``. ``resolve(name, path) -> Path`` maps a
    listed file to its place (e.g. inside ComfyUI's input folder); ``start_seconds`` / ``duration_seconds`` take
    the same part of each stem as of the mix. Every file is checked (exists, not text, not empty) before any is
    decoded."""
    from .paths import file_digest

    validate_clip(mix, "audio")
    paths = {}
    for name, path in files.items():
        where = resolve(name, path) if resolve else path
        paths[name] = check_audio_file(where, f"stem {name}")
    fitted, notes, digests = {}, [], {}
    for name, path in paths.items():  # each stem fitted (and its length checked) as soon as it is decoded
        clip = load_audio(path, start_seconds, duration_seconds, input_name=f"stem {name}")
        fitted[name], stem_notes = fit_stem(name, clip, mix.sample_rate, mix.num_samples)
        notes += stem_notes
        digests[name] = file_digest(path)
    return Stems(fitted, mix.sample_rate, mix.num_samples, tuple(notes), "files", digests)


def stem_features(stems: Stems, name: str, fps=30, mix_features=None, **analysis):
    """Features of the stem ``name`` on the mix's clock (``analysis``: compute_features' keywords). With
    ``mix_features`` the stem takes the mix's frame rate (``fps`` is then not used) and carries the mix's beats,
    downbeats, meter and sections (its own curves otherwise)."""
    from .analysis import compute_features
    from .music_map import with_music_map_of

    if mix_features is not None:
        fps = mix_features.clock.fps
    features = compute_features(stems.clip(name), fps, **analysis)
    if mix_features is not None:
        features = with_music_map_of(features, mix_features)
    return features


def stem_energies(stems: Stems, clock) -> dict:
    """RMS of each stem per frame of ``clock``, each normalised by the loudest stem's 99th percentile (so quiet
    stems look quiet), float32 [frame_count] in [0, 1]."""
    from .analysis import frame_rms

    raw = {name: frame_rms(clip.mono_reader(), clock) for name, clip in stems.clips.items()}
    scale = max([float(np.percentile(values, 99)) for values in raw.values() if len(values)] + [1e-12])
    return {name: np.clip(values / scale, 0.0, 1.0).astype(np.float32) for name, values in raw.items()}
