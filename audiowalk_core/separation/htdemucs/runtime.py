"""A loaded HTDemucs ready to separate: the network, where it computes, and one shared copy per file and devices.

No ComfyUI import here: an application that places models itself (ComfyUI's model management) passes its
``(load_device, offload_device)`` and a ``manage(module, load_device, offload_device)`` that wraps the network for it
(nodes/comfy_adapter.manage_module); it then moves the weights to the load device before separating.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ...generators.biggan.store import SharedModels
from ...generators.devices import resolve_device
from ...memory import return_memory_when_freed
from ..neural import MODEL_CALLS
from .config import HTDemucsConfig
from .model import HTDemucs, build_htdemucs
from .store import locate_model, model_identity, read_model_file

SHARED_HTDEMUCS = SharedModels()


@dataclasses.dataclass
class DemucsHandle:
    """``model`` (eval mode, float32) with its ``name``, the ``identity`` of its weights (the stem cache's key),
    the ``device`` its weights are on, and ComfyUI's ``patcher`` when ComfyUI manages it."""

    model: HTDemucs
    name: str
    identity: str
    device: object
    patcher: object = None

    @property
    def config(self) -> HTDemucsConfig:
        return self.model.config

    @property
    def sources(self) -> tuple:
        return tuple(self.config.sources)

    def segment_bytes(self) -> int:
        """A rough upper bound of the device memory one segment needs beyond the weights (activations of the
        first spectrogram layers and the transformer's tokens), for a model manager to free first."""
        config = self.config
        bins, frames = config.nfft // 2, config.segment_samples // config.hop_length + 1
        return int(4 * (12 * config.channels * bins * frames + 16 * config.segment_samples * len(config.sources)))

    def runner(self):
        """``run(window float32 [channels, segment]) -> float32 [sources, channels, segment]`` on ``device``,
        counted in neural.MODEL_CALLS."""
        import torch

        device = torch.device(self.device)

        def run(window):
            with torch.inference_mode():
                out = self.model(torch.from_numpy(window)[None].to(device))[0]
            MODEL_CALLS.add(1)
            return out.float().cpu().numpy()

        return run


def handle_for_network(model: HTDemucs, name: str = "random", identity: str | None = None) -> DemucsHandle:
    """A handle on a network built in memory (random weights in tests and benchmarks)."""
    device = next(model.parameters()).device
    return DemucsHandle(model, name, identity or f"memory:{id(model)}", device)


def load_shared_htdemucs(choice, search_dirs, *, device="auto", host_devices=None, manage=None,
                         allow_download: bool = False, on_progress=None, url_base: str | None = None) -> DemucsHandle:
    """The model a list entry names (downloaded first when missing and ``allow_download``), loaded strictly from its
    file, one shared copy per (file version, devices) while anyone holds it.

    ``host_devices``: ``(load_device, offload_device)`` of an application placing models (ComfyUI): "auto" means its
    load device, and the weights are loaded onto the offload device for it to move (``manage`` wraps them)."""
    import torch

    search_dirs = [Path(d) for d in search_dirs]
    name, path = locate_model(choice, search_dirs, allow_download=allow_download, on_progress=on_progress,
                              url_base=url_base)
    load_device = resolve_device(device, host_devices[0] if host_devices else None)
    storage = load_device if host_devices is None or load_device.type == "cpu" else torch.device(host_devices[1])
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size, str(load_device), str(storage))

    def load():
        config, state = read_model_file(path)
        model = build_htdemucs(config, "meta")
        model.load_state_dict(state, strict=True, assign=True)
        model = model.to(storage).eval().requires_grad_(False)
        return_memory_when_freed(model)
        patcher = manage(model, load_device, storage) if manage is not None else None
        return DemucsHandle(model, name, model_identity(name, search_dirs), storage, patcher)

    return SHARED_HTDEMUCS.get(key, load)
