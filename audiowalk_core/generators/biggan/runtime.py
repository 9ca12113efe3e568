"""A loaded BigGAN and its frame generation: the handle (the generator seam's, see ``generators.base``), loading
from files, and the batch loop on the device, through torch.compile where it is on."""
from __future__ import annotations

import logging
import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Iterator

from ..base import check_generation_settings, check_latents_fit
from ..batches import condition_rows, map_output, rows_on_device, stream_frames
from ..devices import (COMPILE_ENV, COMPILE_MODE_ENV, resolve_compile, resolve_compile_cache_dir, resolve_device,
                       resolve_dtype)
from .weights import locate_biggan, read_model_files

_LOG = logging.getLogger("audiowalk")


@dataclass
class BigGANHandle:
    """A loaded generator: ``model`` (a :class:`~.model.BigGAN`, eval, on ``device`` in ``dtype``), its
    ``config`` dict, ``resolution`` (px), ``model_name`` and ``source`` (the file it came from).

    ``compile``: :meth:`generate_frames` runs through torch.compile (``compile_backend``, ``compile_mode``, kernels
    cached in ``compile_cache_dir``). After the first compiled batch ``compile_seconds`` holds that call's wall time
    (compiling included); ``compile_error`` says why compiling failed, if it did (then it runs eagerly)."""

    kind: ClassVar[str] = "biggan"
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

    @property
    def noise_dim(self) -> int:
        return int(self.config["z_dim"])

    @property
    def condition_dim(self) -> int:
        return int(self.config["num_classes"])

    def generate_frames(self, latents, *, batch_size: int = 8, output_format: str = "float",
                        output_mapping: str = "fixed", on_progress=None) -> Iterator:
        """Frames of ``latents`` (a WalkLatents or a slice of one), ``batch_size`` at a time, as CPU tensors.

        ``output_format`` "float": float32 [B, H, W, 3] in [0, 1] (ComfyUI's IMAGE); "uint8": uint8 [B, H, W, 3]
        (:func:`pixels.to_uint8` of those, computed on the device: a quarter of the bytes to copy, nothing left to
        convert for the encoder). ``output_mapping`` "fixed" maps BigGAN's [-1, 1] output with (x + 1) / 2 (no
        flicker); "per_frame_minmax" stretches each frame to [0, 1] as the seed did. ``on_progress(done_frames,
        total_frames)`` runs after each batch (ComfyUI's callback raises on cancel).

        On CUDA the frames reach the host without per-batch synchronisation (``batches.stream_frames``). With
        ``compile`` the generator runs through torch.compile (compiled on the first batch; the last batch is
        padded to ``batch_size`` so one shape serves all); if compiling fails, one RuntimeWarning and eager from
        then on. No autograd; the inputs of a batch are freed before the next."""
        batch_size = check_generation_settings(batch_size, output_format, output_mapping)
        check_latents_fit(self, latents)
        return self._generate(latents, batch_size, output_mapping, output_format == "uint8", on_progress)

    def generation_bytes(self, batch_size: int) -> int:
        """An estimate of the device memory one forward pass of ``batch_size`` frames needs beyond the weights (for
        a model manager that frees room first): the largest residual block's input, output and bottleneck maps,
        and the attention matrix, in the model's dtype, doubled for temporaries."""
        import torch

        width = int(self.config["channel_width"])
        element = torch.empty(0, dtype=self.dtype).element_size()
        resolution, largest = 4, 0
        for index, (up, in_mult, out_mult) in enumerate(self.config["layers"]):
            out_resolution = resolution * 2 if up else resolution
            in_channels, out_channels = int(in_mult) * width, int(out_mult) * width
            maps = resolution ** 2 * in_channels + out_resolution ** 2 * (out_channels + in_channels // 2)
            if index == int(self.config["attention_layer_position"]):  # self-attention runs before this block
                maps += resolution ** 2 * (resolution ** 2 // 4)
            largest = max(largest, maps)
            resolution = out_resolution
        return int(2 * largest * element * max(int(batch_size), 1))

    def _generate(self, latents, batch_size: int, output_mapping: str, as_uint8: bool, on_progress) -> Iterator:
        import torch

        with torch.inference_mode():
            statistics = self.model.truncation_statistics(float(latents.truncation))
        conditions = condition_rows(latents)

        def frames_between(first: int, last: int):
            rows = batch_size if self.compile and not self.compile_error else 0
            noise = rows_on_device(latents.noise, first, last, rows, self.device)
            classes = rows_on_device(conditions, first, last, rows, self.device)
            return _device_frames(self, noise, classes, statistics, output_mapping, as_uint8)[:last - first]

        yield from stream_frames(frames_between, latents.frame_count, batch_size, self.device, on_progress)


def handle_from_weights(weights: dict, config: dict, *, model_name: str = "", dtype: str = "auto",
                        device: str = "auto", source: str = "", channels_last: bool = True,
                        fused_upsampling: bool = True, compile_model: bool | None = None,
                        compile_mode: str | None = None, compile_cache_dir=None,
                        compile_backend: str = "inductor") -> BigGANHandle:
    """A ready ``BigGANHandle`` from published-layout ``weights`` (read from files, or ``random_biggan_weights``)
    for ``config``: a :class:`~.model.BigGAN` (eval mode, no autograd) moved to ``device`` in ``dtype``;
    ``handle.model(noise, classes, truncation)`` gives the library's images [B, 3, H, W] in [-1, 1].

    ``channels_last``: conv weights (and so activations) in NHWC order, which oneDNN/cuDNN run faster; same
    results within float rounding (bench/bench_biggan.py: about 7x for bfloat16 on an AMX CPU).
    ``fused_upsampling``: up-sampling + 3x3 convolution as one transposed convolution (4/9 of the multiply-adds).
    ``compile_model``: run generation through ``torch.compile`` (see ``devices.resolve_compile``; None =
    ``AUDIOWALK_COMPILE``, else on for CUDA only), with ``compile_mode`` (None = ``AUDIOWALK_COMPILE_MODE`` or
    torch's default; "reduce-overhead" adds CUDA graphs) and kernels cached in ``compile_cache_dir`` (see
    ``devices.resolve_compile_cache_dir``) by ``compile_backend`` (torch.compile's backend: "inductor" generates
    kernels; "aot_eager" only traces, for checks). Compiling happens on the first batch; a failure falls back to
    eager."""
    import torch

    from .model import BigGAN

    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    model = BigGAN.from_weights(config, weights, fused_upsampling=fused_upsampling)
    model = model.to(device=torch_device, dtype=torch_dtype)
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


def load_biggan_files(layout: str, path, *, model_name: str = "", dtype="auto", device="auto",
                      compile_model: bool | None = None, compile_mode: str | None = None,
                      compile_cache_dir=None) -> BigGANHandle:
    """A ready ``BigGANHandle`` from files ``locate_biggan`` found (``layout`` "safetensors" or "original"),
    checked strictly; ``compile_*``: see :func:`handle_from_weights`."""
    weights, config, source = read_model_files(layout, Path(path))
    return handle_from_weights(weights, config, model_name=model_name, dtype=dtype, device=device,
                               source=str(source), compile_model=compile_model, compile_mode=compile_mode,
                               compile_cache_dir=compile_cache_dir)


def load_biggan(model_name: str, search_dirs, *, dtype: str = "auto", device: str = "auto",
                allow_download: bool = True, on_progress=None, url_base: str | None = None,
                compile_model: bool | None = None, compile_mode: str | None = None,
                compile_cache_dir=None) -> BigGANHandle:
    """Load ``model_name`` from the first of ``search_dirs`` that has it (safetensors or original layout).

    Missing and ``allow_download``: the published files are downloaded into ``search_dirs[0]``. Offline or not
    allowed: AudioWalkInputError saying which files to put where. Wrong or truncated files are refused.
    ``compile_*``: see :func:`handle_from_weights`.
    """
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    model_name, layout, path = locate_biggan(model_name, search_dirs, allow_download=allow_download,
                                             on_progress=on_progress, url_base=url_base)
    return load_biggan_files(layout, path, model_name=model_name, dtype=torch_dtype, device=torch_device,
                             compile_model=compile_model, compile_mode=compile_mode,
                             compile_cache_dir=compile_cache_dir)


def frames_on_device(model, noise, classes, statistics, output_mapping: str, as_uint8: bool):
    """noise [B, 128] and class weights [B, 1000] (float32, on the model's device), the truncation's statistics ->
    frames [B, H, W, 3] on that device: float32 in [0, 1], or uint8. What torch.compile compiles."""
    return map_output(model.images(noise, classes, statistics), output_mapping, as_uint8)


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
    """:func:`frames_on_device` through torch.compile; the first call's wall time (compiling included) goes to
    ``handle.compile_seconds``."""
    import torch

    with _inductor_cache(handle.compile_cache_dir):
        if handle.compiled_forward is None:
            handle.compiled_forward = torch.compile(frames_on_device, backend=handle.compile_backend,
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
    return frames_on_device(handle.model, *arguments)
