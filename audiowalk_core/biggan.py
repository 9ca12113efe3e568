"""BigGAN-deep: strict, safe loading of real checkpoints, download of the published files, conversion to a single
safetensors file, random-weight models with the real architecture, and batched frame generation.

Architecture: ``pytorch_pretrained_biggan.BigGAN`` (the port of DeepMind's TF-Hub BigGAN-deep used by the seed).
Its own ``from_pretrained`` unpickles with full ``torch.load`` and loads with ``strict=False``, so a wrong file
silently leaves random weights. Here every key and shape must match, pickles load with ``weights_only=True``, and
the safetensors layout carries its config in the file's metadata.
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
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
OUTPUT_FORMATS = ("float32", "uint8")
COMPILE_ENV = "AUDIOWALK_COMPILE"  # 1/0: torch.compile the generator or not (default: on CUDA only)
COMPILE_MODE_ENV = "AUDIOWALK_COMPILE_MODE"  # a torch.compile mode, e.g. reduce-overhead (CUDA graphs)
COMPILE_CACHE_ENV = "AUDIOWALK_COMPILE_CACHE"  # folder for compiled kernels (default: see resolve_compile_cache_dir)
_INDUCTOR_CACHE_AT_IMPORT = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
_LOG = logging.getLogger("audiowalk")
# The original published files (the same URLs pytorch_pretrained_biggan uses). Override the base for mirrors/tests.
DEFAULT_URL_BASE = "https://s3.amazonaws.com/models.huggingface.co/biggan"
URL_BASE_ENV = "AUDIOWALK_BIGGAN_URL_BASE"
WEIGHTS_FILE, CONFIG_FILE = "pytorch_model.bin", "config.json"
_CONFIG_METADATA_KEY = "biggan_config"


@dataclass
class BigGANHandle:
    """A loaded generator: ``model`` (eval, on ``device`` in ``dtype``, fused for inference), its ``config`` dict,
    ``resolution`` (px), ``model_name`` and ``source`` (the file it came from).

    ``compile``: :func:`generate_frames` runs through torch.compile (``compile_backend``, ``compile_mode``, kernels
    cached in ``compile_cache_dir``). After the first compiled batch ``compile_seconds`` holds that call's wall time
    (compiling included); ``compile_error`` says why compiling failed, if it did (then it runs eagerly)."""

    model: object
    config: dict
    model_name: str
    resolution: int
    device: object
    dtype: object
    source: str = ""
    compile: bool = False
    compile_mode: str | None = None
    compile_cache_dir: str = ""
    compile_backend: str = "inductor"
    compile_seconds: float | None = None
    compile_error: str = ""
    compiled_forward: object = field(default=None, repr=False, compare=False)


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
                allow_download: bool = True, on_progress=None, url_base: str | None = None,
                compile_model: bool | None = None, compile_mode: str | None = None,
                compile_cache_dir=None) -> BigGANHandle:
    """Load ``model_name`` from the first of ``search_dirs`` that has it (safetensors or original layout).

    Missing and ``allow_download``: the published files are downloaded into ``search_dirs[0]``. Offline or not
    allowed: AudioWalkInputError saying which files to put where. Wrong or truncated files are refused.
    The spectral norms are folded into plain weights after the strict load and the generator is fused for
    inference (same outputs, faster forward); ``compile_*``: see :func:`handle_from_model`.
    """
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    model_name, layout, path = locate_biggan(model_name, search_dirs, allow_download=allow_download,
                                             on_progress=on_progress, url_base=url_base)
    return load_biggan_files(layout, path, model_name=model_name, dtype=torch_dtype, device=torch_device,
                             compile_model=compile_model, compile_mode=compile_mode,
                             compile_cache_dir=compile_cache_dir)


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


def load_biggan_files(layout: str, path, *, model_name: str = "", dtype="auto", device="auto",
                      compile_model: bool | None = None, compile_mode: str | None = None,
                      compile_cache_dir=None) -> BigGANHandle:
    """A ready ``BigGANHandle`` from files ``locate_biggan`` found (``layout`` "safetensors" or "original");
    ``compile_*``: see :func:`handle_from_model`."""
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
    return handle_from_model(model, config, model_name=model_name, dtype=dtype, device=device, source=str(source),
                             compile_model=compile_model, compile_mode=compile_mode,
                             compile_cache_dir=compile_cache_dir)


def handle_from_model(model, config: dict, *, model_name: str = "", dtype: str = "auto", device: str = "auto",
                      source: str = "", channels_last: bool = True, fused_upsampling: bool = True,
                      compile_model: bool | None = None, compile_mode: str | None = None,
                      compile_cache_dir=None, compile_backend: str = "inductor") -> BigGANHandle:
    """A ready ``BigGANHandle`` from a BigGAN module (loaded or ``build_random_biggan``): spectral norms folded
    into plain weights, the generator fused for inference (:func:`_fuse_for_inference`), eval mode, no autograd,
    moved to ``device`` in ``dtype``. ``model`` is modified in place; ``model(noise, classes, truncation)`` still
    gives the library's images [B, 3, H, W] in [-1, 1].

    ``channels_last``: conv weights (and so activations) in NHWC order, which oneDNN/cuDNN run faster; same
    results within float rounding (bench/bench_biggan.py: about 7x for bfloat16 on an AMX CPU).
    ``fused_upsampling``: up-sampling + 3x3 convolution as one transposed convolution (4/9 of the multiply-adds).
    ``compile_model``: run :func:`generate_frames` through ``torch.compile`` (see :func:`resolve_compile`; None =
    ``AUDIOWALK_COMPILE``, else on for CUDA only), with ``compile_mode`` (None = ``AUDIOWALK_COMPILE_MODE`` or
    torch's default; "reduce-overhead" adds CUDA graphs) and kernels cached in ``compile_cache_dir`` (see
    :func:`resolve_compile_cache_dir`) by ``compile_backend`` (torch.compile's backend: "inductor" generates
    kernels; "aot_eager" only traces, for checks). Compiling happens on the first batch; a failure falls back to
    eager."""
    import torch

    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    _fold_spectral_norms(model)
    _fuse_for_inference(model, fused_upsampling=fused_upsampling)
    model = model.to(device=torch_device, dtype=torch_dtype).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.generator.memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.requires_grad_(False)
    return BigGANHandle(model=model, config=dict(config), model_name=model_name,
                        resolution=int(config["output_dim"]), device=torch_device, dtype=torch_dtype, source=source,
                        compile=resolve_compile(compile_model, torch_device),
                        compile_mode=compile_mode or os.environ.get(COMPILE_MODE_ENV) or None,
                        compile_cache_dir=str(resolve_compile_cache_dir(compile_cache_dir)),
                        compile_backend=compile_backend)


def resolve_compile(compile_model: bool | None, device) -> bool:
    """Whether to ``torch.compile`` the generator: ``compile_model`` when given; else ``AUDIOWALK_COMPILE`` (1/0,
    true/false, on/off); else on for CUDA (2.7x for the biggan-deep-512 bf16 model alone on an H200, issue 12) and
    off on other devices (0.87-0.96x eager for biggan-deep-128 bf16 on a 2-core AMX CPU, after a 48 s compile)."""
    if compile_model is not None:
        return bool(compile_model)
    setting = os.environ.get(COMPILE_ENV, "").strip().lower()
    if setting in ("1", "true", "yes", "on"):
        return True
    if setting in ("0", "false", "no", "off"):
        return False
    if setting:
        warnings.warn(f"{COMPILE_ENV}={setting!r} is not 1/0; using the default", RuntimeWarning, stacklevel=2)
    return getattr(device, "type", str(device)) == "cuda"


def resolve_compile_cache_dir(folder=None) -> Path:
    """Folder for torch.compile's kernels (TORCHINDUCTOR_CACHE_DIR while AudioWalk compiles), so a second run starts
    fast: ``folder``, else ``AUDIOWALK_COMPILE_CACHE``, else a TORCHINDUCTOR_CACHE_DIR set before AudioWalk was
    imported, else ``$XDG_CACHE_HOME/audiowalk/torch-compile`` (``~/.cache/...``)."""
    chosen = folder or os.environ.get(COMPILE_CACHE_ENV) or _INDUCTOR_CACHE_AT_IMPORT
    if chosen:
        return Path(chosen).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "audiowalk" / "torch-compile"


def _norm_relu(x, scale, shift, in_place: bool = False):
    """ReLU(x * scale + shift) for x [B, C, H, W] and per-sample, per-channel scale/shift [B or 1, C]: one
    multiply-add pass (written into ``x`` when ``in_place``: no new buffer) and an in-place clamp. Under
    torch.compile the out-of-place form (``out=`` on a channels_last tensor breaks the graph; inductor fuses both
    passes into one kernel and plans the buffers itself)."""
    import torch

    scale, shift = scale[:, :, None, None], shift[:, :, None, None]
    if in_place and not torch.compiler.is_compiling():
        return torch.addcmul(shift, x, scale, out=x).clamp_min_(0.0)
    return torch.addcmul(shift, x, scale).clamp_min_(0.0)


def _interpolated_statistics(table, truncation: float, step: float):
    """Row of ``table`` [n_stats, C] for ``truncation``, interpolated as the library does it (float32)."""
    fraction, low = math.modf(truncation / step)
    low = int(low)
    if fraction != 0.0:
        return table[low].float() * fraction + table[low + 1].float() * (1 - fraction)
    return table[low].float()


def _truncation_statistics(generator, truncation: float) -> tuple:
    """What a truncation fixes, float32 on the model's device: mean [S] and 1/std [S] of all conditional batch norms
    (S channels in all), and the final batch norm's scale [C] and shift [C]. Cached for the last truncation."""
    import torch

    key = (float(truncation), generator.norm_means.device, generator.norm_means.dtype)
    cached = getattr(generator, "_statistics_cache", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    step = generator.norm_step
    mean = _interpolated_statistics(generator.norm_means, truncation, step)
    inverse_std = torch.rsqrt(_interpolated_statistics(generator.norm_vars, truncation, step)
                              + generator.norm_eps.float())
    final = generator.bn
    final_mean = _interpolated_statistics(final.running_means, truncation, final.step_size)
    final_scale = final.weight.float() * torch.rsqrt(
        _interpolated_statistics(final.running_vars, truncation, final.step_size) + final.eps)
    final_shift = final.bias.float() - final_mean * final_scale
    statistics = (mean, inverse_std, final_scale, final_shift)
    generator._statistics_cache = (key, statistics)
    return statistics


def _block_forward(block, x, scale, shift):
    """GenBlock.forward, fused: ``scale``/``shift`` [B, S] hold every batch norm's per-sample affine (this block's
    channels at ``block.norm_slices``); batch norms write into the convolution outputs they read; the residual
    shortcut is added in place (up-sampled by broadcasting into 2x2 pixel blocks, never materialised)."""
    import torch.nn.functional as functional

    first, second, third, fourth = block.norm_slices
    h = block.conv_0(_norm_relu(x, scale[:, first], shift[:, first]))  # x stays: it is the shortcut
    h = _norm_relu(h, scale[:, second], shift[:, second], in_place=True)
    if block.up_sample and not block.fused_upsampling:
        h = functional.interpolate(h, scale_factor=2, mode="nearest")
    h = block.conv_1(h)  # a transposed convolution that up-samples, when fused_upsampling
    h = block.conv_2(_norm_relu(h, scale[:, third], shift[:, third], in_place=True))
    h = block.conv_3(_norm_relu(h, scale[:, fourth], shift[:, fourth], in_place=True))
    shortcut = x[:, :x.shape[1] // 2] if block.drop_channels else x
    if block.up_sample:
        batch, channels, height, width = h.shape
        h.view(batch, channels, height // 2, 2, width // 2, 2).add_(shortcut[:, :, :, None, :, None])
    else:
        h.add_(shortcut)
    return h


def _generator_images(generator, cond, mean, inverse_std, final_scale, final_shift):
    """The fused generator: cond [B, 256] (noise and class embedding, model dtype) and the truncation's statistics
    (:func:`_truncation_statistics`) -> images [B, 3, H, W] in [-1, 1], model dtype. One matmul gives the scale and
    shift of all conditional batch norms."""
    import torch
    import torch.nn.functional as functional

    raw = functional.linear(cond, generator.norm_weight).float()
    count = mean.shape[0]
    scale = (1.0 + raw[:, :count]) * inverse_std
    shift = (raw[:, count:] - mean * scale).to(cond.dtype)
    scale = scale.to(cond.dtype)
    z = generator.gen_z(cond).view(-1, 4, 4, 16 * generator.config.channel_width).permute(0, 3, 1, 2)
    z = z.contiguous(memory_format=generator.memory_format)
    for layer in generator.layers:
        z = _block_forward(layer, z, scale, shift) if hasattr(layer, "norm_slices") else layer(z)
    z = _norm_relu(z, final_scale.to(z.dtype)[None], final_shift.to(z.dtype)[None], in_place=True)
    return torch.tanh(generator.conv_to_rgb(z))


def _biggan_forward(self, z, class_label, truncation):
    """BigGAN.forward on the fused generator: noise [B, 128], class weights [B, 1000], truncation in (0, 1] ->
    images [B, 3, H, W] in [-1, 1]."""
    import torch

    if not 0 < truncation <= 1:
        raise ValueError(f"truncation {truncation} is outside (0, 1]")
    cond = torch.cat((z, self.embeddings(class_label)), dim=1)
    return _generator_images(self.generator, cond, *_truncation_statistics(self.generator, float(truncation)))


def _transposed_upsampling_conv(conv):
    """The transposed 4x4, stride-2 convolution equal to nearest 2x up-sampling followed by ``conv`` (3x3, padding
    1): along each axis an even output pixel sees input pixels i-1 (tap 0) and i (taps 1+2), an odd one i (taps
    0+1) and i+1 (tap 2), so each output pixel needs 2x2 inputs instead of 3x3. Weights summed in float32."""
    import torch

    weight = conv.weight.detach().float()  # [out, in, 3, 3]
    taps = torch.tensor([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=torch.float32)  # [4 kernel, 3 taps]
    transposed = torch.einsum("ka,lb,oiab->iokl", taps, taps, weight)  # [in, out, 4, 4]
    up = torch.nn.ConvTranspose2d(conv.in_channels, conv.out_channels, 4, stride=2, padding=1,
                                  bias=conv.bias is not None)
    with torch.no_grad():
        up.weight.copy_(transposed)
        if conv.bias is not None:
            up.bias.copy_(conv.bias.detach())
    return up.to(conv.weight.device, conv.weight.dtype)


def _fuse_for_inference(model, fused_upsampling: bool = True) -> None:
    """Same outputs, less work and fewer passes over memory (run on the float32 model, before it moves):

    - the two class-conditional linears of every batch norm (112 small matmuls per batch for biggan-deep-512) go
      into one table ``generator.norm_weight`` [2S, 256], and their running statistics into ``norm_means`` /
      ``norm_vars`` [n_stats, S]: one matmul per batch gives all scales and shifts;
    - each batch norm, the ReLU after it (all of BigGAN-deep's ReLUs follow one) and the truncation's statistics are
      one multiply-add pass, in place on the convolution output it reads;
    - with ``fused_upsampling``, nearest up-sampling + 3x3 convolution is one transposed convolution;
    - the final 3x3 convolution computes only the 3 channels that are kept (the library computes
      ``channel_width`` and drops the rest: a fifth of the FLOPs at 128 px).
    ``model.forward`` becomes :func:`_biggan_forward`."""
    import types

    import torch

    generator = model.generator
    norms, offset = [], 0
    for block in generator.layers:
        if type(block).__name__ != "GenBlock":
            continue
        slices = []
        for name in ("bn_0", "bn_1", "bn_2", "bn_3"):
            norm = getattr(block, name)
            slices.append(slice(offset, offset + norm.num_features))
            offset += norm.num_features
            norms.append(norm)
        block.norm_slices = tuple(slices)
        block.fused_upsampling = bool(block.up_sample and fused_upsampling)
        if block.fused_upsampling:
            block.conv_1 = _transposed_upsampling_conv(block.conv_1)
    with torch.no_grad():
        weight = torch.cat([norm.scale.weight for norm in norms] + [norm.offset.weight for norm in norms])
        generator.register_buffer("norm_weight", weight.detach().clone())
        generator.register_buffer("norm_means", torch.cat([norm.running_means for norm in norms], dim=1))
        generator.register_buffer("norm_vars", torch.cat([norm.running_vars for norm in norms], dim=1))
        generator.register_buffer("norm_eps", torch.cat([torch.full((norm.num_features,), float(norm.eps))
                                                         for norm in norms]))
    generator.norm_step = norms[0].step_size
    for norm in norms:  # their tensors now live in the tables above
        del norm.scale, norm.offset, norm.running_means, norm.running_vars
    for module in model.modules():
        if type(module).__name__ in ("GenBlock", "Generator"):
            module.relu = torch.nn.Identity()
    full = generator.conv_to_rgb
    rgb = torch.nn.Conv2d(full.in_channels, 3, full.kernel_size, padding=full.padding, bias=full.bias is not None)
    with torch.no_grad():
        rgb.weight.copy_(full.weight[:3])
        if full.bias is not None:
            rgb.bias.copy_(full.bias[:3])
    generator.conv_to_rgb = rgb.to(full.weight.device, full.weight.dtype)
    generator.memory_format = torch.contiguous_format
    model.forward = types.MethodType(_biggan_forward, model)


def _fold_spectral_norms(model) -> None:
    """Replace each spectral-normalised weight by its eval-mode value (W / sigma with the stored u, v)."""
    import torch
    from torch.nn.utils.spectral_norm import SpectralNorm

    for module in model.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, SpectralNorm):
                torch.nn.utils.remove_spectral_norm(module, name=hook.name)


def generate_frames(handle: BigGANHandle, latents, *, batch_size: int = 8, output_mapping: str = "fixed",
                    on_progress=None, output_format: str = "float32") -> Iterator:
    """Frames of ``latents`` (a WalkLatents or a slice of one), ``batch_size`` at a time, as CPU tensors.

    ``output_format`` "float32": float32 [B, H, W, 3] in [0, 1] (ComfyUI's IMAGE); "uint8": uint8 [B, H, W, 3]
    (:func:`pixels.to_uint8` of those, computed on the device: a quarter of the bytes to copy, nothing left to
    convert for the encoder). ``output_mapping`` "fixed" maps BigGAN's [-1, 1] output with (x + 1) / 2 (no
    flicker); "per_frame_minmax" stretches each frame to [0, 1] as the seed did. ``on_progress(done_frames,
    total_frames)`` runs after each batch (ComfyUI's callback raises on cancel).

    On CUDA a batch is copied into pinned host memory asynchronously and handed out once the next batch is queued
    on the GPU, so the host never makes the GPU wait (no per-batch synchronisation). With ``handle.compile`` the
    generator runs through torch.compile (compiled on the first batch; the last batch is padded to ``batch_size``
    so one shape serves all); if compiling fails, one RuntimeWarning and eager from then on.
    No autograd; the inputs of a batch are freed before the next.
    """
    if output_mapping not in OUTPUT_MAPPINGS:
        raise AudioWalkInputError("output_mapping", f"{output_mapping!r} is unknown",
                                  "one of " + ", ".join(OUTPUT_MAPPINGS))
    if output_format not in OUTPUT_FORMATS:
        raise AudioWalkInputError("output_format", f"{output_format!r} is unknown",
                                  "one of " + ", ".join(OUTPUT_FORMATS))
    if int(batch_size) < 1:
        raise AudioWalkInputError("batch_size", f"{batch_size!r} is below 1", "a batch size of at least 1")
    return _generate(handle, latents, int(batch_size), output_mapping, output_format == "uint8", on_progress)


def _frames_on_device(model, noise, classes, statistics, output_mapping: str, as_uint8: bool):
    """noise [B, 128] and class weights [B, 1000] (float32, on the model's device), the truncation's statistics ->
    frames [B, H, W, 3] on that device: float32 in [0, 1], or uint8. What torch.compile compiles."""
    import torch

    from .pixels import to_uint8

    dtype = model.embeddings.weight.dtype
    cond = torch.cat((noise.to(dtype), model.embeddings(classes.to(dtype))), dim=1)
    images = _generator_images(model.generator, cond, *statistics).float()
    if output_mapping == "fixed":
        images = ((images + 1.0) * 0.5).clamp_(0.0, 1.0)
    else:
        low = images.amin(dim=(1, 2, 3), keepdim=True)
        high = images.amax(dim=(1, 2, 3), keepdim=True)
        images = (images - low) / (high - low).clamp_min(1e-8)
    images = images.permute(0, 2, 3, 1)  # a view when channels_last: the frames are already NHWC
    return to_uint8(images) if as_uint8 else images.contiguous()


@contextmanager
def _inductor_cache(folder: str):
    """TORCHINDUCTOR_CACHE_DIR = ``folder`` for the duration (torch reads it whenever it looks for cached kernels)."""
    previous = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if folder:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = folder
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
        else:
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = previous


def _compiled_frames(handle: BigGANHandle, *arguments):
    """:func:`_frames_on_device` through torch.compile; the first call's wall time (compiling included) goes to
    ``handle.compile_seconds``."""
    import torch

    with _inductor_cache(handle.compile_cache_dir):
        if handle.compiled_forward is None:
            handle.compiled_forward = torch.compile(_frames_on_device, backend=handle.compile_backend,
                                                    mode=handle.compile_mode, dynamic=False)
        first = handle.compile_seconds is None
        start = time.perf_counter()
        if handle.compile_mode in ("reduce-overhead", "max-autotune"):  # the modes that use CUDA graphs
            torch.compiler.cudagraph_mark_step_begin()
        frames = handle.compiled_forward(handle.model, *arguments)
        if first:
            if handle.device.type == "cuda":
                torch.cuda.synchronize(handle.device)  # once, so the figure includes the first batch's kernels
            handle.compile_seconds = time.perf_counter() - start
            _LOG.info("torch.compile of %s: %.1f s (first batch included; cache %s)", handle.model_name or "BigGAN",
                      handle.compile_seconds, handle.compile_cache_dir)
    return frames


def _device_frames(handle: BigGANHandle, *arguments):
    """Compiled when ``handle.compile`` and compiling has not failed; on any error from torch.compile: one warning,
    ``handle.compile_error`` set, and eager from then on (compiling is never the cause of a failure)."""
    if handle.compile and not handle.compile_error:
        try:
            return _compiled_frames(handle, *arguments)
        except Exception as exc:  # noqa: BLE001 - any compiler failure: report once, run eagerly
            first_line = (str(exc).strip().splitlines() or [""])[0][:300]
            handle.compile_error = f"{type(exc).__name__}: {first_line}"
            handle.compiled_forward = None
            warnings.warn(f"torch.compile of the BigGAN generator failed ({handle.compile_error}); running it "
                          f"without compiling (set {COMPILE_ENV}=0 to skip the attempt)", RuntimeWarning, stacklevel=3)
    return _frames_on_device(handle.model, *arguments)


def _rows_on_device(array, first: int, last: int, rows: int, device):
    """float32 rows ``first:last`` of ``array`` (repeating the last row up to ``rows`` rows) on ``device``; on
    CUDA through pinned memory, asynchronously (a pageable copy would wait for the GPU to finish its queue)."""
    import torch

    block = np.asarray(array[first:last], dtype=np.float32)
    if rows > len(block):
        block = np.concatenate([block, np.repeat(block[-1:], rows - len(block), axis=0)])
    tensor = torch.from_numpy(np.ascontiguousarray(block))
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


class _RowsOf:
    """``rows[first:last]`` through a function ``rows_between(first, last)``."""

    def __init__(self, rows_between):
        self.rows_between = rows_between

    def __getitem__(self, rows: slice):
        return self.rows_between(rows.start, rows.stop)


def _dense_class_weights(latents):
    """Sliceable [N, 1000] class weights: ``latents.dense_class_weights`` expands compact ones (frames x labels)
    a batch at a time where the latents have it, else ``latents.class_weights``."""
    dense = getattr(latents, "dense_class_weights", None)
    return latents.class_weights if dense is None else _RowsOf(dense)


def _generate(handle: BigGANHandle, latents, batch_size: int, output_mapping: str, as_uint8: bool,
              on_progress) -> Iterator:
    import torch

    total = latents.frame_count
    device = handle.device
    cuda = device.type == "cuda"
    with torch.inference_mode():
        statistics = _truncation_statistics(handle.model.generator, float(latents.truncation))
        waiting = None  # CUDA: (pinned host frames, copy-done event, frames done) of the batch handed out next
        for first in range(0, total, batch_size):
            last = min(first + batch_size, total)
            rows = batch_size if handle.compile and not handle.compile_error else 0
            noise = _rows_on_device(latents.noise, first, last, rows, device)
            classes = _rows_on_device(_dense_class_weights(latents), first, last, rows, device)
            frames = _device_frames(handle, noise, classes, statistics, output_mapping, as_uint8)[:last - first]
            del noise, classes
            if not cuda:
                yield frames.cpu()
                del frames
                if on_progress is not None:
                    on_progress(last, total)
                continue
            host = torch.empty(frames.shape, dtype=frames.dtype, pin_memory=True)
            host.copy_(frames, non_blocking=True)
            copied = torch.cuda.Event()
            copied.record()
            del frames
            if waiting is not None:
                yield from _hand_out(waiting, total, on_progress)
            waiting = (host, copied, last)
        if waiting is not None:
            yield from _hand_out(waiting, total, on_progress)


def _hand_out(waiting, total: int, on_progress) -> Iterator:
    host, copied, last = waiting
    copied.synchronize()
    yield host
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

    def transposed_hook(module, inputs, output):  # every input pixel meets the whole kernel once
        macs[0] += inputs[0].numel() * module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]

    hooks = []
    for module in model.modules():
        if isinstance(module, torch.nn.ConvTranspose2d):
            hooks.append(module.register_forward_hook(transposed_hook))
        elif isinstance(module, torch.nn.Conv2d):
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

