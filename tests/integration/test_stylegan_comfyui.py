"""The StyleGAN template on a real ComfyUI server (skipped unless COMFYUI_DIR points at a ComfyUI checkout): a
random-weight StyleGAN2 snapshot (written by our test support, as NVlabs' training loop lays it out) in
models/stylegan, the shipped "AudioWalk StyleGAN music video" POSTed once, the server renders the whole song in
chunks by itself, and the mp4 is decoded and checked."""
from __future__ import annotations

import pytest

from audiowalk_tools.comfy_client import ComfyClient
from comfy_harness import COMFYUI_DIR, ComfyServer, output_path, probe, run_whole_song, shipped_prompt
from stylegan_support import random_network, write_snapshot

pytestmark = [pytest.mark.comfyui, pytest.mark.slow,
              pytest.mark.skipif(not COMFYUI_DIR, reason="set COMFYUI_DIR to a ComfyUI checkout to run")]


@pytest.fixture(scope="module")
def stylegan_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("comfy_stylegan")
    folder = base / "models" / "stylegan"
    folder.mkdir(parents=True)
    with pytest.MonkeyPatch.context() as monkeypatch:
        write_snapshot(random_network("sg2-skip"), folder / "tiny-sg2.pkl", monkeypatch)
    with ComfyServer(base) as server:
        yield server.address, base, server.log_path


def test_stylegan_template_renders_a_song_in_chunks_from_one_post(stylegan_server):
    address, base, log_path = stylegan_server
    prompt = shipped_prompt("audiowalk_stylegan", {
        "Load StyleGAN.model_name": "tiny-sg2.pkl", "Load StyleGAN.device": "cpu",
        "Audio Features.fps": "4", "Render in Chunks.chunk_frames": 24,
        "Save Music Video.filename_prefix": "it/stylegan"})
    final, entries = run_whole_song(ComfyClient(address), prompt)
    assert len(entries) == 4, log_path.read_text(errors="replace")[-3000:]  # 80 frames of the 20 s demo song
    video = probe(output_path(base, final))
    assert video["fps"] == 4 and video["frames"].shape == (80, 32, 32, 3)
    assert abs(video["audio_seconds"] - 20.0) <= 0.25
    assert video["frames"].std() > 1.0
    assert sorted(p.name for p in (base / "output" / "it").iterdir()) == ["stylegan_00001_.mp4"]
