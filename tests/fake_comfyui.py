"""A small stand-in for a ComfyUI server, for testing our HTTP client's protocol handling (not our own code).

It speaks the parts of ComfyUI's protocol the client uses, with the same JSON shapes as ComfyUI 0.3.64's server.py
and execution.py: ``POST /upload/image`` (multipart, renames a different file with the same name),
``POST /prompt`` (400 with ``node_errors`` for an unknown class_type or a missing required input),
``GET /history/{id}``, ``GET /queue``, ``GET /view``, ``GET /object_info``, and ``GET /ws`` (a real websocket
handshake, then ComfyUI's JSON messages: execution_start, executing, progress, executed, execution_error,
executing with node null at the end).

"Running" a prompt: every node reports ``progress`` 1..2 of 2; a node whose class_type is ``FakeRaise`` fails with
the exception message in its ``message`` input; every output node (``FakeSave``, or any node whose
``object_info`` entry says ``output_node``) writes its inputs as JSON to a file in the output folder and reports
that file under ``"videos"``. Pass ``object_info`` to serve other node types (e.g. the pack's own).
"""
from __future__ import annotations

import base64
import hashlib
import json
import queue
import select
import socket
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

OBJECT_INFO = {
    "FakeSource": {"input": {"required": {"audio": [[], {"audio_upload": True}], "seed": ["INT", {"default": 0}]}},
                   "input_order": {"required": ["audio", "seed"]}, "output": ["AUDIO"], "output_name": ["AUDIO"],
                   "output_node": False},
    "FakeSave": {"input": {"required": {"audio": ["AUDIO"], "text": ["STRING", {"default": ""}],
                                        "chunk_start_frame": ["INT", {"default": 0, "min": 0}]}},
                 "input_order": {"required": ["audio", "text", "chunk_start_frame"]}, "output": [],
                 "output_name": [], "output_node": True},
    "FakeRaise": {"input": {"required": {"audio": ["AUDIO"], "message": ["STRING", {}]}},
                  "input_order": {"required": ["audio", "message"]}, "output": ["AUDIO"], "output_name": ["AUDIO"],
                  "output_node": False},
}
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeComfyUI:
    """Start with ``with FakeComfyUI(tmp_path) as server: server.address`` ("127.0.0.1:PORT")."""

    def __init__(self, root: Path, node_delay_s: float = 0.0, object_info: dict | None = None):
        self.root = Path(root)
        self.object_info = object_info or OBJECT_INFO
        self.input_dir = self.root / "input"
        self.output_dir = self.root / "output"
        self.input_dir.mkdir(parents=True, exist_ok=True)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.node_delay_s = node_delay_s
        self.history = {}
        self.prompts = []  # every accepted prompt, in order
        self.running = []
        self.sockets = {}  # client_id -> queue of messages
        self.websocket_connections = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
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
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
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
                running = [[0, pid, {}, {}, []] for pid in self.running]
            return self._send_json(handler, {"queue_running": running, "queue_pending": []})
        if url.path == "/view":
            folder = {"output": self.output_dir, "input": self.input_dir}.get(query.get("type", "output"))
            path = folder / query.get("subfolder", "") / query.get("filename", "")
            if not path.is_file():
                handler.send_response(404)
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            body = path.read_bytes()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        handler.send_response(404)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _post(self, handler):
        length = int(handler.headers.get("Content-Length", 0))
        body = handler.rfile.read(length)
        path = urlparse(handler.path).path
        if path == "/upload/image":
            return self._upload(handler, body)
        if path == "/prompt":
            return self._prompt(handler, json.loads(body))
        if path == "/interrupt":
            return self._send_json(handler, {})
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

    def _prompt(self, handler, payload):
        prompt = payload["prompt"]
        node_errors = {}
        for node_id, node in prompt.items():
            info = self.object_info.get(node["class_type"])
            if info is None:
                return self._send_json(handler, {"error": {
                    "type": "invalid_prompt", "message": f"Cannot execute because node {node['class_type']} does "
                    "not exist.", "details": f"Node ID '#{node_id}'", "extra_info": {}}, "node_errors": {}}, 400)
            for name in info["input"].get("required", {}):
                if name not in node["inputs"]:
                    node_errors[node_id] = {"errors": [{"type": "required_input_missing",
                                                        "message": "Required input is missing", "details": name,
                                                        "extra_info": {"input_name": name}}],
                                            "dependent_outputs": [], "class_type": node["class_type"]}
        if node_errors:
            return self._send_json(handler, {"error": {"type": "prompt_outputs_failed_validation",
                                                       "message": "Prompt outputs failed validation", "details": "",
                                                       "extra_info": {}}, "node_errors": node_errors}, 400)
        prompt_id = str(uuid.uuid4())
        with self.lock:
            self.prompts.append(prompt)
            self.running.append(prompt_id)
        threading.Thread(target=self._execute, args=(prompt_id, prompt, payload.get("client_id")),
                         daemon=True).start()
        self._send_json(handler, {"prompt_id": prompt_id, "number": len(self.prompts), "node_errors": {}})

    # ------------------------------------------------------------------------------------------------ execution
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
        for node_id in sorted(prompt, key=int):
            node = prompt[node_id]
            send("executing", {"node": node_id, "display_node": node_id})
            time.sleep(self.node_delay_s)
            for step in (1, 2):
                send("progress", {"value": step, "max": 2, "node": node_id})
            if node["class_type"] == "FakeRaise":
                send("execution_error", {"node_id": node_id, "node_type": "FakeRaise", "executed": [],
                                         "exception_message": node["inputs"]["message"],
                                         "exception_type": "audiowalk_core.errors.AudioWalkInputError",
                                         "traceback": ["Traceback: ...\n"], "current_inputs": {},
                                         "current_outputs": []})
                status = "error"
                break
            if self.object_info[node["class_type"]].get("output_node"):
                name = f"fake_{len(list(self.output_dir.iterdir())):05d}.mp4"
                (self.output_dir / name).write_text(json.dumps(node["inputs"], sort_keys=True))
                ui = {"videos": [{"filename": name, "subfolder": "", "type": "output"}]}
                outputs[node_id] = ui
                send("executed", {"node": node_id, "display_node": node_id, "output": ui})
        if status == "success":
            send("execution_success", {})
        with self.lock:
            self.running.remove(prompt_id)
            self.history[prompt_id] = {"prompt": [0, prompt_id, prompt, {}, []], "outputs": outputs,
                                       "status": {"status_str": status, "completed": status == "success",
                                                  "messages": messages}, "meta": {}}
        send("executing", {"node": None})

    # ------------------------------------------------------------------------------------------------ websocket
    def _websocket(self, handler, client_id):
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
