"""Save Music Video's core: a song's frames (whole, or one chunk of a chunked render) to one mp4 with the music.

The encoder is :mod:`audiowalk_core.video`; the parts of a chunked render (their names, the stale ones, the join)
are :mod:`audiowalk_core.chunks`'s. Here: which of those a Save Music Video execution does, and what it reports.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .audio import AudioClip
from .chunks import (RENDER_ONE_CHUNK, chunk_parts_folder, join_chunk_parts, missing_frame_ranges,
                     remove_stale_parts, write_chunk_part)
from .clock import parse_fps
from .errors import AudioWalkInputError
from .video import next_numbered_path, write_video

WRITE_BATCH_FRAMES = 64  # frames converted and encoded at a time from an in-memory IMAGE
# How long the music runs: "video" cuts (or pads with silence) the music to the video's length; "whole song" keeps
# the whole song under a video that may be shorter, as the seed notebook's last cell (ffmpeg concat) leaves it.
MUSIC_LENGTHS = ("video", "whole song")


@dataclass(frozen=True)
class SavedVideo:
    """What :func:`save_video` did: ``path`` of the file written (the finished mp4, or this chunk's part in
    "one chunk" renders; None while a whole-song render waits for its next chunks), its ``subfolder`` and
    ``filename`` inside the output folder, ``complete`` (the whole song's video is done) and a one-line
    ``message``."""

    path: Path | None
    subfolder: str
    filename: str
    message: str
    complete: bool = True


def check_frame_count(frame_count: int, chunk=None, clock=None) -> None:
    """Refuse an IMAGE batch whose frame count disagrees with the chunk or the song's clock, naming both."""
    if chunk is not None:
        if frame_count != chunk.frame_count:
            raise AudioWalkInputError("images", f"{frame_count} frames for {chunk.describe()} "
                                      f"({chunk.frame_count} frames)", "the frames of this chunk, one per frame")
    elif clock is not None and frame_count != clock.frame_count:
        raise AudioWalkInputError("images", f"{frame_count} frames, but the song has {clock.frame_count} frames at "
                                  f"{clock.fps} fps", "one image per frame of the song (or a Render in Chunks "
                                  "chunk)")


def _subfolder_of(path: Path, output_dir: Path) -> str:
    folder = path.parent.resolve()
    return "" if folder == output_dir else str(folder.relative_to(output_dir)).replace(os.sep, "/")


def save_video(output_dir, filename_prefix: str, frames, fps=None, *, audio: AudioClip | None = None,
               crf: int = 18, chunk=None, clock=None, metadata: dict | None = None, numbered_path=None,
               on_progress=None, music_length: str = "video") -> SavedVideo:
    """Save ``frames`` (float [N, H, W, 3] in [0, 1]) with the music as ``<prefix>_<counter>_.mp4`` in
    ``output_dir``.

    The frame rate comes from ``chunk`` (a RenderChunk: its song clock), else ``clock`` (a FrameClock), else
    ``fps``; the frame count must match the chunk or the clock. With a ``chunk`` of a longer render the frames are
    encoded as that chunk's part (video only) in a hidden parts folder; in a "whole song" render chunk 0 clears
    stale parts of this prefix, and the last chunk joins all parts with the music (stream copy, no re-encode) into
    the numbered mp4 and removes the parts. In a "one chunk" render the part is the result (joined elsewhere).
    ``audio`` None takes the song the chunk carries, if any. ``metadata``: strings to embed in the mp4 (ComfyUI's "prompt" and "workflow"). ``numbered_path(prefix)``:
    how to name the final file (default :func:`next_numbered_path`). ``on_progress(done, total)`` follows the
    frames encoded (it may raise to cancel: nothing half-written is left). ``music_length``: one of
    :data:`MUSIC_LENGTHS`."""
    from .errors import require_choice

    require_choice("music_length", music_length, MUSIC_LENGTHS)
    keep_whole_audio = music_length == "whole song"
    output_dir = Path(output_dir).resolve()
    count = int(frames.shape[0])
    if count == 0:
        raise AudioWalkInputError("images", "no frames", "at least one image")
    check_frame_count(count, chunk, clock)
    if chunk is not None:
        fps = chunk.clock.fps
    elif clock is not None:
        fps = clock.fps
    elif fps is None:
        raise AudioWalkInputError("fps", "is not given", "a frame rate, or the features' clock")
    fps = parse_fps(fps)
    if audio is None and chunk is not None and chunk.audio is not None:  # the song Render in Chunks carries
        from .audio import audio_from_comfy

        audio = audio_from_comfy(chunk.audio)
    name_final = numbered_path or (lambda prefix: next_numbered_path(output_dir, prefix, "mp4")[0])

    def batches():
        for first in range(0, count, WRITE_BATCH_FRAMES):
            yield frames[first:first + WRITE_BATCH_FRAMES]
            if on_progress is not None:
                on_progress(min(first + WRITE_BATCH_FRAMES, count), count)

    if chunk is None or chunk.is_whole_song:
        path = Path(name_final(filename_prefix))
        write_video(path, batches(), fps, audio=audio, crf=crf, metadata=metadata, keep_whole_audio=keep_whole_audio)
        return SavedVideo(path, _subfolder_of(path, output_dir), path.name, f"{count} frames saved")
    parts = chunk_parts_folder(output_dir, filename_prefix, chunk.render_id)
    if chunk.mode != RENDER_ONE_CHUNK and chunk.index == 0:
        remove_stale_parts(output_dir, filename_prefix)
    part = write_chunk_part(parts, batches(), fps, start_frame=chunk.start_frame, total_frames=chunk.total_frames,
                            crf=crf, frame_count=count)
    if chunk.mode == RENDER_ONE_CHUNK:
        return SavedVideo(part, _subfolder_of(part, output_dir), part.name, f"{chunk.describe()} saved", False)
    if not chunk.is_last:
        return SavedVideo(None, "", "", f"{chunk.describe()} saved", False)
    missing = missing_frame_ranges(parts, chunk.total_frames)
    if missing:
        raise AudioWalkInputError("chunk_index", f"the parts of this render lack frames {missing} (a chunk was "
                                  "cancelled or skipped)", "every chunk rendered: run the render again from "
                                  "chunk 0, or from the first missing chunk")
    path = Path(name_final(filename_prefix))
    join_chunk_parts(parts, path, fps, audio=audio, metadata=metadata, keep_whole_audio=keep_whole_audio)
    return SavedVideo(path, _subfolder_of(path, output_dir), path.name,
                      f"{chunk.total_frames} frames joined from {chunk.count} chunks")


def saved_video_ui(saved: SavedVideo) -> dict | None:
    """The ``ui`` of a Save Music Video execution, as ComfyUI's history and the frontend's Queue panel read it:
    the mp4 as an "images" item (the panel previews a ``.mp4`` as a video) with ``animated``, and nothing at all
    for a chunk that only added a part (the panel shows a finished entry as one card per output, so an entry
    without outputs shows no card). No "text" item: the panel would draw it as an empty card; the message goes to
    the node's progress text instead."""
    if saved.path is None:
        return None
    return {"images": [{"filename": saved.filename, "subfolder": saved.subfolder, "type": "output"}],
            "animated": [True]}
