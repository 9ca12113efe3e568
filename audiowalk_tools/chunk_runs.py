"""Chunked renders over ComfyUI's HTTP API: one server rendering the whole song from one POST, or several servers
sharing the song's chunks.

The pack's chunk contract (audiowalk_core.chunks, Render in Chunks and Save Video): a workflow holds one Render in
Chunks node whose ``chunk`` output feeds Save Video.

* One server, "whole song": one POST; after each chunk the server itself queues the next one under
  ``chunk_prompt_id(origin, k)``, and the last chunk's Save Video joins the parts with the music into one mp4.
  :func:`render_whole_song` follows those prompt ids and returns the last one's history entry.
* Several servers, "one chunk": each prompt renders one chunk and Save Video saves it as a part
  (``part-<start>-<count>.mp4``, video only). :class:`SpreadRender` keeps every server busy with one chunk at a
  time (the next chunk goes to whichever server is free), downloads each part into a hidden folder beside the
  output, and joins them with the music (stream copy, no re-encode) into one mp4.

Faults: a server that cannot be reached, answers 5xx, drops the connection or forgets the prompt (restarted) is out,
and its chunk goes to another server. A chunk that fails (ComfyUI's execution_error) is retried on a server where it
has not failed yet. The render fails only when a server refuses the workflow (HTTP 400: a workflow error, the same
everywhere), no server is left, or a chunk failed on every server left. On Ctrl-C (or any failure) the chunks
running are interrupted, our queued prompts deleted, and nothing partial is left beside the output.
"""
from __future__ import annotations

import bisect
import copy
import queue
import shutil
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from audiowalk_core.chunks import (CHUNK_INDEX_INPUT, ChunkPlan, ChunkSpan, chunk_index_of_prompt, chunk_prompt_id,
                                   prompt_for_chunk)

from .comfy_client import (ComfyClient, ComfyError, ComfyExecutionError, ComfyInterrupted,
                           ComfyPromptLost, ComfyPromptRejected, FollowStopped)

RENDER_CHUNKS_TYPE = "AudioWalkRenderChunks"
SAVE_VIDEO_TYPE = "AudioWalkSaveVideo"
CHUNK_OUTPUT = 1  # Render in Chunks' output slot "chunk"
UPLOAD_FLAGS = ("audio_upload", "image_upload", "video_upload")  # combos of uploaded files, not of models


class ChunkRunError(ComfyError):
    """A chunked render failed; the message names the chunk, the servers and ComfyUI's own message."""


# ---------------------------------------------------------------------------------------------------- the workflow

def node_label(api: dict, node_id: str) -> str:
    """``node 9 (AudioWalkSaveVideo 'Save Video')``."""
    node = api.get(str(node_id)) or {}
    title = (node.get("_meta") or {}).get("title")
    class_type = node.get("class_type", "?")
    return f"node {node_id} ({class_type} '{title}')" if title and title != class_type else \
        f"node {node_id} ({class_type})"


def render_chunks_node(api: dict) -> str | None:
    """The id of the workflow's Render in Chunks node, None without one; more than one is refused."""
    found = sorted((nid for nid, node in api.items() if node.get("class_type") == RENDER_CHUNKS_TYPE), key=str)
    if len(found) > 1:
        raise ChunkRunError(f"the workflow has {len(found)} Render in Chunks nodes ({', '.join(found)}); "
                            "a chunked render needs exactly one")
    return found[0] if found else None


def chunk_save_node(api: dict, chunk_node: str) -> str:
    """The Save Video node whose ``chunk`` input is Render in Chunks' chunk (it saves the parts)."""
    link = [str(chunk_node), CHUNK_OUTPUT]
    found = [nid for nid, node in api.items() if node.get("class_type") == SAVE_VIDEO_TYPE
             and [str(v) if i == 0 else v for i, v in enumerate(node["inputs"].get("chunk") or [])] == link]
    if len(found) != 1:
        raise ChunkRunError(f"a chunked render needs one Save Video whose 'chunk' input comes from "
                            f"{node_label(api, chunk_node)}; the workflow has {len(found)}")
    return found[0]


def chunked_prompt(api: dict, chunk_node: str, mode: str, chunk_frames: int | None = None) -> dict:
    """A copy of ``api`` whose Render in Chunks node renders in ``mode`` ("whole song" / "one chunk"), with
    ``chunk_frames`` frames per chunk when given (else the workflow's)."""
    prompt = copy.deepcopy(api)
    inputs = prompt[chunk_node]["inputs"]
    inputs["render"] = mode
    if chunk_frames is not None:
        inputs["chunk_frames"] = int(chunk_frames)
    if isinstance(inputs.get("chunk_frames"), list):
        raise ChunkRunError(f"{node_label(api, chunk_node)}: chunk_frames is wired to another node; a chunked "
                            "render over HTTP needs it as a value")
    return prompt


def video_outputs(client: ComfyClient, entry: dict, api: dict):
    """The files Save Video nodes reported in a history entry."""
    return [item for item in client.output_files(entry)
            if api.get(item.node_id, {}).get("class_type") == SAVE_VIDEO_TYPE]


def _combo_choices(spec) -> list | None:
    """The choices of a combo input spec (``[[choices], {...}]`` or ``["COMBO", {"options": [...]}]``)."""
    if not isinstance(spec, list) or not spec:
        return None
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if any(options.get(flag) for flag in UPLOAD_FLAGS):
        return None
    if isinstance(spec[0], list):
        return spec[0]
    if spec[0] == "COMBO" and isinstance(options.get("options"), list):
        return options["options"]
    return None


def server_problems(api: dict, client: ComfyClient, object_info: dict) -> tuple[list[str], list[str]]:
    """``(problems, notes)`` of running ``api`` on this server: node types it lacks, combo values (models,
    samplers) it does not offer. A model the server lists only for download (Load BigGAN's "<name> (download,
    N MB)") is a problem when the node's allow_download is off, else a note. Each line names the server."""
    from audiowalk_core.generators.biggan.store import model_name_from_choice

    where = client.base_url
    missing_types = sorted({node["class_type"] for node in api.values()} - set(object_info))
    if missing_types:
        return [f"{where} has no node type(s) {', '.join(missing_types)}"], []
    problems, notes = [], []
    for node_id, node in sorted(api.items(), key=lambda item: str(item[0])):
        inputs_spec = object_info[node["class_type"]].get("input", {})
        specs = {**inputs_spec.get("optional", {}), **inputs_spec.get("required", {})}
        for name, value in node["inputs"].items():
            choices = _combo_choices(specs.get(name))
            if choices is None or isinstance(value, list):
                continue
            wanted = model_name_from_choice(value)
            if wanted in choices:
                continue
            if wanted in {model_name_from_choice(choice) for choice in choices}:  # listed, not on disk
                if node["inputs"].get("allow_download", True) is False:
                    problems.append(f"{where}: {node_label(api, node_id)}: {name} {wanted!r} is not on this "
                                    "server and allow_download is off")
                else:
                    notes.append(f"{where} does not have {wanted!r} yet: it downloads it first")
                continue
            offered = ", ".join(map(repr, choices[:6])) + (", ..." if len(choices) > 6 else "") or "none"
            problems.append(f"{where}: {node_label(api, node_id)}: {name} {value!r} is not on this server "
                            f"(missing model?); it offers {offered}")
    return problems, notes


# ---------------------------------------------------------------------------------------------------- one server

def render_whole_song(client: ComfyClient, prompt: dict, chunk_node: str, *, plan: ChunkPlan | None = None,
                      on_chunk=None, on_event=None, timeout: float | None = None) -> dict:
    """POST ``prompt`` ("whole song" mode) once and follow the chunk prompts the server queues itself, until the
    one whose Save Video reports the joined mp4; returns that prompt's history entry.

    ``on_chunk(index)`` is called as each chunk's prompt is followed; ``plan`` (when the song is known here) bounds
    the chunks. ``timeout`` is per chunk. On Ctrl-C (or a timeout) the running chunk is interrupted and the next
    one, if queued, deleted."""
    first = int(prompt[chunk_node]["inputs"].get(CHUNK_INDEX_INPUT, 0))
    socket = client.open_event_socket()
    origin, index = None, first
    try:
        origin = client.queue_prompt(prompt, prompt_id=str(uuid.uuid4()))
        while True:
            prompt_id = origin if index == first else chunk_prompt_id(origin, index)
            if on_chunk is not None:
                on_chunk(index)
            try:
                entry = client.follow_prompt(prompt_id, prompt, on_event, timeout, socket=socket)
            except ComfyPromptLost as exc:
                # the server removes a finished chunk's history entry when the next one starts (one Queue-panel
                # card per render): a chunk we were too slow to see finish is found through the later ones
                later = later_chunk_of_render(client, origin, index, prompt)
                if later is None and index == first:
                    raise
                if later is None:
                    raise ChunkRunError(f"chunk {index} finished on {client.base_url} but chunk {index + 1}'s "
                                        f"prompt never came ({exc}); is the workflow's Save Video fed by Render in "
                                        "Chunks, and the pack on the server up to date?") from None
                if isinstance(later, dict):
                    return later
                index = later
                continue
            if video_outputs(client, entry, prompt):
                return entry
            if plan is not None and index >= plan.count - 1:
                raise ChunkRunError(f"the last chunk ({index + 1} of {plan.count}) finished on {client.base_url} "
                                    "but Save Video reported no video")
            index += 1
    except (ComfyExecutionError, ComfyInterrupted, ComfyPromptRejected):
        raise  # the server stopped by itself: nothing of ours is queued
    except BaseException:
        if origin is not None:  # the chunk followed may have just finished and its successor started
            ids = [origin if i == first else chunk_prompt_id(origin, i) for i in (index, index + 1, index + 2)]
            _cancel_prompts(client, ids, ids[:2])
        raise
    finally:
        if socket is not None:
            socket.close()


def later_chunk_of_render(client: ComfyClient, origin: str, index: int, api: dict):
    """Where the render started by prompt ``origin`` is, past chunk ``index``: the history entry that holds its
    joined video (it finished), else the lowest later chunk index queued, running or finished on the server, else
    None (nothing of it is left: the server restarted, or the render stopped)."""
    queue = client.get_json("/queue") or {}
    waiting = [chunk_index_of_prompt(item[2], origin) for key in ("queue_running", "queue_pending")
               for item in queue.get(key, []) if len(item) > 2]
    later = [found for found in waiting if found is not None and found > index]
    history = client.get_json("/history", {"max_items": 64}) or {}
    for entry in history.values():
        found = chunk_index_of_prompt((entry.get("prompt") or [None, None, {}])[2], origin)
        if found is None or found <= index:
            continue
        if video_outputs(client, entry, api):
            return entry
        later.append(found)
    return min(later) if later else None


CANCEL_TIMEOUT_S = 5.0  # a hung server must not hold up a cancel for long


def _cancel_prompts(client: ComfyClient, queued_ids, running_ids) -> None:
    """Best effort: delete ``queued_ids`` from the server's queue and interrupt whichever of ``running_ids`` runs
    (errors ignored: the server may be gone)."""
    client = ComfyClient(client.base_url, timeout=CANCEL_TIMEOUT_S, client_id=client.client_id,
                         use_websocket=False)
    try:
        client.delete_queued(queued_ids)
        for prompt_id in running_ids:
            client.interrupt(prompt_id)
        client.delete_queued(queued_ids)  # a chunk that finished meanwhile may have queued the next one
    except ComfyError:
        pass


# ---------------------------------------------------------------------------------------------------- several

@dataclass
class ChunkJob:
    """One chunk of a spread render (the core's ChunkSpan: index, frames, part name) and ``failures``: the
    server -> ComfyUI's message of every failed try."""

    span: ChunkSpan
    failures: dict = field(default_factory=dict)

    @property
    def index(self) -> int:
        return self.span.index

    @property
    def part_name(self) -> str:
        return self.span.part_name

    def describe(self) -> str:
        return self.span.describe()


@dataclass(frozen=True)
class ServerStatus:
    """One server in :class:`RenderStatus`: its chunk (None when idle or out), whether the server has started it,
    the node running and its progress, the chunks it has done, why it is out (None while it is in)."""

    server: str
    chunk: ChunkJob | None = None
    started: bool = False
    node: str = ""
    value: int = 0
    maximum: int = 0
    chunks_done: int = 0
    out_reason: str | None = None


@dataclass(frozen=True)
class RenderStatus:
    """Where a spread render stands: frames of the finished chunks out of the song's, and every server."""

    total_frames: int
    frames_done: int
    chunk_count: int
    chunks_done: int
    servers: tuple


@dataclass
class ServerSlot:
    """A server taking part: its client, its prompt (the song under the name it has there), what it is doing."""

    client: ComfyClient
    prompt: dict
    status: ServerStatus

    @property
    def name(self) -> str:
        return self.client.base_url


class SpreadRender:
    """Render the chunks of ``plan`` on several servers at once and join them into ``output`` with the music.

    ``prompts``: {client: its "one chunk" prompt}; ``chunk_node``/``save_node``: the Render in Chunks and Save
    Video node ids; ``fps`` and ``audio`` (an AudioClip of the song as Load Audio loads it) for the join.
    ``on_message(line)`` tells what happens (chunk started, done, retried, server out); ``on_progress(status)``
    gets a :class:`RenderStatus` after every report from a server. Both are called on the calling thread, so
    either may raise KeyboardInterrupt to cancel. ``timeout``: seconds per chunk before its server is given up.
    """

    def __init__(self, prompts: dict, chunk_node: str, save_node: str, plan: ChunkPlan, *, fps, audio,
                 output, on_message=None, on_progress=None, timeout: float | None = None):
        self.slots = [ServerSlot(client, prompt, ServerStatus(client.base_url)) for client, prompt in prompts.items()]
        self.chunk_node, self.save_node, self.plan = str(chunk_node), str(save_node), plan
        self.fps, self.audio, self.output = fps, audio, Path(output)
        self.on_message, self.on_progress, self.timeout = on_message, on_progress, timeout
        self.origin = str(uuid.uuid4())  # names this render in the chunk prompts
        count = plan.count
        self.pending = [ChunkJob(plan.span(i)) for i in range(count)]
        self.done: dict[int, Path] = {}
        self.prompt_ids: dict[str, str] = {}  # server -> id of our prompt there now
        self.failure: BaseException | None = None
        self.lock = threading.Condition()
        self.stop = threading.Event()
        self.reports: queue.Queue = queue.Queue()
        self.parts_dir: Path | None = None

    # ------------------------------------------------------------------------------------------ the calling thread
    def run(self) -> Path:
        """Render, download and join; returns the output path. Raises ChunkRunError, or KeyboardInterrupt (after
        cancelling) when a callback raised it."""
        if not self.slots:
            raise ChunkRunError("no server to render on")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.parts_dir = Path(tempfile.mkdtemp(prefix=f".{self.output.name}.parts-", dir=self.output.parent))
        with self.lock:  # the first round in server order: every server gets a chunk if there are enough
            first_jobs = [self._claim(slot) for slot in self.slots]
        workers = [threading.Thread(target=self._work, args=(slot, job), name=f"chunks@{slot.name}", daemon=True)
                   for slot, job in zip(self.slots, first_jobs)]
        try:
            for worker in workers:
                worker.start()
            self._watch()
            self._join_parts()
            return self.output
        except BaseException:
            self._cancel()
            raise
        finally:
            self.stop.set()
            with self.lock:
                self.lock.notify_all()
            for worker in workers:
                worker.join(timeout=15)
            shutil.rmtree(self.parts_dir, ignore_errors=True)

    def _watch(self) -> None:
        while True:
            try:
                report = self.reports.get(timeout=0.2)
            except queue.Empty:
                report = None
            if report is not None:
                self._show(*report)
            with self.lock:
                failure, finished = self.failure, len(self.done) == self.plan.count
            if failure is not None:
                raise failure
            if finished and self.reports.empty():
                return

    def _show(self, kind: str, slot: ServerSlot, payload) -> None:
        """Apply a worker's report to the status and pass it on (on this thread)."""
        if kind == "event":
            job, event = payload
            with self.lock:  # the workers change the status too: only the chunk still running takes the event
                status = slot.status
                if event.kind in ("start", "executing", "progress") and status.chunk is job:
                    node = status.node
                    if event.node_id is not None:
                        node_info = slot.prompt.get(event.node_id) or {}
                        node = (node_info.get("_meta") or {}).get("title") or node_info.get("class_type", node)
                    value, maximum = (event.value, event.maximum) if event.kind == "progress" else (0, 0)
                    slot.status = replace(status, started=True, node=node, value=value, maximum=maximum)
        elif self.on_message is not None:
            self.on_message(f"[{slot.name}] {payload}")
        if self.on_progress is not None:
            self.on_progress(self.status())

    def status(self) -> RenderStatus:
        with self.lock:
            frames = sum(self.plan.frame_range(index)[1] for index in self.done)
            return RenderStatus(self.plan.total_frames, frames, self.plan.count, len(self.done),
                                tuple(slot.status for slot in self.slots))

    def _join_parts(self) -> None:
        from audiowalk_core.chunks import join_chunk_parts, missing_frame_ranges

        missing = missing_frame_ranges(self.parts_dir, self.plan.total_frames)
        if missing:
            raise ChunkRunError(f"the downloaded parts lack frames {missing}")
        if self.on_message is not None:
            self.on_message(f"joining {self.plan.count} parts with the music into {self.output}")
        join_chunk_parts(self.parts_dir, self.output, self.fps, audio=self.audio)

    def _cancel(self) -> None:
        """Stop the workers, interrupt the chunks running on the servers and delete our queued prompts."""
        self.stop.set()
        with self.lock:
            self.lock.notify_all()
            busy = [(slot, self.prompt_ids.get(slot.name)) for slot in self.slots if slot.status.chunk is not None]
        for slot, prompt_id in busy:
            if prompt_id:
                _cancel_prompts(slot.client, [prompt_id], [prompt_id])

    # ------------------------------------------------------------------------------------------ worker threads
    def _report(self, kind: str, slot: ServerSlot, payload) -> None:
        self.reports.put((kind, slot, payload))

    def _work(self, slot: ServerSlot, job: ChunkJob | None) -> None:
        try:
            while True:
                job = job or self._take(slot)
                if job is None:
                    return
                self._run(slot, job)
                job = None
        except BaseException as exc:  # noqa: BLE001 - a bug here must stop the render, not hang it
            if not self.stop.is_set():
                self._fail(exc)

    def _take(self, slot: ServerSlot) -> ChunkJob | None:
        """The next chunk for this server, waiting while other servers may still give one back; None when the
        render is over for this server."""
        with self.lock:
            while True:
                if self.stop.is_set() or self.failure is not None or slot.status.out_reason is not None \
                        or len(self.done) == self.plan.count:
                    return None
                job = self._claim(slot)
                if job is not None:
                    return job
                self.lock.wait(0.5)

    def _claim(self, slot: ServerSlot) -> ChunkJob | None:
        """The first pending chunk that has not failed on this server, now this server's (lock held)."""
        job = next((job for job in self.pending if slot.name not in job.failures), None)
        if job is not None:
            self.pending.remove(job)
            slot.status = replace(slot.status, chunk=job, started=False, node="", value=0, maximum=0)
            self._report("message", slot, job.describe())
        return job

    def _run(self, slot: ServerSlot, job: ChunkJob) -> None:
        if self.stop.is_set():
            return
        prompt = prompt_for_chunk(slot.prompt, self.chunk_node, job.index, self.origin)
        prompt_id = str(uuid.uuid4())
        with self.lock:
            self.prompt_ids[slot.name] = prompt_id
        try:
            entry = self._render(slot, job, prompt, prompt_id)
            part = self._download(slot, job, entry)
        except FollowStopped:
            return
        except ComfyPromptRejected as exc:
            self._fail(ChunkRunError(f"{slot.name} refused the workflow ({job.describe()}):\n{exc}"))
        except (ComfyExecutionError, _WrongPart) as exc:
            self._chunk_failed(slot, job, str(exc))
        except ComfyError as exc:  # unreachable, 5xx, connection lost, prompt lost, interrupted there, timeout
            _cancel_prompts(slot.client, [prompt_id], [prompt_id])
            self._server_out(slot, job, str(exc))
        else:
            self._chunk_done(slot, job, part)

    def _render(self, slot: ServerSlot, job: ChunkJob, prompt: dict, prompt_id: str) -> dict:
        client = slot.client
        socket = client.open_event_socket()
        try:
            queued_id = client.queue_prompt(prompt, prompt_id=prompt_id)
            if queued_id != prompt_id:  # a server that chose its own id
                with self.lock:
                    self.prompt_ids[slot.name] = prompt_id = queued_id
            if self.stop.is_set():  # cancelled while the prompt was on its way
                _cancel_prompts(client, [prompt_id], [prompt_id])
                raise FollowStopped(prompt_id)
            return client.follow_prompt(prompt_id, prompt, lambda event: self._report("event", slot, (job, event)),
                                        self.timeout, socket=socket, stop=self.stop)
        finally:
            if socket is not None:
                socket.close()

    def _download(self, slot: ServerSlot, job: ChunkJob, entry: dict) -> Path:
        files = [item for item in slot.client.output_files(entry) if item.node_id == self.save_node]
        if [item.filename for item in files] != [job.part_name]:
            raise _WrongPart(f"Save Video reported {[item.filename for item in files]} for {job.describe()}, "
                             f"not {job.part_name} (does the server read the song to another length?)")
        if self.stop.is_set():
            raise FollowStopped(job.describe())
        return slot.client.download(files[0], self.parts_dir / job.part_name)

    def _fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.failure is None:
                self.failure = exc
            self.lock.notify_all()

    def _give_back(self, job: ChunkJob) -> None:
        """Put ``job`` back among the pending chunks, in chunk order (called with the lock held)."""
        bisect.insort(self.pending, job, key=lambda item: item.index)

    def _chunk_done(self, slot: ServerSlot, job: ChunkJob, part: Path) -> None:
        with self.lock:
            self.done[job.index] = part
            slot.status = replace(slot.status, chunk=None, started=False, node="", value=0, maximum=0,
                                  chunks_done=slot.status.chunks_done + 1)
            frames = sum(self.plan.frame_range(index)[1] for index in self.done)
            chunks = len(self.done)
            self.lock.notify_all()
        self._report("message", slot, f"{job.describe()} done: {frames:,} of {self.plan.total_frames:,} frames "
                                      f"({chunks} of {self.plan.count} chunks)")

    def _chunk_failed(self, slot: ServerSlot, job: ChunkJob, message: str) -> None:
        with self.lock:
            job.failures[slot.name] = message
            slot.status = replace(slot.status, chunk=None, started=False, node="", value=0, maximum=0)
            self._give_back(job)
            self._check_dead_ends()
            self.lock.notify_all()
        self._report("message", slot, f"{job.describe()} failed: {message}; it is tried on another server")

    def _server_out(self, slot: ServerSlot, job: ChunkJob, message: str) -> None:
        with self.lock:
            slot.status = replace(slot.status, chunk=None, started=False, node="", value=0, maximum=0,
                                  out_reason=message)
            self._give_back(job)
            self._check_dead_ends()
            self.lock.notify_all()
        self._report("message", slot, f"out: {message}; {job.describe()} goes to another server")

    def _check_dead_ends(self) -> None:
        """Fail the render when no server is left, or a pending chunk has failed on every server left (called
        with the lock held)."""
        if self.failure is not None:
            return
        live = [slot for slot in self.slots if slot.status.out_reason is None]
        out = [f"  {slot.name}: out: {slot.status.out_reason}" for slot in self.slots
               if slot.status.out_reason is not None]
        if not live:
            left = sorted([job.index + 1 for job in self.pending])
            self.failure = ChunkRunError(f"no server left for chunk(s) {', '.join(map(str, left))} of "
                                         f"{self.plan.count}:\n" + "\n".join(out))
            return
        for job in self.pending:
            if all(slot.name in job.failures for slot in live):
                tried = [f"  {server}: {message}" for server, message in job.failures.items()]
                others = [line for line in out if line.split(":")[0].strip() not in job.failures]
                self.failure = ChunkRunError(f"{job.describe()} failed on every server:\n" +
                                             "\n".join(tried + others))
                return


class _WrongPart(ComfyError):
    """A server saved a chunk under another frame range than this machine planned."""


def status_line(status: RenderStatus) -> str:
    """One line: each server's chunk and progress, then the song's frames."""
    cells = []
    for server in status.servers:
        name = server.server.split("://", 1)[-1]
        if server.out_reason is not None:
            cells.append(f"{name}: out")
        elif server.chunk is None:
            cells.append(f"{name}: idle")
        else:
            step = f" {server.node} {server.value}/{server.maximum}" if server.maximum else \
                (f" {server.node}" if server.node else " queued")
            cells.append(f"{name}: chunk {server.chunk.index + 1}/{server.chunk.count}{step}")
    return " | ".join(cells) + f" | {status.frames_done:,}/{status.total_frames:,} frames"


class SpreadProgress:
    """Prints a spread render's messages as lines and, on a terminal, one status line (each server's chunk and
    node progress, the song's frames) kept up to date below them."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.shown = False

    def message(self, line: str) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.shown = False
        print(line, file=self.stream, flush=True)

    def progress(self, status: RenderStatus) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + status_line(status)[:200])
            self.stream.flush()
            self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False
