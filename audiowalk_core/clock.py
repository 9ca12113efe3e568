"""The frame clock: which audio samples belong to which video frame, at a rational fps."""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import AudioWalkInputError

# Common NTSC rates typed as decimals in a FLOAT widget map to their exact rational value.
_NTSC_BASES = (24, 30, 48, 60, 120)


def parse_fps(value, input_name: str = "fps") -> Fraction:
    """Return fps as an exact Fraction.

    Accepts int, float, Fraction or a string such as ``"30"``, ``"29.97"`` or ``"30000/1001"``.
    Decimal NTSC rates (23.976, 29.97, 59.94, ...) become ``N*1000/1001``.
    """
    try:
        if isinstance(value, Fraction):
            fps = value
        elif isinstance(value, str) and ("/" in value or "." not in value):
            fps = Fraction(value.strip())  # "30", "30000/1001": exact
        elif isinstance(value, (int, np.integer)):
            fps = Fraction(int(value))
        else:
            as_float = float(value)  # a float, or a decimal string such as "29.97"
            if not math.isfinite(as_float):
                raise ValueError
            fps = Fraction(as_float).limit_denominator(1001)
            for base in _NTSC_BASES:
                ntsc = Fraction(base * 1000, 1001)
                if abs(as_float - float(ntsc)) < 0.005:
                    fps = ntsc
                    break
            else:
                rounded = Fraction(round(as_float * 1000), 1000)
                if abs(float(rounded) - as_float) < 1e-9:
                    fps = rounded
    except (ValueError, TypeError, ZeroDivisionError):
        raise AudioWalkInputError(input_name, f"{value!r} is not a frame rate",
                                  "a positive number such as 30, 29.97 or '30000/1001'") from None
    if fps <= 0:
        raise AudioWalkInputError(input_name, f"{value!r} is not positive", "a frame rate > 0, such as 30")
    if fps > 1000:
        raise AudioWalkInputError(input_name, f"{value!r} is too high", "a frame rate of at most 1000")
    return fps


@dataclass(frozen=True)
class FrameClock:
    """Maps video frames to audio samples.

    Frame ``i`` covers seconds ``[i/fps, (i+1)/fps)`` and samples
    ``[boundary(i), boundary(i+1))`` with ``boundary(i) = round(i * sample_rate / fps)`` (exact integer maths).
    ``frame_count`` is the number of frames of the video.
    """

    fps: Fraction
    sample_rate: int
    frame_count: int

    @classmethod
    def for_duration(cls, num_samples: int, sample_rate: int, fps) -> "FrameClock":
        """Clock whose frame count makes the video as long as ``num_samples`` of audio, within half a frame.

        Raises AudioWalkInputError when the audio is shorter than one frame.
        """
        fps = parse_fps(fps)
        if sample_rate <= 0:
            raise AudioWalkInputError("sample_rate", f"{sample_rate} is not positive", "a sample rate in Hz > 0")
        exact_frames = Fraction(int(num_samples)) * fps / int(sample_rate)
        if exact_frames < 1:
            raise AudioWalkInputError(
                "audio", f"{num_samples} samples at {sample_rate} Hz is shorter than one frame at {float(fps):g} fps",
                f"at least {math.ceil(sample_rate / fps)} samples")
        frame_count = int(math.floor(exact_frames + Fraction(1, 2)))
        return cls(fps=fps, sample_rate=int(sample_rate), frame_count=frame_count)

    def __post_init__(self):
        if not isinstance(self.fps, Fraction):
            object.__setattr__(self, "fps", parse_fps(self.fps))
        if self.frame_count < 0:
            raise AudioWalkInputError("frame_count", f"{self.frame_count} is negative", "a count >= 0")

    @property
    def seconds_per_frame(self) -> float:
        return float(1 / self.fps)

    @property
    def duration_seconds(self) -> float:
        """Length of the video in seconds."""
        return float(self.frame_count / self.fps)

    def boundary_sample(self, frame: int) -> int:
        """First sample of ``frame`` (may equal the total sample count for the end boundary)."""
        numerator = frame * self.sample_rate * self.fps.denominator
        return (2 * numerator + self.fps.numerator) // (2 * self.fps.numerator)

    def frame_boundaries(self) -> np.ndarray:
        """Sample boundaries of all frames, int64 ``[frame_count + 1]``."""
        frames = np.arange(self.frame_count + 1, dtype=np.int64)
        numerator = frames * (self.sample_rate * self.fps.denominator)
        return (2 * numerator + self.fps.numerator) // (2 * self.fps.numerator)

    def frame_sample_span(self, frame: int) -> tuple[int, int]:
        """``(start, stop)`` samples of ``frame``."""
        return self.boundary_sample(frame), self.boundary_sample(frame + 1)

    def frame_start_seconds(self) -> np.ndarray:
        """Start time of each frame in seconds, float64 ``[frame_count]``."""
        return np.arange(self.frame_count, dtype=np.float64) * self.seconds_per_frame

    def frame_center_seconds(self) -> np.ndarray:
        """Centre time of each frame in seconds, float64 ``[frame_count]``."""
        return (np.arange(self.frame_count, dtype=np.float64) + 0.5) * self.seconds_per_frame

    def frame_at_seconds(self, seconds) -> np.ndarray:
        """Index of the frame that contains each time (seconds), clipped to the clock."""
        idx = np.floor(np.asarray(seconds, dtype=np.float64) * float(self.fps) + 1e-9).astype(np.int64)
        return np.clip(idx, 0, max(self.frame_count - 1, 0))

    def with_frame_count(self, frame_count: int) -> "FrameClock":
        return FrameClock(self.fps, self.sample_rate, int(frame_count))

    def to_dict(self) -> dict:
        return {"fps": f"{self.fps.numerator}/{self.fps.denominator}", "sample_rate": self.sample_rate,
                "frame_count": self.frame_count}
