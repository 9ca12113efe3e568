"""Load StyleGAN / StyleGAN Latents / StyleGAN Generate, driven as ComfyUI drives them (fallback folders)."""
from __future__ import annotations

import pytest
import torch

from audiowalk_core.chunks import render_chunk
from stylegan_support import random_network, write_snapshot
from test_stylegan_walk import FRAMES, bass_only_features


@pytest.fixture
def tiny_snapshot(pack, comfy_home, monkeypatch):
    path = comfy_home / "models" / "stylegan" / "tiny-sg2.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_snapshot(random_network("sg2-resnet-cond"), path, monkeypatch)
    return path


LATENT_ARGS = dict(seed=4, truncation=0.7, walk_mode="improved", coarse_feature="bass", coarse_strength=1.0,
                   middle_feature="mids", middle_strength=0.7, fine_feature="highs", fine_strength=0.5,
                   noise_feature="percussive", noise_base=0.3, noise_gain=1.0, classes="0, 3", class_mode="beats")


def test_nodes_render_a_song_in_chunks_equal_to_whole(pack, tiny_snapshot):
    nodes = pack.nodes.stylegan_nodes
    choices = nodes.AudioWalkLoadStyleGAN.INPUT_TYPES()["required"]["model_name"][0]
    assert choices == ["tiny-sg2.pkl"]
    (model,) = nodes.AudioWalkLoadStyleGAN().load("tiny-sg2.pkl", "float32", "cpu", "random")
    (again,) = nodes.AudioWalkLoadStyleGAN().load("tiny-sg2.pkl", "float32", "cpu", "random")
    assert again is model and model.kind == "stylegan2" and model.condition_dim == 4
    (latents,) = nodes.AudioWalkStyleGANLatents().walk(model, bass_only_features(), **LATENT_ARGS)
    assert latents.class_weights.shape == (FRAMES, 4) and latents.noise.shape == (FRAMES, 16)
    generate = nodes.AudioWalkStyleGANGenerate()
    (whole,) = generate.generate(model, latents, 0, 0, 8)
    assert whole.shape == (FRAMES, 32, 32, 3) and whole.dtype == torch.float32
    assert 0 <= float(whole.min()) and float(whole.max()) <= 1
    parts = []
    for index in range(3):
        chunk, part = render_chunk(latents, 15, "one chunk", index)
        parts.append(generate.generate(model, part, 0, 0, 5)[0])
    print("max chunk diff", (torch.cat(parts) - whole).abs().max().item())
    assert torch.equal(torch.cat(parts), whole)


def test_bad_model_file_is_a_clear_error_before_any_frame(pack, comfy_home):
    from audiowalk_core.errors import AudioWalkInputError

    folder = comfy_home / "models" / "stylegan"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(AudioWalkInputError, match="broken.pkl"):
        pack.nodes.stylegan_nodes.AudioWalkLoadStyleGAN().load("broken.pkl", "float32", "cpu", "random")
    with pytest.raises(AudioWalkInputError, match="not in the stylegan models folder"):
        pack.nodes.stylegan_nodes.AudioWalkLoadStyleGAN().load("missing.pkl", "float32", "cpu", "random")
