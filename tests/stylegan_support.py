"""Tiny StyleGAN models for the tests, and snapshot pickles written the way NVlabs' training loop lays them out
(``torch_utils.persistence`` reconstruct calls carrying a module source, a class name and the state), made by our
own code from our own random-weight networks (no NVlabs code here)."""
from __future__ import annotations

import collections
import pickle
import sys
import types

import torch

from audiowalk_core.generators.stylegan import StyleGANConfig, build_generator

TINY_CONFIGS = {
    "sg2-skip": StyleGANConfig("stylegan2", 16, 0, 16, 32, 3, {"num_layers": 2},
                               {"channel_base": 256, "channel_max": 16}),
    "sg2-resnet-cond": StyleGANConfig("stylegan2", 16, 4, 16, 32, 3, {"num_layers": 2, "embed_features": 8},
                                      {"channel_base": 256, "channel_max": 16, "architecture": "resnet"}),
    "sg2-orig": StyleGANConfig("stylegan2", 8, 0, 16, 16, 3, {"num_layers": 1},
                               {"channel_base": 128, "channel_max": 8, "architecture": "orig", "conv_clamp": None}),
    "sg3-t": StyleGANConfig("stylegan3", 16, 0, 16, 32, 3, {"num_layers": 2},
                            {"channel_base": 512, "channel_max": 16, "num_layers": 4, "num_critical": 1,
                             "margin_size": 4}),
    "sg3-r-cond": StyleGANConfig("stylegan3", 16, 3, 16, 32, 3, {"num_layers": 2},
                                 {"channel_base": 1024, "channel_max": 32, "num_layers": 4, "num_critical": 1,
                                  "margin_size": 4, "conv_kernel": 1, "use_radial_filters": True}),
}


def random_network(name: str, seed: int = 0):
    """Our network for ``TINY_CONFIGS[name]`` with every weight random (noise strengths, biases, EMAs too)."""
    torch.manual_seed(seed)
    network = build_generator(TINY_CONFIGS[name], None)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for key, tensor in network.state_dict().items():
            if key.endswith(("filter", "transform", "freqs", "phases")):
                continue
            if key.endswith("magnitude_ema"):
                tensor.copy_(torch.rand([], generator=generator) + 0.5)
            elif key.endswith(("noise_strength", "bias", "w_avg")):
                tensor.add_(torch.randn(tensor.shape, generator=generator) * 0.3)
    return network


class _Persistent:
    """Pickles as ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` (what NVlabs' files hold)."""

    def __init__(self, meta):
        self.meta = meta

    def __reduce__(self):
        return (sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (self.meta,))


class EasyDict(dict):
    pass


def _record(module: torch.nn.Module, source: str, init_kwargs=None) -> _Persistent:
    state = {"training": False,
             "_parameters": collections.OrderedDict((k, v) for k, v in module._parameters.items()),
             "_buffers": collections.OrderedDict((k, v) for k, v in module._buffers.items() if v is not None),
             "_modules": collections.OrderedDict((k, _record(m, source)) for k, m in module._modules.items()),
             "_init_args": (), "_init_kwargs": init_kwargs if init_kwargs is not None else EasyDict()}
    return _Persistent({"type": "class", "version": 6, "module_src": source,
                        "class_name": type(module).__name__, "state": state})


def fake_modules(monkeypatch):
    """``torch_utils.persistence`` and ``dnnlib.util`` stand-ins so pickle can name their globals."""
    persistence = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # never called by the loader under test
        raise AssertionError("the real reconstruct function ran")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util = types.ModuleType("dnnlib.util")
    EasyDict.__module__ = "dnnlib.util"
    util.EasyDict = EasyDict
    for name, module in (("torch_utils", types.ModuleType("torch_utils")), ("torch_utils.persistence", persistence),
                         ("dnnlib", types.ModuleType("dnnlib")), ("dnnlib.util", util)):
        monkeypatch.setitem(sys.modules, name, module)


def write_snapshot(network, path, monkeypatch, source: str = "", extra: dict | None = None) -> None:
    """``{G, D, G_ema, training_set_kwargs}`` as NVlabs' training loop pickles it; G_ema is ``network``, G a
    zeroed copy (so a loader taking G instead of G_ema fails the tests), D a record without generator parts."""
    fake_modules(monkeypatch)
    config = network.config
    kwargs = EasyDict(z_dim=config.z_dim, c_dim=config.c_dim, w_dim=config.w_dim, img_resolution=config.resolution,
                      img_channels=config.img_channels, mapping_kwargs=EasyDict(config.mapping), **config.synthesis)
    zeroed = build_generator(config, None)
    with torch.no_grad():
        for tensor in zeroed.state_dict().values():
            tensor.zero_()
    data = {"G": _record(zeroed, source, kwargs), "D": _record(torch.nn.Linear(2, 2), source),
            "G_ema": _record(network, source, kwargs), "training_set_kwargs": {"resolution": config.resolution}}
    data.update(extra or {})
    with open(path, "wb") as handle:
        pickle.dump(data, handle)
