"""BigGAN-deep: strict, safe loading of real checkpoints, download of the published files, conversion to a single
safetensors file, random-weight models with the real architecture, and batched frame generation.

Architecture: ``pytorch_pretrained_biggan.BigGAN`` (the port of DeepMind's TF-Hub BigGAN-deep used by the seed).
Its own ``from_pretrained`` unpickles with full ``torch.load`` and loads with ``strict=False``, so a wrong file
silently leaves random weights. Here every key and shape must match, pickles load with ``weights_only=True``, and
the safetensors layout carries its config in the file's metadata.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import AudioWalkInputError, require_choice
from .paths import atomic_output, copy_stream

BIGGAN_MODELS = ("biggan-deep-128", "biggan-deep-256", "biggan-deep-512")
OUTPUT_MAPPINGS = ("fixed", "per_frame_minmax")
DTYPES = ("auto", "float32", "float16", "bfloat16")
DEVICES = ("auto", "cpu", "cuda", "mps")
# The original published files (the same URLs pytorch_pretrained_biggan uses). Override the base for mirrors/tests.
DEFAULT_URL_BASE = "https://s3.amazonaws.com/models.huggingface.co/biggan"
URL_BASE_ENV = "AUDIOWALK_BIGGAN_URL_BASE"
WEIGHTS_FILE, CONFIG_FILE = "pytorch_model.bin", "config.json"
_CONFIG_METADATA_KEY = "biggan_config"


@dataclass
class BigGANHandle:
    """A loaded generator: ``model`` (eval, on ``device`` in ``dtype``), its ``config`` dict, ``resolution`` (px),
    ``model_name`` and ``source`` (the file it came from)."""

    model: object
    config: dict
    model_name: str
    resolution: int
    device: object
    dtype: object
    source: str = ""


def builtin_config(model_name: str) -> dict:
    """The published config.json of a biggan-deep model (shipped with the pack)."""
    if model_name not in BIGGAN_MODELS:
        raise AudioWalkInputError("model_name", f"{model_name!r} is not a known BigGAN",
                                  "one of " + ", ".join(BIGGAN_MODELS))
    text = resources.files(__package__).joinpath("data", "biggan", f"{model_name}.json").read_text()
    return json.loads(text)


def tiny_config(channel_width: int = 4) -> dict:
    """A small config of the same architecture (for tests): 4 -> 32 px in three up-sampling blocks, channels
    16 -> 1 (x ``channel_width``) halving as the real ones do, attention at 16 px."""
    layers = [[False, 16, 8], [True, 8, 4], [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1]]
    return {"output_dim": 32, "z_dim": 128, "class_embed_dim": 128, "channel_width": channel_width,
            "num_classes": 1000, "layers": layers, "attention_layer_position": 4, "eps": 1e-4, "n_stats": 51}


def _architecture(config: dict):
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    settings = dict(config)
    settings["layers"] = [tuple(layer) for layer in settings["layers"]]
    return BigGAN(BigGANConfig.from_dict(settings))


def build_random_biggan(model_name_or_config, seed: int = 0):
    """A BigGAN with random weights and the real architecture (``model_name`` or a config dict), initialised
    deterministically from ``seed``: conv/linear weights N(0, 0.02), identity batch-norm statistics."""
    import torch

    config = builtin_config(model_name_or_config) if isinstance(model_name_or_config, str) \
        else dict(model_name_or_config)
    generator = torch.Generator().manual_seed(int(seed))
    model = _architecture(config)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_means") or name.endswith("bias"):
                tensor.zero_()
            elif name.endswith("running_vars") or (name.endswith(".weight") and tensor.ndim == 1):
                tensor.fill_(1.0)
            elif name.endswith("weight_u") or name.endswith("weight_v"):
                continue  # set below from the weight they normalise
            elif tensor.is_floating_point():
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.02)
        state = model.state_dict()
        for name in [key for key in state if key.endswith("weight_orig")]:
            # the stored singular vectors of a trained model: power iteration on the random weight
            matrix = state[name].reshape(state[name].shape[0], -1)
            v = torch.nn.functional.normalize(torch.randn(matrix.shape[1], generator=generator), dim=0)
            for _ in range(30):
                u = torch.nn.functional.normalize(matrix @ v, dim=0)
                v = torch.nn.functional.normalize(matrix.T @ u, dim=0)
            state[name[:-len("orig")] + "u"].copy_(u)
            state[name[:-len("orig")] + "v"].copy_(v)
    model.config_dict = config
    return model.eval()


def save_biggan_safetensors(model, config: dict, path) -> Path:
    """Write ``model``'s state dict and ``config`` (in the metadata) as one .safetensors file, atomically."""
    from safetensors.torch import save_file

    config = config if isinstance(config, dict) else dict(vars(config))
    state = {key: value.detach().contiguous().cpu() for key, value in model.state_dict().items()}
    path = Path(path)
    with atomic_output(path) as temporary:
        save_file(state, str(temporary), metadata={_CONFIG_METADATA_KEY: json.dumps(config)})
    return path


def convert_to_safetensors(src_dir, dst_file) -> Path:
    """Convert the original layout (``config.json`` + ``pytorch_model.bin`` in ``src_dir``) into a single
    .safetensors file carrying its config; the weights are checked strictly first."""
    src_dir = Path(src_dir)
    config = _read_config(src_dir / CONFIG_FILE)
    state = _read_pickled_weights(src_dir / WEIGHTS_FILE)
    model = _architecture(config)
    _load_strict(model, state, src_dir / WEIGHTS_FILE)
    return save_biggan_safetensors(model, config, dst_file)


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(Path(path).read_text())
        if not isinstance(config, dict) or "layers" not in config:
            raise ValueError("no 'layers' entry")
        return config
    except (OSError, ValueError) as exc:
        raise AudioWalkInputError("model_name", f"{path} is not a BigGAN config.json ({exc})",
                                  "the config.json published with the model") from exc


def _read_pickled_weights(path: Path) -> dict:
    import torch

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated file, foreign pickle, not a checkpoint
        raise AudioWalkInputError(
            "model_name", f"{path} cannot be read as a weights-only PyTorch checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''})",
            "the original pytorch_model.bin (complete download, tensors only)") from exc
    if not isinstance(state, dict):
        raise AudioWalkInputError("model_name", f"{path} holds a {type(state).__name__}, not a state dict",
                                  "a state dict of tensors")
    return state


def _read_safetensors(path: Path) -> tuple[dict, dict]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # noqa: BLE001 - truncated or foreign file
        raise AudioWalkInputError("model_name", f"{path} is not a readable .safetensors file ({exc})",
                                  "a complete BigGAN .safetensors file (convert the original with "
                                  "`audiowalk convert-biggan`)") from exc
    if _CONFIG_METADATA_KEY not in metadata:
        raise AudioWalkInputError("model_name", f"{path} carries no BigGAN config in its metadata",
                                  f"a file written by AudioWalk (metadata key {_CONFIG_METADATA_KEY!r})")
    return state, json.loads(metadata[_CONFIG_METADATA_KEY])


def _load_strict(model, state: dict, path) -> None:
    """Copy ``state`` into ``model``: every key present, none extra, every shape equal; else a clear error."""
    import torch

    expected = model.state_dict()
    not_tensors = sorted(key for key, value in state.items() if not isinstance(value, torch.Tensor))
    state = {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}
    # Spectral-norm dicts written by torch < 1.0 hold "<x>.weight" instead of "<x>.weight_v"; torch converts them
    # on load (SpectralNormLoadStateDictPreHook), so that pair counts as present.
    legacy = {key[:-len("_v")] for key in expected if key.endswith(".weight_v") and key not in state
              and key[:-len("_v")] in state and key[:-len("_v")] + "_orig" in state}
    missing = sorted(set(expected) - set(state) - {key + "_v" for key in legacy})
    unexpected = sorted(set(state) - set(expected) - legacy) + not_tensors
    wrong_shape = sorted(key for key in set(expected) & set(state)
                         if tuple(expected[key].shape) != tuple(state[key].shape))
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        if wrong_shape:
            key = wrong_shape[0]
            parts.append(f"{len(wrong_shape)} keys of the wrong shape (e.g. {key}: file "
                         f"{tuple(state[key].shape)}, model {tuple(expected[key].shape)})")
        raise AudioWalkInputError("model_name", f"{path} does not match the BigGAN architecture of its config: "
                                  + "; ".join(parts), "the weights published for this model")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise AudioWalkInputError("model_name", f"{path} does not load ({str(exc)[:300]})",
                                  "the weights published for this model") from exc


def find_model_files(model_name: str, search_dirs) -> tuple[str, Path] | None:
    """``("safetensors", file)`` or ``("original", folder)`` for the first layout found, else None.

    Looks for ``<dir>/<model_name>.safetensors`` then ``<dir>/<model_name>/{config.json, pytorch_model.bin}``.
    """
    for directory in search_dirs:
        directory = Path(directory)
        single = directory / f"{model_name}.safetensors"
        if single.is_file():
            return "safetensors", single
        folder = directory / model_name
        if (folder / CONFIG_FILE).is_file() and (folder / WEIGHTS_FILE).is_file():
            return "original", folder
    return None


def published_urls(model_name: str, url_base: str | None = None) -> dict:
    """``{file name: URL}`` of the original published files of ``model_name``."""
    base = (url_base or os.environ.get(URL_BASE_ENV) or DEFAULT_URL_BASE).rstrip("/")
    return {CONFIG_FILE: f"{base}/{model_name}-config.json", WEIGHTS_FILE: f"{base}/{model_name}-pytorch_model.bin"}


def _payload_bytes(config: dict) -> int:
    """Bytes of float32 tensors in the state dict of ``config``'s architecture: a lower bound for the file size."""
    import torch

    with torch.device("meta"):
        model = _architecture(config)
    return sum(tensor.numel() * 4 for tensor in model.state_dict().values())


def download_model(model_name: str, target_dir, *, url_base: str | None = None, on_progress=None,
                   timeout_s: float = 30.0) -> Path:
    """Download the published config.json and pytorch_model.bin into ``target_dir/<model_name>/``.

    The config must describe the known architecture of ``model_name``; the weights stream to a temporary name, must
    match the server's Content-Length and hold at least the tensor bytes of the architecture, and are renamed only
    when complete; the config is written last. ``on_progress(done_bytes, total_bytes)`` follows the weights.
    Returns the folder.
    """
    import urllib.request

    known = builtin_config(model_name)
    urls = published_urls(model_name, url_base)
    folder = Path(target_dir) / model_name
    with urllib.request.urlopen(urls[CONFIG_FILE], timeout=timeout_s) as response:
        try:
            published = json.loads(response.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise AudioWalkInputError("model_name", f"{urls[CONFIG_FILE]} is not JSON ({exc})",
                                      "the published config.json") from exc
    differing = sorted(key for key in ("output_dim", "z_dim", "channel_width", "num_classes", "layers",
                                       "attention_layer_position", "n_stats")
                       if json.dumps(published.get(key) if isinstance(published, dict) else None)
                       != json.dumps(known[key]))
    if differing:
        raise AudioWalkInputError("model_name", f"{urls[CONFIG_FILE]} differs from the {model_name} architecture "
                                  f"in {', '.join(differing)}", "the published config of this model")
    min_bytes = _payload_bytes(known)
    url = urls[WEIGHTS_FILE]
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        expected = int(response.headers.get("Content-Length") or 0)
        if expected and expected < min_bytes:
            raise AudioWalkInputError("model_name", f"{url} has {expected} bytes, fewer than the {min_bytes} bytes "
                                      f"of weights {model_name} needs", "the published weights of this model")
        with atomic_output(folder / WEIGHTS_FILE) as temporary:
            report = (lambda done: on_progress(done, expected or max(done, min_bytes))) if on_progress else None
            done = copy_stream(response, temporary, report)
            if (expected and done != expected) or done < min_bytes:
                raise AudioWalkInputError("model_name", f"download of {url} stopped at {done} bytes (announced "
                                          f"{expected or 'nothing'}, at least {min_bytes} needed)",
                                          "a complete download (try again)")
    with atomic_output(folder / CONFIG_FILE) as temporary:
        temporary.write_text(json.dumps(published, indent=2), encoding="utf-8")
    return folder


def _missing_model_message(model_name: str, search_dirs) -> str:
    urls = published_urls(model_name)
    first = Path(search_dirs[0]) if search_dirs else Path("models/biggan")
    return (f"{model_name}.safetensors in {first}, or the original files {first / model_name / CONFIG_FILE} "
            f"(from {urls[CONFIG_FILE]}) and {first / model_name / WEIGHTS_FILE} (from {urls[WEIGHTS_FILE]})")


def resolve_device(device="auto", host_device=None):
    """The one device policy: a torch.device for "auto", "cpu", "cuda" or "mps" (a torch.device is kept as given).

    "auto" is ``host_device`` when an application that manages models gives one (inside ComfyUI: its model
    management's device, which follows ``--cpu``; see nodes/comfy_adapter.model_devices), otherwise CUDA, then MPS,
    then CPU. An explicit choice that this machine lacks is an error."""
    import torch

    if isinstance(device, torch.device):
        return device
    require_choice("device", device, DEVICES)
    if device == "auto":
        if host_device is not None:
            return torch.device(host_device)
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise AudioWalkInputError("device", "CUDA is not available on this machine", "auto, cpu or mps")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise AudioWalkInputError("device", "MPS is not available on this machine", "auto, cpu or cuda")
    return torch.device(device)


def cpu_has_fast_bfloat16() -> bool:
    """True on CPUs with AMX tiles (Intel Sapphire Rapids and later), where oneDNN runs bfloat16 convolutions
    several times faster than float32 (bench/bench_biggan.py: 4.5x the seed's way against 1.7x in float32)."""
    import torch

    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except Exception:  # noqa: BLE001 - a private probe; absent or failing means no
        return False


def resolve_dtype(dtype, device):
    """torch dtype for "auto": bfloat16 on CUDA with bf16 support, float16 on other CUDA and MPS, bfloat16 on CPUs
    with AMX, float32 on other CPUs (a torch.dtype is kept as given)."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    require_choice("dtype", dtype, DTYPES)
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return torch.bfloat16 if cpu_has_fast_bfloat16() else torch.float32
    return getattr(torch, dtype)


def load_biggan(model_name: str, search_dirs, *, dtype: str = "auto", device: str = "auto",
                allow_download: bool = True, on_progress=None, url_base: str | None = None) -> BigGANHandle:
    """Load ``model_name`` from the first of ``search_dirs`` that has it (safetensors or original layout).

    Missing and ``allow_download``: the published files are downloaded into ``search_dirs[0]``. Offline or not
    allowed: AudioWalkInputError saying which files to put where. Wrong or truncated files are refused.
    The spectral norms are folded into plain weights after the strict load (same outputs, faster forward).
    """
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    model_name, layout, path = locate_biggan(model_name, search_dirs, allow_download=allow_download,
                                             on_progress=on_progress, url_base=url_base)
    return load_biggan_files(layout, path, model_name=model_name, dtype=torch_dtype, device=torch_device)


def locate_biggan(model_name: str, search_dirs, *, allow_download: bool = True, on_progress=None,
                  url_base: str | None = None) -> tuple[str, str, Path]:
    """``(model_name, layout, path)`` of ``model_name`` (a name, or a file name ending in .safetensors) on disk, as
    ``find_model_files`` gives it; a missing published model is downloaded first when ``allow_download``.
    AudioWalkInputError for a bad name, or saying which files to put where."""
    search_dirs = [Path(d) for d in search_dirs]
    model_name = str(model_name)
    if model_name.endswith(".safetensors"):  # a file name picked from the folder listing
        model_name = model_name[: -len(".safetensors")]
    if not model_name or Path(model_name).name != model_name or model_name.startswith("."):
        raise AudioWalkInputError("model_name", f"{model_name!r} is not a model name",
                                  "one of " + ", ".join(BIGGAN_MODELS) + " or a .safetensors file in models/biggan")
    found = find_model_files(model_name, search_dirs)
    if found is None and model_name in BIGGAN_MODELS and allow_download and search_dirs:
        try:
            download_model(model_name, search_dirs[0], url_base=url_base, on_progress=on_progress)
        except AudioWalkInputError:
            raise
        except Exception as exc:  # noqa: BLE001 - offline, DNS, HTTP errors
            raise AudioWalkInputError("model_name", f"{model_name} is not in {', '.join(map(str, search_dirs))} "
                                      f"and could not be downloaded ({exc})",
                                      _missing_model_message(model_name, search_dirs)) from exc
        found = find_model_files(model_name, search_dirs)
    if found is None:
        raise AudioWalkInputError("model_name", f"{model_name} is not in {', '.join(map(str, search_dirs))}",
                                  _missing_model_message(model_name, search_dirs))
    return (model_name,) + tuple(found)


def load_biggan_files(layout: str, path, *, model_name: str = "", dtype="auto", device="auto") -> BigGANHandle:
    """A ready ``BigGANHandle`` from files ``locate_biggan`` found (``layout`` "safetensors" or "original")."""
    path = Path(path)
    if layout == "safetensors":
        state, config = _read_safetensors(path)
        source = path
    else:
        config = _read_config(path / CONFIG_FILE)
        state = _read_pickled_weights(path / WEIGHTS_FILE)
        source = path / WEIGHTS_FILE
    model = _architecture(config)
    _load_strict(model, state, source)
    del state
    return handle_from_model(model, config, model_name=model_name, dtype=dtype, device=device, source=str(source))


def handle_from_model(model, config: dict, *, model_name: str = "", dtype="auto", device="auto",
                      source: str = "", channels_last: bool = True) -> BigGANHandle:
    """A ready ``BigGANHandle`` from a BigGAN module (loaded or ``build_random_biggan``): spectral norms folded
    into plain weights, eval mode, no autograd, moved to ``device`` in ``dtype``. ``model`` is modified in place.

    ``channels_last``: conv weights (and so activations) in NHWC order, which oneDNN/cuDNN run faster; same
    results within float rounding (bench/bench_biggan.py: about 7x for bfloat16 on an AMX CPU)."""
    import torch

    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    _fold_spectral_norms(model)
    _fuse_for_inference(model)
    model = model.to(device=torch_device, dtype=torch_dtype).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.requires_grad_(False)
    return BigGANHandle(model=model, config=dict(config), model_name=model_name,
                        resolution=int(config["output_dim"]), device=torch_device, dtype=torch_dtype, source=source)


def _fused_batch_norm_relu(self, x, truncation, condition_vector=None):
    """BigGANBatchNorm followed by ReLU in two passes over ``x`` (the library's forward makes five, then ReLU):
    the truncation's statistics, the class-conditional gain and bias fold into one per-sample, per-channel scale
    and shift."""
    import torch

    position = truncation / self.step_size
    low = int(position)
    fraction = position - low
    if fraction != 0.0:  # the library's interpolation between the two nearest stored truncations, as it does it
        mean = self.running_means[low] * fraction + self.running_means[low + 1] * (1 - fraction)
        var = self.running_vars[low] * fraction + self.running_vars[low + 1] * (1 - fraction)
    else:
        mean, var = self.running_means[low], self.running_vars[low]
    inverse_std = torch.rsqrt(var + self.eps)
    if self.conditional:
        scale = (1 + self.scale(condition_vector)) * inverse_std
        shift = self.offset(condition_vector) - mean * scale
    else:
        scale = (self.weight * inverse_std)[None]
        shift = (self.bias - mean * scale[0])[None]
    out = torch.addcmul(shift[:, :, None, None], x, scale[:, :, None, None])
    return out.clamp_min_(0.0)


def _residual_block_forward(self, x, cond_vector, truncation):
    """GenBlock.forward with the shortcut added in place: the up-sampled shortcut is broadcast into the output
    (a view of it as 2x2 pixel blocks) instead of being materialised by an interpolation and a new sum."""
    import torch.nn.functional as functional

    shortcut = x
    x = self.conv_0(self.bn_0(x, truncation, cond_vector))
    x = self.bn_1(x, truncation, cond_vector)
    if self.up_sample:
        x = functional.interpolate(x, scale_factor=2, mode="nearest")
    x = self.conv_1(x)
    x = self.conv_2(self.bn_2(x, truncation, cond_vector))
    x = self.conv_3(self.bn_3(x, truncation, cond_vector))
    if self.drop_channels:
        shortcut = shortcut[:, :shortcut.shape[1] // 2]
    if self.up_sample:
        batch, channels, height, width = x.shape
        blocks = x.view(batch, channels, height // 2, 2, width // 2, 2)
        blocks.add_(shortcut[:, :, :, None, :, None])
    else:
        x.add_(shortcut)
    return x


def _fuse_for_inference(model) -> None:
    """Same outputs, less work: every batch norm takes over the ReLU that follows it (all of BigGAN-deep's ReLUs
    follow one), and the final 3x3 convolution computes only the 3 channels that are kept (the library computes
    ``channel_width`` and drops the rest: a fifth of the FLOPs at 128 px)."""
    import types

    import torch

    generator = model.generator
    for module in model.modules():
        if type(module).__name__ == "BigGANBatchNorm":
            module.forward = types.MethodType(_fused_batch_norm_relu, module)
        elif type(module).__name__ in ("GenBlock", "Generator"):
            module.relu = torch.nn.Identity()
            if type(module).__name__ == "GenBlock":
                module.forward = types.MethodType(_residual_block_forward, module)
    full = generator.conv_to_rgb
    rgb = torch.nn.Conv2d(full.in_channels, 3, full.kernel_size, padding=full.padding, bias=full.bias is not None)
    with torch.no_grad():
        rgb.weight.copy_(full.weight[:3])
        if full.bias is not None:
            rgb.bias.copy_(full.bias[:3])
    generator.conv_to_rgb = rgb.to(full.weight.device, full.weight.dtype)


def _fold_spectral_norms(model) -> None:
    """Replace each spectral-normalised weight by its eval-mode value (W / sigma with the stored u, v)."""
    import torch
    from torch.nn.utils.spectral_norm import SpectralNorm

    for module in model.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, SpectralNorm):
                torch.nn.utils.remove_spectral_norm(module, name=hook.name)


def generate_frames(handle: BigGANHandle, latents, *, batch_size: int = 8, output_mapping: str = "fixed",
                    on_progress=None) -> Iterator:
    """Frames of ``latents`` (a WalkLatents or a slice of one), ``batch_size`` at a time.

    Yields float32 CPU tensors ``[B, H, W, 3]`` in [0, 1]. ``output_mapping`` "fixed" maps BigGAN's [-1, 1]
    output with (x + 1) / 2 (no flicker); "per_frame_minmax" stretches each frame to [0, 1] as the seed did.
    ``on_progress(done_frames, total_frames)`` runs after each batch (ComfyUI's callback raises on cancel).
    No autograd; the inputs of a batch are freed before the next.
    """
    import torch

    if output_mapping not in OUTPUT_MAPPINGS:
        raise AudioWalkInputError("output_mapping", f"{output_mapping!r} is unknown",
                                  "one of " + ", ".join(OUTPUT_MAPPINGS))
    if int(batch_size) < 1:
        raise AudioWalkInputError("batch_size", f"{batch_size!r} is below 1", "a batch size of at least 1")
    return _generate(handle, latents, int(batch_size), output_mapping, on_progress)


def _generate(handle: BigGANHandle, latents, batch_size: int, output_mapping: str, on_progress) -> Iterator:
    import torch

    total = latents.frame_count
    truncation = float(latents.truncation)
    model, device, dtype = handle.model, handle.device, handle.dtype
    with torch.inference_mode():
        for first in range(0, total, int(batch_size)):
            last = min(first + int(batch_size), total)
            noise = torch.from_numpy(np.ascontiguousarray(latents.noise[first:last])).to(device, dtype)
            classes = torch.from_numpy(latents.dense_class_weights(first, last)).to(device, dtype)
            images = model(noise, classes, truncation).float()
            if output_mapping == "fixed":
                images = ((images + 1.0) * 0.5).clamp_(0.0, 1.0)
            else:
                low = images.amin(dim=(1, 2, 3), keepdim=True)
                high = images.amax(dim=(1, 2, 3), keepdim=True)
                images = (images - low) / (high - low).clamp_min(1e-8)
            yield images.permute(0, 2, 3, 1).contiguous().cpu()
            del noise, classes, images
            if on_progress is not None:
                on_progress(last, total)


def count_flops_per_frame(handle_or_model, resolution: int | None = None) -> float:
    """Multiply-add FLOPs (2 per MAC) of one generated frame, counted with forward hooks on conv/linear layers
    and the attention's two batched matmuls."""
    import torch

    model = getattr(handle_or_model, "model", handle_or_model)
    macs = [0]

    def conv_hook(module, inputs, output):
        kernel = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
        macs[0] += output.numel() * kernel

    def linear_hook(module, inputs, output):
        macs[0] += output.numel() * module.weight.shape[1]

    hooks = []
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            hooks.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, torch.nn.Linear):
            hooks.append(module.register_forward_hook(linear_hook))
        elif type(module).__name__ == "SelfAttn":
            def attn_hook(module, inputs, output):
                _, channels, height, width = inputs[0].shape
                positions = height * width
                # theta^T phi: positions x positions/4 x C/8 ; attn x g: positions x positions/4 x C/2
                macs[0] += positions * (positions // 4) * (channels // 8 + channels // 2)
            hooks.append(module.register_forward_hook(attn_hook))
    try:
        parameter = next(model.parameters())
        with torch.inference_mode():
            model(torch.zeros(1, 128, dtype=parameter.dtype, device=parameter.device),
                  torch.zeros(1, 1000, dtype=parameter.dtype, device=parameter.device), 0.5)
    finally:
        for hook in hooks:
            hook.remove()
    return 2.0 * macs[0]

