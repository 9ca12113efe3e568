"""A real ComfyUI for the integration tests: start one on a free loopback port with this pack linked into a
temporary base folder, random-weight models, and helpers to run a whole song from one POST.

Needs COMFYUI_DIR (a ComfyUI checkout; tests skip without it) and a Python with ComfyUI's requirements and the
pack's requirements.txt: COMFYUI_PYTHON, else ``COMFYUI_DIR/../venv/bin/python``, else this Python.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
COMFYUI_DIR = os.environ.get("COMFYUI_DIR")

# A small BigGAN-deep of the real architecture: 4x4 -> 64x64 in four up-sampling blocks, channels halving 16 -> 1.
TINY_BIGGAN = {"output_dim": 64, "z_dim": 128, "class_embed_dim": 128, "channel_width": 4, "num_classes": 1000,
               "layers": [[False, 16, 8], [True, 8, 4], [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1],
                          [False, 1, 1], [True, 1, 1]],
               "attention_layer_position": 4, "eps": 1e-4, "n_stats": 51}


def comfy_python() -> str:
    explicit = os.environ.get("COMFYUI_PYTHON")
    if explicit:
        return explicit
    beside = Path(COMFYUI_DIR).resolve().parent / "venv" / "bin" / "python"
    return str(beside) if beside.is_file() else sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_biggan(base: Path, config=None, name: str = "biggan-deep-128") -> Path:
    """A random-weight BigGAN saved as ``models/biggan/<name>.safetensors`` (the tiny config by default)."""
    from audiowalk_core.generators.biggan import random_biggan_weights, save_biggan_safetensors

    config = config or TINY_BIGGAN
    path = base / "models" / "biggan" / f"{name}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_biggan_safetensors(random_biggan_weights(config, 0), config, path)
    return path


def make_htdemucs(base: Path, name: str = "htdemucs", seed: int = 0) -> Path:
    """A random-weight HTDemucs of the published architecture ``name`` in ``models/demucs`` under its published file
    name (demucs' .safetensors format, float16 as published): the real separation cost, meaningless stems."""
    import torch

    from audiowalk_core.separation.htdemucs.config import PUBLISHED_CONFIGS
    from audiowalk_core.separation.htdemucs.model import build_htdemucs
    from audiowalk_core.separation.htdemucs.store import PUBLISHED_MODELS
    from audiowalk_core.separation.htdemucs.weights import save_demucs_safetensors

    config = PUBLISHED_CONFIGS[name]
    path = base / "models" / "demucs" / f"{PUBLISHED_MODELS[name].signature}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_demucs_safetensors(build_htdemucs(config, seed=seed), config, path, dtype=torch.float16)
    return path


def sd15_checkpoint(base: Path, cache_dir: Path) -> Path:
    """``models/checkpoints/random-sd15.safetensors`` in ``base``: AUDIOWALK_SD15_CHECKPOINT if set, else made once
    in ``cache_dir`` with ComfyUI's own classes (about 2 GB, a minute or two) and linked."""
    target = base / "models" / "checkpoints" / "random-sd15.safetensors"
    target.parent.mkdir(parents=True, exist_ok=True)
    source = os.environ.get("AUDIOWALK_SD15_CHECKPOINT")
    if not source:
        source = cache_dir / "random-sd15.safetensors"
        if not source.is_file():
            subprocess.run([comfy_python(), str(REPO_ROOT / "scripts" / "make_random_sd15_checkpoint.py"),
                            str(source), "--comfyui-dir", COMFYUI_DIR], check=True, timeout=1200)
    if not target.exists():
        target.symlink_to(Path(source).resolve())
    return target


class ComfyServer:
    """``with ComfyServer(base) as server:`` a ComfyUI process (``--cpu`` unless ``cpu=False``) on ``base``."""

    def __init__(self, base: Path, extra_args=(), cpu: bool = True):
        self.base = Path(base)
        for folder in ("custom_nodes", "input", "output", "models/biggan", "models/checkpoints"):
            (self.base / folder).mkdir(parents=True, exist_ok=True)
        link = self.base / "custom_nodes" / "ComfyUI-AudioWalk"
        if not link.exists():
            link.symlink_to(REPO_ROOT, target_is_directory=True)
        self.extra_args = list(extra_args) + (["--cpu"] if cpu else [])
        self.log_path = self.base / "comfyui.log"
        self.process = None
        self.address = None

    def __enter__(self) -> "ComfyServer":
        port = free_port()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([comfy_python(), "main.py", "--listen", "127.0.0.1", "--port", str(port),
                                             "--disable-auto-launch", "--base-directory", str(self.base),
                                             *self.extra_args], cwd=COMFYUI_DIR, stdout=log,
                                            stderr=subprocess.STDOUT)
        self.address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("ComfyUI exited:\n" + self.log_tail())
            try:
                with urllib.request.urlopen(f"http://{self.address}/system_stats", timeout=2):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError("ComfyUI did not start in 300 s:\n" + self.log_tail())
                time.sleep(1)

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def memory_kib(self) -> dict:
        """The process's resident memory now (VmRSS) and at its peak so far (VmHWM), in KiB."""
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
        return fields


def shipped_prompt(name: str, settings: dict | None = None) -> dict:
    """A shipped API workflow with widgets set by ``{"Node title.widget": value}``."""
    prompt = json.loads((REPO_ROOT / "workflows" / "api" / f"{name}.json").read_text())
    for key, value in (settings or {}).items():
        title, widget = key.rsplit(".", 1)
        matches = [node for node in prompt.values() if node.get("_meta", {}).get("title") == title]
        assert len(matches) == 1, f"{name}: no single node titled {title!r}"
        assert widget in matches[0]["inputs"], f"{title} has no input {widget!r}"
        matches[0]["inputs"][widget] = value
    return prompt


def wait_for_entry(client, prompt_id: str, timeout: float) -> dict:
    """The history entry of ``prompt_id`` once it finished (success or error)."""
    deadline = time.monotonic() + timeout
    while True:
        entry = client.history(prompt_id)
        if entry and (entry.get("status") or {}).get("status_str") in ("success", "error"):
            return entry
        if time.monotonic() > deadline:
            raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout} s")
        time.sleep(0.25)


def run_whole_song(client, prompt: dict, timeout: float = 900, texts: list | None = None,
                   heard: "ServerMessages | None" = None) -> tuple[dict, list[dict]]:
    """POST ``prompt`` once and follow the chunk prompts the server queues itself (over the websocket, as the
    frontend does), until Save Music Video reports the finished mp4. Returns ``(that output, one record per chunk
    prompt that ran: {"prompt_id", "status"})``. The pack removes a finished chunk's history entry as the next chunk
    starts (one Queue-panel card per render), so the chunks are counted from the execution events, and only the
    last chunk's entry is read. ``texts``: a list that receives the nodes' progress texts (what the frontend shows
    under each node); ``heard``: a running ServerMessages of this client to read from (ComfyUI keeps ONE websocket
    per client id: a second connection would take the first one's messages)."""
    listener = heard or ServerMessages(client.base_url.split("://", 1)[-1], client.client_id).__enter__()
    records, seen = {}, 0
    deadline = time.monotonic() + timeout
    try:
        client.queue_prompt(prompt)
        while True:
            fresh = listener.events[seen:]
            seen += len(fresh)
            for message in fresh:
                kind, data = message.get("type"), message.get("data") or {}
                prompt_id = data.get("prompt_id")
                if kind == "execution_start":
                    records[prompt_id] = {"prompt_id": prompt_id, "status": "running"}
                    deadline = time.monotonic() + timeout  # per chunk
                elif kind in ("execution_error", "execution_interrupted") and prompt_id in records:
                    raise AssertionError(f"chunk prompt {prompt_id}: {kind}: {json.dumps(data)[:3000]}")
                elif kind == "execution_success" and prompt_id in records:
                    records[prompt_id]["status"] = "success"
                    entry = None
                    for _ in range(100):  # the entry lands a moment after the message; a later chunk may remove it
                        entry = client.history(prompt_id)
                        if entry is not None or any(r["status"] == "running" for r in records.values()):
                            break
                        time.sleep(0.05)
                    finished = [output for output in (entry or {}).get("outputs", {}).values()
                                if output.get("animated")]
                    if finished:
                        return finished[0], list(records.values())
            assert time.monotonic() < deadline, f"no chunk finished the render within {timeout} s"
            time.sleep(0.1)
    finally:
        if texts is not None:
            texts.extend(listener.texts)
        if heard is None:
            listener.__exit__(None, None, None)


def output_path(base: Path, output: dict) -> Path:
    image = output["images"][0]
    return base / "output" / image["subfolder"] / image["filename"]


def probe(path: Path) -> dict:
    """Decoded frames (uint8 RGB), fps, stream durations and embedded tags of an mp4."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video)])
        fps = Fraction(video.average_rate)
        tags = dict(container.metadata)
    audio_seconds = None
    with av.open(str(path)) as container:
        if container.streams.audio:
            audio = container.streams.audio[0]
            audio_seconds = sum(f.samples for f in container.decode(audio)) / audio.rate
    return {"frames": frames, "fps": fps, "audio_seconds": audio_seconds, "tags": tags}


class ServerMessages:
    """``with ServerMessages(address, client_id) as heard:`` what ComfyUI tells the client that queued the prompts,
    collected by a thread (the chunk prompts a render queues itself inherit the client id): ``heard.events`` the
    JSON messages (``{"type", "data"}``), ``heard.texts`` the nodes' progress texts (binary messages: 4-byte type,
    4-byte node id length, node id, text)."""

    def __init__(self, address: str, client_id: str):
        import threading

        import websocket

        self.events, self.texts = [], []
        self._stop = threading.Event()
        self._socket = websocket.create_connection(f"ws://{address}/ws?clientId={client_id}", timeout=5)
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self):
        import websocket

        while not self._stop.is_set():
            try:
                message = self._socket.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError):
                return
            if isinstance(message, bytes):
                self.texts.append(message[8:].decode("utf-8", "replace"))
            else:
                self.events.append(json.loads(message))

    def wait_for_text(self, fragment: str, seconds: float = 5.0) -> bool:
        """Wait up to ``seconds`` until a progress text contains ``fragment`` (the last may trail the history)."""
        deadline = time.monotonic() + seconds
        while not any(fragment in text for text in self.texts) and time.monotonic() < deadline:
            self._stop.wait(0.1)
        return any(fragment in text for text in self.texts)

    def __enter__(self) -> "ServerMessages":
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)
        self._socket.close()


class HeadlessFrontend:
    """ComfyUI's real frontend in headless Chromium, driven over the DevTools protocol (websocket-client)."""

    def __init__(self, address: str, profile: Path):
        import websocket

        port = free_port()
        self.process = subprocess.Popen([shutil.which("chromium") or "chromium", "--headless=new", "--no-sandbox",
                                         "--disable-gpu", f"--remote-debugging-port={port}",
                                         "--disable-background-networking", "--disable-component-update",
                                         "--disable-sync", "--no-first-run",
                                         f"--user-data-dir={profile}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2) as response:
                    page = next(t for t in json.loads(response.read()) if t["type"] == "page")
                break
            except (OSError, StopIteration):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=120,
                                                  suppress_origin=True)  # Chromium refuses foreign origins
        self.next_id, self.events = 0, []
        self.call("Runtime.enable")
        self.call("Page.navigate", url=f"http://{address}/")
        deadline = time.monotonic() + 120
        while not self.evaluate("!!(window.app && window.app.graph)"):
            assert time.monotonic() < deadline, "the ComfyUI frontend did not load"
            time.sleep(1)
        time.sleep(2)  # extensions finish registering

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(result["exceptionDetails"].get("exception", {}).get("description"))
        return result.get("result", {}).get("value")

    def errors(self) -> list[str]:
        return [(e["params"].get("exceptionDetails", {}).get("exception", {}).get("description", "")
                 or json.dumps(e))[:800] for e in self.events
                if e.get("method") == "Runtime.exceptionThrown"
                or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")]

    def screenshot(self, path: Path, width: int = 1600, height: int = 1000) -> Path:
        import base64

        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        time.sleep(1)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self):
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)


SET_WIDGET_JS = """
((title, name, value) => {
  const node = window.app.graph._nodes.find((n) => n.title === title);
  if (!node) throw new Error("no node titled " + title);
  const widget = (node.widgets || []).find((w) => w.name === name);
  if (!widget) throw new Error(title + " has no widget " + name);
  widget.value = value;
  if (widget.callback) widget.callback(value, window.app.canvas, node);
  node.setDirtyCanvas(true, true);
  return widget.value;
})"""


def set_widget_in_frontend(frontend: "HeadlessFrontend", title: str, name: str, value):
    """Set a widget of the node titled ``title`` in the real frontend, as a user typing or picking it does."""
    return frontend.evaluate(f"{SET_WIDGET_JS}({json.dumps(title)}, {json.dumps(name)}, {json.dumps(value)})")


def run_from_frontend(frontend: "HeadlessFrontend", client, before: set, timeout: float = 900) -> dict:
    """Press Run (app.queuePrompt) and wait for the render's finished mp4 in the history: its Save Music Video
    output. ``before``: the history keys before the press."""
    frontend.evaluate("(async () => { await window.app.queuePrompt(0, 1); })()")
    deadline = time.monotonic() + timeout
    while True:
        history = client.get_json("/history")
        finished = [output for key, entry in history.items() if key not in before
                    for output in entry.get("outputs", {}).values() if output.get("animated")]
        failed = [entry for key, entry in history.items()
                  if key not in before and entry["status"]["status_str"] == "error"]
        assert not failed, json.dumps(failed[0]["status"])[:3000]
        if finished:
            return finished[0]
        assert time.monotonic() < deadline, f"the render did not finish in {timeout} s"
        time.sleep(1)
