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
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from .clock import FrameClock
from .errors import AudioWalkInputError, require_choice
from .paths import resolve_inside

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
class ChunkSpan:
    """Chunk ``index`` of ``count``: frames ``[start_frame, start_frame + frame_count)``; where its part goes."""

    index: int
    count: int
    start_frame: int
    frame_count: int

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.frame_count

    @property
    def part_name(self) -> str:
        return part_file_name(self.start_frame, self.frame_count)

    def describe(self, total_frames: int | None = None) -> str:
        """One line for the UI: "chunk 3 of 12: frames 480-719 of 2,880" (without "of ..." when no total)."""
        total = "" if total_frames is None else f" of {int(total_frames):,}"
        return f"chunk {self.index + 1} of {self.count}: frames {self.start_frame}-{self.end_frame - 1}{total}"


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

    def span(self, index: int) -> ChunkSpan:
        return ChunkSpan(int(index), self.count, *self.frame_range(index))


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
    def span(self) -> ChunkSpan:
        return ChunkSpan(self.index, self.count, self.start_frame, self.frame_count)

    @property
    def is_last(self) -> bool:
        return self.index == self.count - 1

    @property
    def is_whole_song(self) -> bool:
        """True when this one chunk is all the frames (nothing to join)."""
        return self.count == 1

    def describe(self) -> str:
        """One line for the UI: "chunk 3 of 12: frames 480-719 of 2,880"."""
        return self.span.describe(self.total_frames)


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


def earlier_chunk_prompt_ids(chunk) -> list[str]:
    """The prompt ids of the chunks before ``chunk`` in its "whole song" render (its first prompt ``origin`` and
    the derived ids of chunks 1 .. index - 1; none for chunk 0 or a "one chunk" render). A server removes their
    history entries as this chunk starts, so ComfyUI's Queue panel, which draws one card per history entry, holds
    one card per render: the running chunk, then the finished mp4."""
    if chunk.mode != RENDER_WHOLE_SONG or chunk.index < 1 or not chunk.origin:
        return []
    return [str(chunk.origin)] + [chunk_prompt_id(chunk.origin, index) for index in range(1, chunk.index)]


def chunk_index_of_prompt(prompt: dict, origin: str) -> int | None:
    """The chunk index a queued prompt renders when it belongs to the render started by prompt ``origin`` (found by
    its Render in Chunks node's recorded origin), else None."""
    for node in (prompt or {}).values():
        inputs = node.get("inputs", {}) if isinstance(node, dict) else {}
        if inputs.get(ORIGIN_INPUT) == str(origin) and CHUNK_INDEX_INPUT in inputs:
            return int(inputs[CHUNK_INDEX_INPUT])
    return None


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


@dataclass(frozen=True)
class ChunkRequest:
    """The requeue description: queue ``prompt`` under ``prompt_id`` to render chunk ``index`` of ``count``; in
    ComfyUI's queue it takes the number :func:`chunk_queue_number` gives (so it runs before anything queued after
    the render started and shows as the newest entry of the history panel)."""

    prompt: dict
    prompt_id: str
    index: int
    count: int

    def queue_number(self, running_number: float) -> float:
        """Its queue number, queued from the chunk before it that runs under ``running_number``."""
        return chunk_queue_number(running_number, self.count)


def next_chunk_request(chunk: RenderChunk) -> ChunkRequest | None:
    """What Save Music Video queues after ``chunk`` (None when nothing: the last chunk, a "one chunk" render, or no
    prompt outside a server). The fake server of the tests and the node both queue exactly this."""
    if not needs_next_chunk(chunk) or chunk.prompt is None:
        return None
    index = chunk.index + 1
    return ChunkRequest(prompt_for_chunk(chunk.prompt, chunk.node_id, index, chunk.origin),
                        chunk_prompt_id(chunk.origin, index), index, chunk.count)


def chunk_queue_number(running_number: float, count: int) -> float:
    """ComfyUI's queue number for the next chunk of a ``count``-chunk render, queued by the chunk running under
    ``running_number``: ``running_number + 1 / (count + 1)``, so chunk k of a render whose first prompt had
    number n runs under ``n + k / (count + 1)``.

    ComfyUI runs the smallest number first; the server gives each prompt queued later a number at least one above
    the last, and the frontend's Queue panel adds a history entry only when its number exceeds the newest one it
    holds (then sorts by number). ``n + k / (count + 1)`` lies strictly between the first prompt and the next one a
    user could have queued: the chunks run next, in order, and each one's entry lands on top of the panel (a
    negative "queue front" number, as before, never showed up there)."""
    return float(running_number) + 1.0 / (int(count) + 1)


def chunk_of_prompt(prompt: dict | None, node_id: str, total_frames: int, clock: FrameClock, *,
                    chunk_frames: int, render: str, chunk_index: int, current_prompt_id: str | None = None,
                    render_id: str | None = None, audio=None) -> RenderChunk:
    """The RenderChunk that node ``node_id`` of ``prompt`` renders (its id from the prompt, unless ``render_id``
    is given; its origin from the prompt or the running prompt id)."""
    node_id = str(node_id or "")
    if render_id is None:
        render_id = render_id_of_prompt(prompt or {}, node_id)
    return plan_chunk(total_frames, chunk_frames, chunk_index, clock, render_id, render,
                      origin=origin_of_prompt(prompt, node_id, current_prompt_id), node_id=node_id,
                      prompt=prompt, audio=audio)


def render_chunk(latents, chunk_frames: int, render: str, chunk_index: int, *, prompt: dict | None = None,
                 node_id: str = "", current_prompt_id: str | None = None, audio=None):
    """The Render in Chunks step: ``(RenderChunk, the chunk's rows of latents)`` for chunk ``chunk_index`` of the
    whole song's ``latents`` in chunks of ``chunk_frames`` frames. ``prompt``/``node_id``: the queued prompt and
    the node in it (ComfyUI's hidden inputs) that give the render its id and origin; without a prompt (plain
    Python) the id is a digest of the latents themselves."""
    render_id = None
    if not prompt:
        digest = hashlib.sha256()
        for array in (latents.noise, latents.class_weights):
            digest.update(memoryview(array).cast("B") if array.flags["C_CONTIGUOUS"] else array.tobytes())
        digest.update(f"{latents.truncation}:{latents.seed}:{latents.clock.fps}:{chunk_frames}".encode())
        render_id = digest.hexdigest()[:16]
    chunk = chunk_of_prompt(prompt, node_id, latents.frame_count, latents.clock, chunk_frames=chunk_frames,
                            render=render, chunk_index=chunk_index, current_prompt_id=current_prompt_id,
                            render_id=render_id, audio=audio)
    return chunk, latents.slice_frames(chunk.start_frame, chunk.frame_count)


# ---------------------------------------------------------------------------------------------- parts on disk
# A chunk's frames are encoded (video only) as ``part-<start_frame:09>-<frame_count:09>.mp4`` in the render's parts
# folder; the last chunk (or a client that collected the parts from several servers) joins them with the music.

PART_PATTERN = re.compile(r"part-(\d+)-(\d+)\.mp4")
PARTS_MARKER = ".parts-"  # a render's parts folder: ".<video name>.parts-<render_id>" beside the video


def part_file_name(start_frame: int, frame_count: int) -> str:
    """The part file of frames ``[start_frame, start_frame + frame_count)``: ``part-000000240-000000240.mp4``."""
    return f"part-{int(start_frame):09d}-{int(frame_count):09d}.mp4"


def parse_part_name(name: str) -> tuple[int, int] | None:
    """``(start_frame, frame_count)`` of a part file's name, None for any other name."""
    match = PART_PATTERN.fullmatch(str(name))
    return (int(match.group(1)), int(match.group(2))) if match else None


def chunk_parts_folder(output_dir, filename_prefix: str, render_id: str) -> Path:
    """Hidden folder collecting the parts of one chunked render: ``.<name>.parts-<render_id>`` beside the video.
    Another render (other settings, song or seed) has another id, so its parts are never mixed in."""
    target = resolve_inside(Path(output_dir).resolve(), str(filename_prefix), "filename_prefix")
    return target.parent / f".{target.name}{PARTS_MARKER}{render_id}"


def remove_stale_parts(output_dir, filename_prefix: str, keep_render_id: str | None = None) -> list[Path]:
    """Remove the parts folders of earlier renders with this prefix (cancelled or failed ones), except
    ``keep_render_id``'s. Returns what was removed."""
    target = resolve_inside(Path(output_dir).resolve(), str(filename_prefix), "filename_prefix")
    removed = []
    if not target.parent.is_dir():
        return removed
    marker = f".{target.name}{PARTS_MARKER}"
    for entry in target.parent.iterdir():
        if entry.is_dir() and entry.name.startswith(marker) and entry.name[len(marker):] != keep_render_id:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def render_parts_folders(output_dir, render_id: str) -> list[Path]:
    """Every parts folder of render ``render_id`` under ``output_dir`` (whatever the video's name)."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir() or not render_id:
        return []
    found = []
    for folder, subfolders, _ in os.walk(output_dir):
        for name in list(subfolders):
            if name.startswith(".") and name.endswith(f"{PARTS_MARKER}{render_id}"):
                found.append(Path(folder) / name)
                subfolders.remove(name)
    return sorted(found)


def chunk_parts(parts_folder) -> list[tuple[int, int, Path]]:
    """``(start, count, path)`` of the parts present, ordered by start."""
    parts = []
    for entry in Path(parts_folder).glob("part-*-*.mp4"):
        parsed = parse_part_name(entry.name)
        if parsed:
            parts.append((*parsed, entry))
    return sorted(parts)


def missing_frame_ranges(parts_folder, total_frames: int) -> list[tuple[int, int]]:
    """``(first, last)`` frame ranges of a ``total_frames`` render that no part covers (overlaps raise)."""
    missing, position = [], 0
    for start, count, path in chunk_parts(parts_folder):
        if start < position:
            raise AudioWalkInputError("chunk_frames", f"part {path.name} overlaps the frames before it (the "
                                      "parts folder holds chunks of two sizes)",
                                      "one chunk_frames for the whole render (delete the parts folder to restart)")
        if start > position:
            missing.append((position, start - 1))
        position = start + count
    if position < total_frames:
        missing.append((position, total_frames - 1))
    return missing


def chunk_parts_complete(parts_folder, total_frames: int) -> bool:
    """True when the parts cover frames 0..total_frames-1 exactly once (overlaps raise)."""
    return not missing_frame_ranges(parts_folder, total_frames)


def resume_parts(parts_folder, first_missing_chunk: int, frames_per_chunk: int) -> list[Path]:
    """The parts a resume from chunk ``first_missing_chunk`` needs: those wholly before its first frame."""
    limit = int(first_missing_chunk) * int(frames_per_chunk)
    return [path for start, count, path in chunk_parts(parts_folder) if start + count <= limit]


def write_chunk_part(parts_folder, frames, fps, *, start_frame: int, total_frames: int, crf: int = 18,
                     preset: str = "medium", frame_count: int | None = None) -> Path:
    """Encode one chunk's frames (video only) as part ``start_frame`` of a ``total_frames`` render. ``frames``: an
    array [N, H, W, 3], or an iterable of batches with ``frame_count`` frames in all. An earlier part with the same
    start (a chunk rendered again) is replaced."""
    from .video import VideoWriter

    batches = [frames] if frame_count is None else frames
    pixels_count = len(frames) if frame_count is None else int(frame_count)
    if start_frame < 0 or start_frame + pixels_count > total_frames:
        raise AudioWalkInputError("images", f"frames {start_frame}..{start_frame + pixels_count - 1} do not fit a "
                                  f"render of {total_frames} frames", "the frames of one chunk of the song")
    parts_folder = Path(parts_folder)
    parts_folder.mkdir(parents=True, exist_ok=True)
    for start, _, path in chunk_parts(parts_folder):
        if start == start_frame:
            path.unlink(missing_ok=True)
    path = parts_folder / part_file_name(start_frame, pixels_count)
    with VideoWriter(path, fps, crf=crf, preset=preset, video_only=True) as writer:
        for batch in batches:
            writer.write(batch)
    return path


def join_chunk_parts(parts_folder, output_path, fps, *, audio=None, remove_parts: bool = True,
                     metadata: dict | None = None, keep_whole_audio: bool = False) -> Path:
    """Join all parts (stream copy, no re-encode) with the music (an AudioClip, or None) into ``output_path``
    atomically; ``metadata`` strings are embedded in the mp4 as tags; ``keep_whole_audio``: the music runs to its
    own end under a shorter video (else it ends with the last frame)."""
    import av

    from .clock import parse_fps
    from .paths import atomic_output
    from .video import _AudioTrack, _metadata_options, _set_metadata

    parts_folder = Path(parts_folder)
    parts = chunk_parts(parts_folder)
    total = sum(count for _, count, _ in parts)
    if not parts or not chunk_parts_complete(parts_folder, total):
        raise AudioWalkInputError("chunk_index", f"the parts in {parts_folder.name} do not cover the render",
                                  "every chunk of the render before the last one is joined")
    fps = parse_fps(fps)
    output_path = Path(output_path)
    with atomic_output(output_path) as temporary:
        with av.open(str(temporary), mode="w", format="mp4", options=_metadata_options(metadata)) as output:
            _set_metadata(output, metadata)
            video_out = None
            audio_track = None
            for start, count, path in parts:
                with av.open(str(path)) as part:
                    video_in = part.streams.video[0]
                    if video_out is None:
                        video_out = output.add_stream_from_template(video_in)
                        if audio is not None:
                            audio_track = _AudioTrack(output, audio, fps)
                    offset = int(round(Fraction(start) / fps / video_in.time_base))
                    for packet in part.demux(video_in):
                        if packet.dts is None and packet.pts is None:
                            continue
                        if packet.pts is not None:
                            packet.pts += offset
                        if packet.dts is not None:
                            packet.dts += offset
                        packet.stream = video_out
                        output.mux(packet)
            if audio_track is not None:
                audio_track.finish(total, whole_clip=keep_whole_audio)
    if remove_parts:
        shutil.rmtree(parts_folder, ignore_errors=True)
    return output_path


def cancel_render(output_dir, chunk: RenderChunk) -> str:
    """After Cancel during ``chunk``: remove what the cancelled run wrote that a resume cannot use, right away,
    and return the line to show ("cancelled at chunk 3 of 12 ...").

    "whole song": every part at or after the chunk's first frame goes (and unfinished temporary files); the parts
    before it stay, because Run with ``chunk_index`` = this chunk's index resumes from them; a parts folder left
    empty (cancel in the first chunk) is removed. "one chunk": only this chunk's part goes (other servers' parts
    are not ours to remove)."""
    folders = render_parts_folders(output_dir, chunk.render_id)
    kept = 0
    for folder in folders:
        for entry in list(folder.iterdir()):
            parsed = parse_part_name(entry.name)
            if parsed is None:  # a temporary file of an encode that was stopped
                if entry.is_file():
                    entry.unlink(missing_ok=True)
                continue
            start, _ = parsed
            drop = start == chunk.start_frame if chunk.mode == RENDER_ONE_CHUNK else start >= chunk.start_frame
            if drop:
                entry.unlink(missing_ok=True)
            else:
                kept += 1
        if not any(folder.iterdir()):
            folder.rmdir()
    where = f"cancelled at chunk {chunk.index + 1} of {chunk.count}"
    if chunk.mode == RENDER_ONE_CHUNK or not kept:
        return where + ": its parts were removed"
    return (f"{where}: the {kept} finished chunk(s) before it are kept; Run with chunk_index {chunk.index} to "
            "resume, or with 0 to start over (that removes them)")


class ChunkTimer:
    """The time left of a chunked render, from the chunks this process has rendered of it so far (one render at a
    time: a new render id, or an index at or below the first one timed, starts afresh, e.g. a re-run)."""

    def __init__(self):
        self.render_id, self.started, self.first = None, 0.0, 0

    def text(self, chunk, now: float) -> str:
        """"chunk 3 of 12: frames 480-719 of 2,880, about 9 min left" at time ``now`` (seconds, any monotonic
        clock); no estimate on the first chunk timed."""
        from .keyframe_diffusion import format_duration

        if chunk.render_id != self.render_id or chunk.index <= self.first:
            self.render_id, self.started, self.first = chunk.render_id, float(now), int(chunk.index)
        done = int(chunk.index) - self.first
        if done <= 0:
            return chunk.describe()
        left = (float(now) - self.started) / done * (int(chunk.count) - int(chunk.index))
        return f"{chunk.describe()}, about {format_duration(left)} left"

    def finished_text(self, chunk, now: float) -> str:
        """After the last chunk: "done: 2,880 frames in 12 chunks, 41 min" (the time since the first chunk this
        process timed of the render; without it when another render was timed)."""
        from .keyframe_diffusion import format_duration

        line = f"done: {int(chunk.total_frames):,} frames in {int(chunk.count)} chunk{'s' * (chunk.count != 1)}"
        if chunk.render_id == self.render_id:
            line += f", {format_duration(float(now) - self.started)}"
        return line

