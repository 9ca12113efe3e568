"""The BigGAN model list (on disk vs download), the one device policy, and one shared copy per loaded model."""
from __future__ import annotations

import gc
import os

import pytest
import torch

from audiowalk_core.generators import biggan, devices
from audiowalk_core.generators.biggan.store import (PUBLISHED_WEIGHT_BYTES, SHARED_BIGGANS, SharedModels,
                                                    check_choice, download_label, files_identity,
                                                    load_shared_biggan, model_choices, model_name_from_choice)
from audiowalk_core.errors import AudioWalkInputError


@pytest.fixture(scope="module")
def tiny():
    config = biggan.tiny_config()
    return biggan.random_biggan_weights(config, seed=3), config


def save(tiny, path):
    return biggan.save_biggan_safetensors(tiny[0], tiny[1], path)


def test_download_sizes_are_the_tensor_bytes_of_the_published_architectures():
    assert set(PUBLISHED_WEIGHT_BYTES) == set(biggan.BIGGAN_MODELS)
    for name, size in PUBLISHED_WEIGHT_BYTES.items():
        assert biggan.weight_bytes(biggan.builtin_config(name)) == size, name
    assert download_label("biggan-deep-256") == "biggan-deep-256 (download, 234 MB)"


def test_list_marks_what_would_be_downloaded_and_entries_map_back(tiny, tmp_path):
    folder = tmp_path / "biggan"
    assert model_choices([folder]) == ["biggan-deep-128 (download, 211 MB)", "biggan-deep-256 (download, 234 MB)",
                                       "biggan-deep-512 (download, 236 MB)"]
    save(tiny, folder / "biggan-deep-256.safetensors")
    save(tiny, folder / "my-walk.safetensors")
    (folder / "biggan-deep-512").mkdir()
    (folder / "biggan-deep-512" / "config.json").write_text("{}")
    (folder / "biggan-deep-512" / "pytorch_model.bin").write_bytes(b"x")  # the original layout counts as on disk
    choices = model_choices([folder])
    assert choices == ["biggan-deep-128 (download, 211 MB)", "biggan-deep-256", "biggan-deep-512", "my-walk"]
    assert [model_name_from_choice(c) for c in choices] == ["biggan-deep-128", "biggan-deep-256", "biggan-deep-512",
                                                            "my-walk"]
    assert model_name_from_choice("biggan-deep-512") == "biggan-deep-512"  # values saved before the mark existed


def test_check_choice_accepts_marked_plain_and_file_names_and_names_the_input(tiny, tmp_path):
    save(tiny, tmp_path / "my-walk.safetensors")
    assert check_choice("biggan-deep-128 (download, 211 MB)", [tmp_path]) == "biggan-deep-128"
    assert check_choice("biggan-deep-512", [tmp_path]) == "biggan-deep-512"
    assert check_choice("my-walk.safetensors", [tmp_path]) == "my-walk"
    for bad in ("other-walk", "../my-walk", ""):
        with pytest.raises(AudioWalkInputError, match=r"^model_name: .* is neither a published BigGAN-deep"):
            check_choice(bad, [tmp_path])


def test_device_policy_auto_follows_the_host_and_explicit_choices_win():
    assert devices.resolve_device("auto", host_device=torch.device("cpu")) == torch.device("cpu")
    assert devices.resolve_device("cpu", host_device="cuda:3") == torch.device("cpu")
    assert devices.resolve_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert devices.resolve_device("auto").type == expected
    with pytest.raises(AudioWalkInputError, match="^device: 'tpu' is unknown"):
        devices.resolve_device("tpu")
    assert devices.resolve_dtype(torch.float16, torch.device("cpu")) == torch.float16


def test_shared_models_keep_one_object_per_key_while_held():
    class Thing:
        pass

    cache, made = SharedModels(), []

    def load():
        made.append(Thing())
        return made[-1]

    first = cache.get("a", load)
    assert cache.get("a", load) is first and len(made) == 1
    assert cache.get("b", load) is not first and len(made) == 2
    del first
    made.clear()
    gc.collect()
    assert cache.keys() == []  # nobody holds them: released
    cache.get("a", load)
    assert len(made) == 1


def test_two_loads_of_one_file_share_a_copy_until_it_is_let_go(tiny, tmp_path):
    path = save(tiny, tmp_path / "shared-walk.safetensors")
    first = load_shared_biggan("shared-walk", [tmp_path], dtype="float32", device="cpu", allow_download=False)
    again = load_shared_biggan("shared-walk.safetensors", [tmp_path], dtype="float32", device="cpu",
                               allow_download=False)
    assert again is first and first.device == torch.device("cpu") and first.dtype == torch.float32
    other_dtype = load_shared_biggan("shared-walk", [tmp_path], dtype="bfloat16", device="cpu", allow_download=False)
    assert other_dtype is not first and other_dtype.model is not first.model
    key = next(k for k in SHARED_BIGGANS.keys() if k[0] == files_identity("safetensors", path) and k[1] ==
               "torch.float32")
    # a rewritten file (new modification time) is a new model
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    rewritten = load_shared_biggan("shared-walk", [tmp_path], dtype="float32", device="cpu", allow_download=False)
    assert rewritten is not first
    del first, again, other_dtype, rewritten
    gc.collect()
    assert key not in SHARED_BIGGANS.keys()
    assert not [k for k in SHARED_BIGGANS.keys() if k[0][0][0] == str(path.resolve())]


def test_host_devices_choose_auto_and_the_manager_wraps_each_copy_once(tiny, tmp_path):
    save(tiny, tmp_path / "hosted.safetensors")
    wrapped = []

    def manage(handle, load_device):
        wrapped.append((handle, load_device))
        return handle

    cpu = torch.device("cpu")
    handle = load_shared_biggan("hosted", [tmp_path], dtype="auto", device="auto", host_devices=(cpu, cpu),
                                manage=manage, allow_download=False)
    again = load_shared_biggan("hosted", [tmp_path], dtype="auto", device="auto", host_devices=(cpu, cpu),
                               manage=manage, allow_download=False)
    assert again is handle and len(wrapped) == 1 and wrapped[0][1] == cpu
    assert handle.device == cpu and handle.dtype == devices.resolve_dtype("auto", cpu)
    assert next(handle.model.parameters()).device == cpu


def test_marked_entry_loads_and_missing_model_offline_names_the_folder(tiny, tmp_path):
    save(tiny, tmp_path / "biggan-deep-128.safetensors")
    handle = load_shared_biggan("biggan-deep-128 (download, 211 MB)", [tmp_path], dtype="float32", device="cpu",
                                allow_download=False)
    assert handle.model_name == "biggan-deep-128" and handle.resolution == 32
    with pytest.raises(AudioWalkInputError, match=r"^model_name: biggan-deep-256 is not in"):
        load_shared_biggan("biggan-deep-256 (download, 234 MB)", [tmp_path], device="cpu", allow_download=False)


def test_generation_memory_estimate_grows_with_batch_resolution_and_dtype():
    def handle(name, dtype):
        config = biggan.builtin_config(name)
        return biggan.BigGANHandle(None, config, name, config["output_dim"], torch.device("cpu"), dtype)

    small = handle("biggan-deep-128", torch.bfloat16).generation_bytes(1)
    assert handle("biggan-deep-128", torch.bfloat16).generation_bytes(8) == 8 * small
    assert handle("biggan-deep-128", torch.float32).generation_bytes(1) == 2 * small
    assert handle("biggan-deep-512", torch.bfloat16).generation_bytes(1) > 8 * small
    # the final block's input alone: 512 px frames, 128 input channels, 2 bytes
    assert handle("biggan-deep-512", torch.bfloat16).generation_bytes(1) > 256 * 256 * 128 * 2
