"""A small stand-in for a ComfyUI server, for testing our HTTP client's protocol handling (not our own code).

It speaks the parts of ComfyUI's protocol the client uses, with the same JSON shapes as ComfyUI 0.3.64's server.py
and execution.py: ``POST /upload/image`` (multipart, renames a different file with the same name),
``POST /prompt`` (400 with ``node_errors`` for an unknown class_type or a missing required input; takes the
client's ``prompt_id``), ``GET /history`` (``max_items``), ``GET /history/{id}``, ``GET /queue`` (with the prompts), ``POST /queue`` (delete), ``POST /interrupt``
(optionally of one ``prompt_id``), ``GET /view``, ``GET /object_info``, and ``GET /ws``
(a real websocket handshake, then ComfyUI's JSON messages: execution_start, executing, progress, executed,
execution_error, execution_interrupted, executing with node null at the end).

Prompts run one at a time from a queue, as in ComfyUI (lowest number first; a negative number is the front).
"Running" a prompt: every node reports ``progress`` 1..2 of 2; a node whose class_type is ``FakeRaise`` fails with
the exception message in its ``message`` input; every output node (``FakeSave``, or any node whose ``object_info``
entry says ``output_node``) writes its inputs as JSON to a file in the output folder and reports that file under
``"videos"``. Pass ``object_info`` to serve other node types (e.g. the pack's own).

A prompt with the pack's Render in Chunks node (AudioWalkRenderChunks) is rendered as the pack's chunk contract says,
by the core's own chunk and video code: the song (Load Audio in the input folder, Audio Features' fps) gives the
frame count, the chunk's frames are made from their frame index (:func:`frame_level`), and Save Video saves them
with ``audiowalk_core.video.save_video``: in "one chunk" renders the part alone; in "whole song" renders the part,
then the next chunk is queued at the front under ``chunk_prompt_id(origin, k + 1)``, and the last chunk joins the
parts with the music into a numbered mp4; as a chunk starts, the history entries of the render's earlier chunks
are removed (``GET /history`` then holds one entry per render, as the pack's Render in Chunks leaves ComfyUI's). Faults for the multi-server tests: ``chunk_delay_s`` (a slow server),
``fail_chunks`` (an execution error on those chunk indices, or on every chunk with ``"all"``),
``dies_in_chunk`` (the n-th chunk this server starts, 1-based: it stops listening and drops every connection
mid-chunk), ``prompt_http_status`` (``POST /prompt`` answers this HTTP error, e.g. 500, with a text body, as aiohttp
does), ``on_chunk_start(server, prompt_id, chunk_index)`` (a hook for tests).
"""
from __future__ import annotations

import base64
import hashlib
import json
import select
import socket
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np

OBJECT_INFO = {
    "FakeSource": {"input": {"required": {"audio": [[], {"audio_upload": True}], "seed": ["INT", {"default": 0}]}},
                   "input_order": {"required": ["audio", "seed"]}, "output": ["AUDIO"], "output_name": ["AUDIO"],
                   "output_node": False},
    "FakeSave": {"input": {"required": {"audio": ["AUDIO"], "text": ["STRING", {"default": ""}],
                                        "start_frame": ["INT", {"default": 0, "min": 0}]}},
                 "input_order": {"required": ["audio", "text", "start_frame"]}, "output": [],
                 "output_name": [], "output_node": True},
    "FakeRaise": {"input": {"required": {"audio": ["AUDIO"], "message": ["STRING", {}]}},
                  "input_order": {"required": ["audio", "message"]}, "output": ["AUDIO"], "output_name": ["AUDIO"],
                  "output_node": False},
}
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
FRAME_SIZE = 32  # px of the frames a fake chunk render makes
CHUNK_ERROR = "CUDA out of memory (fake)"


def frame_level(index: int) -> int:
    """The grey level of frame ``index`` in a fake render: neighbours differ by 37 levels, so a frame out of place
    shows."""
    return 16 + (37 * int(index)) % 224


def fake_frames(start: int, count: int) -> np.ndarray:
    """Frames ``start .. start + count - 1`` of a fake render: float [count, 32, 32, 3], each one grey level."""
    levels = np.array([frame_level(start + i) for i in range(count)], np.float32) / 255.0
    return np.broadcast_to(levels[:, None, None, None], (count, FRAME_SIZE, FRAME_SIZE, 3)).copy()


class _Stopped(Exception):
    """The fake server died (or is shutting down) while running a prompt."""


class FakeComfyUI:
    """Start with ``with FakeComfyUI(tmp_path) as server: server.address`` ("127.0.0.1:PORT")."""

    def __init__(self, root: Path, node_delay_s: float = 0.0, object_info: dict | None = None, *,
                 chunk_delay_s: float = 0.0, fail_chunks=(), dies_in_chunk: int | None = None,
                 prompt_http_status: int | None = None, on_chunk_start=None):
        self.root = Path(root)
        self.object_info = object_info or OBJECT_INFO
        self.input_dir = self.root / "input"
        self.output_dir = self.root / "output"
        self.input_dir.mkdir(parents=True, exist_ok=True)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.node_delay_s = node_delay_s
        self.chunk_delay_s = chunk_delay_s
        self.fail_chunks = fail_chunks
        self.dies_in_chunk = dies_in_chunk
        self.prompt_http_status = prompt_http_status
        self.on_chunk_start = on_chunk_start
        self.history = {}
        self.prompts = []  # every accepted prompt, in order (also the ones this server queued itself)
        self.prompt_ids = []
        self.posted_ids = []  # ids of the prompts clients POSTed (not the ones this server queued itself)
        self.pending = []  # [number, prompt_id, prompt, client_id] waiting to run
        self.running = []
        self.running_prompts = {}  # prompt_id -> prompt, while it runs
        self.number = 0
        self.interrupts = []  # bodies of POST /interrupt
        self.deleted = []  # prompt ids of POST /queue {"delete": [...]}
        self.chunks_started = []  # (chunk index, render mode) of every chunk this server began
        self.chunks_finished = []  # the same, for chunks it completed
        self.sockets = {}  # client_id -> outbox of messages
        self.websocket_connections = 0
        self.dead = False
        self.lock = threading.Condition()
        self.stopping = threading.Event()
        self.interrupt_flag = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                fake._get(self)

            def do_POST(self):
                fake._post(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.worker = threading.Thread(target=self._work, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        self.worker.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self) -> None:
        """Stop listening and drop every connection (also what dying mid-chunk does). Safe to call twice."""
        with self.lock:
            if self.dead:
                return
            self.dead = True
            self.lock.notify_all()
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------------------------------------ HTTP
    @staticmethod
    def _send_json(handler, data, status=200):
        body = json.dumps(data).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    @staticmethod
    def _send_empty(handler, status):
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _get(self, handler):
        url = urlparse(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/ws":
            return self._websocket(handler, query.get("clientId", ""))
        if url.path == "/object_info":
            return self._send_json(handler, self.object_info)
        if url.path.startswith("/history/"):
            prompt_id = unquote(url.path[len("/history/"):])
            with self.lock:
                entry = self.history.get(prompt_id)
            return self._send_json(handler, {prompt_id: entry} if entry else {})
        if url.path == "/queue":
            with self.lock:
                running = [[0, pid, self.running_prompts.get(pid, {}), {}, []] for pid in self.running]
                pending = [[number, pid, prompt, {}, []] for number, pid, prompt, _ in self.pending]
            return self._send_json(handler, {"queue_running": running, "queue_pending": pending})
        if url.path == "/history":  # newest last, as ComfyUI; max_items keeps the newest
            with self.lock:
                items = list(self.history.items())[-int(query.get("max_items", 10_000)):]
            return self._send_json(handler, dict(items))
        if url.path == "/view":
            folder = {"output": self.output_dir, "input": self.input_dir}.get(query.get("type", "output"))
            path = folder / query.get("subfolder", "") / query.get("filename", "")
            if not path.is_file():
                return self._send_empty(handler, 404)
            body = path.read_bytes()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        self._send_empty(handler, 404)

    def _post(self, handler):
        length = int(handler.headers.get("Content-Length", 0))
        body = handler.rfile.read(length)
        path = urlparse(handler.path).path
        if path == "/upload/image":
            return self._upload(handler, body)
        if path == "/prompt":
            return self._prompt(handler, json.loads(body))
        if path == "/interrupt":
            data = json.loads(body or b"{}")
            with self.lock:
                self.interrupts.append(data)
                if not data.get("prompt_id") or data["prompt_id"] in self.running:
                    self.interrupt_flag.set()
            return self._send_json(handler, {})
        if path == "/queue":
            data = json.loads(body or b"{}")
            with self.lock:
                for prompt_id in data.get("delete", []):
                    self.deleted.append(prompt_id)
                    self.pending = [item for item in self.pending if item[1] != prompt_id]
            return self._send_empty(handler, 200)
        self._send_json(handler, {"error": "not found"}, 404)

    def _upload(self, handler, body):
        boundary = handler.headers["Content-Type"].split("boundary=", 1)[1].encode()
        fields, file_name, file_data = {}, None, None
        for part in body.split(b"--" + boundary):
            if b"\r\n\r\n" not in part:
                continue
            head, data = part.split(b"\r\n\r\n", 1)
            data = data[:-2] if data.endswith(b"\r\n") else data
            head = head.decode()
            name = head.split('name="', 1)[1].split('"', 1)[0]
            if 'filename="' in head:
                file_name, file_data = head.split('filename="', 1)[1].split('"', 1)[0], data
            else:
                fields[name] = data.decode()
        if fields.get("type") != "input" or not file_name:
            return self._send_json(handler, {"error": "bad upload"}, 400)
        folder = self.input_dir / fields.get("subfolder", "")
        folder.mkdir(parents=True, exist_ok=True)
        target, stem, suffix, i = folder / file_name, Path(file_name).stem, Path(file_name).suffix, 1
        while target.exists() and fields.get("overwrite") != "true":
            if target.read_bytes() == file_data:
                break
            target = folder / f"{stem} ({i}){suffix}"
            i += 1
        target.write_bytes(file_data)
        self._send_json(handler, {"name": target.name, "subfolder": fields.get("subfolder", ""), "type": "input"})

    def _validation_errors(self, prompt):
        """ComfyUI's 400 answer for an unknown node type or a missing required input, or None."""
        node_errors = {}
        for node_id, node in prompt.items():
            info = self.object_info.get(node["class_type"])
            if info is None:
                return {"error": {"type": "invalid_prompt", "message": f"Cannot execute because node "
                                  f"{node['class_type']} does not exist.", "details": f"Node ID '#{node_id}'",
                                  "extra_info": {}}, "node_errors": {}}
            for name in info["input"].get("required", {}):
                if name not in node["inputs"]:
                    node_errors[node_id] = {"errors": [{"type": "required_input_missing",
                                                        "message": "Required input is missing", "details": name,
                                                        "extra_info": {"input_name": name}}],
                                            "dependent_outputs": [], "class_type": node["class_type"]}
        if node_errors:
            return {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed "
                              "validation", "details": "", "extra_info": {}}, "node_errors": node_errors}
        return None

    def _prompt(self, handler, payload):
        if self.prompt_http_status is not None:
            body = f"{self.prompt_http_status}: Internal Server Error".encode()
            handler.send_response(self.prompt_http_status)
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        prompt = payload["prompt"]
        errors = self._validation_errors(prompt)
        if errors:
            return self._send_json(handler, errors, 400)
        prompt_id = str(payload.get("prompt_id") or uuid.uuid4())
        with self.lock:
            self.posted_ids.append(prompt_id)
        number = self._enqueue(prompt, prompt_id, payload.get("client_id"), front=bool(payload.get("front")))
        self._send_json(handler, {"prompt_id": prompt_id, "number": number, "node_errors": {}})

    def _enqueue(self, prompt, prompt_id, client_id, front=False, number=None):
        with self.lock:
            self.number += 1
            if number is None:
                number = -self.number if front else self.number
            self.prompts.append(prompt)
            self.prompt_ids.append(prompt_id)
            self.pending.append([number, prompt_id, prompt, client_id])
            self.lock.notify_all()
        return number

    # ------------------------------------------------------------------------------------------------ execution
    def _work(self):
        while True:
            with self.lock:
                while not self.pending and not self.dead:
                    self.lock.wait()
                if self.dead:
                    return
                item = min(self.pending, key=lambda entry: entry[0])
                self.pending.remove(item)
                self.running.append(item[1])
                self.running_prompts[item[1]] = item[2]
                self.interrupt_flag.clear()
            try:
                self._number_now = item[0]
                self._execute(item[1], item[2], item[3])
            except _Stopped:
                return

    def _wait(self, seconds, node_id, send):
        """Sleep ``seconds`` in small steps; an interrupt raises _Interrupted, a stop _Stopped."""
        end = time.monotonic() + seconds
        while True:
            if self.stopping.is_set():
                raise _Stopped()
            if self.interrupt_flag.is_set():
                raise _Interrupted(node_id)
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.02))

    def _execute(self, prompt_id, prompt, client_id):
        messages, outputs, status = [], {}, "success"

        def send(kind, data):
            data = {**data, "prompt_id": prompt_id} if kind not in ("status",) else data
            messages.append([kind, data])
            with self.lock:
                target = self.sockets.get(client_id)
            if target is not None:
                target.put(json.dumps({"type": kind, "data": data}))

        send("execution_start", {})
        send("execution_cached", {"nodes": []})
        chunk = None
        try:
            for node_id in sorted(prompt, key=int):
                node = prompt[node_id]
                send("executing", {"node": node_id, "display_node": node_id})
                self._wait(self.node_delay_s, node_id, send)
                class_type = node["class_type"]
                if class_type == "AudioWalkRenderChunks":
                    chunk = self._start_chunk(prompt_id, prompt, node_id)
                    send("progress", {"value": chunk.index, "max": chunk.count, "node": node_id})
                    continue
                if class_type == "AudioWalkBigGANGenerate" and chunk is not None:
                    self._render_chunk(chunk, node_id, send)
                    continue
                for step in (1, 2):
                    send("progress", {"value": step, "max": 2, "node": node_id})
                if class_type == "FakeRaise":
                    send("execution_error", _error_data(node_id, "FakeRaise", node["inputs"]["message"],
                                                        "audiowalk_core.errors.AudioWalkInputError"))
                    status = "error"
                    break
                if class_type == "AudioWalkSaveVideo" and chunk is not None:
                    ui = self._save_chunk(chunk, prompt_id, prompt, client_id, node)
                    if ui is not None:  # as ComfyUI: a node without ui adds nothing to the history's outputs
                        outputs[node_id] = ui
                        send("executed", {"node": node_id, "display_node": node_id, "output": ui})
                elif self.object_info[class_type].get("output_node"):
                    name = f"fake_{len(list(self.output_dir.iterdir())):05d}.mp4"
                    (self.output_dir / name).write_text(json.dumps(node["inputs"], sort_keys=True))
                    ui = {"videos": [{"filename": name, "subfolder": "", "type": "output"}]}
                    outputs[node_id] = ui
                    send("executed", {"node": node_id, "display_node": node_id, "output": ui})
        except _Interrupted as interrupted:
            send("execution_interrupted", {"node_id": interrupted.node_id,
                                           "node_type": prompt[interrupted.node_id]["class_type"], "executed": []})
            status = "error"
        except _ChunkFailed as failed:
            send("execution_error", _error_data(failed.node_id, prompt[failed.node_id]["class_type"], CHUNK_ERROR,
                                                "torch.OutOfMemoryError"))
            status = "error"
        if status == "success":
            send("execution_success", {})
            if chunk is not None:
                with self.lock:
                    self.chunks_finished.append((chunk.index, chunk.mode))
        with self.lock:
            self.running.remove(prompt_id)
            self.running_prompts.pop(prompt_id, None)
            self.history[prompt_id] = {"prompt": [self._number_now, prompt_id, prompt, {}, []], "outputs": outputs,
                                       "status": {"status_str": status, "completed": status == "success",
                                                  "messages": messages}, "meta": {}}
        send("executing", {"node": None})

    # ------------------------------------------------------------------------------------------------ chunks
    def _song(self, prompt):
        """The song as Load Audio loads it, and its frame clock at Audio Features' fps."""
        from audiowalk_core.audio import load_audio
        from audiowalk_core.clock import FrameClock

        loader = next(n["inputs"] for n in prompt.values() if n["class_type"] == "AudioWalkLoadAudio")
        features = next(n["inputs"] for n in prompt.values() if n["class_type"] == "AudioWalkAudioFeatures")
        clip = load_audio(self.input_dir / loader["audio"], float(loader.get("start_seconds", 0.0)),
                          float(loader.get("duration_seconds", 0.0)) or None)
        return clip, FrameClock.for_duration(clip.num_samples, clip.sample_rate, str(features["fps"]))

    def _start_chunk(self, prompt_id, prompt, node_id):
        from audiowalk_core.chunks import chunk_of_prompt, earlier_chunk_prompt_ids

        inputs = prompt[node_id]["inputs"]
        clip, clock = self._song(prompt)
        chunk = chunk_of_prompt(prompt, node_id, clock.frame_count, clock, chunk_frames=inputs["chunk_frames"],
                                render=inputs["render"], chunk_index=inputs["chunk_index"],
                                current_prompt_id=prompt_id)
        with self.lock:  # as the pack's Render in Chunks does: the finished chunks' history entries go
            for finished in earlier_chunk_prompt_ids(chunk):
                self.history.pop(finished, None)
        with self.lock:
            self.chunks_started.append((chunk.index, chunk.mode))
            started = len(self.chunks_started)
        if self.on_chunk_start is not None:
            self.on_chunk_start(self, prompt_id, chunk.index)
        self._fails_now = self.fail_chunks == "all" or chunk.index in self.fail_chunks
        self._clip = clip
        self._dies_now = self.dies_in_chunk == started
        return chunk

    def _render_chunk(self, chunk, node_id, send):
        """The Generate node of a chunk: progress frame by frame over ``chunk_delay_s``; dies half way when told."""
        if self._fails_now:
            raise _ChunkFailed(node_id)
        steps = max(chunk.frame_count, 1)
        for done in range(1, steps + 1):
            self._wait(self.chunk_delay_s / steps, node_id, send)
            send("progress", {"value": done, "max": steps, "node": node_id})
            if self._dies_now and done >= steps // 2:
                self.stop()
                raise _Stopped()

    def _save_chunk(self, chunk, prompt_id, prompt, client_id, node):
        from audiowalk_core.chunks import next_chunk_request
        from audiowalk_core.save_music_video import save_video, saved_video_ui

        saved = save_video(self.output_dir, node["inputs"]["filename_prefix"],
                           fake_frames(chunk.start_frame, chunk.frame_count), audio=self._clip, chunk=chunk,
                           crf=int(node["inputs"].get("crf", 18)))
        request = next_chunk_request(chunk)
        if request is not None:
            self._enqueue(request.prompt, request.prompt_id, client_id,
                          number=request.queue_number(self._number_now))
        return saved_video_ui(saved)

    # ------------------------------------------------------------------------------------------------ websocket
    def _websocket(self, handler, client_id):
        import queue

        key = handler.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        # register before answering the handshake: once the client has its answer it may queue a prompt at once,
        # and the prompt's first events must find this socket
        outbox = queue.Queue()
        with self.lock:
            self.sockets[client_id] = outbox
            self.websocket_connections += 1
        handler.send_response(101, "Switching Protocols")
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", accept)
        handler.end_headers()
        handler.wfile.flush()
        connection: socket.socket = handler.connection
        outbox.put(json.dumps({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}},
                                                          "sid": client_id}}))
        try:
            while not self.stopping.is_set():
                readable, _, _ = select.select([connection], [], [], 0)
                if readable:
                    data = connection.recv(2)
                    if not data or data[0] & 0x0F == 0x8:  # closed, or a close frame
                        break
                try:
                    text = outbox.get(timeout=0.05)
                except queue.Empty:
                    continue
                payload = text.encode()
                if len(payload) < 126:
                    header = struct.pack("!BB", 0x81, len(payload))
                elif len(payload) < 65536:
                    header = struct.pack("!BBH", 0x81, 126, len(payload))
                else:
                    header = struct.pack("!BBQ", 0x81, 127, len(payload))
                connection.sendall(header + payload)
        except OSError:
            pass
        finally:
            with self.lock:
                if self.sockets.get(client_id) is outbox:
                    del self.sockets[client_id]
            handler.close_connection = True
            if self.stopping.is_set():  # a dying server drops the socket without a close frame
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Interrupted(Exception):
    def __init__(self, node_id):
        super().__init__(node_id)
        self.node_id = node_id


class _ChunkFailed(Exception):
    def __init__(self, node_id):
        super().__init__(node_id)
        self.node_id = node_id


def _error_data(node_id, node_type, message, exception_type):
    return {"node_id": node_id, "node_type": node_type, "executed": [], "exception_message": message,
            "exception_type": exception_type, "traceback": ["Traceback: ...\n"], "current_inputs": {},
            "current_outputs": []}
