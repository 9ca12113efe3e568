"""The one place that touches ComfyUI's modules (folder_paths, comfy.utils, comfy.model_management,
comfy.model_patcher).

Inside ComfyUI these calls use ComfyUI's folders, progress bar, cancel flag and model management: BigGAN is
wrapped in ComfyUI's ModelPatcher and loaded with ``load_models_gpu`` before each use, so ComfyUI places it
(``--cpu``, ``--lowvram``, ``--novram``), offloads it when another model needs the room, and releases it on
"Unload models" / ``POST /free``.
When ComfyUI is absent (tests, plain Python), this module says so and falls back to:
folders under ``$AUDIOWALK_HOME`` (default: the current directory) named ``input``, ``output``, ``temp`` and
``models/<kind>``; no progress bar; no cancel; no model manager: the core's own device choice
(``audiowalk_core.generators.devices.resolve_device``: CUDA, then MPS, then CPU) and the model stays where it was loaded.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.generators.biggan import BigGANHandle

log = logging.getLogger("AudioWalk")


def _folder_paths():
    try:
        import folder_paths  # ComfyUI's module, present only inside ComfyUI

        return folder_paths
    except ImportError:
        return None


def comfy_available() -> bool:
    return _folder_paths() is not None


def _fallback_root() -> Path:
    from audiowalk_core.paths import audiowalk_home

    return audiowalk_home()


def input_directory() -> Path:
    fp = _folder_paths()
    path = Path(fp.get_input_directory()) if fp else _fallback_root() / "input"
    return path


def output_directory() -> Path:
    fp = _folder_paths()
    return Path(fp.get_output_directory()) if fp else _fallback_root() / "output"


def temp_directory() -> Path:
    fp = _folder_paths()
    return Path(fp.get_temp_directory()) if fp else _fallback_root() / "temp"


def cache_directory() -> Path:
    """Where caches that must outlive a restart go (stems): ``<ComfyUI user folder>/audiowalk/cache`` (ComfyUI
    empties its temp folder at every start); outside ComfyUI ``$AUDIOWALK_HOME/cache``, as the CLI's."""
    fp = _folder_paths()
    return Path(fp.get_user_directory()) / "audiowalk" / "cache" if fp else _fallback_root() / "cache"


def register_model_folder(kind: str, extensions: set[str]) -> None:
    """Register ``models/<kind>`` with ComfyUI's folder_paths (no-op without ComfyUI)."""
    fp = _folder_paths()
    if fp is None:
        return
    default = os.path.join(fp.models_dir, kind)
    if kind in fp.folder_names_and_paths:
        paths, exts = fp.folder_names_and_paths[kind]
        fp.folder_names_and_paths[kind] = (paths, set(exts) | set(extensions))
    else:
        fp.folder_names_and_paths[kind] = ([default], set(extensions))


def model_directories(kind: str) -> list[Path]:
    """Folders searched for models of ``kind`` (first one is where downloads go)."""
    fp = _folder_paths()
    if fp is not None and kind in fp.folder_names_and_paths:
        return [Path(p) for p in fp.get_folder_paths(kind)]
    return [_fallback_root() / "models" / kind]


def never_equal() -> str:
    """An IS_CHANGED value that differs at every call (a fresh random token), so ComfyUI runs the node again. Not
    ``float("nan")``, the usual idiom: ComfyUI 0.3.x stores IS_CHANGED results in the prompt it keeps in the queue
    and the history, and serves them as JSON, where NaN is invalid: the frontend's JSON.parse of ``/history`` and
    ``/queue`` then fails and its Queue panel breaks."""
    import secrets

    return "changed-" + secrets.token_hex(8)


def progress_callback(total: int):
    """An ``on_progress(done, total)`` callback driving ComfyUI's progress bar; also raises on user cancel."""
    try:
        import comfy.model_management as mm
        import comfy.utils
    except ImportError:
        return None
    bar = comfy.utils.ProgressBar(max(int(total), 1))

    def on_progress(done: int, total_now: int) -> None:
        check_cancelled()
        try:
            bar.update_absolute(int(done), int(total_now))  # ComfyUI's hook checks for Cancel too
        except mm.InterruptProcessingException:
            _on_interrupt()
            raise

    return on_progress


def _model_management():
    try:
        import comfy.model_management as mm  # ComfyUI's module, present only inside ComfyUI

        return mm
    except ImportError:
        return None


def model_devices():
    """``(load_device, offload_device)`` for BigGAN from ComfyUI's model management, or None outside ComfyUI.

    load: ``get_torch_device()`` (the CPU under ``--cpu``), except under ``--novram``, where BigGAN runs on the
    CPU as ComfyUI's own text encoders do in that mode (ComfyUI streams weights from RAM only for layers built with
    comfy.ops, which BigGAN's are not). offload: ``unet_offload_device()`` (the CPU unless ``--highvram`` or
    ``--gpu-only``). Under ``--lowvram`` BigGAN (at most 236 MB in float32) is loaded whole after ComfyUI has freed
    room for it."""
    mm = _model_management()
    if mm is None:
        return None
    import torch

    load_device = mm.get_torch_device()
    if mm.vram_state == mm.VRAMState.NO_VRAM:
        load_device = torch.device("cpu")
    return load_device, mm.unet_offload_device()


@dataclasses.dataclass
class ManagedBigGAN(BigGANHandle):
    """A BigGANHandle whose model ComfyUI places: ``patcher`` is the comfy.model_patcher.ModelPatcher around
    ``model``; ``device`` is where the weights are now (ready_model gives a handle on the load device)."""

    patcher: object = None


def manage_model(handle: BigGANHandle, load_device) -> BigGANHandle:
    """Inside ComfyUI: ``handle`` wrapped in a ModelPatcher (load device ``load_device``, offload device the one the
    weights are on), so ComfyUI moves, offloads and frees it like its own models. Outside: ``handle`` unchanged."""
    try:
        from comfy.model_patcher import ModelPatcher
    except ImportError:
        return handle
    patcher = ModelPatcher(handle.model, load_device=load_device, offload_device=handle.device)
    fields = {field.name: getattr(handle, field.name) for field in dataclasses.fields(BigGANHandle)}
    return ManagedBigGAN(**fields, patcher=patcher)


def ready_model(handle: BigGANHandle, memory_required: int = 0) -> BigGANHandle:
    """Before generating: ComfyUI loads the model onto its load device (``load_models_gpu``, which first frees
    ``memory_required`` bytes plus its reserve by offloading other models) and the handle on that device is
    returned. A handle that ComfyUI does not manage is returned as it is."""
    patcher = getattr(handle, "patcher", None)
    mm = _model_management()
    if patcher is None or mm is None:
        return handle
    # Whole: BigGAN's plain torch layers cannot be split between devices by ComfyUI's low-VRAM loading.
    mm.load_models_gpu([patcher], memory_required=int(memory_required), force_full_load=True)
    device = patcher.load_device
    if patcher.loaded_size() < patcher.model_size():  # --novram with device=cuda chosen: ComfyUI loaded no layer
        patcher.partially_load(device, 1e32)  # what ComfyUI's LoadedModel.model_use_more_vram asks for: all of it
    log.info("AudioWalk: %s on %s (%s), placed by ComfyUI's model management", handle.model_name or "BigGAN",
             device, str(handle.dtype).replace("torch.", ""))
    return dataclasses.replace(handle, device=device)


def free_device_memory() -> None:
    """Ask ComfyUI (or torch) to release cached device memory."""
    try:
        import comfy.model_management as mm

        mm.soft_empty_cache()
        return
    except ImportError:
        pass
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------- chunked renders
# ComfyUI 0.3.x: the running prompt's id is PromptServer.instance.last_prompt_id (set before each execution since
# 2023), and the queue takes (number, prompt_id, prompt, extra_data, outputs_to_execute, ...) tuples; a negative
# number puts an item at the front (what the frontend's "queue front" does). VideoHelperSuite's Meta Batch Manager
# requeues the same way.

def _prompt_server():
    try:
        import server

        return server.PromptServer.instance
    except (ImportError, AttributeError):
        return None


def current_prompt_id() -> str | None:
    """The id of the prompt being executed, or None outside ComfyUI."""
    instance = _prompt_server()
    return getattr(instance, "last_prompt_id", None) if instance is not None else None


def queue_chunk_request(request) -> bool:
    """Queue the next chunk (a core ChunkRequest) right after the prompt running now: under the request's prompt
    id, with the running prompt's extra data and outputs (so the same client follows it), numbered by
    ``request.queue_number`` from the running prompt's number. Returns False outside ComfyUI."""
    instance = _prompt_server()
    if instance is None:
        return False
    queue = instance.prompt_queue
    running_id = current_prompt_id()
    with queue.mutex:
        running = [item for item in queue.currently_running.values() if item[1] == running_id]
    if not running:  # run outside ComfyUI's queue (another extension executing the graph itself)
        raise AudioWalkInputError("chunk_index", f"the running prompt {running_id!r} is not in ComfyUI's queue, so "
                                  "the next chunk cannot be queued after it",
                                  "a render queued from the frontend, POST /prompt or audiowalk comfy-run; or Render "
                                  "in Chunks' render set to 'one chunk'")
    item = list(running[0])
    item[0], item[1], item[2] = request.queue_number(item[0]), request.prompt_id, request.prompt
    queue.put(tuple(item))
    return True


def forget_history_entries(prompt_ids) -> None:
    """Remove these prompts' entries from ComfyUI's history (PromptQueue.delete_history_item, what the Queue
    panel's delete does); ids without an entry are skipped. Nothing outside ComfyUI."""
    instance = _prompt_server()
    queue = getattr(instance, "prompt_queue", None) if instance is not None else None
    if queue is None or not hasattr(queue, "delete_history_item"):
        return
    for prompt_id in prompt_ids:
        queue.delete_history_item(prompt_id)


def send_node_text(node_id, text: str) -> None:
    """``text`` under the node in the frontend (ComfyUI's progress text; nothing outside ComfyUI)."""
    instance = _prompt_server()
    if instance is not None and hasattr(instance, "send_progress_text") and node_id is not None:
        instance.send_progress_text(str(text), str(node_id))


def show_chunk_progress(node_id, index: int, count: int, text: str) -> None:
    """Chunk ``index`` of ``count`` on the node's progress bar, and ``text`` under the node (no-op outside)."""
    try:
        import comfy.utils
    except ImportError:
        return
    comfy.utils.ProgressBar(max(int(count), 1), node_id=node_id).update_absolute(int(index))
    send_node_text(node_id, text)


def metadata_disabled() -> bool:
    """True when ComfyUI runs with --disable-metadata (then nothing is embedded in outputs)."""
    try:
        from comfy.cli_args import args
    except ImportError:
        return False
    return bool(getattr(args, "disable_metadata", False))


def numbered_output_path(output_dir, filename_prefix: str, width: int = 0, height: int = 0):
    """``(path, subfolder, filename)`` of the next ``<prefix>_<counter>_.mp4``: ComfyUI's own numbering
    (folder_paths.get_save_image_path, which also expands %date:...% and %Node.widget%) inside ComfyUI, the
    core's otherwise."""
    from audiowalk_core.video import next_numbered_path

    fp = _folder_paths()
    if fp is None or not hasattr(fp, "get_save_image_path"):
        return next_numbered_path(output_dir, filename_prefix, "mp4")
    folder, name, counter, subfolder, _ = fp.get_save_image_path(filename_prefix, str(output_dir), width, height)
    filename = f"{name}_{counter:05}_.mp4"
    return Path(folder) / filename, subfolder, filename


# ---------------------------------------------------------------------------------------- Stable Diffusion walk

def _comfy_samplers():
    try:
        import comfy.samplers  # ComfyUI's module, present only inside ComfyUI

        return comfy.samplers
    except ImportError as exc:
        raise RuntimeError("SD Walk Sampler needs ComfyUI (comfy.samplers); it has no plain-Python fallback") from exc


def cfg_guider(model, positive, negative, cfg: float):
    """ComfyUI's CFGGuider on ``model`` with these conds and scale (what the core CFG Guider node builds)."""
    guider = _comfy_samplers().CFGGuider(model)
    guider.set_conds(positive, negative)
    guider.set_cfg(float(cfg))
    return guider


def sampler_and_sigmas(model, sampler_name: str, scheduler: str, steps: int, denoise: float):
    """``(SAMPLER, SIGMAS)`` as core KSamplerSelect + BasicScheduler give them (denoise < 1: the last steps of a
    longer schedule)."""
    samplers = _comfy_samplers()
    total_steps = int(steps) if denoise >= 1.0 else int(int(steps) / float(denoise))
    sigmas = samplers.calculate_sigmas(model.get_model_object("model_sampling"), scheduler, total_steps).cpu()
    return samplers.sampler_object(sampler_name), sigmas[-(int(steps) + 1):]


def with_cfg_function(model, cfg_function):
    """A clone of ``model`` (a ModelPatcher) whose CFG is ``cfg_function`` (never skipped at cfg 1)."""
    patched = model.clone()
    patched.set_model_sampler_cfg_function(cfg_function, disable_cfg1_optimization=True)
    return patched
# ---------------------------------------------------------------------------------------- any torch module (StyleGAN)

def manage_module(module, load_device, offload_device):
    """Inside ComfyUI: a ModelPatcher around ``module`` (a torch.nn.Module) so ComfyUI's model management moves,
    offloads and frees it like its own models; None outside ComfyUI."""
    try:
        from comfy.model_patcher import ModelPatcher
    except ImportError:
        return None
    return ModelPatcher(module, load_device=load_device, offload_device=offload_device)


def load_managed(patcher, memory_required: int = 0):
    """ComfyUI loads ``patcher``'s model whole onto its load device (freeing ``memory_required`` bytes first);
    returns that device, or None when ComfyUI is absent or ``patcher`` is None."""
    mm = _model_management()
    if patcher is None or mm is None:
        return None
    mm.load_models_gpu([patcher], memory_required=int(memory_required), force_full_load=True)
    if patcher.loaded_size() < patcher.model_size():
        patcher.partially_load(patcher.load_device, 1e32)
    return patcher.load_device


# ---------------------------------------------------------------------------------------------- cancel
# ComfyUI has no "cancelled" hook for nodes: Cancel sets a flag that the next progress update (or our own check)
# turns into InterruptProcessingException inside the node running. Render in Chunks records the chunk each prompt
# renders; when our progress callback sees the interrupt it tidies that chunk's parts (core: cancel_render) and
# says so on the Render in Chunks node before re-raising. A cancel inside one of ComfyUI's own nodes is not seen
# here: the next Run's first chunk removes stale parts then.
_RUNNING_CHUNKS: dict = {}  # prompt id -> the RenderChunk it renders (the newest few)


def remember_running_chunk(chunk) -> None:
    prompt_id = current_prompt_id()
    if prompt_id is None:
        return
    _RUNNING_CHUNKS[prompt_id] = chunk
    while len(_RUNNING_CHUNKS) > 8:
        _RUNNING_CHUNKS.pop(next(iter(_RUNNING_CHUNKS)))


def _on_interrupt() -> None:
    """The running prompt was cancelled: tidy its chunk's parts and say so on its Render in Chunks node."""
    chunk = _RUNNING_CHUNKS.pop(current_prompt_id(), None)
    if chunk is None:
        return
    from audiowalk_core.chunks import cancel_render

    try:
        report = cancel_render(output_directory(), chunk)
    except Exception as exc:  # noqa: BLE001 - the cancel itself must go through
        log.warning("AudioWalk: could not tidy the parts of the cancelled render: %s", exc)
        return
    log.info("AudioWalk: %s", report)
    send_node_text(chunk.node_id, report)


def check_cancelled() -> None:
    """Raise ComfyUI's InterruptProcessingException when the user pressed Cancel (tidying the running chunk's
    parts first); nothing outside ComfyUI."""
    mm = _model_management()
    if mm is None:
        return
    try:
        mm.throw_exception_if_processing_interrupted()
    except mm.InterruptProcessingException:
        _on_interrupt()
        raise


# ---------------------------------------------------------------------------------------------- img2img
def img2img_batch_runner(vae, guider, sampler, sigmas, noise, width: int, height: int, upscale_method: str,
                         on_step=None, cancel_per_layer: bool = True):
    """``run_batch(images, frame_indices)`` for the core's diffuse_keyframes: what ImageScale, VAEEncode,
    SamplerCustomAdvanced and VAEDecode do, on one sub-batch of keyframes. The noise: a frame-keyed NOISE (Keyframe
    Noise) is drawn for the sub-batch's own frame indices; any other NOISE is asked for the sub-batch (then results
    depend on the sub-batch size). ``on_step(step, total_steps)`` after each sampler step (it may raise).
    ``cancel_per_layer``: Cancel checked before every layer (:class:`cancel_between_layers`; for the CPU)."""
    import comfy.model_management as mm
    import comfy.sample
    import comfy.utils

    from audiowalk_core.frame_noise import FrameKeyedNoise

    steps = max(int(sigmas.shape[-1]) - 1, 1)
    import torch

    def callback(step, x0, x, total_steps):
        if on_step is not None:
            on_step(int(step) + 1, int(total_steps))

    def run_batch(images, frame_indices):
        with cancel_between_layers(torch, enabled=cancel_per_layer):
            return _run_batch(images, frame_indices)

    def _run_batch(images, frame_indices):
        check_cancelled()
        pixels = comfy.utils.common_upscale(images.movedim(-1, 1), int(width), int(height), upscale_method,
                                            "disabled").movedim(1, -1)
        latent = vae.encode(pixels[:, :, :, :3])
        check_cancelled()
        latent = comfy.sample.fix_empty_latent_channels(guider.model_patcher, latent)
        batch_noise = noise.for_frames(frame_indices) if isinstance(noise, FrameKeyedNoise) else noise
        drawn = batch_noise.generate_noise({"samples": latent})
        samples = guider.sample(drawn, latent, sampler, sigmas, denoise_mask=None, callback=callback,
                                disable_pbar=True, seed=getattr(noise, "seed", 0))
        samples = samples.to(mm.intermediate_device())
        check_cancelled()
        decoded = vae.decode(samples)
        if decoded.ndim == 5:
            decoded = decoded.reshape(-1, *decoded.shape[-3:])
        return decoded

    run_batch.steps = steps
    return run_batch


class cancel_between_layers:
    """While active, every torch module's forward first checks ComfyUI's Cancel flag (a global forward pre-hook,
    removed on exit). One UNet step of a 512 px keyframe with CFG, or one VAE decode, takes over a minute on a busy
    2-core CPU, and ComfyUI itself checks only between sampler steps: this makes Cancel act within one layer, in
    the VAE too, whatever the model's architecture. The check is a flag read under a lock (about 4 us a module
    call: milliseconds per UNet step, nothing on a CPU, so callers enable it there only); only the thread that
    entered is checked."""

    def __init__(self, torch_module, enabled: bool = True):
        self.torch = torch_module
        self.enabled = bool(enabled)
        self.handle = None

    def __enter__(self):
        import threading

        mm = _model_management()
        if mm is not None and self.enabled:
            owner = threading.get_ident()

            def check(module, args):
                if threading.get_ident() == owner:  # other threads' modules are not ours to stop (or to clear
                    check_cancelled()               # ComfyUI's flag for)

            self.handle = self.torch.nn.modules.module.register_module_forward_pre_hook(check)
        return self

    def __exit__(self, *exc):
        if self.handle is not None:
            self.handle.remove()
        return False


def sampling_device_budget(guider, width: int, height: int, channels: int | None = None
                           ) -> tuple[bool, int | None, int | None]:
    """``(on_cpu, free_bytes, bytes_per_keyframe)`` for choosing the sub-batch: the sampling device from ComfyUI's
    model management, its free memory, and the model's own estimate for one keyframe (two latents with CFG)."""
    mm = _model_management()
    if mm is None:
        return True, None, None
    device = guider.model_patcher.load_device
    if mm.is_device_cpu(device):
        return True, None, None
    if channels is None:  # the model's latent channels (4 for SD 1.5 / SDXL, 16 for SD3 / Flux)
        try:
            channels = int(guider.model_patcher.get_model_object("latent_format").latent_channels)
        except Exception:  # noqa: BLE001 - an unusual model: SD's 4
            channels = 4
    shape = [2, int(channels), max(int(height) // 8, 1), max(int(width) // 8, 1)]
    try:
        per_keyframe = int(guider.model_patcher.model.memory_required(shape))
    except Exception:  # noqa: BLE001 - a model without the estimate: fall back to the size rule
        per_keyframe = None
    return False, int(mm.get_free_memory(device)), per_keyframe


def sub_batched_guider(model, positive, negative, cfg: float, guidance=None, frames_per_batch: int = 0):
    """A GUIDER for core SamplerCustomAdvanced that samples the chunk's latents a sub-batch at a time (the SD walk):
    ``frames_per_batch`` latents per call (0: chosen from the device and size, as Diffuse Keyframes does), each
    sub-batch with its own rows of the per-frame ``positive`` (Prompt Travel) and of ``guidance`` (a
    PerFrameGuidance, or None for one ``cfg``). Memory follows the sub-batch; on a CPU Cancel is checked before
    every layer; the noise rows are the ones SamplerCustomAdvanced drew for the whole chunk (frame-keyed)."""
    samplers = _comfy_samplers()
    import torch

    from audiowalk_core.keyframe_diffusion import choose_keyframes_per_batch, sub_batches
    from audiowalk_core.sd_walk.prompt_travel import slice_conditioning

    class SubBatchedGuider(samplers.CFGGuider):
        def sample(self, noise, latent_image, sampler, sigmas, denoise_mask=None, callback=None, disable_pbar=False,
                   seed=None):
            count = int(latent_image.shape[0])
            height, width = int(latent_image.shape[-2]) * 8, int(latent_image.shape[-1]) * 8
            on_cpu, free_bytes, per_frame = sampling_device_budget(self, width, height, int(latent_image.shape[1]))
            size = choose_keyframes_per_batch(frames_per_batch, count, width, height, on_cpu=on_cpu,
                                              free_bytes=free_bytes, bytes_per_keyframe=per_frame)
            outputs = []
            for first, stop in sub_batches(count, size):
                check_cancelled()
                part = samplers.CFGGuider(model if guidance is None
                                          else with_cfg_function(model, guidance.rows(first, stop)))
                part.set_conds(slice_conditioning(positive, first, stop, count),
                               slice_conditioning(negative, first, stop, count))
                part.set_cfg(cfg)
                mask = denoise_mask
                if isinstance(mask, torch.Tensor) and mask.ndim >= 1 and int(mask.shape[0]) == count:
                    mask = mask[first:stop]
                with cancel_between_layers(torch, enabled=on_cpu):
                    outputs.append(part.sample(noise[first:stop], latent_image[first:stop], sampler, sigmas,
                                               denoise_mask=mask, callback=callback, disable_pbar=disable_pbar,
                                               seed=seed))
            return torch.cat(outputs)

    guider = SubBatchedGuider(model)
    guider.set_conds(positive, negative)
    guider.set_cfg(float(cfg))
    return guider

