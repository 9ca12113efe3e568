"""The HTDemucs models a user can pick, where their files are, their download, and one shared loaded copy of each.

Published models (MIT, Meta): ``htdemucs`` (drums, bass, other, vocals; the default) and ``htdemucs_6s`` (also
guitar and piano), each one network. demucs 4.1 downloads them from the Hugging Face hub as
``<signature>.safetensors`` (repositories adefossez/HTDemucs and adefossez/HTDemucs-6s, demucs/hf.py and
remote/*.yaml); older demucs versions used ``<signature>-<sha256 prefix>.th`` files. Either, or
``<model>.safetensors``, in a models folder (``models/demucs``) is found; downloads fetch the .safetensors.

A published model that is not on disk is listed as ``"htdemucs (download, 84 MB)"``. The MB figure is the
architecture's float16 tensor bytes (the published files store float16; tests check the figure against the
architecture); the exact file size could not be confirmed offline (a third-party copy of the same weights in this
format has 84,030,352 bytes: the tensors plus a 61 kB header), so a download is checked against the server's
Content-Length and this lower bound, then its header against the architecture, before it is renamed into place.
"""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from ...errors import AudioWalkInputError
from ...paths import atomic_output, copy_stream, file_digest
from .config import PUBLISHED_CONFIGS, HTDemucsConfig
from .weights import MODEL_SUFFIXES, check_shapes, read_model_file, read_safetensors_header

MODEL_KIND = "demucs"
DEFAULT_MODEL = "htdemucs"
URL_BASE_ENV = "AUDIOWALK_DEMUCS_URL_BASE"  # a mirror holding <signature>.safetensors (tests: a local server)
HUB = "https://huggingface.co"
LEGACY_BASE = "https://dl.fbaipublicfiles.com/demucs/hybrid_transformer"
_DOWNLOAD_MARK = re.compile(r"^(?P<name>.+?) \(download, [^()]*\)$")


@dataclasses.dataclass(frozen=True)
class PublishedModel:
    name: str
    signature: str       # demucs' name of the network's weights
    hub_repository: str  # on the Hugging Face hub
    legacy_file: str     # the .th file of demucs < 4.1
    weight_bytes: int    # float16 tensor bytes of the architecture (a download has at least these)

    @property
    def file_name(self) -> str:
        return f"{self.signature}.safetensors"

    def url(self, url_base: str | None = None) -> str:
        base = url_base or os.environ.get(URL_BASE_ENV)
        if base:
            return f"{base.rstrip('/')}/{self.file_name}"
        return f"{HUB}/{self.hub_repository}/resolve/main/{self.file_name}"

    @property
    def legacy_url(self) -> str:
        return f"{LEGACY_BASE}/{self.legacy_file}"

    @property
    def config(self) -> HTDemucsConfig:
        return PUBLISHED_CONFIGS[self.name]


PUBLISHED_MODELS = {
    "htdemucs": PublishedModel("htdemucs", "955717e8", "adefossez/HTDemucs", "955717e8-8726e21a.th", 83_968_912),
    "htdemucs_6s": PublishedModel("htdemucs_6s", "5c90dfd2", "adefossez/HTDemucs-6s", "5c90dfd2-34c22ccb.th",
                                  54_829_992),
}


def download_label(name: str) -> str:
    return f"{name} (download, {round(PUBLISHED_MODELS[name].weight_bytes / 1e6)} MB)"


def model_name_from_choice(choice) -> str:
    """The model of a list entry: the download mark removed."""
    match = _DOWNLOAD_MARK.match(str(choice))
    return match.group("name") if match else str(choice)


def find_model_file(name: str, search_dirs) -> Path | None:
    """The file of model ``name`` in the first folder that has one: for a published model
    ``<name>.safetensors``, ``<signature>.safetensors``, ``<name>.th`` or demucs' ``<signature>-<hash>.th``; else
    the file called ``name`` (a .safetensors or .th)."""
    published = PUBLISHED_MODELS.get(name)
    for folder in map(Path, search_dirs):
        if published is None:
            if name.endswith(MODEL_SUFFIXES) and (folder / name).is_file():
                return folder / name
            continue
        for candidate in (f"{name}.safetensors", published.file_name, f"{name}.th", published.legacy_file):
            if (folder / candidate).is_file():
                return folder / candidate
        others = sorted(folder.glob(f"{published.signature}-*.th")) if folder.is_dir() else []
        if others:
            return others[0]
    return None


def _published_file_names() -> set:
    names = set()
    for model in PUBLISHED_MODELS.values():
        names |= {f"{model.name}.safetensors", model.file_name, f"{model.name}.th", model.legacy_file}
    return names


def model_choices(search_dirs) -> list[str]:
    """The published models (plain when on disk, else with their download mark), then the other .safetensors / .th
    files of the folders (your own HTDemucs exports), sorted."""
    choices = [name if find_model_file(name, search_dirs) else download_label(name) for name in PUBLISHED_MODELS]
    known = _published_file_names()
    others = set()
    for folder in map(Path, search_dirs):
        if folder.is_dir():
            others |= {p.name for p in folder.iterdir() if p.suffix in MODEL_SUFFIXES and p.is_file()
                       and p.name not in known and not p.name.startswith(".")
                       and not any(p.name.startswith(m.signature + "-") for m in PUBLISHED_MODELS.values())}
    return choices + sorted(others)


def check_model_choice(choice, search_dirs, input_name: str = "model") -> str:
    """The model name of ``choice`` when it is a published model or a model file in ``search_dirs``; else
    AudioWalkInputError naming ``input_name`` (nothing is read)."""
    name = model_name_from_choice(choice)
    if name in PUBLISHED_MODELS or (name and Path(name).name == name and find_model_file(name, search_dirs)):
        return name
    raise AudioWalkInputError(input_name, f"{choice!r} is neither a published HTDemucs model nor a model file in "
                              f"{', '.join(map(str, search_dirs)) or 'the demucs models folder'}",
                              "one of " + ", ".join(PUBLISHED_MODELS) + " or a .safetensors / .th file in "
                              "models/demucs")


def model_identity(name: str, search_dirs) -> str:
    """What makes two separations the same model in the stem cache: a published model's weights signature (known
    without its file, so cached stems serve offline), else the sha256 of the file."""
    if name in PUBLISHED_MODELS:
        return f"{name}:{PUBLISHED_MODELS[name].signature}"
    path = find_model_file(name, search_dirs)
    return f"file:{file_digest(path)}" if path is not None else f"missing:{name}"


def missing_model_message(name: str, search_dirs) -> str:
    """What to put where for a published model."""
    model = PUBLISHED_MODELS[name]
    folder = Path(search_dirs[0]) if search_dirs else Path("models") / MODEL_KIND
    return (f"{folder / model.file_name} (from {model.url()}), or demucs' older {folder / model.legacy_file} "
            f"(from {model.legacy_url})")


def download_model(name: str, target_dir, *, url_base: str | None = None, on_progress=None,
                   timeout_s: float = 30.0) -> Path:
    """Download published model ``name`` into ``target_dir/<signature>.safetensors``: streamed to a temporary name,
    its size checked (the server's Content-Length, at least the architecture's float16 bytes) and its header
    checked against the architecture, then renamed. ``on_progress(done_bytes, total_bytes)``."""
    import urllib.request

    model = PUBLISHED_MODELS[name]
    url = model.url(url_base)
    target = Path(target_dir) / model.file_name
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        expected = int(response.headers.get("Content-Length") or 0)
        if expected and expected < model.weight_bytes:
            raise AudioWalkInputError("model", f"{url} has {expected} bytes, fewer than the {model.weight_bytes} "
                                      f"bytes of weights {name} needs", f"the published weights of {name}")
        with atomic_output(target) as temporary:
            report = (lambda done: on_progress(done, expected or max(done, model.weight_bytes))) if on_progress \
                else None
            done = copy_stream(response, temporary, report)
            if (expected and done != expected) or done < model.weight_bytes:
                raise AudioWalkInputError("model", f"download of {url} stopped at {done} bytes (announced "
                                          f"{expected or 'nothing'}, at least {model.weight_bytes} needed)",
                                          "a complete download (try again)")
            config, shapes = read_safetensors_header(temporary, url)
            if config.sources != model.config.sources:
                raise AudioWalkInputError("model", f"{url} separates {list(config.sources)}, not {name}'s sources",
                                          f"the published weights of {name}")
            check_shapes(shapes, config, url)
    return target


def locate_model(choice, search_dirs, *, allow_download: bool = False, on_progress=None,
                 url_base: str | None = None) -> tuple[str, Path]:
    """``(name, file)`` of the model a list entry names, downloading a missing published one when
    ``allow_download``; AudioWalkInputError for an unknown model or saying which file to put where."""
    search_dirs = [Path(d) for d in search_dirs]
    name = check_model_choice(choice, search_dirs)
    path = find_model_file(name, search_dirs)
    if path is None and allow_download and search_dirs:
        try:
            path = download_model(name, search_dirs[0], url_base=url_base, on_progress=on_progress)
        except AudioWalkInputError:
            raise
        except Exception as exc:  # noqa: BLE001 - offline, DNS, HTTP errors
            raise AudioWalkInputError("model", f"{name} is not in {', '.join(map(str, search_dirs))} and could not "
                                      f"be downloaded ({exc})", missing_model_message(name, search_dirs)) from None
    if path is None:
        hint = "" if allow_download else " (downloads are off: turn allow_download on, or put the file there)"
        raise AudioWalkInputError("model", f"{name} is not in {', '.join(map(str, search_dirs))}{hint}",
                                  missing_model_message(name, search_dirs))
    return name, path


def load_model_weights(path) -> tuple[HTDemucsConfig, dict]:
    """``(config, float32 state)`` of a model file, checked strictly; the source named in errors is the file."""
    return read_model_file(path, str(path))
