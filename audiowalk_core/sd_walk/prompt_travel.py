"""Prompt travel driven by the music: which prompts each frame blends, and the batched CONDITIONING of a chunk.

A schedule is text of ``key: prompt`` entries (commas or new lines; prompts numbered from 1, as the node's
conditioning inputs), read in one of four modes:

- ``sections``: keys are section labels of the music map (``A: 1, B: 2``; ``*`` for every other label). Each
  section shows its label's prompt; the ``transition_frames`` before a section's first frame crossfade into it.
- ``bars`` / ``beats``: keys are bar or beat numbers from 0 (``0: 1, 8: 2, 16: 3``): bar k starts at the k-th
  downbeat (the k * 4-th beat when the features have no downbeats: 4/4 assumed); ``seconds``: keys are times.
  With ``transition_frames`` 0 the prompt travels linearly from one key to the next; with N > 0 it holds and
  crossfades over the N frames before each key.

Either way the schedule becomes knots ``(frame position, prompt)`` and frame f's weights are the linear
interpolation between the knots around f: a closed form per frame (any chunk equals that range of the whole).

ComfyUI applies conditioning per sample: CONDRegular/CONDCrossAttn.process_cond repeat a cond to the batch only
when its batch is smaller (comfy.utils.repeat_to_batch_size), so a cond of batch B on a latent batch of B gives
sample b its own row; SDXL's ``y`` is built from ``pooled_output`` with the pooled batch (model_base.SDXL.encode_adm),
Flux/SD3 read ``pooled_output`` the same way. So one sampler call diffuses a chunk's frames with their own prompts.
"""
from __future__ import annotations

import math
import re

import numpy as np

from ..errors import AudioWalkInputError, require_choice
from .music_noise import section_starts

SCHEDULE_MODES = ("sections", "bars", "beats", "seconds")
NODE = "Prompt Travel"


def _schedule_error(problem: str, expected: str) -> AudioWalkInputError:
    return AudioWalkInputError(f"{NODE}: schedule", problem, expected)


def parse_schedule(text: str, mode: str) -> list[tuple[str, int]]:
    """``[(key, prompt number from 1), ...]`` in the text's order; keys are labels (sections) or numbers."""
    require_choice(f"{NODE}: mode", mode, SCHEDULE_MODES)
    entries = [e.strip() for e in re.split(r"[,\n;]", str(text)) if e.strip()]
    if not entries:
        raise _schedule_error("is empty", "entries such as 'A: 1, B: 2' (sections) or '0: 1, 8: 2' (bars)")
    parsed = []
    for entry in entries:
        key, sep, prompt = entry.rpartition(":")
        key = key.strip()
        if not sep or not key or not prompt.strip().isdigit() or int(prompt) < 1:
            raise _schedule_error(f"entry {entry!r} is not 'key: prompt number'",
                                  "e.g. 'A: 1' (prompt numbers from 1, as the conditioning inputs)")
        if mode != "sections":
            try:
                number = float(key)
            except ValueError:
                raise _schedule_error(f"{key!r} in {entry!r} is not a number", f"{mode} numbers such as 0, 8, 16") \
                    from None
            if not math.isfinite(number) or number < 0 or (mode != "seconds" and number != int(number)):
                raise _schedule_error(f"{key!r} is not a {mode} number", "whole numbers >= 0 (seconds may be "
                                      "fractional)")
        parsed.append((key, int(prompt)))
    return parsed


def _key_frames(features, mode: str, keys) -> list[float]:
    fps = float(features.clock.fps)
    if mode == "seconds":
        return [float(k) * fps for k in keys]
    beats = np.asarray(getattr(features, "beat_frames", ()), np.int64)
    if mode == "bars":
        downbeats = np.asarray(getattr(features, "downbeat_frames", ()), np.int64)
        marks, what = (downbeats, "downbeats") if len(downbeats) else (beats[::4], "beats (every 4th, 4/4 assumed)")
    else:
        marks, what = beats, "beats"
    frames = []
    for key in keys:
        index = int(float(key))
        if index >= len(marks):
            raise _schedule_error(f"{mode[:-1]} {index} does not exist: the song has {len(marks)} {what}",
                                  f"{mode} numbers from 0 to {len(marks) - 1}" if len(marks) else
                                  "features with beats (Audio Features), or mode 'seconds'")
        frames.append(float(marks[index]))
    return frames


def schedule_knots(features, schedule: str, mode: str, transition_frames: int = 0) -> list[tuple[float, int]]:
    """The schedule as sorted knots ``(frame position, prompt number from 1)`` on the features' clock."""
    entries = parse_schedule(schedule, mode)
    transition = int(transition_frames)
    if transition < 0:
        raise AudioWalkInputError(f"{NODE}: transition_frames", f"{transition} is negative", "0 or more frames")
    count = int(features.frame_count)
    if mode == "sections":
        sections = tuple(getattr(features, "sections", ()) or ())
        if not sections:
            raise _schedule_error("mode 'sections' but the features have no sections",
                                  "features from the music map (sections), or mode bars/beats/seconds")
        by_label = dict(entries)
        labels = {str(s.label) for s in sections}
        unknown = [k for k in by_label if k != "*" and k not in labels]
        if unknown:
            raise _schedule_error(f"section label {unknown[0]!r} is not in the song",
                                  "labels among " + ", ".join(sorted(labels)) + " (or * for the others)")
        starts, numbers = section_starts(features, count)
        names = {}
        for section in sorted(sections, key=lambda s: float(s.start_seconds)):
            names.setdefault(str(section.label), len(names))
        label_of_number = {v: k for k, v in names.items()}
        prompts = []
        for number in numbers:
            label = label_of_number.get(int(number), "")
            if label not in by_label and "*" not in by_label:
                raise _schedule_error(f"section label {label!r} has no prompt",
                                      f"an entry '{label}: N' or '*: N' for the remaining labels")
            prompts.append(by_label.get(label, by_label.get("*")))
        knots = [(0.0, prompts[0])]
        ramp = max(transition, 1)
        for start, prompt in zip(starts[1:], prompts[1:]):
            knots.append((max(float(start) - ramp, knots[-1][0]), knots[-1][1]))
            knots.append((float(start), prompt))
        return knots
    frames = _key_frames(features, mode, [k for k, _ in entries])
    pairs = sorted(zip(frames, (p for _, p in entries)), key=lambda kp: kp[0])
    knots = [pairs[0]]
    for frame, prompt in pairs[1:]:
        if transition > 0:
            knots.append((max(frame - transition, knots[-1][0]), knots[-1][1]))
        knots.append((max(frame, knots[-1][0]), prompt))
    return knots


def travel_weights(knots, frame_indices, prompt_count: int) -> np.ndarray:
    """float64 [len(frame_indices), prompt_count]: each frame's prompt weights (rows sum to 1, at most two
    non-zero), linear between the knots around it; before the first knot the first prompt, after the last the last."""
    needed = max(p for _, p in knots)
    if needed > int(prompt_count):
        raise AudioWalkInputError(f"{NODE}: conditioning_{needed}", f"the schedule uses prompt {needed} but only "
                                  f"{prompt_count} conditioning input(s) are connected",
                                  f"conditioning_1 .. conditioning_{needed} linked (CLIP Text Encode)")
    positions = np.asarray([k for k, _ in knots], np.float64)
    prompts = np.asarray([p - 1 for _, p in knots], np.int64)
    frames = np.asarray(list(frame_indices), np.float64)
    weights = np.zeros((len(frames), int(prompt_count)), np.float64)
    right = np.searchsorted(positions, frames, side="right")  # first knot after the frame
    rows = np.arange(len(frames))
    before = right == 0
    after = right == len(positions)
    weights[rows[before], prompts[0]] = 1.0
    weights[rows[after], prompts[-1]] = 1.0
    inside = ~(before | after)
    low, high = right[inside] - 1, right[inside]
    span = positions[high] - positions[low]
    t = np.where(span > 0, (frames[inside] - positions[low]) / np.where(span > 0, span, 1.0), 1.0)
    np.add.at(weights, (rows[inside], prompts[low]), 1.0 - t)
    np.add.at(weights, (rows[inside], prompts[high]), t)
    return weights


def _single_entry(conditioning, number: int):
    if not isinstance(conditioning, (list, tuple)) or len(conditioning) != 1 or len(conditioning[0]) != 2:
        count = len(conditioning) if isinstance(conditioning, (list, tuple)) else 0
        raise AudioWalkInputError(f"{NODE}: conditioning_{number}", f"a CONDITIONING with {count} entries",
                                  "one prompt's CONDITIONING (straight from CLIP Text Encode, one entry)")
    tensor, extras = conditioning[0]
    if getattr(tensor, "ndim", 0) != 3 or int(tensor.shape[0]) != 1:
        raise AudioWalkInputError(f"{NODE}: conditioning_{number}", f"a cond of shape "
                                  f"{tuple(getattr(tensor, 'shape', ()))}", "[1, tokens, width] (CLIP Text Encode)")
    return tensor, dict(extras)


def blend_conditionings(conditionings, weights):
    """One CONDITIONING whose cond is [B, tokens, width] with row b = sum_p weights[b, p] * prompt p's cond.
    Prompts of different token lengths are repeated to their least common multiple first (what ComfyUI's
    CONDCrossAttn.concat does: attention over repeated keys is unchanged). ``pooled_output`` and every other tensor
    extra with batch 1 and one shape in all prompts is blended the same way ([B, ...]); other extras come from
    prompt 1."""
    import torch

    entries = [_single_entry(c, i + 1) for i, c in enumerate(conditionings)]
    weights = torch.as_tensor(np.asarray(weights, np.float64))
    widths = {int(t.shape[2]) for t, _ in entries}
    if len(widths) != 1:
        raise AudioWalkInputError(f"{NODE}: conditioning_2", f"conds of widths {sorted(widths)}",
                                  "every prompt encoded by the same CLIP (one checkpoint)")
    length = math.lcm(*(int(t.shape[1]) for t, _ in entries))
    first = entries[0][0]
    used = weights.shape[1]
    rows = [t if int(t.shape[1]) == length else t.repeat(1, length // int(t.shape[1]), 1) for t, _ in entries[:used]]
    stack = torch.cat([r.reshape(1, -1).to(torch.float32) for r in rows])  # [prompts, tokens * width]
    cond = (weights.to(torch.float32) @ stack).reshape(len(weights), length, -1).to(first.dtype)
    extras = dict(entries[0][1])
    for key, value in entries[0][1].items():
        values = [e.get(key) for _, e in entries[:used]]
        if all(isinstance(v, torch.Tensor) and v.shape == value.shape and v.ndim >= 1 and v.shape[0] == 1
               for v in values):
            stacked = torch.stack([v[0].to(torch.float32) for v in values])
            extras[key] = torch.einsum("bp,p...->b...", weights.to(torch.float32), stacked).to(value.dtype)
    return [[cond, extras]]


def slice_conditioning(conditioning, first: int, stop: int, batch: int):
    """Rows ``[first, stop)`` of a per-frame CONDITIONING (``[[cond [batch, tokens, width], extras]]``): every
    tensor whose first dimension is ``batch`` (the cond, ``pooled_output`` ...) is sliced, batch-1 ones (a single
    prompt, the negative) are kept whole, as ComfyUI repeats them to any batch."""
    import torch

    def rows(value):
        if isinstance(value, torch.Tensor) and value.ndim >= 1 and int(value.shape[0]) == int(batch) and batch > 1:
            return value[first:stop]
        return value

    return [[rows(cond), {key: rows(value) for key, value in extras.items()}] for cond, extras in conditioning]


def linked_conditionings(first, more: dict, inputs: int) -> list:
    """Prompt Travel's prompts in order: ``first`` (conditioning_1) and ``more`` {"conditioning_N": value or None}
    for N = 2..``inputs``, linked from 1 without gaps (a gap would silently renumber the prompts after it)."""
    linked = [first]
    gap = None
    for number in range(2, int(inputs) + 1):
        value = more.get(f"conditioning_{number}")
        if value is None:
            gap = gap or number
            continue
        if gap is not None:
            raise AudioWalkInputError(f"{NODE}: conditioning_{gap}", f"not linked, but conditioning_{number} is",
                                      f"conditioning inputs linked from 1 without gaps (link conditioning_{gap}, or "
                                      f"move conditioning_{number} up)")
        linked.append(value)
    return linked

