"""What a new user meets first, on a real ComfyUI 0.3.64 and its frontend (skipped without COMFYUI_DIR):
Cancel of the diffused template at 512 px on the CPU, a chunked render as ONE entry of the Queue panel, the
bundled demo song's player, and the shipped templates as the frontend draws them at 1600x1000.

    COMFYUI_DIR=/path/to/ComfyUI AUDIOWALK_SD15_CHECKPOINT=/path/to/random-sd15.safetensors \\
        .venv/bin/pytest -q -s tests/integration/test_first_meeting.py
"""
from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from audiowalk_tools.comfy_client import ComfyClient
from comfy_harness import (COMFYUI_DIR, REPO_ROOT, ComfyServer, HeadlessFrontend, make_biggan, run_whole_song,
                           sd15_checkpoint, shipped_prompt)
from frontend_layout import LAYOUT_JS, layout_problems

pytestmark = [pytest.mark.comfyui, pytest.mark.slow,
              pytest.mark.skipif(not COMFYUI_DIR, reason="set COMFYUI_DIR to a ComfyUI checkout to run")]

SCREENSHOTS = os.environ.get("AUDIOWALK_SCREENSHOTS")  # a folder to keep the screenshots in (outside the repo)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("first_meeting")
    make_biggan(base)
    if os.environ.get("AUDIOWALK_SD15_CHECKPOINT"):
        sd15_checkpoint(base, tmp_path_factory.getbasetemp())
    with ComfyServer(base) as running:
        yield running
    (base / "models" / "checkpoints" / "random-sd15.safetensors").unlink(missing_ok=True)


def parts_folders(base: Path) -> list[str]:
    return sorted(str(p.relative_to(base)) for p in (base / "output").rglob("*") if ".parts-" in p.name)


# -------------------------------------------------------------------------------------------- the Queue panel
def panel_cards(history: dict) -> list[dict]:
    """The cards ComfyUI frontend 1.27's Queue panel draws from ``/history?max_items=64`` (its queueStore,
    TaskItemImpl and QueueSidebarTab, read from comfyui_frontend_package 1.27.10): in its default view (not
    "expanded") ONE card per history entry, outputs or not, sorted by queue number (``prompt[0]``), newest first;
    the card previews the entry's first saved output ("animated" dropped). An entry without outputs is a card
    with only its time: chunk entries left in the history would each be such a card."""
    cards = []
    for entry in sorted(history.values(), key=lambda e: e["prompt"][0], reverse=True):
        messages = entry.get("status", {}).get("messages", [])
        interrupted = any(m[0] == "execution_interrupted" for m in messages)
        status = "Cancelled" if interrupted else {"success": "Completed", "error": "Failed"}.get(
            entry.get("status", {}).get("status_str"))
        items = [item for node_outputs in entry.get("outputs", {}).values()
                 for media, listed in node_outputs.items() if media != "animated" for item in listed]
        cards.append({"prompt_id": entry["prompt"][1], "status": status,
                      "item": (items[0] if isinstance(items[0], dict) else {"text": items[0]}) if items else None})
    return cards


def test_a_four_chunk_render_is_one_card_with_the_mp4_in_the_queue_panel(server):
    client = ComfyClient(server.address)
    before = set(client.get_json("/history"))
    prompt = shipped_prompt("audiowalk_biggan", {"Audio Features.fps": "8", "Render in Chunks.chunk_frames": 40,
                                                 "Save Music Video.filename_prefix": "it/one_card"})
    final, entries = run_whole_song(client, prompt)
    assert len(entries) == 4
    with urllib.request.urlopen(f"http://{server.address}/history?max_items=64", timeout=30) as response:
        # strict JSON, as the frontend's JSON.parse reads it (NaN from an IS_CHANGED broke the whole panel)
        history = json.loads(response.read(), parse_constant=lambda name: pytest.fail(f"/history holds {name}"))
    ours = {key: entry for key, entry in history.items() if key not in before}
    cards = panel_cards(ours)
    print(f"{len(ours)} history entries of the render, {len(cards)} card(s):", json.dumps(cards))
    assert len(cards) == 1, cards
    [card] = cards
    assert card["status"] == "Completed" and card["item"]["filename"].endswith(".mp4")
    assert card["item"]["type"] == "output" and card["item"]["subfolder"] == "it"
    # the finished chunks' entries went as the next chunk started: the render is the last chunk's entry alone
    assert len(ours) == 1 and card["prompt_id"] == entries[-1]["prompt_id"]
    url = (f"http://{server.address}/api/view?filename={card['item']['filename']}&subfolder=it&type=output")
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200 and response.read(12)[4:8] == b"ftyp"
    assert parts_folders(server.base) == []


QUEUE_PANEL_JS = r"""
(async () => {
  const button = document.querySelector(".queue-tab-button");
  if (!button) return {error: "no Queue button in the side bar"};
  if (!document.querySelector(".task-item")) button.click();
  for (let i = 0; i < 40 && !document.querySelector(".task-item"); i++) await new Promise(r => setTimeout(r, 250));
  const items = Array.from(document.querySelectorAll(".task-item"));
  return {cards: items.map((item) => ({text: item.innerText.slice(0, 200),
                                       videos: item.querySelectorAll("video").length,
                                       images: item.querySelectorAll("img").length}))};
})()"""


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium (apt-get install chromium)")
def test_the_real_queue_panel_shows_a_four_chunk_render_as_one_card_that_plays_the_mp4(server, tmp_path):
    """The Queue side panel of the real frontend (1.27.10), opened after a 4-chunk render: one card for the render,
    holding the mp4 as a video; no page error (its JSON.parse of /history once failed on an IS_CHANGED NaN)."""
    client = ComfyClient(server.address)
    client._request_json("POST", "/history", {"clear": True})  # the panel then holds this render only
    prompt = shipped_prompt("audiowalk_biggan", {"Audio Features.fps": "8", "Render in Chunks.chunk_frames": 40,
                                                 "Save Music Video.filename_prefix": "it/panel"})
    run_whole_song(client, prompt)
    frontend = HeadlessFrontend(server.address, tmp_path / "chromium-profile")
    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    try:
        frontend.events.clear()  # the frontend's own start-up (a settings race of frontend 1.27) is not ours
        frontend.evaluate("(async () => { await window.app.extensionManager.setting.set("
                          "'Comfy.TutorialCompleted', true); })()")
        frontend.evaluate("document.querySelectorAll('.p-dialog-close-button').forEach(b => b.click())")
        panel = frontend.evaluate(QUEUE_PANEL_JS)
        time.sleep(2)
        frontend.screenshot(shots / "queue_panel_after_a_four_chunk_render.png")
        errors = frontend.errors()
    finally:
        frontend.close()
    print(json.dumps(panel, indent=1))
    assert "error" not in panel, panel
    assert errors == [], "\n".join(errors)
    assert len(panel["cards"]) == 1, panel
    assert panel["cards"][0]["videos"] == 1, panel


# -------------------------------------------------------------------------------------------- Load Song
def test_the_demo_songs_player_request_answers_200(server):
    client = ComfyClient(server.address)
    info = client.get_json("/object_info/AudioWalkLoadAudio")["AudioWalkLoadAudio"]
    assert "audiowalk_demo.flac" in info["input"]["required"]["audio"][0]
    url = f"http://{server.address}/api/view?filename=audiowalk_demo.flac&type=input"
    with urllib.request.urlopen(url, timeout=30) as response:  # what the frontend's player asks for
        assert response.status == 200 and response.read(4) == b"fLaC"
    assert (server.base / "input" / "audiowalk_demo.flac").is_file()


# -------------------------------------------------------------------------------------------- Cancel
# each shipped Stable Diffusion template as opened (512 px) but for the checkpoint, and the node that samples
CANCEL_TEMPLATES = {"audiowalk_diffused_biggan": "AudioWalkDiffuseKeyframes", "audiowalk_sd_walk": "SamplerCustomAdvanced"}


@pytest.mark.skipif(not os.environ.get("AUDIOWALK_SD15_CHECKPOINT"), reason="needs AUDIOWALK_SD15_CHECKPOINT")
@pytest.mark.parametrize("template", sorted(CANCEL_TEMPLATES))
def test_cancel_of_the_diffused_template_at_512_px_on_the_cpu_is_idle_within_60_s(server, template):
    """The template as shipped (512 px; 61 keyframes per chunk) but for the checkpoint: Cancel during sampling
    returns the queue to idle within 60 s and leaves no parts folder; the cancel is named."""
    import websocket

    client = ComfyClient(server.address)
    prompt = shipped_prompt(template, {"Load Checkpoint.ckpt_name": "random-sd15.safetensors",
                                       "Save Music Video.filename_prefix": f"it/cancel_{template}"})
    diffuse = next(nid for nid, node in prompt.items() if node["class_type"] == CANCEL_TEMPLATES[template])
    socket = websocket.create_connection(f"ws://{server.address}/ws?clientId={client.client_id}", timeout=600)
    started = time.monotonic()
    prompt_id = client.queue_prompt(prompt)
    texts = []
    try:
        while True:  # until the first sampler step of the first sub-batch has been reported
            message = socket.recv()
            if isinstance(message, bytes):  # ComfyUI's progress text: 4-byte type, 4-byte length, node id, text
                texts.append(message[8:].decode("utf-8", "replace"))
                continue
            event = json.loads(message)
            if event["type"] == "execution_error":
                pytest.fail(json.dumps(event["data"])[:3000])
            if event["type"] == "progress" and str(event["data"].get("node")) == diffuse:
                break
            assert time.monotonic() - started < 900, "the diffused template never reached its sampler"
        reached = time.monotonic() - started
        time.sleep(3)
        cancelled = time.monotonic()
        urllib.request.urlopen(urllib.request.Request(f"http://{server.address}/interrupt", data=b"{}",
                                                      method="POST"), timeout=30).read()
        while True:
            queue = client.get_json("/queue")
            if not queue["queue_running"] and not queue["queue_pending"]:
                break
            assert time.monotonic() - cancelled < 60, "the queue is still busy 60 s after Cancel"
            time.sleep(0.5)
        idle_after = time.monotonic() - cancelled
        socket.settimeout(2)
        try:
            while True:
                message = socket.recv()
                if isinstance(message, bytes):
                    texts.append(message[8:].decode("utf-8", "replace"))
        except (websocket.WebSocketTimeoutException, OSError):
            pass
    finally:
        socket.close()
    print(f"first sampler step after {reached:.0f} s; idle {idle_after:.1f} s after Cancel; texts: {texts}")
    entry = client.get_json(f"/history/{prompt_id}")[prompt_id]
    assert any(m[0] == "execution_interrupted" for m in entry["status"]["messages"])
    assert parts_folders(server.base) == []
    assert any("cancelled at chunk 1 of 3" in text for text in texts), texts
    if template == "audiowalk_diffused_biggan":  # Diffuse Keyframes times its sub-batches
        assert any("timing the first batch" in text or "for this song" in text for text in texts), texts


# -------------------------------------------------------------------------------------------- templates
PREVIEWS = ("Save Music Video",)


def must_touch() -> dict:
    """The nodes a user must touch in each shipped template, by title (the builder's list for each template)."""
    from audiowalk_tools.workflow_builder import WORKFLOWS

    return {Path(w.ui_name).stem: w.must_touch for w in WORKFLOWS}


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium (apt-get install chromium)")
def test_every_shipped_template_reads_at_1600_by_1000(server, tmp_path):
    """Each template as the frontend opens it (its saved view) in a 1600x1000 window: the checks of
    frontend_layout.layout_problems, on every shipped UI workflow."""
    frontend = HeadlessFrontend(server.address, tmp_path / "chromium-profile")
    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    lists = must_touch()
    found, paths = {}, sorted((REPO_ROOT / "workflows").glob("*.json"))
    assert {path.stem for path in paths} == set(lists), "every shipped template names what a user must touch"
    try:
        frontend.call("Emulation.setDeviceMetricsOverride", width=1600, height=1000, deviceScaleFactor=1,
                      mobile=False)
        frontend.evaluate("(async () => { await window.app.extensionManager.setting.set("
                          "'Comfy.TutorialCompleted', true); })()")
        frontend.evaluate("document.querySelectorAll('.p-dialog-close-button').forEach(b => b.click())")
        for ui_path in paths:
            frontend.evaluate(f"(async () => {{ await window.app.loadGraphData({ui_path.read_text()}); }})()")
            time.sleep(2)
            frontend.screenshot(shots / f"{ui_path.stem.replace(' ', '_')}.png")
            layout = frontend.evaluate(LAYOUT_JS)
            assert len(layout["nodes"]) == len(json.loads(ui_path.read_text())["nodes"])
            print(f"{ui_path.stem}: opening zoom {layout['scale']:.2f}, {len(layout['links'])} links "
                  f"({sum(link['reroutes'] > 0 for link in layout['links'])} in lanes)")
            problems = layout_problems(layout, lists[ui_path.stem], PREVIEWS)
            if problems:
                found[ui_path.name] = problems
    finally:
        frontend.close()
    print(json.dumps(found, indent=1))
    assert not found, json.dumps(found, indent=1)
