"""Errors raised for bad user input.

Every message names the input that was wrong and what was expected, so a ComfyUI user sees
"audio file 'song.mp3': not found in the input folder; expected ..." instead of a traceback.
"""
from __future__ import annotations

# ComfyUI shows an error's type as ``<class __module__>.<class name>``; the pack may load this file under a longer
# module name (its folder path), so the classes carry the public name explicitly.
PUBLIC_MODULE = "audiowalk_core.errors"


class AudioWalkInputError(ValueError):
    """A user-facing input was wrong. ``input_name`` is the widget/argument name."""

    __module__ = PUBLIC_MODULE

    def __init__(self, input_name: str, problem: str, expected: str | None = None):
        self.input_name = input_name
        self.problem = problem
        self.expected = expected
        message = f"{input_name}: {problem}"
        if expected:
            message += f"; expected {expected}"
        super().__init__(message)


class AudioWalkCancelled(RuntimeError):
    """The user cancelled a long-running operation (raised from a progress callback)."""

    __module__ = PUBLIC_MODULE


def require_choice(input_name: str, value, choices, what: str = "is unknown"):
    """Return ``value`` when it is one of ``choices``; else raise AudioWalkInputError naming the input and the
    choices ("mode: 'fast' is unknown; expected one of improved, seed")."""
    choices = list(choices)
    if value not in choices:
        raise AudioWalkInputError(input_name, f"{value!r} {what}", "one of " + ", ".join(str(c) for c in choices))
    return value
