"""BigGAN-deep generator: safe, strict loading of real checkpoints and fast batched frame generation.

Architecture: ``pytorch_pretrained_biggan`` (BigGAN, BigGANConfig). Its own ``from_pretrained`` unpickles with
``torch.load`` (arbitrary code) and loads with ``strict=False`` (a wrong file loads silently). Here:

- weights come from ``<dir>/<name>.safetensors`` (config JSON in the file's metadata) or from the original layout
  ``<dir>/<name>/config.json`` + ``pytorch_model.bin`` (read with ``torch.load(weights_only=True)``);
- every key and every shape must match the architecture of the config, otherwise ``AudioWalkInputError``;
- missing models are downloaded from the published URLs (streamed to a temp file, size-checked, renamed).

Shipped configs (``data/biggan/biggan-deep-{128,256,512}.json``): the library's BigGANConfig defaults are the 128
config; 256 and 512 add one resp. two (non-upsampling, upsampling) block pairs at channel multipliers 8 and 1, as in
the BigGAN-deep paper's architecture tables (Brock et al. 2019, appendix B). Parameter counts of the resulting models:
50,388,609 / 55,880,833 / 56,163,905, i.e. the published 50.4M / 55.9M / 56.2M; the attention position (64x64, index 8)
is also pinned by these counts (another position changes the count by ~0.25M).
"""
from __future__ import annotations

import json
import os
import pickle
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from .errors import AudioWalkInputError
from .paths import atomic_output

BIGGAN_MODELS = ("biggan-deep-128", "biggan-deep-256", "biggan-deep-512")
DEFAULT_URL_BASE = "https://s3.amazonaws.com/models.huggingface.co/biggan"
URL_BASE_ENV = "AUDIOWALK_BIGGAN_URL_BASE"
WEIGHTS_NAME = "pytorch_model.bin"
CONFIG_NAME = "config.json"
SAFETENSORS_CONFIG_KEY = "biggan_config"
DTYPES = ("auto", "float32", "float16", "bfloat16")
DEVICES = ("auto", "cpu", "cuda", "mps")
OUTPUT_MAPPINGS = ("fixed", "per_frame_minmax")
_CONFIG_DIR = Path(__file__).resolve().parent / "data" / "biggan"

# Smallest shape the architecture accepts: gen_z always makes 16*channel_width channels at 4x4, each channel change
# must halve (the skip path drops half the channels), the last block ends at channel_width (>= 3 RGB channels).
TINY_TEST_CONFIG = {
    "output_dim": 32, "z_dim": 128, "class_embed_dim": 128, "channel_width": 4, "num_classes": 1000,
    "layers": [[True, 16, 8], [True, 8, 4], [False, 4, 2], [True, 2, 1]],
    "attention_layer_position": 2, "eps": 1e-4, "n_stats": 51,
}

ProgressFn = Callable[[int, int], None]


def _biggan_lib():
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    return BigGAN, BigGANConfig


def load_config(model_name_or_config):
    """A ``BigGANConfig`` from a shipped model name (biggan-deep-128/256/512), a dict, or a config object."""
    _, BigGANConfig = _biggan_lib()
    if isinstance(model_name_or_config, BigGANConfig):
        return model_name_or_config
    if isinstance(model_name_or_config, dict):
        return BigGANConfig.from_dict(json.loads(json.dumps(model_name_or_config)))
    if model_name_or_config not in BIGGAN_MODELS:
        raise AudioWalkInputError("model_name", f"{model_name_or_config!r} is not a known BigGAN model",
                                  f"one of {', '.join(BIGGAN_MODELS)}")
    return BigGANConfig.from_json_file(str(_CONFIG_DIR / f"{model_name_or_config}.json"))


def _config_dict(config) -> dict:
    return json.loads(json.dumps(config.to_dict()))


def build_random_biggan(model_name_or_config, seed: int):
    """A BigGAN with the real architecture and random weights, identical for the same ``seed`` (CPU, float32, eval).

    Uninitialised tensors of the library (unconditional batch-norm weight/bias) and the batch-norm statistics get
    plausible random values; attention gains are non-zero so the attention path is exercised.
    """
    BigGAN, _ = _biggan_lib()
    config = load_config(model_name_or_config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = BigGAN(config)
        with torch.no_grad():
            for name, tensor in model.named_parameters():
                if name.endswith("gamma"):
                    tensor.fill_(0.2)
                elif name == "generator.bn.weight":
                    tensor.uniform_(0.8, 1.2)
                elif name == "generator.bn.bias":
                    tensor.uniform_(-0.1, 0.1)
            for module in model.modules():  # converge spectral-norm vectors: weights get spectral norm 1
                if hasattr(module, "weight_orig"):
                    matrix = module.weight_orig.reshape(module.weight_orig.shape[0], -1)
                    u = module.weight_u
                    for _ in range(30):
                        v = torch.nn.functional.normalize(matrix.t() @ u, dim=0, eps=1e-12)
                        u = torch.nn.functional.normalize(matrix @ v, dim=0, eps=1e-12)
                    module.weight_u.copy_(u)
                    module.weight_v.copy_(v)
            for name, buffer in model.named_buffers():
                if name.endswith("running_means"):
                    buffer.normal_(0.0, 0.1)
                elif name.endswith("running_vars"):
                    buffer.uniform_(0.5, 1.5)
    return model.eval()


def _payload_bytes(model) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


# ----------------------------------------------------------------------------------------------------------- files
def _check_state_dict(model, state_dict: dict, source: Path) -> None:
    """Every key and shape of ``model`` present in ``state_dict`` and nothing else (legacy spectral-norm dicts that
    carry ``<x>.weight`` instead of ``<x>.weight_v`` are accepted: torch converts them on load)."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    given = {k: tuple(v.shape) for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    not_tensors = sorted(k for k, v in state_dict.items() if not isinstance(v, torch.Tensor))
    legacy = {k[:-len("_v")] for k in expected if k.endswith(".weight_v") and k not in given
              and k[:-len("_v")] in given}
    missing = sorted(k for k in expected if k not in given and k[:-len("_v")] not in legacy)
    unexpected = sorted(k for k in given if k not in expected and k not in legacy)
    wrong = sorted(f"{k} {given[k]} (expected {expected[k]})" for k in expected
                   if k in given and given[k] != expected[k])
    problems = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                        ("wrong shapes", wrong), ("non-tensor entries", not_tensors)):
        if keys:
            shown = ", ".join(keys[:4]) + (f", ... ({len(keys)} in all)" if len(keys) > 4 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise AudioWalkInputError("model_name", f"{source} does not match the BigGAN architecture of its config "
                                  f"({'; '.join(problems)})",
                                  "the weights of the model named by its config (biggan-deep-128/256/512)")


def _read_bin(path: Path) -> dict:
    try:
        state_dict = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise AudioWalkInputError("model_name", f"{path} holds objects other than tensors, refused for safety "
                                  f"({str(error).splitlines()[0]})", "a plain state dict of tensors") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as error:
        raise AudioWalkInputError("model_name", f"{path} is truncated or corrupt ({error})",
                                  "a complete pytorch_model.bin (download it again)") from None
    if not isinstance(state_dict, dict):
        raise AudioWalkInputError("model_name", f"{path} holds a {type(state_dict).__name__}, not a state dict",
                                  "a state dict of tensors")
    return state_dict


def _read_safetensors(path: Path) -> tuple[dict, dict]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            state_dict = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as error:  # safetensors raises its own error types for bad headers / short files
        raise AudioWalkInputError("model_name", f"{path} is truncated or corrupt ({error})",
                                  "a complete .safetensors file") from None
    if SAFETENSORS_CONFIG_KEY not in metadata:
        raise AudioWalkInputError("model_name", f"{path} has no '{SAFETENSORS_CONFIG_KEY}' entry in its metadata",
                                  "a file written by convert_to_safetensors / save_biggan_safetensors")
    try:
        config = json.loads(metadata[SAFETENSORS_CONFIG_KEY])
    except json.JSONDecodeError as error:
        raise AudioWalkInputError("model_name", f"{path}: config metadata is not JSON ({error})",
                                  "a BigGAN config JSON") from None
    return state_dict, config


def _read_config_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise AudioWalkInputError("model_name", f"{path} cannot be read as a config ({error})",
                                  "the config.json published with the weights") from None


def _model_from_state_dict(config_dict: dict, state_dict: dict, source: Path):
    BigGAN, _ = _biggan_lib()
    try:
        config = load_config(config_dict)
        model = BigGAN(config)
    except Exception as error:
        raise AudioWalkInputError("model_name", f"{source}: config does not describe a BigGAN ({error})",
                                  "a BigGAN-deep config") from None
    _check_state_dict(model, state_dict, source)
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:
        raise AudioWalkInputError("model_name", f"{source} does not load ({str(error)[:300]})",
                                  "weights matching the config") from None
    return model.eval(), config


def load_biggan_folder(src_dir) -> tuple:
    """(model float32 cpu, config) from the original layout: ``src_dir/config.json`` + ``pytorch_model.bin``."""
    src_dir = Path(src_dir)
    config_dict = _read_config_json(src_dir / CONFIG_NAME)
    return _model_from_state_dict(config_dict, _read_bin(src_dir / WEIGHTS_NAME), src_dir / WEIGHTS_NAME)


def load_biggan_safetensors(path) -> tuple:
    """(model float32 cpu, config) from a single .safetensors file carrying its config in the metadata."""
    path = Path(path)
    state_dict, config_dict = _read_safetensors(path)
    return _model_from_state_dict(config_dict, state_dict, path)


def save_biggan_safetensors(model, config, path) -> Path:
    """Write the (spectral-norm) state dict of ``model`` and its config JSON (metadata) to ``path``, atomically."""
    from safetensors.torch import save_file

    config = load_config(config)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    path = Path(path)
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata={SAFETENSORS_CONFIG_KEY: json.dumps(_config_dict(config)),
                                               "format": "pt"})
    return path


def convert_to_safetensors(src_dir, dst_file) -> Path:
    """Convert the original layout (config.json + pytorch_model.bin) to one safetensors file, strictly checked."""
    model, config = load_biggan_folder(src_dir)
    return save_biggan_safetensors(model, config, dst_file)


# -------------------------------------------------------------------------------------------------------- download
def published_urls(model_name: str, url_base: str | None = None) -> dict:
    """{target file name: URL} of the published files of ``model_name``."""
    base = (url_base or os.environ.get(URL_BASE_ENV) or DEFAULT_URL_BASE).rstrip("/")
    return {CONFIG_NAME: f"{base}/{model_name}-config.json", WEIGHTS_NAME: f"{base}/{model_name}-pytorch_model.bin"}


def _placement_help(model_name: str, search_dirs: list[Path], url_base: str | None) -> str:
    target = Path(search_dirs[0]) / model_name
    urls = published_urls(model_name, url_base)
    files = "; ".join(f"{url} -> {target / name}" for name, url in urls.items())
    return (f"either {Path(search_dirs[0]) / (model_name + '.safetensors')} or the original files: {files} "
            f"(searched: {', '.join(str(d) for d in search_dirs)})")


def _download(url: str, dst: Path, min_bytes: int, on_progress: ProgressFn | None, timeout: float = 60.0) -> None:
    chunk = 1 << 20
    with urllib.request.urlopen(url, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length is not None else None
        if total is not None and total < min_bytes:
            raise AudioWalkInputError("model_name", f"{url} announces {total} bytes, fewer than the "
                                      f"{min_bytes} bytes of tensors the model needs", "the published weights")
        with atomic_output(dst) as tmp:
            done = 0
            with open(tmp, "wb") as out:
                while True:
                    block = response.read(chunk)
                    if not block:
                        break
                    out.write(block)
                    done += len(block)
                    if on_progress is not None:
                        on_progress(done, total or max(done, min_bytes))
            if (total is not None and done != total) or done < min_bytes:
                raise AudioWalkInputError("model_name", f"download of {url} ended after {done} bytes "
                                          f"(announced {total}, at least {min_bytes} needed)",
                                          "a complete download (try again)")


def download_biggan(model_name: str, models_dir, *, url_base: str | None = None,
                    on_progress: ProgressFn | None = None) -> Path:
    """Download the published config.json + pytorch_model.bin of ``model_name`` into ``models_dir/<name>/``."""
    config = load_config(model_name)
    target = Path(models_dir) / model_name
    urls = published_urls(model_name, url_base)
    with urllib.request.urlopen(urls[CONFIG_NAME], timeout=60.0) as response:
        published = json.loads(response.read().decode("utf-8"))
    shipped = _config_dict(config)
    differing = sorted(k for k in shipped if k in ("layers", "channel_width", "output_dim", "z_dim", "num_classes",
                                                   "attention_layer_position")
                       and json.dumps(published.get(k)) != json.dumps(shipped[k]))
    if differing:
        raise AudioWalkInputError("model_name", f"{urls[CONFIG_NAME]} differs from the known {model_name} "
                                  f"architecture in {', '.join(differing)}", "the published config")
    min_bytes = _payload_bytes(_biggan_lib()[0](config))
    _download(urls[WEIGHTS_NAME], target / WEIGHTS_NAME, min_bytes, on_progress)
    with atomic_output(target / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(published, indent=2), encoding="utf-8")
    return target


# ----------------------------------------------------------------------------------------------------------- load
@dataclass
class BigGANHandle:
    """A generator ready for inference: spectral norm folded into plain weights, on ``device`` in ``dtype``."""

    model: torch.nn.Module
    config: object
    resolution: int
    device: torch.device
    dtype: torch.dtype
    source: str = ""


def resolve_device(device) -> torch.device:
    """'auto' -> CUDA, then MPS, then CPU; otherwise the named device (refused when not available)."""
    name = str(device)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in DEVICES:
        raise AudioWalkInputError("device", f"{name!r} is not a device", f"one of {', '.join(DEVICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise AudioWalkInputError("device", "CUDA is not available here", "auto or cpu")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise AudioWalkInputError("device", "MPS is not available here", "auto or cpu")
    return torch.device(name)


def resolve_dtype(dtype, device: torch.device) -> torch.dtype:
    """'auto': bfloat16 on CUDA with bf16 support, float16 on other CUDA, float32 on CPU/MPS."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if dtype not in DTYPES:
        raise AudioWalkInputError("dtype", f"{dtype!r} is not supported", f"one of {', '.join(DTYPES)}")
    return getattr(torch, dtype)


def prepare_for_inference(model, config, *, device="cpu", dtype="float32", source="") -> BigGANHandle:
    """Fold spectral norm into the weights (eval: no power iteration), move to ``device``/``dtype``."""
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    model.eval()
    for module in model.modules():
        if hasattr(module, "weight_orig"):
            torch.nn.utils.remove_spectral_norm(module)
    model = model.to(device=device, dtype=torch_dtype)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return BigGANHandle(model, config, int(config.output_dim), device, torch_dtype, str(source))


def find_biggan(model_name: str, search_dirs) -> Path | None:
    """``<dir>/<name>.safetensors`` or ``<dir>/<name>/`` (config.json + pytorch_model.bin), first dir first."""
    for directory in search_dirs:
        directory = Path(directory)
        single = directory / f"{model_name}.safetensors"
        if single.is_file():
            return single
        folder = directory / model_name
        if (folder / CONFIG_NAME).is_file() and (folder / WEIGHTS_NAME).is_file():
            return folder
    return None


def load_biggan(model_name: str, search_dirs, *, dtype="auto", device="auto", allow_download: bool = True,
                on_progress: ProgressFn | None = None, url_base: str | None = None) -> BigGANHandle:
    """Find (or download) ``model_name`` in ``search_dirs``, load it strictly, return a ready ``BigGANHandle``.

    ``model_name``: biggan-deep-128/256/512 or the stem (or file name) of a .safetensors file in a search dir.
    Downloads go to ``search_dirs[0]/<name>/``; ``on_progress(bytes_done, bytes_total)`` during the download.
    """
    search_dirs = [Path(d) for d in search_dirs]
    if not search_dirs:
        raise AudioWalkInputError("model_name", "no model folder to search", "at least one models/biggan folder")
    name = str(model_name)
    if name.endswith(".safetensors"):
        name = name[: -len(".safetensors")]
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise AudioWalkInputError("model_name", f"{model_name!r} is not a model name",
                                  f"one of {', '.join(BIGGAN_MODELS)} or a .safetensors file in models/biggan")
    resolve_dtype(dtype, resolve_device(device))  # refuse bad dtype/device before reading 200 MB
    found = find_biggan(name, search_dirs)
    if found is None:
        if name not in BIGGAN_MODELS:
            raise AudioWalkInputError("model_name", f"{name!r} was not found in "
                                      f"{', '.join(str(d) for d in search_dirs)}",
                                      f"{name}.safetensors in one of those folders, or one of "
                                      f"{', '.join(BIGGAN_MODELS)}")
        if not allow_download:
            raise AudioWalkInputError("model_name", f"{name} is not on this machine and allow_download is off",
                                      _placement_help(name, search_dirs, url_base))
        try:
            found = download_biggan(name, search_dirs[0], url_base=url_base, on_progress=on_progress)
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            raise AudioWalkInputError("model_name", f"{name} is not on this machine and the download failed "
                                      f"({error})", _placement_help(name, search_dirs, url_base)) from None
    if found.suffix == ".safetensors":
        model, config = load_biggan_safetensors(found)
    else:
        model, config = load_biggan_folder(found)
    return prepare_for_inference(model, config, device=device, dtype=dtype, source=found)


# ------------------------------------------------------------------------------------------------------- generate
def map_output(images: torch.Tensor, output_mapping: str) -> torch.Tensor:
    """[B, 3, H, W] in [-1, 1] -> float32 [B, H, W, 3] in [0, 1]: 'fixed' (x+1)/2 clamped, or the seed's
    'per_frame_minmax' (each frame stretched to its own min..max: flickers)."""
    images = images.float()
    if output_mapping == "fixed":
        images = ((images + 1.0) * 0.5).clamp_(0.0, 1.0)
    elif output_mapping == "per_frame_minmax":
        low = images.amin(dim=(1, 2, 3), keepdim=True)
        high = images.amax(dim=(1, 2, 3), keepdim=True)
        images = (images - low) / (high - low).clamp_min(1e-12)
    else:
        raise AudioWalkInputError("output_mapping", f"{output_mapping!r} is unknown",
                                  f"one of {', '.join(OUTPUT_MAPPINGS)}")
    return images.permute(0, 2, 3, 1).contiguous()


def generate_frames(handle: BigGANHandle, latents, *, batch_size: int = 8, output_mapping: str = "fixed",
                    on_progress: ProgressFn | None = None) -> Iterator[torch.Tensor]:
    """Frames of ``latents`` (WalkLatents), batch by batch: float32 CPU ``[B, H, W, 3]`` in [0, 1].

    ``on_progress(frames_done, frames_total)`` is called after every batch (it may raise to cancel).
    Each frame depends only on its own latent row, so batch size and frame ranges do not change the result
    (beyond float rounding of different kernel choices).
    """
    if int(batch_size) < 1:
        raise AudioWalkInputError("batch_size", f"{batch_size} is below 1", "a batch size of at least 1")
    if output_mapping not in OUTPUT_MAPPINGS:
        raise AudioWalkInputError("output_mapping", f"{output_mapping!r} is unknown",
                                  f"one of {', '.join(OUTPUT_MAPPINGS)}")
    config = handle.config
    noise, classes = np.asarray(latents.noise), np.asarray(latents.class_weights)
    if noise.shape[1] != config.z_dim or classes.shape[1] != config.num_classes:
        raise AudioWalkInputError("latents", f"noise {noise.shape} / class weights {classes.shape} do not fit "
                                  f"the model", f"noise [N, {config.z_dim}] and class weights "
                                  f"[N, {config.num_classes}]")
    truncation = float(latents.truncation)
    total = int(noise.shape[0])
    batch_size = int(batch_size)
    return _generate(handle, noise, classes, truncation, total, batch_size, output_mapping, on_progress)


def _generate(handle, noise, classes, truncation, total, batch_size, output_mapping, on_progress):
    model, device, dtype = handle.model, handle.device, handle.dtype
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        with torch.inference_mode():
            z = torch.from_numpy(np.ascontiguousarray(noise[start:stop], dtype=np.float32)).to(device, dtype)
            c = torch.from_numpy(np.ascontiguousarray(classes[start:stop], dtype=np.float32)).to(device, dtype)
            images = model(z, c, truncation)
            frames = map_output(images, output_mapping).to("cpu")
        yield frames
        if on_progress is not None:
            on_progress(stop, total)
