"""Streaming H.264/AAC mp4 writing with the music, in sync, in constant memory; chunked renders joined without
re-encoding.

Frames arrive in batches (float [B, H, W, 3] in [0, 1], or uint8) and go to an encoder thread through a bounded
queue, so the caller (BigGAN, or ComfyUI's Save Video) keeps working while x264 encodes. RGB -> yuv420p is FFmpeg's
swscale (BT.709 limited range by default, the matrix and range tagged on the stream so players decode what was
encoded). The music is resampled to 48 kHz stereo and encoded alongside, one second at a time, so memory does not
grow with the frame count. The audio is trimmed or padded with silence to exactly ``frames / fps`` seconds. Files
are written under a temporary name and renamed when complete.

This module is the encoder and the output names; the parts of chunked renders (their names, the join) are
``audiowalk_core.chunks``'s, and Save Music Video's core is ``audiowalk_core.save_music_video``.
"""
from __future__ import annotations

import json
import math
import os
import queue
import re
import sys
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from .audio import AudioClip
from .clock import parse_fps
from .errors import AudioWalkInputError
from .paths import atomic_output, check_filename_prefix, resolve_inside

AUDIO_RATE = 48000
AUDIO_CHUNK_SECONDS = 1
# Colour matrix of the yuv420p video -> (swscale matrix, then the H.264 VUI tags: AVColorSpace, AVColorPrimaries,
# AVColorTransferCharacteristic). Limited ("tv", MPEG) range in both cases. BT.709 is what browsers and players
# assume for sRGB content; BT.601 is what untagged SD video is usually taken to be.
COLOR_MATRICES = {"bt709": ("ITU709", 1, 1, 1), "bt601": ("ITU601", 6, 6, 6)}
QUEUED_BATCHES = 2  # batches waiting for the encoder thread (memory bound: this many batches of uint8 frames)
ENCODER_NICENESS = 10  # nice increment of the encoder threads (Linux): the frame producer keeps its cores


def frames_to_uint8(frames) -> np.ndarray:
    """Frames [B, H, W, 3 or 4] (or one [H, W, C]) -> uint8 RGB [B, H, W, 3], C-contiguous numpy.

    float in [0, 1] (numpy or torch, any device: converted where it lives, see ``pixels.unit_float_to_uint8``),
    or uint8 as is. NaN/infinite values are refused. Odd sizes are padded to even by repeating the last row/column
    (yuv420p needs even sizes)."""
    import torch

    from .pixels import unit_float_to_uint8

    tensor = frames.detach() if isinstance(frames, torch.Tensor) else torch.from_numpy(np.asarray(frames))
    if tensor.ndim == 3:
        tensor = tensor[None]
    if tensor.ndim != 4 or tensor.shape[-1] not in (3, 4):
        raise AudioWalkInputError("images", f"frames of shape {tuple(tensor.shape)}",
                                  "images [frames, height, width, 3]")
    tensor = tensor[..., :3]
    if tensor.dtype == torch.uint8:
        pixels = tensor
    elif tensor.is_floating_point():
        pixels = unit_float_to_uint8(tensor, check_finite=True)
    else:
        raise AudioWalkInputError("images", f"frames of type {tensor.dtype}", "float images in [0, 1] or uint8")
    height, width = pixels.shape[1:3]
    if height % 2:
        pixels = torch.cat([pixels, pixels[:, -1:]], dim=1)
    if width % 2:
        pixels = torch.cat([pixels, pixels[:, :, -1:]], dim=2)
    return np.ascontiguousarray(pixels.cpu().numpy())


class _AudioFeed:
    """The clip resampled to 48 kHz stereo, pulled in order; silence after its end."""

    def __init__(self, clip: AudioClip):
        import av

        self.clip = clip
        self.resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        self.pending = np.zeros((2, 0), np.float32)
        self.source_position = 0
        self.layout = "mono" if clip.channels == 1 else "stereo"

    def _pull_source(self) -> bool:
        import av

        if self.source_position >= self.clip.num_samples:
            if self.resampler is not None:
                out = self.resampler.resample(None)
                self.resampler = None
                for frame in out:
                    self.pending = np.concatenate([self.pending, frame.to_ndarray().reshape(2, -1)], axis=1)
                return True
            return False
        step = self.clip.sample_rate * AUDIO_CHUNK_SECONDS
        chunk = self.clip.samples[:2, self.source_position:self.source_position + step]
        self.source_position += chunk.shape[1]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk, np.float32), format="fltp", layout=self.layout)
        frame.sample_rate = self.clip.sample_rate
        for out in self.resampler.resample(frame):
            self.pending = np.concatenate([self.pending, out.to_ndarray().reshape(2, -1)], axis=1)
        return True

    def take(self, count: int) -> np.ndarray:
        """The next ``count`` samples [2, count] (zeros past the end of the clip)."""
        while self.pending.shape[1] < count and self._pull_source():
            pass
        out = self.pending[:, :count]
        self.pending = self.pending[:, count:]
        if out.shape[1] < count:
            out = np.concatenate([out, np.zeros((2, count - out.shape[1]), np.float32)], axis=1)
        return out


class _AudioTrack:
    """An AAC stream in ``container`` fed from a clip, written up to a given video frame count."""

    def __init__(self, container, clip: AudioClip, fps: Fraction, mux=None):
        self.stream = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        self.stream.bit_rate = 192000
        # FFmpeg's "fast" AAC coder without the mid/side search: 19 ms of CPU per second of the demo song instead of
        # 48 (the default two-loop coder), 20.3 dB SNR instead of 22.8 at 192 kb/s. At 30 fps the default cost 1.6 ms
        # per video frame: more than x264 spends on a 128 px frame, 11% of a 512 px render's wall time on 2 cores
        self.stream.codec_context.options = {"aac_coder": "fast", "aac_ms": "0"}
        self.container, self.fps, self.feed, self.written = container, fps, _AudioFeed(clip), 0
        self.mux = mux or container.mux  # mux(packets); a locked one when another thread muxes video

    def write_until(self, frames: int) -> None:
        """Encode the music up to the end of video frame ``frames`` (exactly frames / fps seconds)."""
        import av

        target = int(Fraction(frames) / self.fps * AUDIO_RATE)
        while self.written < target:
            count = min(AUDIO_RATE, target - self.written)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(self.feed.take(count)), format="fltp",
                                               layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, self.written, Fraction(1, AUDIO_RATE)
            self.mux(self.stream.encode(frame))
            self.written += count

    def finish(self, frames: int, whole_clip: bool = False) -> None:
        """Encode the music to the end of video frame ``frames``; with ``whole_clip``, on to the clip's end when it
        lasts longer (the seed notebook's video: the whole song under a shorter picture)."""
        if whole_clip:
            frames = max(frames, int(math.ceil(Fraction(self.feed.clip.num_samples, self.feed.clip.sample_rate)
                                               * self.fps)))
        self.write_until(frames)
        self.mux(self.stream.encode(None))


_END = object()  # queue marker: no more items


def _lower_thread_priority(thread_id: int, increment: int) -> None:
    """Raise the nice value of the thread ``thread_id`` (a native id) by ``increment`` (Linux, where nice is per
    thread and inherited by the threads it starts); elsewhere, or if refused, nothing."""
    if increment <= 0 or not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, thread_id, min(19, os.getpriority(os.PRIO_PROCESS, thread_id) + increment))
    except OSError:
        pass


class _QueueWorker:
    """A thread that calls ``handle(item)`` for each queued item in order, until ``finish``; its first error is kept
    in ``error`` and raised to the thread that queues next. ``size`` bounds the queue (0: unbounded)."""

    def __init__(self, name: str, handle, size: int, niceness: int):
        self.handle, self.error = handle, None
        self.queue = queue.Queue(maxsize=size)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()
        _lower_thread_priority(self.thread.native_id, niceness)  # before it starts x264's or swscale's threads

    def _run(self) -> None:
        try:
            while not self.stopped.is_set():
                item = self.queue.get()
                if item is _END:
                    return
                self.handle(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the queueing thread, raised there
            self.error = exc
            self.stopped.set()

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def put(self, item) -> None:
        """Queue ``item``, waiting while the queue is full, unless the worker failed (then its error)."""
        while True:
            self.raise_error()
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Let it do everything queued, wait for it, and raise its error if it had one."""
        self.put(_END)
        self.thread.join()
        self.raise_error()

    def abandon(self) -> None:
        """Stop it after the item it is on (``handle`` may look at ``stopped``); queued items are dropped."""
        self.stopped.set()
        try:
            while True:
                self.queue.get_nowait()
        except queue.Empty:
            pass
        self.queue.put(_END)
        self.thread.join()


class VideoWriter:
    """Write frames (in batches) and optional music to an mp4: H.264 yuv420p (CRF) + AAC, at a rational fps.

    Use as a context manager; ``write(frames)``: [B, H, W, 3] float in [0, 1] or uint8, numpy or torch (a CUDA
    tensor is converted to uint8 on its GPU). On a clean exit the file is complete and renamed to ``path``; on an
    error (also one raised in an encoder thread, or KeyboardInterrupt) the encoder threads are stopped and nothing
    is left under ``path``. ``video_only`` writes no audio stream (chunk parts). ``encoder_threads``: x264 and
    swscale threads, 0 = auto. ``color_matrix``: "bt709" (default) or "bt601", limited range, tagged on the stream.
    ``background``: encode the video in a thread fed through a queue of ``QUEUED_BATCHES`` batches, and the music
    (AAC: about 19 ms of CPU per second of music) in another one beside it (False: everything inside ``write``).
    ``encoder_niceness``: those threads (and the x264/swscale threads they start) run this much nicer (Linux), so a
    producer that needs every core (BigGAN on the CPU, whose OpenMP threads stall whenever one of them is
    preempted) keeps them, and the encoder takes what is left; the bounded queue makes it catch up.
    x264 under PyAV 18 / FFmpeg 8.1 varies its bitstream slightly between runs (seen even with one thread), so
    decoded videos agree within codec noise, not bit for bit.
    """

    def __init__(self, path, fps, *, audio: AudioClip | None = None, crf: int = 18, preset: str = "medium",
                 total_frames: int | None = None, video_only: bool = False, encoder_threads: int = 0,
                 color_matrix: str = "bt709", background: bool = True, encoder_niceness: int = ENCODER_NICENESS,
                 metadata: dict | None = None, keep_whole_audio: bool = False):
        self.path = Path(path)
        self.keep_whole_audio = bool(keep_whole_audio)  # the music runs on past a shorter video (seed preset)
        self.metadata = metadata
        self.fps = parse_fps(fps)
        if not 0 <= int(crf) <= 51:
            raise AudioWalkInputError("crf", f"{crf!r} is outside 0..51", "an x264 CRF in 0..51 (18 is near lossless)")
        if color_matrix not in COLOR_MATRICES:
            raise AudioWalkInputError("color_matrix", f"{color_matrix!r} is unknown",
                                      "one of " + ", ".join(COLOR_MATRICES))
        self.crf, self.preset, self.color_matrix = int(crf), preset, color_matrix
        self.audio = None if video_only else audio
        self.total_frames = total_frames
        self.encoder_threads = int(encoder_threads)
        self.background = bool(background)
        self.encoder_niceness = int(encoder_niceness)
        self.frames_written = 0  # frames accepted by write(); all of them are in the file after a clean exit
        self.size = None
        self._atomic = None
        self._container = None
        self._audio_track = None
        self._video_worker: _QueueWorker | None = None
        self._audio_worker: _QueueWorker | None = None
        self._mux_lock = threading.Lock()
        self._encoded = 0

    def __enter__(self):
        self._atomic = atomic_output(self.path)
        self._temporary = self._atomic.__enter__()
        return self

    def _open(self, height: int, width: int) -> None:
        import av
        from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

        self._container = av.open(str(self._temporary), mode="w", format="mp4",
                                  options=_metadata_options(self.metadata))
        _set_metadata(self._container, self.metadata)
        stream = self._container.add_stream("libx264", rate=self.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        context = stream.codec_context
        context.time_base = Fraction(1) / self.fps
        matrix, colorspace, primaries, transfer = COLOR_MATRICES[self.color_matrix]
        context.colorspace, context.color_primaries, context.color_trc = colorspace, primaries, transfer
        context.color_range = int(ColorRange.MPEG)
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        context.thread_count = self.encoder_threads
        self._video = stream
        self._reformatter = VideoReformatter()
        self._swscale = {"format": "yuv420p", "dst_colorspace": Colorspace[matrix], "dst_color_range": ColorRange.MPEG,
                         "threads": self.encoder_threads}
        if self.audio is not None:
            self._audio_track = _AudioTrack(self._container, self.audio, self.fps, mux=self._mux)
        self.size = (height, width)
        if self.background:
            self._video_worker = _QueueWorker("audiowalk-video-encoder", self._encode, QUEUED_BATCHES,
                                              self.encoder_niceness)
            if self._audio_track is not None:
                self._audio_worker = _QueueWorker("audiowalk-audio-encoder", self._audio_track.write_until, 0,
                                                  self.encoder_niceness)

    def write(self, frames) -> None:
        """Queue a batch of frames ([B, H, W, 3] float in [0, 1] or uint8, numpy or torch) for encoding with the
        music up to them. Raises an error of an encoder thread, if one had one."""
        self._raise_encoder_errors()
        pixels = frames_to_uint8(frames)
        if self._container is None:
            self._open(*pixels.shape[1:3])
        elif pixels.shape[1:3] != self.size:
            raise AudioWalkInputError("images", f"frame size {pixels.shape[2]}x{pixels.shape[1]} differs from the "
                                      f"first frames' {self.size[1]}x{self.size[0]}", "frames of one size")
        self.frames_written += len(pixels)
        if self._video_worker is None:
            self._encode(pixels)
        else:
            self._video_worker.put(pixels)

    def _mux(self, packets) -> None:
        with self._mux_lock:  # video and audio threads share the container
            self._container.mux(packets)

    def _encode(self, pixels: np.ndarray) -> None:
        """RGB24 frames -> swscale yuv420p -> x264 -> mp4; then the music up to them is queued (or encoded)."""
        import av

        time_base = self._video.codec_context.time_base
        for rgb in pixels:
            if self._video_worker is not None and self._video_worker.stopped.is_set():
                return
            frame = self._reformatter.reformat(av.VideoFrame.from_ndarray(rgb, format="rgb24"), **self._swscale)
            frame.pts, frame.time_base = self._encoded, time_base
            self._mux(self._video.encode(frame))
            self._encoded += 1
        if self._audio_worker is not None:
            self._audio_worker.put(self._encoded)
        elif self._audio_track is not None:
            self._audio_track.write_until(self._encoded)

    def _raise_encoder_errors(self) -> None:
        for worker in (self._video_worker, self._audio_worker):
            if worker is not None:
                worker.raise_error()

    def _abandon(self) -> None:
        """After an error: stop the encoder threads and close the container, ignoring what closing says."""
        for worker in (self._video_worker, self._audio_worker):
            if worker is not None:
                worker.abandon()
        self._video_worker = self._audio_worker = None
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - the file is removed anyway; the first error is the one to report
                pass
            self._container = None

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            self._abandon()
            return self._atomic.__exit__(kind, value, traceback)
        try:
            if self._container is None:
                raise AudioWalkInputError("images", "no frames were written", "at least one frame")
            if self._video_worker is not None:
                self._video_worker.finish()
            self._mux(self._video.encode(None))
            if self._audio_worker is not None:
                self._audio_worker.finish()
            self._video_worker = self._audio_worker = None
            if self._audio_track is not None:
                self._audio_track.finish(self._encoded, whole_clip=self.keep_whole_audio)
            self._container.close()
        except BaseException as exc:
            self._abandon()
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self._atomic.__exit__(None, None, None)


def _metadata_options(metadata: dict | None) -> dict:
    """Container options that make the mp4 muxer write arbitrary tags (ComfyUI's "prompt", "workflow") and put
    them (the moov box) at the start of the file: the frontend reads only the first 64 MiB of a dropped video."""
    return {"movflags": "use_metadata_tags+faststart"} if metadata else {}


def _set_metadata(container, metadata: dict | None) -> None:
    for key, value in (metadata or {}).items():
        container.metadata[str(key)] = value if isinstance(value, str) else json.dumps(value)


def write_video(path, frames_iter, fps, *, audio: AudioClip | None = None, crf: int = 18,
                preset: str = "medium", metadata: dict | None = None, keep_whole_audio: bool = False) -> Path:
    """Write every batch of ``frames_iter`` (and the music) to ``path``; returns the path. ``metadata``: tags
    embedded in the mp4 (values that are not strings are written as JSON). ``keep_whole_audio``: the music runs
    to its own end under a shorter video (else it is cut or padded to the video's length)."""
    with VideoWriter(path, fps, audio=audio, crf=crf, preset=preset, metadata=metadata,
                     keep_whole_audio=keep_whole_audio) as writer:
        for frames in frames_iter:
            writer.write(frames)
    return Path(path)


# ----------------------------------------------------------------------------------------------------------------
# Output names and chunked renders

def next_numbered_path(output_dir, filename_prefix: str, extension: str = "mp4") -> tuple[Path, str, str]:
    """``<output_dir>/<subfolder>/<name>_<counter:05>_.<ext>`` numbered after the existing files, as ComfyUI's
    savers do. Returns ``(path, subfolder, filename)``; a prefix that leaves ``output_dir`` is refused."""
    output_dir = Path(output_dir).resolve()
    target = resolve_inside(output_dir, str(filename_prefix), "filename_prefix")
    if target == output_dir:
        raise AudioWalkInputError("filename_prefix", "is empty", "a name such as 'AudioWalk/video'")
    folder, name = target.parent, target.name
    folder.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(re.escape(name) + r"_(\d+)_\.")
    counters = [int(match.group(1)) for entry in os.listdir(folder) if (match := pattern.match(entry))]
    counter = max(counters, default=0) + 1
    filename = f"{name}_{counter:05}_.{extension}"
    subfolder = "" if folder == output_dir else str(folder.relative_to(output_dir)).replace(os.sep, "/")
    return folder / filename, subfolder, filename


def check_output_prefix(output_dir, filename_prefix: str) -> str:
    """Refuse a ``filename_prefix`` that is empty, absolute, leaves ``output_dir``, has a backslash or a character
    no file system takes (:func:`~audiowalk_core.paths.check_filename_prefix`); return it normalised. Cheap: Save
    Video calls it when the prompt is validated, before anything renders."""
    prefix = check_filename_prefix(filename_prefix)
    resolve_inside(Path(output_dir).resolve(), prefix, "filename_prefix")  # a link leading outside
    return prefix


def comfy_metadata(prompt: dict | None, extra_pnginfo: dict | None) -> dict | None:
    """The tags ComfyUI's savers embed: "prompt" and each key of the extra PNG info (the frontend's "workflow"),
    as JSON text; None when there is nothing to embed."""
    metadata = {}
    if extra_pnginfo:
        metadata.update({str(key): json.dumps(value) for key, value in extra_pnginfo.items()})
    if prompt is not None:
        metadata["prompt"] = json.dumps(prompt)
    return metadata or None


# Names that lived here before the chunk parts and Save Music Video's core got their own modules.
_MOVED = {"chunk_parts_folder": "chunks", "remove_stale_parts": "chunks", "write_chunk_part": "chunks",
          "missing_frame_ranges": "chunks", "chunk_parts": "chunks", "chunk_parts_complete": "chunks",
          "join_chunk_parts": "chunks", "save_video": "save_music_video", "SavedVideo": "save_music_video",
          "check_frame_count": "save_music_video", "WRITE_BATCH_FRAMES": "save_music_video"}


def __getattr__(name):
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(f"{__package__}.{_MOVED[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
