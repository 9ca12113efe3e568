"""Load BigGAN / BigGAN Generate nodes, driven as ComfyUI drives them (fallback folders under comfy_home)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import audiowalk_core
import pytest
import torch

from audiowalk_core.generators import biggan, devices


def pack_latents(pack, frames: int, seed: int = 2):
    core = audiowalk_core
    rng = np.random.default_rng(seed)
    noise = (np.clip(rng.standard_normal((frames, 128)), -2, 2) * 0.5).astype(np.float32)
    classes = rng.dirichlet(np.full(1000, 0.05), size=frames).astype(np.float32)
    return core.latents.WalkLatents(noise, classes, 0.5, seed, core.clock.FrameClock(Fraction(24), 44100, frames))


@pytest.fixture
def tiny_in_models(pack, comfy_home):
    config = biggan.tiny_config()
    path = comfy_home / "models" / "biggan" / "tiny-walk.safetensors"
    biggan.save_biggan_safetensors(biggan.random_biggan_weights(config, seed=5), config, path)
    return path


def test_loader_lists_safetensors_and_loads_them(pack, tiny_in_models):
    nodes = pack.nodes.biggan_nodes
    choices, options = nodes.AudioWalkLoadBigGAN.INPUT_TYPES()["required"]["model_name"]
    assert choices == ["biggan-deep-128 (download, 211 MB)", "biggan-deep-256 (download, 234 MB)",
                       "biggan-deep-512 (download, 236 MB)", "tiny-walk"]
    assert options["default"] == "biggan-deep-128 (download, 211 MB)"
    (handle,) = nodes.AudioWalkLoadBigGAN().load("tiny-walk", "float32", "cpu", False)
    assert handle.resolution == 32 and handle.dtype == torch.float32 and handle.source == str(tiny_in_models)


def test_loader_defaults_to_128_and_loads_marked_and_old_plain_values(pack, tiny_in_models):
    nodes = pack.nodes.biggan_nodes
    tiny_in_models.rename(tiny_in_models.with_name("biggan-deep-128.safetensors"))
    choices, options = nodes.AudioWalkLoadBigGAN.INPUT_TYPES()["required"]["model_name"]
    assert options["default"] == choices[0] == "biggan-deep-128" and choices[1] == "biggan-deep-256 (download, 234 MB)"
    loader = nodes.AudioWalkLoadBigGAN()
    (plain,) = loader.load("biggan-deep-128", "float32", "cpu", False)  # a workflow saved before the mark
    (marked,) = loader.load("biggan-deep-128 (download, 211 MB)", "float32", "cpu", False)  # saved before download
    assert marked is plain and plain.model_name == "biggan-deep-128"
    validate = nodes.AudioWalkLoadBigGAN.VALIDATE_INPUTS
    assert validate("biggan-deep-128") is True and validate("biggan-deep-512 (download, 236 MB)") is True
    assert validate("biggan-deep-512") is True  # not on disk, but would be downloaded
    problem = validate("no-such-walk")
    assert problem.startswith("model_name: 'no-such-walk' is neither a published BigGAN-deep")


def test_two_loaders_of_one_model_share_one_copy_without_comfyui(pack, tiny_in_models):
    nodes = pack.nodes.biggan_nodes
    adapter = pack.nodes.comfy_adapter
    assert adapter.model_devices() is None  # no ComfyUI: the core's device choice
    (first,) = nodes.AudioWalkLoadBigGAN().load("tiny-walk", "float32", "auto", True)
    (second,) = nodes.AudioWalkLoadBigGAN().load("tiny-walk.safetensors", "float32", "auto", False)
    assert second is first and first.device == devices.resolve_device("auto")
    assert type(first) is biggan.BigGANHandle  # no ModelPatcher without ComfyUI
    assert adapter.manage_model(first, first.device) is first and adapter.ready_model(first, 1 << 30) is first
    (other,) = nodes.AudioWalkLoadBigGAN().load("tiny-walk", "bfloat16", "cpu", False)
    assert other.model is not first.model


def test_generate_node_renders_a_frame_range_equal_to_the_full_run(pack, tiny_in_models):
    nodes = pack.nodes.biggan_nodes
    (handle,) = nodes.AudioWalkLoadBigGAN().load("tiny-walk", "float32", "cpu", False)
    latents = pack_latents(pack, 9)
    generate = nodes.AudioWalkBigGANGenerate().generate
    (full,) = generate(handle, latents, 0, 0, 4, "fixed")
    (part,) = generate(handle, latents, 3, 5, 2, "fixed")
    (tail,) = generate(handle, latents, 7, 0, 8, "fixed")
    assert full.shape == (9, 32, 32, 3) and full.dtype == torch.float32
    assert 0.0 <= full.min() and full.max() <= 1.0
    assert torch.allclose(part, full[3:8], atol=1e-6) and torch.allclose(tail, full[7:], atol=1e-6)
    with pytest.raises(audiowalk_core.errors.AudioWalkInputError, match="start_frame"):
        generate(handle, latents, 9, 0, 4, "fixed")


def test_missing_model_offline_names_the_input_and_the_folder(pack, comfy_home):
    nodes = pack.nodes.biggan_nodes
    with pytest.raises(audiowalk_core.errors.AudioWalkInputError) as error:
        nodes.AudioWalkLoadBigGAN().load("biggan-deep-512", "auto", "cpu", False)
    text = str(error.value)
    assert text.startswith("model_name:") and str(comfy_home / "models" / "biggan" / "biggan-deep-512") in text
    assert "biggan-deep-512-pytorch_model.bin" in text
