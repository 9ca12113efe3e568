"""The Beat This! tracker in a real ComfyUI (skipped unless COMFYUI_DIR points at a ComfyUI checkout): the
BigGAN template with Audio Features' beat_tracker on beat_this renders the bundled song in four chunks from one
POST, and the neural tracker runs ONCE (Audio Features' output is cached across the chunk requeues: counted in
the server's log); a tracker whose checkpoint is missing with allow_download off is refused at validation."""
from __future__ import annotations

import pytest
import torch

from audiowalk_tools.comfy_client import ComfyClient, ComfyPromptRejected
from comfy_harness import COMFYUI_DIR, ComfyServer, make_biggan, output_path, probe, run_whole_song, shipped_prompt

pytestmark = [pytest.mark.comfyui, pytest.mark.slow,
              pytest.mark.skipif(not COMFYUI_DIR, reason="set COMFYUI_DIR to a ComfyUI checkout to run")]

SONG = {"Audio Features.fps": "8", "Render in Chunks.chunk_frames": 40}  # the 20 s demo song: 160 frames, 4 chunks


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from audiowalk_core.beat_tracking.config import BeatThisConfig
    from audiowalk_core.beat_tracking.network import BeatThisNetwork

    base = tmp_path_factory.mktemp("comfy_beats")
    make_biggan(base)
    config = BeatThisConfig(transformer_dim=32, n_layers=1)  # the real layers, narrow: random weights
    torch.manual_seed(0)
    network = BeatThisNetwork(config)
    path = base / "models" / "beat_this" / "final0.ckpt"
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": {"model." + k: v for k, v in network.state_dict().items()},
                "hyper_parameters": config.to_dict()}, path)
    with ComfyServer(base) as running:
        yield running, base


def test_the_neural_tracker_runs_once_for_a_song_of_four_chunks(server):
    running, base = server
    client = ComfyClient(running.address)
    choices = client.object_info()["AudioWalkAudioFeatures"]["input"]["optional"]["beat_tracker"][0]
    assert choices == ["dsp", "beat_this", "beat_this_small (download, 8 MB)"]
    prompt = shipped_prompt("audiowalk_biggan", {**SONG, "Audio Features.beat_tracker": "beat_this",
                                                 "Audio Features.allow_download": False,
                                                 "Save Music Video.filename_prefix": "it/beats"})
    final, entries = run_whole_song(client, prompt)
    assert len(entries) == 4
    assert probe(output_path(base, final))["frames"].shape[0] == 160
    log = running.log_path.read_text(errors="replace")
    assert log.count("Audio Features: Beat This! final0") == 1, log[-4000:]


def test_a_missing_checkpoint_without_download_is_refused_before_anything_runs(server):
    running, _ = server
    prompt = shipped_prompt("audiowalk_biggan", {**SONG, "Audio Features.beat_tracker": "beat_this_small",
                                                 "Audio Features.allow_download": False})
    with pytest.raises(ComfyPromptRejected, match="small0.ckpt"):
        ComfyClient(running.address).queue_prompt(prompt)
