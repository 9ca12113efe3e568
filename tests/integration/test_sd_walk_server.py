"""The Stable Diffusion walk template on a real ComfyUI with a random-weight SD1.5 checkpoint, CPU, 64 px (skipped
unless COMFYUI_DIR points at a ComfyUI checkout).

One POST of workflows/api/audiowalk_sd_walk.json renders the 20 s demo song at 2 fps (40 frames) in 3 chunks into
one mp4 with the music; the chunked video equals a whole-song render (lossless crf 0) for both render ways.
"""
from __future__ import annotations

import numpy as np
import pytest

from audiowalk_tools.comfy_client import ComfyClient
from comfy_harness import (COMFYUI_DIR, REPO_ROOT, ComfyServer, HeadlessFrontend, ServerMessages, make_biggan,
                           output_path, probe, run_from_frontend, run_whole_song, sd15_checkpoint,
                           set_widget_in_frontend, shipped_prompt)

pytestmark = [pytest.mark.comfyui, pytest.mark.slow,
              pytest.mark.skipif(not COMFYUI_DIR, reason="set COMFYUI_DIR to a ComfyUI checkout to run")]

SIZE = 64
FPS = 2
FRAMES = 40  # the 20 s demo song at 2 fps
SONG = {"Audio Features.fps": str(FPS), "Render in Chunks.chunk_frames": 14,  # 3 chunks (14, 14, 12)
        "Empty Latent (chunk frames).width": SIZE, "Empty Latent (chunk frames).height": SIZE,
        "Load Checkpoint.ckpt_name": "random-sd15.safetensors", "SD Walk Sampler.steps": 2,
        "Save Music Video.crf": 0}
EVERY_FRAME = {"SD Walk Frames.render_way": "every frame", "SD Walk Sampler.render_way": "every frame",
               "SD Walk Sampler.steps": 1, "Guidance from Loudness.low": 1.0, "Guidance from Loudness.high": 2.0}


@pytest.fixture(scope="module")
def comfy_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("comfy_base_sd_walk")
    make_biggan(base)
    sd15_checkpoint(base, tmp_path_factory.getbasetemp())
    with ComfyServer(base) as server:
        yield server.address, base, server.log_path
    (base / "models" / "checkpoints" / "random-sd15.safetensors").unlink(missing_ok=True)


def render(client, base, settings: dict, prefix: str, address: str):
    """The render's video, Save Music Video's output, every chunk prompt that ran, and the texts the nodes showed
    (ComfyUI's progress text over the websocket, as the frontend receives it)."""
    with ServerMessages(address, client.client_id) as heard:
        final, entries = run_whole_song(client, shipped_prompt("audiowalk_sd_walk", {
            **SONG, **settings, "Save Music Video.filename_prefix": prefix}), timeout=1200, heard=heard)
        heard.wait_for_text("reactivity")
    return probe(output_path(base, final)), final, entries, heard.texts


def test_bad_settings_are_refused_before_sampling(comfy_server):
    address, _, _ = comfy_server
    client = ComfyClient(address)
    from comfy_harness import wait_for_entry

    for settings, message in (({**EVERY_FRAME, "SD Walk Sampler.steps": 20}, "SD Walk Sampler: steps"),
                              ({"Prompt Travel.schedule": "0: 1, 8: 5"}, "Prompt Travel: conditioning_5")):
        prompt = shipped_prompt("audiowalk_sd_walk", {**SONG, **settings, "Save Music Video.filename_prefix": "it/bad"})
        entry = wait_for_entry(client, client.queue_prompt(prompt), 600)
        assert entry["status"]["status_str"] == "error"
        assert message in str(entry["status"]["messages"]), str(entry["status"]["messages"])[:2000]


@pytest.mark.parametrize("way", ["keyframes", "every frame"])
def test_one_post_renders_the_song_in_chunks_and_chunks_equal_the_whole(comfy_server, way):
    address, base, _ = comfy_server
    client = ComfyClient(address)
    settings = EVERY_FRAME if way == "every frame" else {}
    tag = way.replace(" ", "_")
    chunked, final, entries, texts = render(client, base, settings, f"it/sd_walk_{tag}_chunks", address)
    assert len(entries) == 3
    assert chunked["fps"] == FPS and chunked["frames"].shape == (FRAMES, SIZE, SIZE, 3)
    assert abs(chunked["audio_seconds"] - FRAMES / FPS) <= 1.0 / FPS
    assert chunked["frames"].std() > 1.0
    assert any("reactivity: picture change vs onsets" in text and "(whole song)" in text for text in texts), texts
    whole, _, whole_entries, _ = render(client, base, {**settings, "Render in Chunks.chunk_frames": 0},
                                     f"it/sd_walk_{tag}_whole", address)
    assert len(whole_entries) == 1
    difference = np.abs(chunked["frames"].astype(np.int16) - whole["frames"].astype(np.int16))
    print(f"{way}: chunked vs whole: mean {difference.mean():.4f}, max {difference.max()} levels of 255")
    assert difference.mean() < 0.25 and difference.max() <= 8, (difference.mean(), difference.max())


@pytest.mark.skipif(__import__("shutil").which("chromium") is None, reason="needs chromium (apt-get install chromium)")
def test_the_template_runs_from_the_real_frontend_once_a_checkpoint_is_picked(comfy_server, tmp_path):
    """Open "AudioWalk Stable Diffusion music video" in the real frontend, pick the checkpoint (and, for this CPU,
    64 px, 2 fps, 2 steps, as a user without a GPU would), press Run: one mp4 of the whole demo song, in chunks,
    with the music; no error in the page. The screenshot is kept under AUDIOWALK_SCREENSHOTS when set."""
    import os
    from pathlib import Path

    address, base, _ = comfy_server
    client = ComfyClient(address)
    ui_path = REPO_ROOT / "workflows" / "AudioWalk Stable Diffusion music video.json"
    shots = Path(os.environ.get("AUDIOWALK_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    frontend = HeadlessFrontend(address, tmp_path / "chromium-profile")
    before = set(client.get_json("/history"))
    try:
        frontend.evaluate("(async () => { await window.app.extensionManager.setting.set("
                          "'Comfy.TutorialCompleted', true); })()")  # no first-run template dialog over the graph
        frontend.evaluate("document.querySelectorAll('.p-dialog-close-button').forEach(b => b.click())")
        frontend.events.clear()
        frontend.evaluate(f"(async () => {{ await window.app.loadGraphData({ui_path.read_text()}); }})()")
        for title, name, value in (("Load Checkpoint", "ckpt_name", "random-sd15.safetensors"),
                                   ("Empty Latent (chunk frames)", "width", SIZE),
                                   ("Empty Latent (chunk frames)", "height", SIZE),
                                   ("Audio Features", "fps", str(FPS)), ("Render in Chunks", "chunk_frames", 14),
                                   ("SD Walk Sampler", "steps", 2),
                                   ("Save Music Video", "filename_prefix", "it/sd_walk_frontend")):
            assert set_widget_in_frontend(frontend, title, name, value) == value
        frontend.screenshot(shots / "sd_walk_template_before_run.png")
        output = run_from_frontend(frontend, client, before, timeout=1500)
        frontend.screenshot(shots / "sd_walk_template_after_run.png")
        assert frontend.errors() == [], "\n".join(frontend.errors())
    finally:
        frontend.close()
    video = probe(output_path(base, output))
    assert video["fps"] == FPS and video["frames"].shape == (FRAMES, SIZE, SIZE, 3)
    assert abs(video["audio_seconds"] - FRAMES / FPS) <= 1.0 / FPS
