"""Beat This! checkpoints on disk: which tracker choice needs which file, where it is looked for, its download,
safe and strict reading, and one shared loaded copy per file and device.

The published checkpoints are PyTorch Lightning files (``torch.save`` of a dict: ``state_dict`` with the network's
tensors under ``model.``, ``hyper_parameters`` with the architecture, and a few plain entries). They are read with
``torch.load(weights_only=True)``: tensors and plain containers only, any other global the pickle names is refused
before anything is called. Every key and shape is then checked against the architecture of the file's own
hyper-parameters; the first mismatch is named.

Where: ``models/beat_this`` (registered with ComfyUI; outside ComfyUI ``$AUDIOWALK_HOME/models/beat_this``),
as ``final0.ckpt`` / ``small0.ckpt`` (the published names) or ``beat_this-final0.ckpt`` (the name the beat_this
package caches it under).
"""
from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AudioWalkInputError
from ..model_download import download_file, download_label, name_from_choice
from ..weights_report import mismatch_parts
from .config import BeatThisConfig

MODEL_KIND = "beat_this"
INPUT_NAME = "beat_tracker"
DSP = "dsp"
# The published share (the beat_this package's own download address). Override the base for mirrors and tests.
DEFAULT_URL_BASE = "https://cloud.cp.jku.at/public.php/dav/files/7ik4RrBKTS273gp"
URL_BASE_ENV = "AUDIOWALK_BEAT_THIS_URL_BASE"


@dataclass(frozen=True)
class PublishedCheckpoint:
    """A published checkpoint: ``name`` (file ``<name>.ckpt``), ``size_bytes`` of the file, ``config``.

    Sizes: the bytes of the architecture's tensors plus about 45.7 KB of pickle framing; the file sizes (and the
    SHA-256 digests in docs/music_map.md) are those third-party manifests record for the share, consistent with
    the beat_this README ("about 78 MB", "about 8.1 MB", in MiB); they could not be fetched from here."""

    name: str
    size_bytes: int
    config: BeatThisConfig = field(default_factory=BeatThisConfig)

    @property
    def file_name(self) -> str:
        return f"{self.name}.ckpt"


PUBLISHED = {"final0": PublishedCheckpoint("final0", 81_058_141),
             "small0": PublishedCheckpoint("small0", 8_451_101, BeatThisConfig(transformer_dim=128))}
# beat_tracker choice -> checkpoint ("dsp" needs none)
TRACKER_CHECKPOINTS = {"beat_this": "final0", "beat_this_small": "small0"}


def default_search_dirs() -> list[Path]:
    """Where checkpoints are looked for outside ComfyUI: ``$AUDIOWALK_HOME/models/beat_this``."""
    from ..paths import audiowalk_home

    return [audiowalk_home() / "models" / MODEL_KIND]


def checkpoint_path(checkpoint: str, search_dirs) -> Path | None:
    """The first ``<checkpoint>.ckpt`` or ``beat_this-<checkpoint>.ckpt`` in ``search_dirs``, else None."""
    for folder in search_dirs:
        for name in (f"{checkpoint}.ckpt", f"beat_this-{checkpoint}.ckpt"):
            path = Path(folder) / name
            if path.is_file():
                return path
    return None


def tracker_choices(choices, search_dirs) -> list[str]:
    """The widget's entries: each neural tracker whose checkpoint is not on disk gets its download mark
    (``"beat_this (download, 81 MB)"``)."""
    entries = []
    for choice in choices:
        checkpoint = TRACKER_CHECKPOINTS.get(choice)
        if checkpoint is None or checkpoint_path(checkpoint, search_dirs) is not None:
            entries.append(choice)
        else:
            entries.append(download_label(choice, PUBLISHED[checkpoint].size_bytes))
    return entries


def published_url(checkpoint: str, url_base: str | None = None) -> str:
    base = (url_base or os.environ.get(URL_BASE_ENV) or DEFAULT_URL_BASE).rstrip("/")
    return f"{base}/{checkpoint}.ckpt"


def missing_message(checkpoint: str, search_dirs) -> str:
    """What to put where (the ``expected`` part of the offline error)."""
    folder = Path(search_dirs[0]) if search_dirs else Path("models") / MODEL_KIND
    published = PUBLISHED[checkpoint]
    return (f"the file {published.file_name} (about {round(published.size_bytes / 1e6)} MB, from "
            f"{published_url(checkpoint)}) in {folder}, or beat_tracker dsp (no weights)")


def check_tracker_choice(choice, search_dirs, allow_download: bool = True) -> str:
    """The tracker name of a widget entry (download mark removed) when it can run: "dsp", or a neural tracker
    whose checkpoint is on disk or may be downloaded. Else AudioWalkInputError naming ``beat_tracker`` and saying
    which file to put where (nothing is loaded)."""
    name = name_from_choice(choice)
    if name == DSP:
        return name
    if name not in TRACKER_CHECKPOINTS:
        raise AudioWalkInputError(INPUT_NAME, f"{choice!r} is not a beat tracker",
                                  "one of " + ", ".join((DSP,) + tuple(TRACKER_CHECKPOINTS)))
    checkpoint = TRACKER_CHECKPOINTS[name]
    if checkpoint_path(checkpoint, search_dirs) is None and not allow_download:
        raise AudioWalkInputError(INPUT_NAME, f"{name} needs {PUBLISHED[checkpoint].file_name}, which is not in "
                                  f"{', '.join(map(str, search_dirs))}, and allow_download is off",
                                  missing_message(checkpoint, search_dirs))
    return name


def locate_checkpoint(name: str, search_dirs, *, allow_download: bool = True, on_progress=None,
                      url_base: str | None = None) -> Path:
    """The checkpoint file of tracker ``name``, downloaded into ``search_dirs[0]`` first when missing and
    ``allow_download`` (progress ``on_progress(done_bytes, total_bytes)``); AudioWalkInputError otherwise."""
    from .network import state_dict_shapes

    search_dirs = [Path(d) for d in search_dirs]
    name = check_tracker_choice(name, search_dirs, allow_download)
    checkpoint = TRACKER_CHECKPOINTS[name]
    found = checkpoint_path(checkpoint, search_dirs)
    if found is None and search_dirs:
        url = published_url(checkpoint, url_base)
        published = PUBLISHED[checkpoint]
        tensor_bytes = sum(4 * _numel(shape) for shape in state_dict_shapes(published.config).values())
        try:
            found = download_file(url, search_dirs[0] / published.file_name, input_name=INPUT_NAME,
                                  min_bytes=tensor_bytes, on_progress=on_progress)
        except AudioWalkInputError:
            raise
        except Exception as exc:  # noqa: BLE001 - offline, DNS, HTTP errors
            raise AudioWalkInputError(INPUT_NAME, f"{name} needs {published.file_name}, which is not in "
                                      f"{', '.join(map(str, search_dirs))} and could not be downloaded ({exc})",
                                      missing_message(checkpoint, search_dirs)) from exc
    if found is None:
        raise AudioWalkInputError(INPUT_NAME, f"{name}: no folder to look in", missing_message(checkpoint, []))
    return found


def _numel(shape) -> int:
    count = 1
    for size in shape:
        count *= int(size)
    return count


def read_checkpoint(path) -> tuple[BeatThisConfig, dict]:
    """``(config, state dict)`` of a Beat This! Lightning checkpoint, read weights-only (nothing in it runs) and
    checked strictly (:func:`check_state`)."""
    import torch

    path = Path(path)
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - refused global, truncated file, not a checkpoint
        first_line = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise AudioWalkInputError(INPUT_NAME, f"{path} cannot be read as a weights-only checkpoint "
                                  f"({type(exc).__name__}: {first_line}); nothing in it was run",
                                  "a complete Beat This! checkpoint (.ckpt) holding tensors only") from None
    if not isinstance(data, dict) or not isinstance(data.get("state_dict"), dict):
        raise AudioWalkInputError(INPUT_NAME, f"{path} holds no 'state_dict'",
                                  "a Beat This! Lightning checkpoint (state_dict, hyper_parameters)")
    hyper = data.get("hyper_parameters") or {}
    if not isinstance(hyper, dict):
        raise AudioWalkInputError(INPUT_NAME, f"{path}: hyper_parameters is a {type(hyper).__name__}",
                                  "a dict of the network's sizes")
    try:
        config = BeatThisConfig.from_hyper_parameters(hyper).check()
    except (TypeError, ValueError) as exc:
        raise AudioWalkInputError(INPUT_NAME, f"{path}: hyper_parameters describe no Beat This! network ({exc})",
                                  "the sizes of a published checkpoint") from None
    state = {}
    for key, value in data["state_dict"].items():
        key = str(key)
        key = key[len("model."):] if key.startswith("model.") else key
        state[key.replace("_orig_mod.", "")] = value
    return config, check_state(config, state, path)


def check_state(config: BeatThisConfig, state: dict, source) -> dict:
    """``state`` when every key of ``config``'s network is there with its shape and nothing else is; else
    AudioWalkInputError naming ``source`` and the first missing, unexpected or misshaped key."""
    import torch

    from .network import state_dict_shapes

    expected = state_dict_shapes(config)
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected or not isinstance(state[key], torch.Tensor)]
    misshaped = [key for key in expected if key in state and isinstance(state[key], torch.Tensor)
                 and tuple(state[key].shape) != expected[key]]
    problems = mismatch_parts(missing, unexpected, misshaped, {k: tuple(v.shape) for k, v in state.items()
                                                                if isinstance(v, torch.Tensor)}, expected)
    if problems:
        raise AudioWalkInputError(INPUT_NAME, f"{source} does not match the Beat This! network of its "
                                  f"hyper_parameters ({config.transformer_dim} wide, {config.n_layers} layers): "
                                  + "; ".join(problems), "a published Beat This! checkpoint")
    return {key: state[key] for key in expected}


@dataclass
class BeatTracker:
    """A loaded Beat This! network: ``name`` (its checkpoint), ``network`` (eval mode, float32), ``device`` where
    its weights are, ``patcher`` (ComfyUI's ModelPatcher around it, or None)."""

    name: str
    network: object
    device: object
    patcher: object = None

    def inference_bytes(self, chunks_per_batch: int = 1) -> int:
        """Device memory one forward pass of ``chunks_per_batch`` chunks needs beside the weights (an upper
        estimate: the widest activations, 1500 frames x 32 bands x 32 channels x 4 (feed-forward) in float32,
        a few times over)."""
        return int(chunks_per_batch) * 8 * 1500 * 32 * 32 * 4 * 4

    def beats_of(self, mono_between, num_samples: int, sample_rate: int, on_progress=None, device=None):
        """NeuralBeats of a song read by ``mono_between(first, stop)`` (float32 mono samples, ``num_samples`` at
        ``sample_rate``): the log-mel spectrogram, the network chunk by chunk on ``device`` (default: where
        the weights are now; CUDA runs 4 chunks per pass), the minimal post-processing."""
        from .inference import track_beats
        from .spectrogram import log_mel_spectrogram

        spect = log_mel_spectrogram(mono_between, num_samples, sample_rate)
        device = device or next(self.network.parameters()).device  # where a model manager put it
        per_batch = 4 if getattr(device, "type", str(device)) == "cuda" else 1
        return track_beats(self.network, spect, device, per_batch, on_progress)


_SHARED = weakref.WeakValueDictionary()
_LOCK = threading.RLock()


def load_beat_tracker(choice, search_dirs, *, allow_download: bool = True, device="auto", host_devices=None,
                      manage=None, on_progress=None, url_base: str | None = None) -> BeatTracker | None:
    """The tracker of a ``beat_tracker`` entry: None for "dsp", else one shared BeatTracker per (file version,
    devices) while held, its checkpoint located (or downloaded) and read strictly first. ``host_devices``:
    ``(load_device, offload_device)`` of an application placing models (ComfyUI): "auto" is its load device, the
    weights go to its offload device and ``manage(network, load_device, offload_device)`` returns its patcher."""
    import torch

    from ..generators.devices import resolve_device
    from .network import BeatThisNetwork

    search_dirs = [Path(d) for d in search_dirs]
    name = check_tracker_choice(choice, search_dirs, allow_download)
    if name == DSP:
        return None
    path = locate_checkpoint(name, search_dirs, allow_download=allow_download, on_progress=on_progress,
                             url_base=url_base)
    load_device = resolve_device(device, host_devices[0] if host_devices else None)
    storage = load_device if host_devices is None or load_device.type == "cpu" else torch.device(host_devices[1])
    stat = os.stat(path)
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(load_device), str(storage))
    with _LOCK:
        tracker = _SHARED.get(key)
        if tracker is None:
            config, state = read_checkpoint(path)
            network = BeatThisNetwork(config)
            network.load_state_dict(state, strict=True)
            network = network.eval().requires_grad_(False).to(storage)
            patcher = manage(network, load_device, storage) if manage is not None else None
            tracker = BeatTracker(TRACKER_CHECKPOINTS[name], network, storage, patcher)
            _SHARED[key] = tracker
    return tracker
