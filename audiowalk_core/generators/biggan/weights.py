"""BigGAN weights on disk: the two layouts (one AudioWalk .safetensors carrying its config, or the published
``config.json`` + ``pytorch_model.bin``), strict and safe reading (every key and shape checked against the config's
architecture, pickles loaded with ``weights_only=True``), conversion, and download of the published files.

The library's own ``from_pretrained`` unpickles with full ``torch.load`` and loads with ``strict=False``, so a wrong
file silently leaves random weights; here a wrong, foreign or truncated file is refused with the keys it lacks.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ...errors import AudioWalkInputError
from ...model_download import download_file
from ...paths import atomic_output
from ...weights_report import mismatch_parts
from .architecture import BIGGAN_MODELS, builtin_config, state_dict_shapes, weight_bytes

# The original published files (the same URLs pytorch_pretrained_biggan uses). Override the base for mirrors/tests.
DEFAULT_URL_BASE = "https://s3.amazonaws.com/models.huggingface.co/biggan"
URL_BASE_ENV = "AUDIOWALK_BIGGAN_URL_BASE"
WEIGHTS_FILE, CONFIG_FILE = "pytorch_model.bin", "config.json"
_CONFIG_METADATA_KEY = "biggan_config"


def save_biggan_safetensors(weights, config: dict, path) -> Path:
    """Write ``weights`` (a state dict in the published layout, or a module holding one) and ``config`` (in the
    metadata) as one .safetensors file, atomically."""
    from safetensors.torch import save_file

    state = weights.state_dict() if hasattr(weights, "state_dict") else weights
    config = config if isinstance(config, dict) else dict(vars(config))
    state = {key: value.detach().contiguous().cpu() for key, value in state.items()}
    path = Path(path)
    with atomic_output(path) as temporary:
        save_file(state, str(temporary), metadata={_CONFIG_METADATA_KEY: json.dumps(config)})
    return path


def convert_to_safetensors(src_dir, dst_file) -> Path:
    """Convert the original layout (``config.json`` + ``pytorch_model.bin`` in ``src_dir``) into a single
    .safetensors file carrying its config; the weights are checked strictly first."""
    state, config, _ = read_model_files("original", src_dir)
    return save_biggan_safetensors(state, config, dst_file)


def read_model_files(layout: str, path) -> tuple[dict, dict, Path]:
    """``(weights, config, source file)`` of files ``locate_biggan`` found (``layout`` "safetensors" or
    "original"), the weights checked against the config's architecture (:func:`check_weights`)."""
    path = Path(path)
    if layout == "safetensors":
        state, config = _read_safetensors(path)
        source = path
    else:
        config = _read_config(path / CONFIG_FILE)
        source = path / WEIGHTS_FILE
        state = _read_pickled_weights(source)
    return check_weights(state, config, source), config, source


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


def _solved_v(weight_orig, weight, u):
    """``weight_v`` of a spectral-norm triple from a torch < 1.0 dict, which held the normalised ``weight``
    instead: sigma = mean(weight_orig / weight), v solving W v = sigma u, as torch converts such dicts on load."""
    import torch

    matrix = weight_orig.reshape(weight_orig.shape[0], -1)
    sigma = (weight_orig / weight).mean()
    v = torch.linalg.multi_dot([matrix.t().mm(matrix).pinverse(), matrix.t(), u.unsqueeze(1)]).squeeze(1)
    return v.mul_(sigma / torch.dot(u, torch.mv(matrix, v)))


def check_weights(state: dict, config: dict, path) -> dict:
    """``state`` in the published layout of ``config``'s architecture (legacy spectral norms converted): every key
    present, none extra, every shape equal; else AudioWalkInputError naming ``path`` and the keys."""
    import torch

    expected = state_dict_shapes(config)
    not_tensors = sorted(key for key, value in state.items() if not isinstance(value, torch.Tensor))
    state = {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}
    # Spectral-norm dicts written by torch < 1.0 hold "<x>.weight" instead of "<x>.weight_v".
    legacy = {key[:-len("_v")] for key in expected if key.endswith(".weight_v") and key not in state
              and key[:-len("_v")] in state and key[:-len("_v")] + "_orig" in state}
    missing = sorted(set(expected) - set(state) - {key + "_v" for key in legacy})
    unexpected = sorted(set(state) - set(expected) - legacy) + not_tensors
    wrong_shape = sorted(key for key in set(expected) & set(state) if tuple(expected[key]) != tuple(state[key].shape))
    if missing or unexpected or wrong_shape:
        parts = mismatch_parts(missing, unexpected, wrong_shape, {k: v.shape for k, v in state.items()}, expected)
        raise AudioWalkInputError("model_name", f"{path} does not match the BigGAN architecture of its config: "
                                  + "; ".join(parts), "the weights published for this model")
    for key in legacy:
        weight = state.pop(key)
        state[key + "_v"] = _solved_v(state[key + "_orig"].float(), weight.float(), state[key + "_u"].float())
    return {key: state[key] for key in expected}


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
    download_file(urls[WEIGHTS_FILE], folder / WEIGHTS_FILE, input_name="model_name", min_bytes=weight_bytes(known),
                  on_progress=on_progress, timeout_s=timeout_s)
    with atomic_output(folder / CONFIG_FILE) as temporary:
        temporary.write_text(json.dumps(published, indent=2), encoding="utf-8")
    return folder


def _missing_model_message(model_name: str, search_dirs) -> str:
    urls = published_urls(model_name)
    first = Path(search_dirs[0]) if search_dirs else Path("models/biggan")
    return (f"{model_name}.safetensors in {first}, or the original files {first / model_name / CONFIG_FILE} "
            f"(from {urls[CONFIG_FILE]}) and {first / model_name / WEIGHTS_FILE} (from {urls[WEIGHTS_FILE]})")


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
