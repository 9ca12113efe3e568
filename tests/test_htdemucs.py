"""Our HTDemucs: the published architectures with random weights (output shape, parameter count, the download size
figures), and its model files: demucs' published .safetensors format written here then loaded, strict loading (a
missing, extra or misshaped weight named with its file), settings this implementation does not have refused by
name, and the legacy .th packages read without running anything in them."""
import json
import sys
import types

import numpy as np
import pytest
import torch

from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.separation.htdemucs.config import PUBLISHED_CONFIGS, config_from_kwargs
from audiowalk_core.separation.htdemucs.model import build_htdemucs
from audiowalk_core.separation.htdemucs.store import PUBLISHED_MODELS
from audiowalk_core.separation.htdemucs.th_reader import UnsafeModelFileError
from audiowalk_core.separation.htdemucs.weights import read_model_file, save_demucs_safetensors
from htdemucs_support import tiny_config, tiny_network, write_tiny_model

# demucs' HTDemucs built with the published keywords has these many parameters (counted with demucs 4.1's own class)
PUBLISHED_PARAMETERS = {"htdemucs": 41_984_456, "htdemucs_6s": 27_414_996}


def test_published_architectures_have_the_published_size():
    for name, config in PUBLISHED_CONFIGS.items():
        network = build_htdemucs(config, "meta")
        count = sum(p.numel() for p in network.parameters())
        assert count == PUBLISHED_PARAMETERS[name], name
        assert PUBLISHED_MODELS[name].weight_bytes == 2 * count  # the "(download, N MB)" figure: float16 tensors
        assert config.segment_samples == 343_980  # 7.8 s at 44.1 kHz
    assert len(build_htdemucs(PUBLISHED_CONFIGS["htdemucs"], "meta").state_dict()) == 533


def test_the_real_htdemucs_separates_a_segment_into_four_stereo_sources():
    network = build_htdemucs(PUBLISHED_CONFIGS["htdemucs"], seed=1)
    mix = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 2, 300_000)).astype(np.float32) * 0.1)
    with torch.inference_mode():
        out = network(mix)
    assert out.shape == (1, 4, 2, 300_000) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="at most 343980"):
        network(torch.zeros(1, 2, 343_981))


def test_the_published_format_written_here_loads_strictly(tmp_path):
    path = write_tiny_model(tmp_path / "tiny.safetensors", seed=4)
    config, state = read_model_file(path)
    assert config == tiny_config()
    original = tiny_network(seed=4).state_dict()
    assert set(state) == set(original)
    for key, value in original.items():  # float16 in the file, float32 back
        assert state[key].dtype == torch.float32
        assert torch.equal(state[key], value.half().float()), key
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["klass"] == "demucs.htdemucs.HTDemucs" and json.loads(metadata["args"]) == []
    assert json.loads(metadata["kwargs"])["segment"] == {"_type": "fraction", "numerator": 1, "denominator": 2}


def _rewrite(path, change_state=None, change_metadata=None):
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
        state = {key: handle.get_tensor(key) for key in handle.keys()}
    if change_state:
        change_state(state)
    if change_metadata:
        change_metadata(metadata)
    save_file(state, str(path), metadata=metadata)
    return path


@pytest.mark.parametrize("change, expected", [
    (lambda s: s.pop("crosstransformer.layers.1.cross_attn.in_proj_weight"),
     "1 missing weights (e.g. crosstransformer.layers.1.cross_attn.in_proj_weight)"),
    (lambda s: s.__setitem__("encoder.0.extra.weight", torch.zeros(3)), "1 unexpected weights (e.g. encoder.0.extra"),
    (lambda s: s.__setitem__("decoder.2.conv_tr.weight", torch.zeros(8, 7, 8, 1)),
     "decoder.2.conv_tr.weight: file (8, 7, 8, 1), model (8, 8, 8, 1)"),
])
def test_a_missing_extra_or_misshaped_weight_is_named(tmp_path, change, expected):
    path = _rewrite(write_tiny_model(tmp_path / "bad.safetensors"), change_state=change)
    with pytest.raises(AudioWalkInputError) as error:
        read_model_file(path)
    assert expected in str(error.value) and "bad.safetensors" in str(error.value)


@pytest.mark.parametrize("change, expected", [
    (lambda m: m.__setitem__("klass", "demucs.hdemucs.HDemucs"), "holds a demucs.hdemucs.HDemucs, not an HTDemucs"),
    (lambda m: m.__setitem__("structure", "{}"), "quantized (diffq)"),
    (lambda m: m.pop("kwargs"), "carries no demucs model settings"),
    (lambda m: m.__setitem__("kwargs", m["kwargs"].replace('"depth"', '"deepness"')), "unknown HTDemucs option 'deepness'"),
    (lambda m: m.__setitem__("kwargs", m["kwargs"][:-1] + ', "t_sparse_self_attn": true}'),
     "t_sparse_self_attn=True is not supported"),
    (lambda m: m.__setitem__("kwargs", m["kwargs"][:-1] + ', "t_emb": "cape"}'), "t_emb='cape' is not supported"),
])
def test_settings_this_implementation_lacks_are_refused_by_name(tmp_path, change, expected):
    path = _rewrite(write_tiny_model(tmp_path / "odd.safetensors"), change_metadata=change)
    with pytest.raises(AudioWalkInputError, match="odd.safetensors") as error:
        read_model_file(path)
    assert expected in str(error.value)


def test_training_only_settings_are_accepted_and_too_deep_a_network_is_refused():
    config = config_from_kwargs({"sources": ["a"], "t_dropout": 0.02, "t_weight_decay": 0.1, "t_lr": None,
                                 "t_cape_augment": True, "wiener_iters": 0, "multi_freqs": []})
    assert config.sources == ("a",)
    with pytest.raises(AudioWalkInputError, match="layer 4 would reach 8 frequency bins"):
        config_from_kwargs({"sources": ["a"], "depth": 6})


def test_a_truncated_file_is_named(tmp_path):
    path = write_tiny_model(tmp_path / "cut.safetensors")
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(AudioWalkInputError, match="cut.safetensors"):
        read_model_file(path)


@pytest.fixture
def fake_demucs_class(monkeypatch):
    """A class pickled by reference as demucs.htdemucs.HTDemucs (as demucs' .th packages hold it)."""
    class HTDemucs:
        pass

    HTDemucs.__module__, HTDemucs.__qualname__ = "demucs.htdemucs", "HTDemucs"
    package = types.ModuleType("demucs")
    module = types.ModuleType("demucs.htdemucs")
    module.HTDemucs = HTDemucs
    monkeypatch.setitem(sys.modules, "demucs", package)
    monkeypatch.setitem(sys.modules, "demucs.htdemucs", module)
    return HTDemucs


def _write_th(folder, klass, extra=None, name="tiny"):
    import hashlib

    network = tiny_network(seed=2)
    package = {"klass": klass, "args": [], "kwargs": network.config.to_kwargs(),
               "state": {k: v.half() for k, v in network.state_dict().items()},
               "training_args": {"dset": {"segment": 11, "sources": ["drums", "bass"]}, "optim": {"lr": 3e-4}}}
    package.update(extra or {})
    path = folder / "package.th"
    torch.save(package, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    final = folder / f"{name}-{digest[:8]}.th"
    path.rename(final)
    return final, network


def test_a_legacy_th_package_is_read_without_running_it(tmp_path, fake_demucs_class):
    path, network = _write_th(tmp_path, fake_demucs_class)
    config, state = read_model_file(path)
    assert config == network.config
    for key, value in network.state_dict().items():
        assert torch.equal(state[key], value.half().float()), key
    wrong = path.with_name("tiny-00000000.th")
    path.rename(wrong)
    with pytest.raises(AudioWalkInputError, match="sha256 starts .* its name says 00000000"):
        read_model_file(wrong)


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch SHOULD_NOT_EXIST",))


def test_the_th_reader_refuses_code_and_runs_nothing(tmp_path, fake_demucs_class, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, _ = _write_th(tmp_path, fake_demucs_class, {"training_args": _Payload()}, name="evil")
    with pytest.raises(UnsafeModelFileError, match=r"asks for the global (posix|os|nt)\.system.*nothing was run"):
        read_model_file(path)
    assert not (tmp_path / "SHOULD_NOT_EXIST").exists()


def test_a_th_of_another_class_is_refused(tmp_path, monkeypatch):
    class Demucs:
        pass

    Demucs.__module__, Demucs.__qualname__ = "demucs.demucs", "Demucs"
    module = types.ModuleType("demucs.demucs")
    module.Demucs = Demucs
    monkeypatch.setitem(sys.modules, "demucs", types.ModuleType("demucs"))
    monkeypatch.setitem(sys.modules, "demucs.demucs", module)
    path, _ = _write_th(tmp_path, Demucs, name="old")
    with pytest.raises(AudioWalkInputError, match="holds a demucs.demucs.Demucs, not an HTDemucs"):
        read_model_file(path)


def test_saving_and_loading_keep_every_weight_in_float32(tmp_path):
    network = tiny_network(seed=5)
    path = save_demucs_safetensors(network, network.config, tmp_path / "full.safetensors")
    _, state = read_model_file(path)
    assert all(torch.equal(state[k], v) for k, v in network.state_dict().items())
