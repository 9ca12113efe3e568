"""A small HTTP client for a running ComfyUI server: upload a file, queue a prompt, follow it, fetch its outputs.

Standard library only (urllib). When the ``websocket-client`` package is installed, progress comes live from
ComfyUI's ``/ws`` messages; otherwise the client polls ``/queue`` and ``/history``. The endpoints used are the ones
ComfyUI's own frontend and ``script_examples`` use: ``POST /upload/image`` (any file type, ``type=input``),
``POST /prompt``, ``GET /history/{prompt_id}``, ``GET /queue``, ``POST /queue`` (delete), ``GET /view``,
``GET /object_info``, ``POST /interrupt``.
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from audiowalk_core.paths import atomic_output, copy_stream


class ComfyError(RuntimeError):
    """Something went wrong talking to ComfyUI or inside the prompt it ran."""


class ComfyConnectionError(ComfyError):
    """The server cannot be reached or answered with an unexpected HTTP error."""


class ComfyPromptRejected(ComfyError):
    """``POST /prompt`` refused the workflow (validation failed). ``node_errors`` is ComfyUI's per-node list."""

    def __init__(self, message: str, error: dict, node_errors: dict):
        super().__init__(message)
        self.error = error
        self.node_errors = node_errors


class ComfyExecutionError(ComfyError):
    """A node raised while the prompt ran (ComfyUI's ``execution_error`` message)."""

    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details
        self.node_id = str(details.get("node_id"))
        self.node_type = details.get("node_type")
        self.exception_message = details.get("exception_message", "")


class ComfyInterrupted(ComfyError):
    """The prompt was interrupted (cancelled in the UI or by ``POST /interrupt``)."""


class ComfyPromptLost(ComfyConnectionError):
    """The server has the prompt neither in its queue nor in its history (restarted, or the prompt was deleted)."""


class FollowStopped(ComfyError):
    """We stopped following a prompt because the caller asked to (``stop`` was set)."""


@dataclass
class ProgressEvent:
    """What happened on the server for our prompt.

    ``kind``: "queued" (``value`` = prompts ahead), "start", "cached" (``nodes``), "executing" (``node_id``),
    "progress" (``value`` of ``maximum`` steps inside ``node_id``), "executed" (``node_id``, ``output``), "done".
    """

    kind: str
    node_id: str | None = None
    value: int = 0
    maximum: int = 0
    nodes: list = field(default_factory=list)
    output: dict | None = None


@dataclass(frozen=True)
class OutputFile:
    """A file a node saved: fetch it with ``/view?filename=&subfolder=&type=``."""

    node_id: str
    filename: str
    subfolder: str
    type: str
    key: str  # the key of the node's UI output it came from ("images", "gifs", "videos", "audio", ...)


def _websocket_module():
    try:
        import websocket  # websocket-client

        return websocket if hasattr(websocket, "create_connection") else None
    except ImportError:
        return None


def server_url(server: str) -> str:
    """``"127.0.0.1:8188"`` or ``"http://host:port/"`` -> ``"http://host:port"``; anything else is refused."""
    text = server.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parsed = urllib.parse.urlparse(text)
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number in 0..65535
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query:
        raise ComfyConnectionError(f"--server {server!r} is not HOST:PORT or an http(s) URL")
    return f"{parsed.scheme}://{parsed.netloc}{parsed.path.rstrip('/')}"


class ComfyClient:
    """Talks to one ComfyUI server. ``server`` is ``HOST:PORT`` or a base URL."""

    def __init__(self, server: str, timeout: float = 60.0, client_id: str | None = None, use_websocket=None):
        self.base_url = server_url(server)
        self.timeout = timeout
        self.client_id = client_id or uuid.uuid4().hex
        self.use_websocket = (_websocket_module() is not None) if use_websocket is None else bool(use_websocket)

    # ---------------------------------------------------------------------------------------------- HTTP basics
    def _open(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
              query: dict | None = None):
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ComfyConnectionError(
                f"cannot reach ComfyUI at {self.base_url} ({reason}); is it running? Start it with "
                f"'python main.py --listen HOST --port PORT' and pass --server HOST:PORT") from None

    def _request_json(self, method: str, path: str, payload=None, query: dict | None = None):
        body = None if payload is None else json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            with self._open(method, path, body, headers, query) as response:
                data = response.read()
        except urllib.error.HTTPError as exc:
            raise ComfyConnectionError(f"{method} {path} failed: HTTP {exc.code} {exc.reason}: "
                                       f"{exc.read()[:500].decode('utf-8', 'replace')}") from None
        return json.loads(data) if data else None

    def get_json(self, path: str, query: dict | None = None):
        return self._request_json("GET", path, query=query)

    def object_info(self, node_class: str | None = None) -> dict:
        """``/object_info`` (all nodes) or one node's entry."""
        path = "/object_info" if node_class is None else "/object_info/" + urllib.parse.quote(node_class)
        return self.get_json(path)

    def system_stats(self) -> dict:
        return self.get_json("/system_stats")

    def interrupt(self, prompt_id: str | None = None) -> None:
        """Interrupt the running prompt; with ``prompt_id`` only if that prompt is the one running (ComfyUI
        0.3.60+; older servers interrupt whatever runs)."""
        self._request_json("POST", "/interrupt", {"prompt_id": prompt_id} if prompt_id else {})

    def delete_queued(self, prompt_ids) -> None:
        """Remove these prompts from the queue if they are still waiting there (running ones are not touched)."""
        ids = [str(prompt_id) for prompt_id in prompt_ids]
        if ids:
            self._request_json("POST", "/queue", {"delete": ids})

    # ---------------------------------------------------------------------------------------------- upload
    def upload_file(self, path, subfolder: str = "", overwrite: bool = False) -> str:
        """Upload a file into ComfyUI's input folder; returns the name to put in a file widget.

        ComfyUI keeps an existing identical file and renames a different one with the same name, so always use the
        returned name (``"subfolder/name"`` when a subfolder is given).
        """
        path = Path(path)
        if not path.is_file():
            raise ComfyError(f"upload: {str(path)!r} does not exist or is not a file")
        boundary = "----audiowalk" + uuid.uuid4().hex
        fields = {"type": "input", "subfolder": subfolder}
        if overwrite:
            fields["overwrite"] = "true"
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                         .encode("utf-8"))
        filename = path.name.replace('"', "_")
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode("utf-8"))
        parts.append(path.read_bytes())
        parts.append(f"\r\n--{boundary}--\r\n".encode("utf-8"))
        body = b"".join(parts)
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        try:
            with self._open("POST", "/upload/image", body, headers) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise ComfyConnectionError(f"upload of {path.name!r} failed: HTTP {exc.code} {exc.reason}") from None
        name = answer["name"]
        return f"{answer['subfolder']}/{name}" if answer.get("subfolder") else name

    # ---------------------------------------------------------------------------------------------- prompts
    def queue_prompt(self, prompt: dict, extra_data: dict | None = None, prompt_id: str | None = None) -> str:
        """Queue an API-format workflow; returns its prompt id (``prompt_id`` when given: ComfyUI takes the
        client's id). Raises ComfyPromptRejected with a readable message when the server refuses it (HTTP 400)."""
        payload = {"prompt": prompt, "client_id": self.client_id}
        if extra_data:
            payload["extra_data"] = extra_data
        if prompt_id:
            payload["prompt_id"] = str(prompt_id)
        body = json.dumps(payload).encode("utf-8")
        try:
            with self._open("POST", "/prompt", body, {"Content-Type": "application/json"}) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            try:
                answer = json.loads(text) if exc.code == 400 else None
            except json.JSONDecodeError:
                answer = None
            if not isinstance(answer, dict):
                raise ComfyConnectionError(f"POST /prompt failed: HTTP {exc.code} {exc.reason}: {text[:500]}") \
                    from None
            raise ComfyPromptRejected(format_prompt_rejection(answer, prompt), answer.get("error") or {},
                                      answer.get("node_errors") or {}) from None
        if answer.get("node_errors"):
            # Accepted, but some outputs were dropped because their branch failed validation.
            raise ComfyPromptRejected(format_prompt_rejection(answer, prompt), answer.get("error") or {},
                                      answer["node_errors"])
        return answer["prompt_id"]

    def history(self, prompt_id: str) -> dict | None:
        """The history entry of a finished prompt, or None while it is queued or running."""
        data = self.get_json("/history/" + urllib.parse.quote(prompt_id))
        return (data or {}).get(prompt_id)

    def queue_position(self, prompt_id: str) -> int | None:
        """0 when running, n when n prompts run or wait before it, None when it is not in the queue."""
        queue = self.get_json("/queue")
        running = [item[1] for item in queue.get("queue_running", [])]
        if prompt_id in running:
            return 0
        pending = sorted(queue.get("queue_pending", []), key=lambda item: item[0])
        for index, item in enumerate(pending):
            if item[1] == prompt_id:
                return len(running) + index + 1
        return None

    def run_prompt(self, prompt: dict, on_event=None, timeout: float | None = None, prompt_id: str | None = None,
                   stop=None) -> dict:
        """Queue ``prompt``, follow it until it finishes and return its history entry.

        ``on_event(ProgressEvent)`` is called as the server reports progress. Raises ComfyPromptRejected,
        ComfyExecutionError (with the failing node and its exception message) or ComfyInterrupted; FollowStopped
        when ``stop`` (a threading.Event) is set.
        """
        socket = self.open_event_socket()
        try:
            prompt_id = self.queue_prompt(prompt, prompt_id=prompt_id)
            entry = self.follow_prompt(prompt_id, prompt, on_event, timeout, socket=socket, stop=stop)
        finally:
            if socket is not None:
                socket.close()
        if on_event:
            on_event(ProgressEvent("done"))
        return entry

    def open_event_socket(self):
        """ComfyUI's ``/ws`` for this client id (open it before queuing, so no message is missed), or None when
        polling is used."""
        return self._connect_websocket() if self.use_websocket else None

    def follow_prompt(self, prompt_id: str, prompt: dict | None = None, on_event=None, timeout: float | None = None,
                      socket=None, stop=None) -> dict:
        """Follow a queued prompt until it finishes (over ``socket`` from :meth:`open_event_socket`, else by
        polling) and return its history entry; raises as :meth:`run_prompt`."""
        if socket is not None:
            return self._follow_websocket(socket, prompt_id, prompt, on_event, timeout, stop)
        return self._follow_polling(prompt_id, prompt, on_event, timeout, stop)

    def _connect_websocket(self):
        websocket = _websocket_module()
        if websocket is None:
            return None
        ws_url = self.base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        try:
            return websocket.create_connection(f"{ws_url}/ws?clientId={self.client_id}", timeout=self.timeout)
        except Exception:  # noqa: BLE001 - fall back to polling when the socket cannot be opened
            return None

    @staticmethod
    def _check_stop(stop, prompt_id):
        if stop is not None and stop.is_set():
            raise FollowStopped(f"stopped following prompt {prompt_id}")

    def _follow_websocket(self, socket, prompt_id, prompt, on_event, timeout, stop=None):
        websocket = _websocket_module()
        deadline = None if timeout is None else time.monotonic() + timeout
        socket.settimeout(1.0)
        last_history_check = time.monotonic()
        nowhere = 0  # consecutive checks that found the prompt neither queued nor finished
        while True:
            self._check_stop(stop, prompt_id)
            if deadline is not None and time.monotonic() > deadline:
                raise ComfyError(f"prompt {prompt_id} did not finish within {timeout:g} s on {self.base_url}")
            try:
                raw = socket.recv()
            except websocket.WebSocketTimeoutException:
                raw = None
            except (websocket.WebSocketException, OSError):  # closed or reset: the server may be gone
                remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                return self._follow_polling(prompt_id, prompt, on_event, remaining, stop)
            if isinstance(raw, str):
                message = json.loads(raw)
                kind, data = message.get("type"), message.get("data") or {}
                if data.get("prompt_id") not in (None, prompt_id):
                    continue
                if kind == "execution_error":
                    raise ComfyExecutionError(format_execution_error(data, prompt), data)
                if kind == "execution_interrupted":
                    raise ComfyInterrupted(f"prompt {prompt_id} was interrupted at node {data.get('node_id')}")
                if kind == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
                    break
                if kind == "execution_success":
                    break
                if on_event:
                    event = _event_from_message(kind, data)
                    if event is not None:
                        on_event(event)
            if time.monotonic() - last_history_check > 2.0:  # a message may have been missed, or never come
                last_history_check = time.monotonic()
                if self.history(prompt_id) is not None:
                    break
                nowhere = nowhere + 1 if self._is_nowhere(prompt_id) else 0
                if nowhere >= 2:
                    raise self._lost(prompt_id)
        return self._finished_entry(prompt_id, prompt)

    def _is_nowhere(self, prompt_id) -> bool:
        """True when the prompt is neither queued, running nor finished (its history is looked at after the
        queue: ComfyUI moves a prompt from one to the other in one step)."""
        return self.queue_position(prompt_id) is None and self.history(prompt_id) is None

    def _lost(self, prompt_id) -> ComfyPromptLost:
        return ComfyPromptLost(f"prompt {prompt_id} is neither queued nor finished on {self.base_url} "
                               "(did the server restart?)")

    def _follow_polling(self, prompt_id, prompt, on_event, timeout, stop=None, interval: float = 0.25):
        deadline = None if timeout is None else time.monotonic() + timeout
        last_position = object()
        nowhere = 0  # consecutive looks that found the prompt neither queued nor finished
        while True:
            self._check_stop(stop, prompt_id)
            if self.history(prompt_id) is not None:  # ComfyUI writes the entry when the prompt has finished
                break
            position = self.queue_position(prompt_id)
            if position != last_position and on_event:
                if position is not None and position > 0:
                    on_event(ProgressEvent("queued", value=position))
                elif position == 0:
                    on_event(ProgressEvent("start"))
            last_position = position
            # a prompt found neither queued nor finished twice running is gone: the server restarted, or someone
            # deleted it
            nowhere = nowhere + 1 if position is None and self.history(prompt_id) is None else 0
            if nowhere >= 2:
                raise self._lost(prompt_id)
            if deadline is not None and time.monotonic() > deadline:
                raise ComfyError(f"prompt {prompt_id} did not finish within {timeout:g} s on {self.base_url}")
            time.sleep(interval)
        return self._finished_entry(prompt_id, prompt)

    def _finished_entry(self, prompt_id, prompt) -> dict:
        entry = None
        for _ in range(40):  # the history entry lands a moment after the last websocket message
            entry = self.history(prompt_id)
            if entry is not None:
                break
            time.sleep(0.05)
        if entry is None:  # removed as soon as it was written (a chunk of a render: the next chunk started)
            raise ComfyPromptLost(f"prompt {prompt_id} finished but has no history entry on {self.base_url}")
        status = entry.get("status") or {}
        for kind, data in status.get("messages") or []:
            if kind == "execution_error":
                raise ComfyExecutionError(format_execution_error(data, prompt), data)
            if kind == "execution_interrupted":
                raise ComfyInterrupted(f"prompt {prompt_id} was interrupted at node {data.get('node_id')}")
        if status.get("status_str") == "error":
            raise ComfyExecutionError(f"prompt {prompt_id} failed on the server (no error message recorded)", {})
        return entry

    # ---------------------------------------------------------------------------------------------- outputs
    @staticmethod
    def output_files(entry: dict) -> list[OutputFile]:
        """Every file the prompt's output nodes reported (images, videos, audio, ...), in node order."""
        files = []
        outputs = entry.get("outputs") or {}
        for node_id in sorted(outputs, key=lambda nid: (len(nid), nid)):
            for key, items in (outputs[node_id] or {}).items():
                if not isinstance(items, list):
                    continue
                for item in items:
                    if isinstance(item, dict) and "filename" in item:
                        files.append(OutputFile(node_id, item["filename"], item.get("subfolder", ""),
                                                item.get("type", "output"), key))
        return files

    def download(self, output: OutputFile, destination) -> Path:
        """Stream one output file to ``destination`` (written atomically)."""
        destination = Path(destination)
        query = {"filename": output.filename, "subfolder": output.subfolder, "type": output.type}
        try:
            response = self._open("GET", "/view", query=query)
        except urllib.error.HTTPError as exc:
            raise ComfyConnectionError(f"cannot fetch {output.filename!r} from {self.base_url}: HTTP {exc.code}") \
                from None
        with response, atomic_output(destination) as tmp:
            copy_stream(response, tmp)
        return destination


def _event_from_message(kind: str, data: dict) -> ProgressEvent | None:
    if kind == "execution_start":
        return ProgressEvent("start")
    if kind == "execution_cached":
        return ProgressEvent("cached", nodes=[str(n) for n in data.get("nodes", [])])
    if kind == "executing" and data.get("node") is not None:
        return ProgressEvent("executing", node_id=str(data["node"]))
    if kind == "progress":
        return ProgressEvent("progress", node_id=str(data.get("node")), value=int(data.get("value", 0)),
                             maximum=int(data.get("max", 0)))
    if kind == "executed":
        return ProgressEvent("executed", node_id=str(data.get("node")), output=data.get("output"))
    return None


def _node_label(node_id, prompt: dict | None) -> str:
    node = (prompt or {}).get(str(node_id)) or {}
    class_type = node.get("class_type")
    title = (node.get("_meta") or {}).get("title")
    if class_type and title and title != class_type:
        return f"node {node_id} ({class_type} '{title}')"
    if class_type:
        return f"node {node_id} ({class_type})"
    return f"node {node_id}"


def format_prompt_rejection(answer: dict, prompt: dict | None = None) -> str:
    """ComfyUI's ``/prompt`` validation answer as readable lines: the overall error, then each node's errors."""
    error = answer.get("error") or {}
    if isinstance(error, str):
        error = {"message": error}
    lines = ["ComfyUI refused the workflow: " + (error.get("message") or "validation failed")
             + (f": {error['details']}" if error.get("details") else "")]
    for node_id, node_error in sorted((answer.get("node_errors") or {}).items()):
        label = _node_label(node_id, prompt)
        if not (prompt or {}).get(str(node_id)) and node_error.get("class_type"):
            label = f"node {node_id} ({node_error['class_type']})"
        for item in node_error.get("errors") or []:
            detail = item.get("details") or ""
            lines.append(f"  {label}: {item.get('message', 'error')}" + (f": {detail}" if detail else ""))
    return "\n".join(lines)


def format_execution_error(data: dict, prompt: dict | None = None) -> str:
    """ComfyUI's ``execution_error`` message as one readable paragraph (node, exception type and message)."""
    label = _node_label(data.get("node_id"), prompt)
    if not (prompt or {}).get(str(data.get("node_id"))) and data.get("node_type"):
        label = f"node {data.get('node_id')} ({data['node_type']})"
    exception_type = data.get("exception_type") or "error"
    message = (data.get("exception_message") or "").strip()
    text = f"{label} failed: {exception_type}: {message}"
    if os.environ.get("AUDIOWALK_SHOW_TRACEBACK") and data.get("traceback"):
        text += "\n" + "".join(data["traceback"])
    return text
