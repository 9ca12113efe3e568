"""StyleGAN2/3: safe loading, our networks, conversion, strict checks (tiny random-weight models)."""
from __future__ import annotations

import argparse
import os
import pickle
import subprocess

import numpy as np
import pytest
import torch

from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.generators.stylegan import build_generator, convert_stylegan, read_stylegan, write_safetensors
from audiowalk_core.generators.stylegan.ops import upfirdn2d, upfirdn2d_naive
from audiowalk_core.generators.stylegan.runtime import load_network, seed_images
from audiowalk_core.generators.stylegan.unpickle import UnsafePickleError, load_snapshot
from stylegan_support import TINY_CONFIGS, random_network, write_snapshot


def _images(network, seeds=(0, 3), psi=0.7, noise="const"):
    class_index = 1 if network.config.c_dim else None
    return np.stack([pixels for _, pixels in seed_images(network, seeds, psi, noise, class_index)])


# ------------------------------------------------------------------------------------------- safe unpickling

class _Call:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


@pytest.mark.parametrize("make", [
    lambda marker: _Call(os.system, f"touch {marker}"),
    lambda marker: _Call(eval, f"open({str(marker)!r}, 'w').close()"),
    lambda marker: _Call(subprocess.check_call, ["touch", str(marker)]),
    lambda marker: {"G_ema": [1, 2, {"deep": _Call(exec, f"open({str(marker)!r}, 'w').close()")}]},
], ids=["os.system", "builtins.eval", "subprocess", "nested-exec"])
def test_pickles_that_call_anything_are_refused_and_nothing_runs(tmp_path, make):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(make(marker)))
    with pytest.raises(UnsafePickleError) as caught:
        read_stylegan(path)
    message = str(caught.value)
    assert "evil.pkl" in message and "not allowed" in message
    assert any(name in message for name in ("system", "eval", "check_call", "exec"))
    assert not marker.exists()


def test_persistence_source_code_is_never_executed(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    network = random_network("sg2-skip")
    source = f"open({str(marker)!r}, 'w').close()\nclass Generator: pass\n"
    write_snapshot(network, tmp_path / "snap.pkl", monkeypatch, source=source)
    config, state = read_stylegan(tmp_path / "snap.pkl")
    assert not marker.exists()
    assert config == network.config
    for key, tensor in network.state_dict().items():
        assert torch.equal(state[key], tensor), key  # G_ema, not the zeroed G


def test_a_pickle_cannot_change_the_loaders_own_functions(tmp_path):
    """BUILD on an allowed global (setattr with the pickle's values) must not reach our functions: a hostile file
    in a long-running ComfyUI would otherwise change every later load."""
    from audiowalk_core.generators.stylegan import unpickle

    before = unpickle._rebuild_parameter.__name__
    # GLOBAL torch._utils _rebuild_parameter; BUILD with the state (None, {"__name__": "owned"}), which pickle
    # applies with setattr; STOP (protocol 2 opcodes)
    data = (b"\x80\x02ctorch._utils\n_rebuild_parameter\nN}X\x08\x00\x00\x00__name__X\x05\x00\x00\x00owneds"
            b"\x86b.")
    path = tmp_path / "build.pkl"
    path.write_bytes(data)
    try:
        read_stylegan(path)
    except AudioWalkInputError:
        pass  # not a snapshot: refused for that, fine
    assert unpickle._rebuild_parameter.__name__ == before == "_rebuild_parameter"


def test_a_folder_is_not_a_model_file(tmp_path):
    with pytest.raises(AudioWalkInputError, match="is a folder, not a file"):
        read_stylegan(tmp_path)


def test_tensorflow_pickle_is_refused_with_how_to_convert(tmp_path):
    path = tmp_path / "karras2019.pkl"
    path.write_bytes(b"\x80\x02cdnnlib.tflib.network\nNetwork\n)\x81.")
    with pytest.raises(AudioWalkInputError, match="legacy.py"):
        read_stylegan(path)


def test_truncated_snapshot_is_a_clear_error(tmp_path, monkeypatch):
    write_snapshot(random_network("sg2-skip"), tmp_path / "whole.pkl", monkeypatch)
    data = (tmp_path / "whole.pkl").read_bytes()
    (tmp_path / "cut.pkl").write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioWalkInputError, match="cut.pkl.*truncated"):
        read_stylegan(tmp_path / "cut.pkl")
    with pytest.raises(AudioWalkInputError, match="not a valid safetensors"):
        (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
        read_stylegan(tmp_path / "bad.safetensors")


def test_snapshot_without_g_ema_takes_g(tmp_path, monkeypatch):
    network = random_network("sg2-skip")
    write_snapshot(network, tmp_path / "snap.pkl", monkeypatch)
    data = load_snapshot((tmp_path / "snap.pkl").read_bytes(), "snap.pkl")
    del data["G_ema"]
    assert data["G"].class_name == "StyleGANGenerator"


# ------------------------------------------------------------------------------------- conversion, strictness

@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_every_config_round_trips_pickle_to_safetensors(tmp_path, monkeypatch, name):
    network = random_network(name)
    write_snapshot(network, tmp_path / "model.pkl", monkeypatch)
    config, out = convert_stylegan(tmp_path / "model.pkl", tmp_path / "model.safetensors")
    assert config == network.config and out.is_file()
    assert not list(tmp_path.glob("*.part"))
    expected = _images(network)
    assert np.array_equal(_images(load_network(tmp_path / "model.pkl")), expected)
    assert np.array_equal(_images(load_network(tmp_path / "model.safetensors")), expected)
    assert expected.std() > 5  # a picture, not a flat field


def test_mismatching_state_dict_names_first_key_and_shape(tmp_path):
    network = random_network("sg2-skip")
    state = dict(network.state_dict())
    state["synthesis.b8.conv0.weight"] = torch.zeros(16, 16, 3, 2)
    with pytest.raises(AudioWalkInputError, match=r"synthesis.b8.conv0.weight has shape \[16, 16, 3, 2\].*"
                                                  r"needs \[16, 16, 3, 3\]"):
        write_safetensors(network.config, state, tmp_path / "x.safetensors")
    del state["synthesis.b8.conv0.weight"]
    with pytest.raises(AudioWalkInputError, match="synthesis.b8.conv0.weight .* is missing"):
        write_safetensors(network.config, state, tmp_path / "x.safetensors")
    state = dict(network.state_dict(), **{"synthesis.b64.conv1.weight": torch.zeros(1)})
    with pytest.raises(AudioWalkInputError, match="synthesis.b64.conv1.weight .* belongs to no part"):
        write_safetensors(network.config, state, tmp_path / "x.safetensors")
    assert not list(tmp_path.iterdir())


def _to_rosinality(network) -> dict:
    """Our StyleGAN2 state dict in rosinality's stylegan2-pytorch names (the inverse of the loader's mapping)."""
    s = network.state_dict()
    out = {}
    for i in range(network.config.mapping["num_layers"]):
        out[f"style.{i + 1}.weight"], out[f"style.{i + 1}.bias"] = s[f"mapping.fc{i}.weight"], s[f"mapping.fc{i}.bias"]
    out["input.input"] = s["synthesis.b4.const"][None]

    def styled(src, dst, noise_index):
        out[f"{dst}.conv.weight"] = s[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"] = s[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = s[f"{src}.affine.bias"]
        out[f"{dst}.noise.weight"] = s[f"{src}.noise_strength"].reshape(1)
        out[f"{dst}.activate.bias"] = s[f"{src}.bias"]
        out[f"noises.noise_{noise_index}"] = s[f"{src}.noise_const"][None, None]

    def torgb(src, dst):
        out[f"{dst}.conv.weight"] = s[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"] = s[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = s[f"{src}.affine.bias"]
        out[f"{dst}.bias"] = s[f"{src}.bias"].reshape(1, -1, 1, 1)

    styled("synthesis.b4.conv1", "conv1", 0)
    torgb("synthesis.b4.torgb", "to_rgb1")
    for block, res in enumerate(network.synthesis.resolutions[1:]):
        styled(f"synthesis.b{res}.conv0", f"convs.{2 * block}", 2 * block + 1)
        styled(f"synthesis.b{res}.conv1", f"convs.{2 * block + 1}", 2 * block + 2)
        torgb(f"synthesis.b{res}.torgb", f"to_rgbs.{block}")
    return out


def test_rosinality_checkpoint_loads_weights_only(tmp_path):
    from audiowalk_core.generators.stylegan import StyleGANConfig

    config = StyleGANConfig("stylegan2", 16, 0, 16, 32, 3, {"num_layers": 2},
                            {"channel_base": 256, "channel_max": 16, "conv_clamp": None, "num_fp16_res": 0})
    torch.manual_seed(3)
    network = build_generator(config, None)
    with torch.no_grad():
        for key, tensor in network.state_dict().items():
            if key.endswith(("noise_strength", "bias", "w_avg")):
                tensor.add_(torch.randn(tensor.shape) * 0.3)
    torch.save({"g_ema": _to_rosinality(network), "latent_avg": network.mapping.w_avg.clone(),
                "args": argparse.Namespace(size=32)}, tmp_path / "550000.pt")
    loaded = load_network(tmp_path / "550000.pt")
    assert loaded.config.resolution == 32 and loaded.config.synthesis["channel_base"] == 256
    assert np.array_equal(_images(loaded), _images(network))
    # a .pt that needs arbitrary code to unpickle is refused by torch's weights-only loader
    with open(tmp_path / "evil.pt", "wb") as handle:
        torch.save({"g_ema": _Call(os.system, "true")}, handle)
    with pytest.raises(AudioWalkInputError, match="evil.pt cannot be loaded weights-only"):
        read_stylegan(tmp_path / "evil.pt")


# --------------------------------------------------------------------------------------------- the networks

def test_upfirdn2d_matches_the_obvious_implementation():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 9, 7)
    for f in (torch.randn(4), torch.randn(12), torch.randn(5, 5), None):
        for up, down in ((1, 1), (2, 1), (1, 2), (2, 2), (4, 2)):
            for pad in ((0, 0, 0, 0), (2, 1, 3, 1), (-1, -2, 5, -1)):
                taps = 1 if f is None else f.shape[-1]
                if min(9 * up + pad[2] + pad[3], 7 * up + pad[0] + pad[1]) < taps:
                    continue  # the filter would not fit
                fast = upfirdn2d(x, f, up, down, pad, gain=up * up)
                slow = upfirdn2d_naive(x, f, up, down, pad, gain=up * up)
                assert fast.shape == slow.shape
                assert torch.allclose(fast, slow, rtol=1e-4, atol=1e-4), (up, down, pad)


@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_batched_scaled_conv_equals_grouped_per_sample_weights(name):
    network = random_network(name)
    z = torch.randn(3, network.config.z_dim)
    c = torch.eye(max(network.config.c_dim, 1))[:3, :network.config.c_dim] if network.config.c_dim else None
    ws = network.ws_from_z(z, c, 0.8)
    batched = network.synthesis(ws)
    grouped = network.synthesis(ws, grouped=True)
    single = torch.cat([network.synthesis(ws[i:i + 1]) for i in range(3)])
    assert torch.allclose(batched, grouped, atol=1e-4) and torch.allclose(batched, single, atol=1e-4)
    low = network.synthesis(ws, dtype=torch.bfloat16)
    assert low.dtype == torch.float32 and (low - batched).abs().mean() < 0.05 * batched.abs().mean() + 1e-3


def test_noise_modes_and_truncation_act():
    network = random_network("sg2-skip")
    const, none = _images(network, noise="const"), _images(network, noise="none")
    assert not np.array_equal(const, none)
    flat = np.stack([p for _, p in seed_images(network, [0, 1], psi=0.0)])
    assert np.array_equal(flat[0], flat[1])  # psi 0: every seed is the average image


# ------------------------------------------------------------------------------------------------------ CLI

def test_cli_images_convert_and_render(tmp_path, monkeypatch):
    import av

    from audiowalk_tools.cli import main
    from support import sine

    network = random_network("sg3-t")
    write_snapshot(network, tmp_path / "model.pkl", monkeypatch)
    assert main(["stylegan-images", str(tmp_path / "model.pkl"), "--seeds", "0,1,42", "--trunc", "0.7",
                 "--outdir", str(tmp_path / "pngs")]) == 0
    from PIL import Image

    pngs = sorted(p.name for p in (tmp_path / "pngs").iterdir())
    assert pngs == ["seed0000.png", "seed0001.png", "seed0042.png"]
    expected = _images(network, seeds=(42,))[0]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "pngs" / "seed0042.png")), expected)
    assert main(["convert-stylegan", str(tmp_path / "model.pkl"), str(tmp_path / "model.safetensors")]) == 0
    assert main(["convert-stylegan", str(tmp_path / "missing.pkl"), str(tmp_path / "x.safetensors")]) == 2
    import soundfile

    soundfile.write(tmp_path / "song.wav", sine(110.0, 3.0) + sine(3000.0, 3.0, amplitude=0.2), 22050)
    assert main(["render", str(tmp_path / "song.wav"), "--model", str(tmp_path / "model.safetensors"),
                 "--fps", "8", "--batch-size", "4", "-o", str(tmp_path / "out.mp4")]) == 0
    with av.open(str(tmp_path / "out.mp4")) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.width, stream.height) == (32, 32)
    assert frames == 24
