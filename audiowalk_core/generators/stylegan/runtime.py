"""Running a StyleGAN generator: the loaded handle (the generator seam), per-frame noise, seed images.

The handle follows the generator seam (audiowalk_core/generators): ``kind``, ``resolution``, ``device``,
``dtype``, ``noise_dim`` (z_dim, or w_dim for a w-space walk), ``condition_dim`` (c_dim), ``generate_frames`` and
``generation_bytes``. Latents reach it as WalkLatents: ``noise`` [N, z_dim] (z) or [N, w_dim] (w, when
``latent_space`` is "w"), ``class_weights`` [N, c_dim] for conditional models, and optional extras:
``stylegan_ws`` [N, num_ws, w_dim] (per-layer w, used as is, truncation already applied) and ``stylegan_noise``
[N] (strength of the per-layer noise inputs per frame, 1 = the model's own).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...errors import AudioWalkInputError, require_choice
from .network import StyleGANGenerator, build_generator
from .store import read_stylegan

NOISE_MODES = ("const", "random", "none")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] float (about [-1, 1]) -> uint8 [B, H, W, 3] by ``(x * 127.5 + 128)`` clamped and truncated,
    the mapping of NVlabs' image scripts."""
    return (images.permute(0, 2, 3, 1).float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def frame_unit_noise(network: StyleGANGenerator, seed: int, frames, device) -> list[torch.Tensor]:
    """Unit Gaussian noise images for every noise layer, ``[len(frames), 1, res, res]`` each, frame f drawn from
    ``torch.Generator().manual_seed(hash of (seed, f))`` alone: the same for a frame whatever batch it is in."""
    layers = network.synthesis.noise_layers()
    per_frame = []
    for frame in frames:
        generator = torch.Generator().manual_seed((int(seed) * 1_000_003 + int(frame)) % (2 ** 63))
        per_frame.append([torch.randn(1, 1, res, res, generator=generator) for _, res in layers])
    return [torch.cat([f[i] for f in per_frame]).to(device) for i in range(len(layers))]


def seed_images(network: StyleGANGenerator, seeds, psi: float = 1.0, noise_mode: str = "const",
                class_index: int | None = None, dtype=torch.float32, device="cpu"):
    """Yield ``(seed, uint8 [H, W, 3] array)``: z = ``RandomState(seed).randn(1, z_dim)``, c one-hot of
    ``class_index`` (conditional models need one), w truncated towards w_avg by ``psi`` on every layer."""
    require_choice("noise_mode", noise_mode, NOISE_MODES)
    config = network.config
    if config.c_dim > 0 and class_index is None:
        raise AudioWalkInputError("class", "the model is conditional", f"a class index in 0..{config.c_dim - 1}")
    for seed in seeds:
        z = torch.from_numpy(np.random.RandomState(int(seed)).randn(1, config.z_dim)).float().to(device)
        c = None
        if config.c_dim > 0:
            if not 0 <= int(class_index) < config.c_dim:
                raise AudioWalkInputError("class", f"{class_index} is outside 0..{config.c_dim - 1}", "a class index")
            c = torch.zeros(1, config.c_dim, device=device)
            c[0, int(class_index)] = 1
        ws = network.ws_from_z(z, c, psi)
        noise = noise_mode if noise_mode != "random" else frame_unit_noise(network, int(seed), [0], device)
        with torch.no_grad():
            image = network.synthesis(ws, noise=noise, dtype=dtype)
        yield int(seed), to_pixels(image)[0].cpu().numpy()


def write_seed_images(model_path, seeds, outdir, psi=1.0, noise_mode="const", class_index=None,
                      device="cpu", dtype="float32") -> list[Path]:
    """``seed0000.png`` ... in ``outdir`` for ``seeds`` (each written to a temp name, then renamed)."""
    from PIL import Image

    from ...paths import atomic_output

    network = load_network(model_path, device)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for seed, pixels in seed_images(network, seeds, psi, noise_mode, class_index, DTYPES[dtype], device):
        path = outdir / f"seed{seed:04d}.png"
        with atomic_output(path) as temp:
            Image.fromarray(pixels, "RGB").save(temp, format="PNG")
        written.append(path)
    return written


def load_network(path, device="cpu") -> StyleGANGenerator:
    """Read, check strictly and build our network for a model file (.pkl, .pt, .safetensors)."""
    config, state = read_stylegan(path)
    return build_generator(config, state, Path(path).name, device)


@dataclass
class StyleGANHandle:
    """A loaded StyleGAN behind the generator seam (see the module docstring)."""

    network: StyleGANGenerator
    device: torch.device
    dtype: torch.dtype
    latent_space: str = "z"
    noise_mode: str = "random"
    source: str = "model"
    patcher: object = None  # ComfyUI's ModelPatcher around ``network`` when an application manages it

    @property
    def kind(self) -> str:
        return self.network.config.kind

    @property
    def resolution(self) -> int:
        return self.network.config.resolution

    @property
    def noise_dim(self) -> int:
        return self.network.config.z_dim if self.latent_space == "z" else self.network.config.w_dim

    @property
    def condition_dim(self) -> int:
        return self.network.config.c_dim

    @property
    def num_ws(self) -> int:
        return self.network.num_ws

    def generation_bytes(self, batch_size: int) -> int:
        """Rough device memory of one batch: weights + the two largest activations per frame (float32 bytes)."""
        weights = sum(t.numel() * t.element_size() for t in self.network.state_dict().values())
        res = self.resolution
        channels = max(p.shape[0] for n, p in self.network.named_parameters() if n.endswith("weight") and p.ndim == 4)
        # a few activations of the widest layer at twice the output size (StyleGAN3's up-sampled leaky ReLU)
        per_frame = 4 * 6 * min(channels, 512) * (res * 2) ** 2 // 4
        return int(weights + batch_size * per_frame)

    def ws_for_rows(self, latents, rows) -> torch.Tensor:
        """Truncated per-layer w ``[rows, num_ws, w_dim]`` of some rows of ``latents`` (a slice or int indices)."""
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(latents.frame_count))
        rows = np.asarray(rows, np.int64)
        extras = getattr(latents, "extras", None) or {}
        if "stylegan_ws" in extras:
            return torch.as_tensor(np.asarray(extras["stylegan_ws"])[rows], dtype=torch.float32).to(self.device)
        noise = torch.as_tensor(np.asarray(latents.noise)[rows], dtype=torch.float32).to(self.device)
        if noise.shape[1] != self.noise_dim and not (self.latent_space == "z" and noise.shape[1] == 0):
            raise AudioWalkInputError("latents", f"noise of width {noise.shape[1]}",
                                      f"width {self.noise_dim} ({self.latent_space} of this {self.kind})")
        c = None
        if self.condition_dim > 0:
            low, high = int(rows.min()), int(rows.max()) + 1
            weights = latents.dense_class_weights(low, high) if getattr(latents, "class_indices", None) \
                else latents.class_weights[low:high]
            c = torch.as_tensor(np.asarray(weights)[rows - low], dtype=torch.float32).to(self.device)
            if c.shape[1] != self.condition_dim:
                raise AudioWalkInputError("latents", f"class weights with {c.shape[1]} columns",
                                          f"{self.condition_dim} (the model's c_dim)")
        psi = float(latents.truncation)
        if "stylegan_group_z" in extras and self.latent_space == "z":
            from .walk import layer_groups

            group_z = torch.as_tensor(np.asarray(extras["stylegan_group_z"])[rows], dtype=torch.float32)
            batch, count, width = group_z.shape
            if width != self.noise_dim:
                raise AudioWalkInputError("latents", f"layer-group z of width {width}",
                                          f"width {self.noise_dim} (z of this {self.kind})")
            c_rep = None if c is None else c.repeat_interleave(count, dim=0)
            with torch.no_grad():
                w = self.network.mapping(group_z.reshape(batch * count, width).to(self.device), c_rep)
            w = w.reshape(batch, count, -1)
            index = torch.as_tensor(layer_groups(self.kind, self.num_ws), device=w.device)
            return self.network.mapping.truncate(w[:, index], psi)
        if self.latent_space == "w":
            w = noise.unsqueeze(1).expand(-1, self.num_ws, -1)
            return self.network.mapping.truncate(w, psi)
        return self.network.ws_from_z(noise, c, psi)

    def generate_frames(self, latents, *, batch_size: int = 8, output_format: str = "float",
                        output_mapping: str = "fixed", on_progress=None):
        """Yield CPU tensors [B, H, W, 3]: float32 in [0, 1] (``x * 0.5 + 0.5`` clamped) or uint8 (NVlabs' pixel
        mapping). Noise inputs per frame come from the latents' seed and the frame's absolute index; with the same
        ``batch_size`` any frame range equals those frames of a whole render exactly."""
        require_choice("output_format", output_format, ("float", "uint8"))
        require_choice("output_mapping", output_mapping, ("fixed", "per_frame_minmax"))
        if int(batch_size) < 1:
            raise AudioWalkInputError("batch_size", f"{batch_size!r} is below 1", "a batch size of at least 1")
        total = latents.frame_count
        first_frame = int(getattr(latents, "first_frame", 0))
        strength = (getattr(latents, "extras", None) or {}).get("stylegan_noise")
        size = max(int(batch_size), 1)
        done = 0
        # Batches sit on the song's frame grid (frames [k * size, (k + 1) * size)) and are padded to ``size``:
        # each frame is computed at the same place in a batch of the same shape whatever range is rendered, so
        # a chunk equals those frames of a whole render bit for bit.
        window = (first_frame // size) * size
        while window < first_frame + total:
            low, high = max(window, first_frame), min(window + size, first_frame + total)
            rows = np.full(size, low - first_frame, np.int64)
            rows[low - window:high - window] = np.arange(low, high) - first_frame
            ws = self.ws_for_rows(latents, rows)
            noise = self.noise_mode
            if self.noise_mode == "random" and self.network.synthesis.noise_layers():
                noise = frame_unit_noise(self.network, int(latents.seed), rows + first_frame, self.device)
                if strength is not None:
                    scale = torch.as_tensor(np.asarray(strength)[rows], dtype=torch.float32).to(self.device)
                    noise = [n * scale[:, None, None, None] for n in noise]
            with torch.no_grad():
                images = self.network.synthesis(ws, noise=noise, dtype=self.dtype)
            if output_mapping == "per_frame_minmax":
                floor = images.amin(dim=(1, 2, 3), keepdim=True)
                top = images.amax(dim=(1, 2, 3), keepdim=True)
                images = (images - floor) / (top - floor).clamp_min(1e-8) * 2 - 1
            if output_format == "uint8":
                out = to_pixels(images)
            else:
                out = (images.permute(0, 2, 3, 1).float() * 0.5 + 0.5).clamp_(0, 1)
            out = out[low - window:high - window]
            done += high - low
            window += size
            yield out.cpu()
            if on_progress is not None:
                on_progress(done, total)


def load_stylegan(path, device="cpu", dtype: str = "float32", latent_space: str = "z",
                  noise_mode: str = "random") -> StyleGANHandle:
    """A :class:`StyleGANHandle` for a model file; every check runs before any frame is made."""
    require_choice("dtype", dtype, tuple(DTYPES))
    require_choice("latent_space", latent_space, ("z", "w"))
    require_choice("noise_mode", noise_mode, NOISE_MODES)
    network = load_network(path, device)
    return StyleGANHandle(network, torch.device(device), DTYPES[dtype], latent_space, noise_mode, Path(path).name)
