"""BigGAN core: strict, safe loading through the real code paths (random tiny models), download, generation."""
from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from audiowalk_core.generators import biggan, devices, generate_frames
from audiowalk_core.generators.biggan import runtime
from audiowalk_core.clock import FrameClock
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.latents import WalkLatents

TINY = biggan.tiny_config()


def make_latents(frames: int, seed: int = 1, truncation: float = 0.5) -> WalkLatents:
    rng = np.random.default_rng(seed)
    noise = np.clip(rng.standard_normal((frames, 128)), -2, 2).astype(np.float32) * truncation
    classes = rng.dirichlet(np.full(1000, 0.05), size=frames).astype(np.float32)
    clock = FrameClock(Fraction(30), 44100, frames)
    return WalkLatents(noise, classes, truncation, seed, clock)


def write_folder(weights: dict, directory: Path, name: str = "biggan-deep-128", config: dict = TINY) -> Path:
    """The published layout: ``<name>/config.json`` and ``<name>/pytorch_model.bin`` (a pickled state dict)."""
    folder = directory / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / biggan.CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
    torch.save(weights, folder / biggan.WEIGHTS_FILE)
    return folder


def library_model(weights: dict, config: dict = TINY):
    """The library's BigGAN (pytorch-pretrained-biggan, the seed's model: spectral-norm hooks, no fusion) holding
    ``weights``, strictly loaded; skips where the library (dev extra) is not installed."""
    library = pytest.importorskip("pytorch_pretrained_biggan")
    settings = dict(config, layers=[tuple(layer) for layer in config["layers"]])
    model = library.BigGAN(library.BigGANConfig.from_dict(settings))
    model.load_state_dict(weights, strict=True)
    return model.eval()


def render(handle, latents, batch_size=4, mapping="fixed"):
    return torch.cat(list(generate_frames(handle, latents, batch_size=batch_size, output_mapping=mapping)))


def tiny_handle(dtype="float32"):
    return biggan.handle_from_weights(biggan.random_biggan_weights(TINY, 3), TINY, dtype=dtype, device="cpu")


@pytest.fixture(scope="module")
def tiny_weights():
    return biggan.random_biggan_weights(TINY, seed=3)


def test_shipped_configs_have_the_published_parameter_counts():
    counts = {}
    for name in biggan.BIGGAN_MODELS:
        config = biggan.builtin_config(name)
        counts[name] = biggan.parameter_count(config)
        assert config["output_dim"] == int(name.rsplit("-", 1)[1])
    assert counts == {"biggan-deep-128": 50_388_609, "biggan-deep-256": 55_880_833,
                      "biggan-deep-512": 56_163_905}


def test_random_model_is_deterministic_and_outputs_the_resolution(tiny_weights):
    again = biggan.random_biggan_weights(TINY, seed=3)
    other = biggan.random_biggan_weights(TINY, seed=4)
    assert list(tiny_weights) == list(again) == list(biggan.state_dict_shapes(TINY))
    for key, value in tiny_weights.items():
        assert torch.equal(value, again[key]), key
        assert tuple(value.shape) == biggan.state_dict_shapes(TINY)[key], key
    assert not torch.equal(tiny_weights["generator.gen_z.weight_orig"], other["generator.gen_z.weight_orig"])
    frames = render(tiny_handle(), make_latents(3))
    assert frames.shape == (3, 32, 32, 3) and frames.dtype == torch.float32
    assert 0.0 <= frames.min() and frames.max() <= 1.0 and frames.std() > 0.05


def test_folder_and_safetensors_layouts_load_to_identical_frames(tiny_weights, tmp_path):
    folder = write_folder(tiny_weights, tmp_path / "a")
    converted = biggan.convert_to_safetensors(folder, tmp_path / "b" / "biggan-deep-128.safetensors")
    assert converted.is_file() and not list(converted.parent.glob("*.part*"))
    latents = make_latents(5)
    from_folder = biggan.load_biggan("biggan-deep-128", [tmp_path / "a"], dtype="float32", device="cpu",
                                     allow_download=False)
    from_file = biggan.load_biggan("biggan-deep-128.safetensors", [tmp_path / "b"], dtype="float32",
                                   device="cpu", allow_download=False)
    reference = tiny_handle()
    expected = render(reference, latents)
    assert torch.equal(render(from_folder, latents), expected)
    assert torch.equal(render(from_file, latents), expected)
    assert from_file.resolution == 32 and from_file.dtype == torch.float32


def test_legacy_spectral_norm_state_dict_is_accepted(tiny_weights, tmp_path):
    """Old torch spectral-norm dicts carry '<x>.weight' instead of '<x>.weight_v'; converted as torch converts them."""
    legacy = {}
    for key, value in tiny_weights.items():
        if key.endswith(".weight_v"):
            prefix = key[: -len("_v")]
            weight_orig = tiny_weights[prefix + "_orig"]
            matrix = weight_orig.reshape(weight_orig.shape[0], -1)
            sigma = tiny_weights[prefix + "_u"] @ matrix @ value
            legacy[prefix] = weight_orig / sigma  # what torch < 1.0 stored: the normalised weight
        else:
            legacy[key] = value
    folder = write_folder(legacy, tmp_path)
    handle = biggan.load_biggan("biggan-deep-128", [tmp_path], device="cpu", dtype="float32", allow_download=False)
    reference = tiny_handle()
    latents = make_latents(2)
    assert torch.allclose(render(handle, latents), render(reference, latents), atol=1e-4)
    assert folder.is_dir()


@pytest.mark.parametrize("damage, words", [
    ("missing", "1 missing keys (e.g. generator.gen_z.bias)"),
    ("extra", "1 unexpected keys (e.g. generator.extra)"),
    ("shape", "1 keys of the wrong shape (e.g. embeddings.weight: file (128, 999), model (128, 1000))"),
])
def test_wrong_weights_are_refused_naming_file_and_keys(tiny_weights, tmp_path, damage, words):
    state = dict(tiny_weights)
    if damage == "missing":
        del state["generator.gen_z.bias"]
    elif damage == "extra":
        state["generator.extra"] = torch.zeros(3)
    else:
        state["embeddings.weight"] = torch.zeros(128, 999)
    write_folder(state, tmp_path)
    with pytest.raises(AudioWalkInputError) as error:
        biggan.load_biggan("biggan-deep-128", [tmp_path], device="cpu", allow_download=False)
    assert "model_name" in str(error.value) and words in str(error.value)
    assert "pytorch_model.bin" in str(error.value)
    target = tmp_path / "x.safetensors"
    with pytest.raises(AudioWalkInputError, match="model_name"):
        biggan.convert_to_safetensors(tmp_path / "biggan-deep-128", target)
    assert not target.exists() and not list(tmp_path.glob(".x*"))


def test_truncated_files_are_refused(tiny_weights, tmp_path):
    folder = write_folder(tiny_weights, tmp_path / "bin")
    weights = folder / biggan.WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(AudioWalkInputError, match="model_name: .*pytorch_model.bin cannot be read"):
        biggan.load_biggan("biggan-deep-128", [tmp_path / "bin"], device="cpu", allow_download=False)
    single = biggan.save_biggan_safetensors(tiny_weights, TINY, tmp_path / "st" / "mine.safetensors")
    single.write_bytes(single.read_bytes()[:-1000])
    with pytest.raises(AudioWalkInputError, match="model_name: .*mine.safetensors is not a readable"):
        biggan.load_biggan("mine", [tmp_path / "st"], device="cpu", allow_download=False)


class Payload:
    ran = False

    def __reduce__(self):
        return (setattr, (Payload, "ran", True))


def test_pickle_with_code_is_refused_by_weights_only(tiny_weights, tmp_path):
    state = dict(tiny_weights)
    state["surprise"] = Payload()
    write_folder(state, tmp_path)
    with pytest.raises(AudioWalkInputError, match="model_name: .*weights-only.*UnpicklingError"):
        biggan.load_biggan("biggan-deep-128", [tmp_path], device="cpu", allow_download=False)
    assert Payload.ran is False


def test_offline_error_says_which_files_go_where(tmp_path, monkeypatch):
    monkeypatch.delenv(biggan.URL_BASE_ENV, raising=False)
    with pytest.raises(AudioWalkInputError) as error:
        biggan.load_biggan("biggan-deep-256", [tmp_path / "m"], device="cpu", allow_download=False)
    text = str(error.value)
    assert text.startswith("model_name: biggan-deep-256 is not in")
    folder = tmp_path / "m" / "biggan-deep-256"
    assert f"{folder / 'pytorch_model.bin'} (from {biggan.DEFAULT_URL_BASE}/biggan-deep-256-pytorch_model.bin)" in text
    assert f"{folder / 'config.json'} (from {biggan.DEFAULT_URL_BASE}/biggan-deep-256-config.json)" in text
    assert f"biggan-deep-256.safetensors in {tmp_path / 'm'}" in text
    with pytest.raises(AudioWalkInputError, match="model_name: other is not in"):
        biggan.load_biggan("other", [tmp_path], device="cpu", allow_download=True)
    with pytest.raises(AudioWalkInputError, match="dtype"):
        biggan.load_biggan("biggan-deep-128", [tmp_path], dtype="int8", device="cpu", allow_download=False)


@pytest.fixture
def file_server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))

    class Quiet(handler.func):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_from_a_server_then_load(tmp_path, file_server, monkeypatch):
    """Real download path against a local server serving the published layout (a 128 config + weights)."""
    root, url = file_server
    torch.save(biggan.random_biggan_weights("biggan-deep-128", seed=0), root / "biggan-deep-128-pytorch_model.bin")
    (root / "biggan-deep-128-config.json").write_text(json.dumps(biggan.builtin_config("biggan-deep-128")))
    monkeypatch.setenv(biggan.URL_BASE_ENV, url)
    progress = []
    handle = biggan.load_biggan("biggan-deep-128", [tmp_path / "models"], device="cpu",
                                on_progress=lambda done, total: progress.append((done, total)))
    size = (root / "biggan-deep-128-pytorch_model.bin").stat().st_size
    assert progress[-1] == (size, size) and len(progress) > 10
    assert (tmp_path / "models" / "biggan-deep-128" / "pytorch_model.bin").stat().st_size == size
    assert handle.resolution == 128


def test_short_download_is_refused_and_leaves_no_file(tmp_path, file_server):
    root, url = file_server
    torch.save(biggan.random_biggan_weights(TINY, seed=0),
               root / "biggan-deep-128-pytorch_model.bin")  # far smaller than a 128 model
    (root / "biggan-deep-128-config.json").write_text(json.dumps(biggan.builtin_config("biggan-deep-128")))
    with pytest.raises(AudioWalkInputError, match="model_name: .*bytes"):
        biggan.load_biggan("biggan-deep-128", [tmp_path / "models"], device="cpu", url_base=url)
    left = list((tmp_path / "models").rglob("*")) if (tmp_path / "models").exists() else []
    assert [p for p in left if p.is_file()] == []
    with pytest.raises(AudioWalkInputError, match="model_name: .*could not be downloaded.*from http"):
        biggan.load_biggan("biggan-deep-512", [tmp_path / "models"], device="cpu", url_base=url)


def test_bfloat16_and_batch_size_do_not_change_the_frames(tmp_path):
    latents = make_latents(6)
    reference = render(tiny_handle(),
                       latents, batch_size=6)
    handle = tiny_handle()
    for batch_size in (1, 4):
        assert torch.allclose(render(handle, latents, batch_size=batch_size), reference, atol=1e-5)
    low = tiny_handle("bfloat16")
    assert low.dtype == torch.bfloat16
    frames = render(low, latents)
    assert frames.dtype == torch.float32
    assert (frames - reference).abs().mean() < 0.02 and (frames - reference).abs().max() < 0.15


def test_frame_range_equals_those_frames_of_a_full_run_and_mappings(tiny_weights):
    handle = tiny_handle()
    latents = make_latents(7)
    full = render(handle, latents, batch_size=3)
    part = render(handle, latents.slice_frames(2, 4), batch_size=3)
    assert torch.allclose(part, full[2:6], atol=1e-6)
    stretched = render(handle, latents, mapping="per_frame_minmax")
    flat = stretched.reshape(7, -1)
    assert torch.allclose(flat.min(1).values, torch.zeros(7)) and torch.allclose(flat.max(1).values, torch.ones(7))
    seen = []
    list(generate_frames(handle, latents, batch_size=3, on_progress=lambda d, t: seen.append((d, t))))
    assert seen == [(3, 7), (6, 7), (7, 7)]
    with pytest.raises(AudioWalkInputError, match="batch_size"):
        generate_frames(handle, latents, batch_size=0)
    with pytest.raises(AudioWalkInputError, match="output_mapping"):
        generate_frames(handle, latents, output_mapping="loud")


def test_our_model_gives_the_library_models_output():
    """Our module, built from the published weights (spectral norms folded, batch norm + ReLU fused, the
    3-channel output convolution), gives the library model's images (the seed's way) to float32 rounding."""
    weights = biggan.random_biggan_weights(TINY, 4)
    reference = library_model(weights)
    handle = biggan.handle_from_weights(weights, TINY, dtype="float32", device="cpu")
    noise = torch.randn(3, 128, generator=torch.Generator().manual_seed(0)) * 0.6
    classes = torch.softmax(torch.randn(3, 1000, generator=torch.Generator().manual_seed(1)), dim=1)
    with torch.inference_mode():
        for truncation in (0.4, 0.45, 1.0):
            expected = reference(noise, classes, truncation)
            assert torch.allclose(handle.model(noise, classes, truncation), expected, atol=1e-5)
    assert handle.model.generator.conv_to_rgb.out_channels == 3


# ---------------------------------------------------------------------------------------------------------------
# Fused generator, uint8 output, torch.compile (issue 12)

def library_frames(reference, latents):
    """The library model's frames (the seed's model, float32, no fusion): float [N, H, W, 3] in [0, 1]."""
    with torch.inference_mode():
        images = reference(torch.from_numpy(latents.noise), torch.from_numpy(latents.class_weights),
                           latents.truncation)
    return ((images + 1.0) * 0.5).clamp(0.0, 1.0).permute(0, 2, 3, 1)


@pytest.mark.parametrize("fused_upsampling, channels_last", [(True, True), (False, True), (True, False)])
def test_fused_generator_equals_the_library_model_in_float32(fused_upsampling, channels_last):
    """One matmul for all batch-norm affines, batch norm + ReLU in one pass (in place), up-sampling + 3x3
    convolution as one transposed convolution: the library's frames to float32 rounding, in both layouts."""
    latents = make_latents(5, seed=7, truncation=0.45)
    expected = library_frames(library_model(biggan.random_biggan_weights(TINY, 5)), latents)
    handle = biggan.handle_from_weights(biggan.random_biggan_weights(TINY, 5), TINY, dtype="float32", device="cpu",
                                      fused_upsampling=fused_upsampling, channels_last=channels_last)
    frames = render(handle, latents, batch_size=2)
    assert (frames - expected).abs().max() < 1e-5
    transposed = [m for m in handle.model.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(transposed) == (3 if fused_upsampling else 0)  # the tiny config has three up-sampling blocks


def test_bfloat16_frames_are_the_library_models_within_bfloat16_rounding():
    latents = make_latents(6, seed=8, truncation=0.6)
    expected = library_frames(library_model(biggan.random_biggan_weights(TINY, 6)), latents)
    frames = render(biggan.handle_from_weights(biggan.random_biggan_weights(TINY, 6), TINY, dtype="bfloat16",
                                             device="cpu"), latents, batch_size=4)
    assert torch.isfinite(frames).all()
    relative = ((frames - expected).norm() / expected.norm()).item()
    assert relative < 1e-2, relative  # bf16 operands land between 1e-3 and 1e-2


def test_uint8_output_is_the_float_output_rounded_as_the_video_writer_rounds_it():
    from audiowalk_core.pixels import to_uint8
    from audiowalk_core.video import frames_to_uint8

    handle = tiny_handle()
    latents = make_latents(5)
    floats = render(handle, latents, batch_size=2)
    pixels = torch.cat(list(generate_frames(handle, latents, batch_size=2, output_format="uint8")))
    assert pixels.dtype == torch.uint8 and pixels.shape == (5, 32, 32, 3)
    assert torch.equal(pixels, to_uint8(floats))
    assert np.array_equal(pixels.numpy(), frames_to_uint8(floats))
    assert np.array_equal(pixels.numpy(), np.floor(np.clip(floats.numpy(), 0, 1) * 255 + 0.5).astype(np.uint8))
    with pytest.raises(AudioWalkInputError, match="output_format"):
        generate_frames(handle, latents, output_format="png")


def test_the_generator_traces_as_one_graph():
    """torch.compile sees the whole forward (noise -> uint8 frames) as one graph: no graph break leaves a pass
    unfused on the GPU."""
    handle = tiny_handle("bfloat16")
    statistics = handle.model.truncation_statistics(0.5)
    noise, classes = torch.randn(2, 128), torch.rand(2, 1000)
    for mapping, as_uint8 in (("fixed", True), ("per_frame_minmax", False)):
        with torch.inference_mode():
            explained = torch._dynamo.explain(runtime.frames_on_device)(handle.model, noise, classes, statistics,
                                                                         mapping, as_uint8)
        assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons


def test_compiled_frames_equal_eager_ones_with_a_padded_last_batch(tmp_path):
    latents = make_latents(7)
    eager = render(tiny_handle(), latents, batch_size=3)
    handle = biggan.handle_from_weights(biggan.random_biggan_weights(TINY, 3), TINY, dtype="float32", device="cpu",
                                      compile_model=True, compile_backend="aot_eager", compile_cache_dir=tmp_path)
    assert handle.compile and handle.compile_seconds is None
    progress = []
    batches = list(generate_frames(handle, latents, batch_size=3,
                                          on_progress=lambda done, total: progress.append(done)))
    assert [len(b) for b in batches] == [3, 3, 1] and progress == [3, 6, 7]
    assert torch.allclose(torch.cat(batches), eager, atol=1e-6)
    assert handle.compile_error == "" and handle.compile_seconds > 0


def test_a_failing_compile_warns_once_and_runs_eagerly(tmp_path):
    latents = make_latents(4)
    eager = render(tiny_handle(), latents, batch_size=2)
    handle = biggan.handle_from_weights(biggan.random_biggan_weights(TINY, 3), TINY, dtype="float32", device="cpu",
                                      compile_model=True, compile_mode="no-such-mode", compile_cache_dir=tmp_path)
    with pytest.warns(RuntimeWarning, match="torch.compile of the BigGAN generator failed") as caught:
        first = render(handle, latents, batch_size=2)
        second = render(handle, latents, batch_size=2)
    assert len([w for w in caught if "torch.compile" in str(w.message)]) == 1
    assert "no-such-mode" in handle.compile_error
    assert torch.equal(first, eager) and torch.equal(second, eager)


def test_compile_settings_keyword_then_environment_then_device(monkeypatch, tmp_path):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.delenv(devices.COMPILE_ENV, raising=False)
    assert devices.resolve_compile(None, cpu) is False and devices.resolve_compile(None, cuda) is True
    monkeypatch.setenv(devices.COMPILE_ENV, "1")
    assert devices.resolve_compile(None, cpu) is True and devices.resolve_compile(False, cpu) is False
    monkeypatch.setenv(devices.COMPILE_ENV, "0")
    assert devices.resolve_compile(None, cuda) is False and devices.resolve_compile(True, cuda) is True
    monkeypatch.setenv(devices.COMPILE_ENV, "maybe")
    with pytest.warns(RuntimeWarning, match=devices.COMPILE_ENV):
        assert devices.resolve_compile(None, cpu) is False
    monkeypatch.delenv(devices.COMPILE_CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    if devices.INDUCTOR_CACHE_AT_IMPORT is None:  # else the user's TORCHINDUCTOR_CACHE_DIR is the default
        assert devices.resolve_compile_cache_dir() == tmp_path / "cache" / "audiowalk" / "torch-compile"
    monkeypatch.setenv(devices.COMPILE_CACHE_ENV, str(tmp_path / "env"))
    assert devices.resolve_compile_cache_dir() == tmp_path / "env"
    assert devices.resolve_compile_cache_dir(tmp_path / "given") == tmp_path / "given"


@pytest.mark.skipif(not os.environ.get("AUDIOWALK_TEST_INDUCTOR"),
                    reason="inductor compiles C++ kernels for 1-2 minutes on 2 cores; AUDIOWALK_TEST_INDUCTOR=1")
def test_inductor_compiled_frames_match_eager_and_fill_the_cache(tmp_path):
    latents = make_latents(5)
    for dtype, tolerance in (("float32", 1e-5), ("bfloat16", 0.02)):
        eager_handle = tiny_handle(dtype)
        handle = biggan.handle_from_weights(biggan.random_biggan_weights(TINY, 3), TINY, dtype=dtype, device="cpu",
                                          compile_model=True, compile_cache_dir=tmp_path / "kernels")
        compiled = render(handle, latents, batch_size=2)
        assert handle.compile_error == "" and handle.compile_seconds > 0
        assert (compiled - render(eager_handle, latents, batch_size=2)).abs().max() < tolerance
        pixels = torch.cat(list(generate_frames(handle, latents, batch_size=2, output_format="uint8")))
        reference = torch.cat(list(generate_frames(eager_handle, latents, batch_size=2,
                                                          output_format="uint8")))
        assert (pixels.int() - reference.int()).abs().max() <= (1 if dtype == "float32" else 8)
    assert any((tmp_path / "kernels").rglob("*"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_frames_through_pinned_memory_equal_the_cpu_ones():
    latents = make_latents(9)
    expected = render(tiny_handle(), latents, batch_size=4)
    for compile_model in (False, True):
        handle = biggan.handle_from_weights(biggan.random_biggan_weights(TINY, 3), TINY, dtype="float32", device="cuda",
                                          compile_model=compile_model)
        batches = list(generate_frames(handle, latents, batch_size=4))
        assert [b.device.type for b in batches] == ["cpu"] * 3 and batches[0].is_pinned()
        assert (torch.cat(batches) - expected).abs().max() < 1e-3  # TF32 convolutions on the GPU
        pixels = torch.cat(list(generate_frames(handle, latents, batch_size=4, output_format="uint8")))
        assert (pixels.int() - torch.from_numpy(np.floor(expected.numpy() * 255 + 0.5)).int()).abs().max() <= 1
        assert handle.compile_error == ""
