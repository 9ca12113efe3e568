"""The shipped workflows on a real ComfyUI server (skipped unless COMFYUI_DIR points at a ComfyUI checkout).

    COMFYUI_DIR=/path/to/ComfyUI [COMFYUI_PYTHON=/path/to/comfy-venv/bin/python] \\
    [AUDIOWALK_SD15_CHECKPOINT=/path/to/random-sd15.safetensors] .venv/bin/pytest -q tests/integration

A temporary ComfyUI base folder (``--base-directory``; the checkout itself is not written to) with this repository
linked into ``custom_nodes``, a tiny random-weight BigGAN as ``models/biggan/biggan-deep-128.safetensors`` and a
random-weight SD1.5 checkpoint (made once by scripts/make_random_sd15_checkpoint.py with ComfyUI's own classes,
about 2 GB). ComfyUI runs on CPU. Each test POSTs a shipped workflow ONCE and the server renders the song chunk by
chunk by itself (Render in Chunks queues the next chunk); the videos are decoded and checked.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from audiowalk_tools import cli
from audiowalk_tools.comfy_client import ComfyClient
from audiowalk_tools.workflow_tools import load_workflow, ui_to_api, validate_api_workflow, validate_ui_workflow
from frontend_layout import LAYOUT_JS, layout_problems
from comfy_harness import (COMFYUI_DIR, REPO_ROOT, TINY_BIGGAN, ComfyServer, HeadlessFrontend, comfy_python,  # noqa: F401
                           free_port, make_biggan, output_path, probe,
                           run_whole_song, sd15_checkpoint, shipped_prompt, wait_for_entry)

pytestmark = [pytest.mark.comfyui, pytest.mark.slow,
              pytest.mark.skipif(not COMFYUI_DIR, reason="set COMFYUI_DIR to a ComfyUI checkout to run")]

SONG_SECONDS = 20.0  # the bundled demo song, which Load Audio offers as shipped
SIZE = 64
BIGGAN_SONG = {"Audio Features.fps": "8", "Render in Chunks.chunk_frames": 40}  # 160 frames, 4 chunks
DIFFUSED_SONG = {"Audio Features.fps": "2", "Render in Chunks.chunk_frames": 10,  # 40 frames, 4 chunks
                 "Diffuse Keyframes.width": SIZE, "Diffuse Keyframes.height": SIZE,
                 "Load Checkpoint.ckpt_name": "random-sd15.safetensors", "Scheduler (img2img).steps": 2,
                 "Save Music Video.crf": 0}


@pytest.fixture(scope="module")
def comfy_server(tmp_path_factory):
    """``(address, base folder, log path)`` of a ComfyUI with the pack, a tiny BigGAN and a random SD1.5."""
    base = tmp_path_factory.mktemp("comfy_base")
    make_biggan(base)
    sd15_checkpoint(base, tmp_path_factory.getbasetemp())
    with ComfyServer(base) as server:
        yield server.address, base, server.log_path
    (base / "models" / "checkpoints" / "random-sd15.safetensors").unlink(missing_ok=True)


def api_name_of(ui_path: Path) -> str:
    from audiowalk_tools.workflow_builder import WORKFLOWS

    return next(w.api_name for w in WORKFLOWS if w.ui_name == ui_path.name)


def check_song_video(video: dict, frames: int, fps: int) -> None:
    assert video["fps"] == fps
    assert video["frames"].shape == (frames, SIZE, SIZE, 3)
    assert abs(video["audio_seconds"] - frames / fps) <= 1.0 / fps
    assert video["frames"].std() > 1.0


def test_server_lists_our_nodes_and_the_shipped_workflows_fit_them(comfy_server):
    address, _, log_path = comfy_server
    live = ComfyClient(address).object_info()
    assert "AudioWalkRenderChunks" in live, log_path.read_text(errors="replace")[-4000:]
    for ui_path in sorted((REPO_ROOT / "workflows").glob("*.json")):
        ui = load_workflow(ui_path)
        assert validate_ui_workflow(ui, live) == [], ui_path.name
        api = ui_to_api(ui, live)
        problems = [p for p in validate_api_workflow(api, live) if "ckpt_name" not in p]
        assert problems == [], ui_path.name
        assert api == load_workflow(REPO_ROOT / "workflows" / "api" / api_name_of(ui_path))


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


def test_one_post_renders_the_whole_song_in_chunks_with_the_biggan_workflow(comfy_server):
    address, base, _ = comfy_server
    client = ComfyClient(address)
    prompt = shipped_prompt("audiowalk_biggan", {**BIGGAN_SONG, "Save Music Video.filename_prefix": "it/biggan"})
    final, entries = run_whole_song(client, prompt)
    assert len(entries) == 4
    history = client.get_json("/history")  # the finished chunks' entries went as the next chunk started
    assert [e["prompt_id"] for e in entries if e["prompt_id"] in history] == [entries[-1]["prompt_id"]]
    video = probe(output_path(base, final))
    check_song_video(video, 160, 8)
    # the prompt and workflow are embedded as ComfyUI's savers do (the frontend reads them from a dropped file)
    assert json.loads(video["tags"]["prompt"])  # the chunk prompt (the same graph)
    assert sorted(p.name for p in (base / "output" / "it").iterdir()) == ["biggan_00001_.mp4"]  # no parts left


def test_one_post_renders_the_diffused_workflow_and_chunks_equal_the_whole(comfy_server):
    """Frame-coherent img2img: keyframe noise depends on the frame index only, so 4 chunks give the frames of one
    whole-song render (lossless crf 0, so decoding adds no difference)."""
    address, base, _ = comfy_server
    client = ComfyClient(address)
    texts = []
    chunked_out, entries = run_whole_song(client, shipped_prompt("audiowalk_diffused_biggan", {
        **DIFFUSED_SONG, "Save Music Video.filename_prefix": "it/diffused_chunks"}), timeout=1200, texts=texts)
    assert len(entries) == 4
    # Diffuse Keyframes says what the song will cost after its first sub-batch, and the time left on every chunk
    estimates = [text for text in texts if "for this song" in text]
    print("Diffuse Keyframes said:", estimates[:2])
    assert estimates and any("left" in text for text in texts), texts
    whole_out, whole_entries = run_whole_song(client, shipped_prompt("audiowalk_diffused_biggan", {
        **DIFFUSED_SONG, "Render in Chunks.chunk_frames": 0, "Save Music Video.filename_prefix": "it/diffused_whole"}),
        timeout=1200)
    assert len(whole_entries) == 1
    chunked, whole = probe(output_path(base, chunked_out)), probe(output_path(base, whole_out))
    check_song_video(chunked, 40, 2)
    difference = np.abs(chunked["frames"].astype(np.int16) - whole["frames"].astype(np.int16))
    print(f"chunked vs whole: mean {difference.mean():.4f}, max {difference.max()} levels of 255")
    # float noise of other batch sizes through BigGAN, the VAE and the UNet: a few levels at most, on few pixels
    assert difference.mean() < 0.25 and difference.max() <= 8, (difference.mean(), difference.max())


def test_cancel_mid_song_then_run_again_gives_the_whole_video(comfy_server):
    address, base, _ = comfy_server
    client = ComfyClient(address)
    from audiowalk_core.chunks import chunk_prompt_id

    prompt = shipped_prompt("audiowalk_biggan", {**BIGGAN_SONG, "Audio Features.fps": "30",
                                                 "Render in Chunks.chunk_frames": 60, "BigGAN Generate.batch_size": 1,
                                                 "Save Music Video.filename_prefix": "it/cancelled"})
    origin = client.queue_prompt(prompt)

    def running_ids():
        return [item[1] for item in client.get_json("/queue")["queue_running"]]

    stopped_at = None
    for index in range(1, 9):  # cancel while a middle chunk renders (of 10); a chunk done before the cancel: next one
        deadline = time.monotonic() + 120
        while chunk_prompt_id(origin, index) not in running_ids() and not client.history(chunk_prompt_id(origin, index)):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        client.interrupt()
        if wait_for_entry(client, chunk_prompt_id(origin, index), 300)["status"]["status_str"] == "error":
            stopped_at = index
            break
    assert stopped_at is not None, "no chunk could be cancelled"
    time.sleep(2)
    following = chunk_prompt_id(origin, stopped_at + 1)
    assert client.history(following) is None and client.queue_position(following) is None  # nothing more queued
    folder = base / "output" / "it"
    assert not [p for p in folder.iterdir() if p.name.startswith("cancelled")]  # no half-written video
    assert [p.name for p in folder.iterdir() if p.name.startswith(".cancelled")] != []  # chunk 0's part is left, named for its render
    # running again restarts from chunk 0, clears the cancelled render's parts, and completes
    final, entries = run_whole_song(client, prompt)
    video = probe(output_path(base, final))
    check_song_video(video, 600, 30)
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(("cancelled", ".cancelled"))) == [
        "cancelled_00001_.mp4"]


def test_a_missing_song_gives_one_message_that_says_to_upload(comfy_server):
    client = ComfyClient(comfy_server[0])
    prompt = shipped_prompt("audiowalk_biggan", {"Load Song.audio": "my song.mp3"})
    from audiowalk_tools.comfy_client import ComfyPromptRejected

    with pytest.raises(ComfyPromptRejected) as rejected:
        client.queue_prompt(prompt)
    errors = [e for node in rejected.value.node_errors.values() for e in node["errors"]]
    assert len(errors) == 1 and "upload" in errors[0]["details"], errors


def test_server_side_errors_are_reported(comfy_server, tmp_path, capsys):
    address = comfy_server[0]
    song = REPO_ROOT / "audiowalk_core" / "data" / "audiowalk_demo.flac"
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
        url = f"http://{address}/api/workflow_templates/ComfyUI-AudioWalk/{urllib.request.quote(name)}.json"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert json.loads(response.read()) == load_workflow(REPO_ROOT / "workflows" / f"{name}.json")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium (apt-get install chromium)")
def test_real_frontend_turns_the_ui_workflows_into_our_api_workflows(comfy_server, tmp_path):
    """Load each UI workflow in ComfyUI's own frontend and queue-convert it (graphToPrompt): no errors, no alert,
    and exactly our API file (the frontend also sends the player widget's audioUI='', which the server ignores)."""
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
            assert prompt == load_workflow(REPO_ROOT / "workflows" / "api" / api_name_of(ui_path)), ui_path.name
    finally:
        frontend.close()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium (apt-get install chromium)")
def test_the_biggan_template_runs_as_opened_in_the_real_frontend(comfy_server, tmp_path):
    """Open the template as a user does, press Run (app.queuePrompt): the bundled demo song renders to one mp4 of
    the whole song (600 frames at 30 fps, three chunks), with nothing uploaded first."""
    address, base, _ = comfy_server
    ui_path = REPO_ROOT / "workflows" / "AudioWalk BigGAN music video.json"
    frontend = HeadlessFrontend(address, tmp_path / "chromium-profile")
    before = set(ComfyClient(address).get_json("/history"))
    try:
        frontend.events.clear()  # the frontend's own start-up (a settings race of frontend 1.27) is not ours
        frontend.call("Emulation.setDeviceMetricsOverride", width=1600, height=1000, deviceScaleFactor=1,
                      mobile=False)
        frontend.evaluate("document.querySelectorAll('.p-dialog-close-button').forEach(b => b.click())")
        frontend.evaluate(f"(async () => {{ await window.app.loadGraphData({ui_path.read_text()}); }})()")
        frontend.screenshot(tmp_path / "template.png")
        frontend.evaluate("(async () => { await window.app.queuePrompt(0, 1); })()")
        deadline = time.monotonic() + 600
        while True:
            history = ComfyClient(address).get_json("/history")
            finished = [entry for key, entry in history.items() if key not in before
                        for output in entry.get("outputs", {}).values() if output.get("animated")]
            failed = [entry for key, entry in history.items()
                      if key not in before and entry["status"]["status_str"] == "error"]
            assert not failed, json.dumps(failed[0]["status"])[:3000]
            if finished:
                break
            assert time.monotonic() < deadline, "the template did not finish in 600 s"
            time.sleep(1)
        assert frontend.errors() == [], "\n".join(frontend.errors())
        # the video now plays in Save Music Video, at the view the template opened with: clear of the minimap
        time.sleep(3)
        frontend.screenshot(Path(os.environ.get("AUDIOWALK_SCREENSHOTS") or tmp_path) / "biggan_template_after_run.png")
        layout = frontend.evaluate(LAYOUT_JS)
        [save] = [node for node in layout["nodes"] if node["title"] == "Save Music Video"]
        assert [w for w in save["dom"] if w["shown"]], "no preview in Save Music Video"
        print("Save Music Video with its preview:", [round(v) for v in save["rect"]], "minimap:", layout["minimap"])
        assert layout_problems(layout, ("Save Music Video",), ("Save Music Video",)) == []
        [output] = [o for o in finished[0]["outputs"].values() if o.get("animated")]
        # drop the rendered mp4 on the canvas (the frontend's file handler): the graph comes back from its tags
        image = output["images"][0]
        query = urllib.parse.urlencode({"filename": image["filename"], "subfolder": image["subfolder"],
                                        "type": "output"})
        restored = frontend.evaluate(
            "(async () => { window.app.graph.clear(); "
            f"const blob = await (await fetch('/view?{query}')).blob(); "
            "await window.app.handleFile(new File([blob], 'song.mp4', {type: 'video/mp4'})); "
            "await new Promise(done => setTimeout(done, 2000)); "  # handleFile does not await loadGraphData
            "return window.app.graph._nodes.map(node => node.type).sort(); })()")
        assert restored == sorted(node["type"] for node in json.loads(ui_path.read_text())["nodes"])
    finally:
        frontend.close()
    video = probe(output_path(base, output))
    assert video["frames"].shape[0] == 600 and video["fps"] == 30
