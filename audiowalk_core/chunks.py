"""Whole songs in chunks of frames: the plan, the AUDIOWALK_CHUNK value, and the prompt of each next chunk.

A song at 30 fps and 512 px is thousands of frames: more than one IMAGE tensor or one KSampler batch can hold. So a
render runs chunk by chunk, ``chunk_frames`` frames at a time, and Save Video encodes each chunk as a part and joins
the parts (stream copy, no re-encode) with the music once the last chunk is in. Inside ComfyUI each chunk is one
execution of the same graph: the Render Chunks node says which chunk this execution renders, and after Save Video has
written chunk k it queues the same prompt with the chunk index k + 1 (:func:`prompt_for_chunk`). Nodes upstream of
the chunk (audio, features, walk, models, prompts) keep their cached outputs between chunks, so they run once.

Everything here is plain data and arithmetic: no ComfyUI import, testable on known answers.
"""
from __future__ import annotations

import copy
import hashlib
import json
import uuid
from dataclasses import dataclass

from .clock import FrameClock
from .errors import AudioWalkInputError, require_choice

# What the Render Chunks node's ``render`` widget offers.
RENDER_WHOLE_SONG = "whole song"
RENDER_ONE_CHUNK = "one chunk"
RENDER_MODES = (RENDER_WHOLE_SONG, RENDER_ONE_CHUNK)

# The chunk size the shipped workflows use: 240 frames (8 s at 30 fps). The diffused workflow then samples 61
# keyframes per KSampler call at interpolation_steps 3 (60 in the chunk + the next one): at 512 px that is a 64x64
# latent batch of 61, 122 with classifier-free guidance; ComfyUI's SD1.5 estimate of ~82 MB per latent at fp16
# gives about 10 GB of sampling memory, beside ~2 GB of weights, inside a 24 GB GPU with room for the VAE. The
# BigGAN part holds 240 frames of 512 px float32 IMAGE: 0.75 GB.
DEFAULT_CHUNK_FRAMES = 240

# The Render Chunks node reads these keys of its own entry in the queued prompt (set by :func:`prompt_for_chunk`).
CHUNK_INDEX_INPUT = "chunk_index"
ORIGIN_INPUT = "audiowalk_render_origin"  # the prompt id of the render's first chunk (never a widget)


@dataclass(frozen=True)
class ChunkPlan:
    """``total_frames`` frames cut into chunks of ``chunk_frames`` (the last one may be shorter).
    ``chunk_frames`` 0 means one chunk of the whole song."""

    total_frames: int
    chunk_frames: int

    def __post_init__(self):
        if int(self.total_frames) < 1:
            raise AudioWalkInputError("latents", f"{self.total_frames} frames", "a song of at least one frame")
        if int(self.chunk_frames) < 0:
            raise AudioWalkInputError("chunk_frames", f"{self.chunk_frames} is negative",
                                      "frames per chunk >= 1, or 0 for the whole song at once")

    @property
    def frames_per_chunk(self) -> int:
        return int(self.total_frames) if self.chunk_frames == 0 else min(int(self.chunk_frames), self.total_frames)

    @property
    def count(self) -> int:
        """Number of chunks (>= 1)."""
        return -(-int(self.total_frames) // self.frames_per_chunk)

    def frame_range(self, index: int) -> tuple[int, int]:
        """``(start_frame, frame_count)`` of chunk ``index`` (0-based)."""
        if not 0 <= int(index) < self.count:
            raise AudioWalkInputError("chunk_index", f"{index} is outside 0..{self.count - 1}",
                                      f"a chunk index below the chunk count {self.count} "
                                      f"({self.total_frames} frames in chunks of {self.frames_per_chunk})")
        start = int(index) * self.frames_per_chunk
        return start, min(self.frames_per_chunk, self.total_frames - start)

    def ranges(self) -> list[tuple[int, int]]:
        return [self.frame_range(i) for i in range(self.count)]


@dataclass(frozen=True)
class RenderChunk:
    """The AUDIOWALK_CHUNK value: which part of which render this execution makes.

    ``index`` of ``count`` chunks; frames ``[start_frame, start_frame + frame_count)`` of ``total_frames`` on
    ``clock`` (the song's exact rational frame clock). ``render_id``: a digest of the whole graph's settings (the
    same graph and song give the same id; parts of other renders are never mixed in). ``mode``: "whole song" (Save
    Video queues the next chunk and joins at the end) or "one chunk" (Save Video writes this chunk alone, for
    renders spread over several servers). ``origin``: id of the first chunk's prompt (ids of the next prompts
    derive from it); ``node_id``: the Render Chunks node in the prompt; ``prompt``: the prompt this chunk runs in
    (to queue the next one), None outside ComfyUI; ``audio``: the song to mux into the joined video (a ComfyUI
    AUDIO value or an AudioClip, held by reference), or None."""

    index: int
    count: int
    start_frame: int
    frame_count: int
    total_frames: int
    clock: FrameClock
    render_id: str
    mode: str = RENDER_WHOLE_SONG
    origin: str = ""
    node_id: str = ""
    prompt: dict | None = None
    audio: object = None

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.frame_count

    @property
    def is_last(self) -> bool:
        return self.index == self.count - 1

    @property
    def is_whole_song(self) -> bool:
        """True when this one chunk is all the frames (nothing to join)."""
        return self.count == 1

    def describe(self) -> str:
        """One line for the UI: "chunk 3 of 12: frames 480-719 of 2,880"."""
        return (f"chunk {self.index + 1} of {self.count}: frames {self.start_frame}-{self.end_frame - 1} "
                f"of {self.total_frames:,}")


def plan_chunk(total_frames: int, chunk_frames: int, index: int, clock: FrameClock, render_id: str,
               mode: str = RENDER_WHOLE_SONG, **where) -> RenderChunk:
    """The RenderChunk ``index`` of a render of ``total_frames`` frames in chunks of ``chunk_frames``."""
    require_choice("render", mode, RENDER_MODES)
    plan = ChunkPlan(int(total_frames), int(chunk_frames))
    start, count = plan.frame_range(int(index))
    return RenderChunk(int(index), plan.count, start, count, int(total_frames), clock, render_id, mode, **where)


def render_id_of_prompt(prompt: dict, chunk_node_id: str) -> str:
    """A 16-hex-digit digest of the prompt with the chunk bookkeeping of node ``chunk_node_id`` removed: every
    chunk of one render has the same id, and any change of settings, song or seed gives another."""
    stripped = copy.deepcopy(prompt)
    inputs = stripped.get(str(chunk_node_id), {}).get("inputs", {})
    for key in (CHUNK_INDEX_INPUT, ORIGIN_INPUT, "render"):
        inputs.pop(key, None)
    text = json.dumps(stripped, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def prompt_for_chunk(prompt: dict, chunk_node_id: str, index: int, origin: str) -> dict:
    """A copy of ``prompt`` whose Render Chunks node (``chunk_node_id``) renders chunk ``index`` of the render
    started by prompt ``origin``. Nothing else changes, so ComfyUI's cache keeps every node upstream of the chunk."""
    node_id = str(chunk_node_id)
    if node_id not in prompt or "inputs" not in prompt[node_id]:
        raise AudioWalkInputError("prompt", f"has no node {node_id!r}", "the prompt that holds the Render Chunks node")
    queued = copy.deepcopy(prompt)
    queued[node_id]["inputs"][CHUNK_INDEX_INPUT] = int(index)
    queued[node_id]["inputs"][ORIGIN_INPUT] = str(origin)
    return queued


def chunk_prompt_id(origin: str, index: int) -> str:
    """The prompt id of chunk ``index`` of the render whose first prompt was ``origin`` (chunk 0 keeps ``origin``).
    Deterministic, so a client that queued the first prompt knows which ids to follow."""
    if int(index) == 0:
        return str(origin)
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"audiowalk-chunk:{origin}:{int(index)}"))


def origin_of_prompt(prompt: dict | None, chunk_node_id: str, current_prompt_id: str | None) -> str:
    """The first chunk's prompt id: the one recorded in the prompt by :func:`prompt_for_chunk`, else the prompt
    now running (this is the first chunk), else a digest of the prompt (outside a server)."""
    if prompt:
        recorded = prompt.get(str(chunk_node_id), {}).get("inputs", {}).get(ORIGIN_INPUT)
        if recorded:
            return str(recorded)
    if current_prompt_id:
        return str(current_prompt_id)
    return "local-" + render_id_of_prompt(prompt or {}, chunk_node_id)


def needs_next_chunk(chunk: RenderChunk) -> bool:
    """True when a "whole song" render has chunks after this one (Save Video then queues the next)."""
    return chunk.mode == RENDER_WHOLE_SONG and not chunk.is_last


def render_chunk(latents, chunk_frames: int, render: str, chunk_index: int, *, prompt: dict | None = None,
                 node_id: str = "", current_prompt_id: str | None = None, audio=None):
    """The Render in Chunks step: ``(RenderChunk, the chunk's rows of latents)`` for chunk ``chunk_index`` of the
    whole song's ``latents`` in chunks of ``chunk_frames`` frames. ``prompt``/``node_id``: the queued prompt and
    the node in it (ComfyUI's hidden inputs) that give the render its id and origin; without a prompt (plain
    Python) the id is a digest of the latents themselves."""
    node_id = str(node_id or "")
    if prompt:
        render_id = render_id_of_prompt(prompt, node_id)
    else:
        digest = hashlib.sha256()
        for array in (latents.noise, latents.class_weights):
            digest.update(memoryview(array).cast("B") if array.flags["C_CONTIGUOUS"] else array.tobytes())
        digest.update(f"{latents.truncation}:{latents.seed}:{latents.clock.fps}:{chunk_frames}".encode())
        render_id = digest.hexdigest()[:16]
    chunk = plan_chunk(latents.frame_count, chunk_frames, chunk_index, latents.clock, render_id, render,
                       origin=origin_of_prompt(prompt, node_id, current_prompt_id), node_id=node_id,
                       prompt=prompt, audio=audio)
    return chunk, latents.slice_frames(chunk.start_frame, chunk.frame_count)
