"""The shipped workflows on a real ComfyUI server (skipped unless COMFYUI_DIR points at a ComfyUI checkout).

    COMFYUI_DIR=/path/to/ComfyUI [COMFYUI_PYTHON=/path/to/comfy-venv/bin/python] \\
    [AUDIOWALK_SD15_CHECKPOINT=/path/to/random-sd15.safetensors] .venv/bin/pytest -q tests/integration

What it does: a temporary ComfyUI base folder (``--base-directory``; the checkout itself is not written to) with
this repository symlinked into ``custom_nodes``, a tiny random-weight BigGAN saved as ``models/biggan/
biggan-deep-128.safetensors`` and a random-weight SD1.5 checkpoint in ``models/checkpoints`` (made with
scripts/make_random_sd15_checkpoint.py by ComfyUI's Python, about 2 GB and a minute or two on a CPU; pass
AUDIOWALK_SD15_CHECKPOINT to reuse one). ComfyUI starts on a free port with ``--cpu``; then both shipped workflows
run through ``audiowalk comfy-run`` on a 3 s clip of the demo song at 8 fps and 64 px, and the videos are decoded
and checked (frame count, fps, size, audio length). ComfyUI's Python needs the pack's requirements.txt installed.
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
import pytest

from audiowalk_tools import cli
from audiowalk_tools.comfy_client import ComfyClient
from audiowalk_tools.workflow_tools import load_workflow, ui_to_api, validate_api_workflow, validate_ui_workflow

REPO_ROOT = Path(__file__).resolve().parents[2]
COMFYUI_DIR = os.environ.get("COMFYUI_DIR")
pytestmark = [pytest.mark.comfyui, pytest.mark.slow,
              pytest.mark.skipif(not COMFYUI_DIR, reason="set COMFYUI_DIR to a ComfyUI checkout to run")]

SECONDS, FPS, SIZE = 3.0, 8, 64
# A small BigGAN-deep of the real architecture: 4x4 -> 64x64 in four up-sampling blocks, channels halving 16 -> 1.
TINY_BIGGAN = {"output_dim": 64, "z_dim": 128, "class_embed_dim": 128, "channel_width": 4, "num_classes": 1000,
               "layers": [[False, 16, 8], [True, 8, 4], [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1],
                          [False, 1, 1], [True, 1, 1]],
               "attention_layer_position": 4, "eps": 1e-4, "n_stats": 51}
CLIP_SETTINGS = ["--set", f"Load Audio.duration_seconds={SECONDS}", "--set", f"Audio Features.fps={FPS}",
                 "--set", "BigGAN Generate.batch_size=4"]
SD_SETTINGS = ["--set", f"Upscale for SD.width={SIZE}", "--set", f"Upscale for SD.height={SIZE}",
               "--set", "Load Checkpoint.ckpt_name=random-sd15.safetensors", "--set", "KSampler (img2img).steps=2"]


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


def make_biggan(base: Path) -> None:
    """A tiny random BigGAN under the name biggan-deep-128 (skipped, with a note, while the biggan core is absent)."""
    try:
        from audiowalk_core.biggan import build_random_biggan, save_biggan_safetensors
    except ImportError as exc:
        print(f"no random BigGAN for the server: {exc}", file=sys.stderr)
        return
    model = build_random_biggan(TINY_BIGGAN, 0)
    save_biggan_safetensors(model, model.config, base / "models" / "biggan" / "biggan-deep-128.safetensors")


@pytest.fixture(scope="module")
def sd15_checkpoint(comfy_server):
    """A random-weight SD1.5 checkpoint in the server's models/checkpoints (made once per module)."""
    target = comfy_server[1] / "models" / "checkpoints" / "random-sd15.safetensors"
    existing = os.environ.get("AUDIOWALK_SD15_CHECKPOINT")
    if existing:
        target.symlink_to(Path(existing).resolve())
    else:
        subprocess.run([comfy_python(), str(REPO_ROOT / "scripts" / "make_random_sd15_checkpoint.py"), str(target),
                        "--comfyui-dir", COMFYUI_DIR], check=True, timeout=1200)
    yield target
    target.unlink()  # 2 GB: not left in pytest's kept temp folders


@pytest.fixture(scope="module")
def comfy_server(tmp_path_factory):
    """Address of a ComfyUI server with the pack installed and random-weight models, on a temporary base folder."""
    base = tmp_path_factory.mktemp("comfy_base")
    (base / "custom_nodes").mkdir()
    (base / "custom_nodes" / "ComfyUI-AudioWalk").symlink_to(REPO_ROOT, target_is_directory=True)
    for kind in ("biggan", "checkpoints"):
        (base / "models" / kind).mkdir(parents=True)
    make_biggan(base)
    port = free_port()
    log_path = base / "comfyui.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([comfy_python(), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
                                    "--disable-auto-launch", "--base-directory", str(base)],
                                   cwd=COMFYUI_DIR, stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                pytest.fail("ComfyUI exited:\n" + log_path.read_text(errors="replace")[-4000:])
            try:
                with urllib.request.urlopen(f"http://{address}/system_stats", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("ComfyUI did not start in 300 s:\n" + log_path.read_text(errors="replace")[-4000:])
                time.sleep(1)
        yield address, base, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    from audiowalk_tools.demo import write_demo_song

    return write_demo_song(tmp_path_factory.mktemp("song") / "demo_song.wav")


def probe(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video)])
        fps = Fraction(video.average_rate)
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        samples = sum(f.samples for f in container.decode(audio))
        audio_seconds = samples / audio.rate
    return {"frames": frames, "fps": fps, "audio_seconds": audio_seconds}


def run_workflow(address, song, out, workflow, *extra) -> dict:
    code = cli.main(["comfy-run", workflow, "--server", address, "--audio", str(song), *CLIP_SETTINGS, *extra,
                     "-o", str(out)])
    assert code == 0
    return probe(out)


def check_video(video: dict, size: int) -> None:
    assert video["fps"] == FPS
    assert video["frames"].shape == (int(SECONDS * FPS), size, size, 3)
    assert abs(video["audio_seconds"] - SECONDS) <= 1.0 / FPS
    assert video["frames"].std() > 1.0


def test_server_lists_our_nodes_and_the_shipped_workflows_fit_them(comfy_server):
    address, _, log_path = comfy_server
    live = ComfyClient(address).object_info()
    assert "AudioWalkBigGANGenerate" in live, log_path.read_text(errors="replace")[-4000:]
    for ui_path in sorted((REPO_ROOT / "workflows").glob("*.json")):
        ui = load_workflow(ui_path)
        assert validate_ui_workflow(ui, live) == [], ui_path.name
        api = ui_to_api(ui, live)
        problems = [p for p in validate_api_workflow(api, live) if "ckpt_name" not in p and "'audio'" not in p]
        assert problems == [], ui_path.name
        assert api == load_workflow(REPO_ROOT / "workflows" / "api" / ui_path.name)


def test_core_only_prompt_round_trip(comfy_server, tmp_path):
    """Upload, queue, follow over the websocket and download with ComfyUI's own audio nodes."""
    from support import sine, write_wav

    address, _, _ = comfy_server
    song = write_wav(tmp_path / "tone.wav", sine(440.0, 1.0, 22050), 22050)
    workflow = tmp_path / "audio.json"
    workflow.write_text(json.dumps({
        "1": {"class_type": "LoadAudio", "inputs": {"audio": "x.wav"}, "_meta": {"title": "Song"}},
        "2": {"class_type": "SaveAudio", "inputs": {"audio": ["1", 0], "filename_prefix": "audiowalk_it"},
              "_meta": {"title": "Save"}}}))
    out = tmp_path / "copy.flac"
    assert cli.main(["comfy-run", str(workflow), "--server", address, "--audio", str(song), "-o", str(out)]) == 0
    with av.open(str(out)) as container:
        assert container.streams.audio[0].rate > 0


def test_biggan_workflow_renders_the_clip(comfy_server, song, tmp_path):
    address = comfy_server[0]
    video = run_workflow(address, song, tmp_path / "biggan.mp4", "audiowalk_biggan")
    check_video(video, SIZE)


def test_chunked_render_equals_the_single_render(comfy_server, song, tmp_path):
    address = comfy_server[0]
    whole = run_workflow(address, song, tmp_path / "whole.mp4", "audiowalk_biggan",
                         "--set", "Save Video.filename_prefix=AudioWalk/whole")
    chunked = run_workflow(address, song, tmp_path / "chunked.mp4", "audiowalk_biggan", "--chunk-frames", "10",
                           "--set", "Save Video.filename_prefix=AudioWalk/chunked")
    check_video(chunked, SIZE)
    difference = np.abs(whole["frames"].astype(np.int16) - chunked["frames"].astype(np.int16))
    assert difference.mean() < 2.0  # the same frames, up to H.264 coding differences at the chunk joins


def test_diffused_biggan_workflow_renders_the_clip(comfy_server, sd15_checkpoint, song, tmp_path):
    address = comfy_server[0]
    video = run_workflow(address, song, tmp_path / "diffused.mp4", "audiowalk_diffused_biggan", *SD_SETTINGS)
    check_video(video, SIZE)


def test_server_side_errors_are_reported(comfy_server, song, tmp_path, capsys):
    address = comfy_server[0]
    code = cli.main(["comfy-run", "audiowalk_biggan", "--server", address, "--audio", str(song),
                     "--set", "Class Schedule.labels=no such animal", "-o", str(tmp_path / "x.mp4")])
    assert code == 1
    err = capsys.readouterr().err
    assert "AudioWalkClassSchedule" in err and "labels" in err
    assert ComfyClient(address).system_stats()  # the server is still usable afterwards


def test_shipped_workflows_appear_in_the_template_browser(comfy_server):
    address = comfy_server[0]
    with urllib.request.urlopen(f"http://{address}/api/workflow_templates", timeout=30) as response:
        templates = json.loads(response.read())
    shipped = sorted(p.stem for p in (REPO_ROOT / "workflows").glob("*.json"))
    assert sorted(templates.get("ComfyUI-AudioWalk", [])) == shipped
    for name in shipped:
        url = f"http://{address}/api/workflow_templates/ComfyUI-AudioWalk/{name}.json"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert json.loads(response.read()) == load_workflow(REPO_ROOT / "workflows" / f"{name}.json")


class HeadlessFrontend:
    """ComfyUI's real frontend in headless Chromium, driven over the DevTools protocol (websocket-client)."""

    def __init__(self, address: str, profile: Path):
        import websocket

        port = free_port()
        self.process = subprocess.Popen([shutil.which("chromium") or "chromium", "--headless=new", "--no-sandbox",
                                         "--disable-gpu", f"--remote-debugging-port={port}",
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
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=120)
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
        return [json.dumps(e)[:800] for e in self.events
                if e.get("method") == "Runtime.exceptionThrown"
                or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")]

    def close(self):
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium (apt-get install chromium)")
def test_real_frontend_turns_the_ui_workflows_into_our_api_workflows(comfy_server, tmp_path):
    """Load each UI workflow in ComfyUI's own frontend and queue-convert it (graphToPrompt): no errors, and exactly
    our API file (the frontend also sends the player widget's audioUI='', which the server ignores)."""
    frontend = HeadlessFrontend(comfy_server[0], tmp_path / "chromium-profile")
    try:
        for ui_path in sorted((REPO_ROOT / "workflows").glob("*.json")):
            frontend.events.clear()
            text = ui_path.read_text()
            prompt = json.loads(frontend.evaluate(
                f"(async () => {{ await window.app.loadGraphData({text}); "
                f"return JSON.stringify((await window.app.graphToPrompt()).output); }})()"))
            for node in prompt.values():
                node["inputs"].pop("audioUI", None)
            assert frontend.errors() == [], ui_path.name
            # alerts shown to the user (e.g. "Invalid workflow against zod schema" for a non-UUID id) are toasts
            toasts = frontend.evaluate("Array.from(document.querySelectorAll('.p-toast-message'))"
                                       ".map(element => element.innerText)")
            assert toasts == [], (ui_path.name, toasts)
            assert prompt == load_workflow(REPO_ROOT / "workflows" / "api" / ui_path.name), ui_path.name
    finally:
        frontend.close()


def test_sd_part_of_the_diffused_workflow_runs_on_core_nodes(comfy_server, sd15_checkpoint, tmp_path):
    """The shipped img2img subgraph (scale, checkpoint, prompts, VAE encode, KSampler, VAE decode) as it is in
    workflows/api, fed by ComfyUI's LoadImage instead of our keyframes and saved with SaveImage."""
    from audiowalk_tools.workflow_tools import apply_assignments

    client = ComfyClient(comfy_server[0])
    shipped = load_workflow(REPO_ROOT / "workflows" / "api" / "audiowalk_diffused_biggan.json")
    core = {nid: node for nid, node in shipped.items() if not node["class_type"].startswith("AudioWalk")}
    scale = next(nid for nid, node in core.items() if node["class_type"] == "ImageScale")
    decode = next(nid for nid, node in core.items() if node["class_type"] == "VAEDecode")
    keyframe = tmp_path / "keyframe.png"
    image = np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8)
    av.VideoFrame.from_ndarray(image, format="rgb24").to_image().save(keyframe)
    core[scale]["inputs"]["image"] = ["900", 0]
    core["900"] = {"class_type": "LoadImage", "inputs": {"image": client.upload_file(keyframe)},
                   "_meta": {"title": "Keyframe"}}
    core["901"] = {"class_type": "SaveImage", "inputs": {"images": [decode, 0], "filename_prefix": "audiowalk_sd"},
                   "_meta": {"title": "Save"}}
    live = client.object_info()
    prompt = apply_assignments(core, SD_SETTINGS[1::2], live)
    assert validate_api_workflow(prompt, live) == []
    entry = client.run_prompt(prompt, timeout=600)
    [output] = client.output_files(entry)
    out = client.download(output, tmp_path / "sd.png")
    with av.open(str(out)) as container:
        decoded = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert decoded.shape == (SIZE, SIZE, 3)


def test_chunked_diffused_render_has_every_frame(comfy_server, sd15_checkpoint, song, tmp_path):
    video = run_workflow(comfy_server[0], song, tmp_path / "diffused_chunks.mp4", "audiowalk_diffused_biggan",
                         "--chunk-frames", "8", "--set", "Save Video.filename_prefix=AudioWalk/diffused_chunks",
                         *SD_SETTINGS)
    check_video(video, SIZE)
