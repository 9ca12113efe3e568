"""Our BigGAN-deep for inference, built from the published weights (:mod:`.architecture`'s layout): the library
model's outputs (to float32 rounding) with less work and fewer passes over memory.

Built once, in float32, before it moves to its device and dtype:
- every spectral norm is folded into a plain weight (W / sigma with the stored u, v: what eval mode computes);
- the two class-conditional linears of every batch norm (112 small matmuls per batch for biggan-deep-512) are one
  table ``generator.norm_weight`` [2S, cond], their statistics ``norm_means`` / ``norm_vars`` [n_stats, S]: one
  matmul per batch gives all scales and shifts;
- each batch norm, the ReLU after it (all of BigGAN-deep's ReLUs follow one) and the truncation's statistics are
  one multiply-add pass, in place on the convolution output it reads;
- with ``fused_upsampling``, nearest up-sampling + 3x3 convolution is one transposed convolution (4/9 of the
  multiply-adds);
- the final 3x3 convolution computes only the 3 channels that are kept (the library computes ``channel_width``
  and drops the rest: a fifth of the FLOPs at 128 px).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as functional
from torch import nn

from .architecture import block_channels


def folded_weight(state: dict, prefix: str):
    """The eval-mode weight of spectral-normalised layer ``prefix``: ``weight_orig / (u . (W v))``, in float32.
    Computed on fresh copies: vectorised kernels may sum in another order on memory aligned otherwise (a tensor read
    from a file), and the same file must give the same model bit for bit whatever its layout."""
    weight, u, v = (state[prefix + suffix].float().clone() for suffix in (".weight_orig", ".weight_u", ".weight_v"))
    return weight / torch.dot(u, torch.mv(weight.reshape(weight.shape[0], -1), v))


def transposed_upsampling_weight(weight):
    """The weight [in, out, 4, 4] of the transposed 4x4, stride-2 convolution equal to nearest 2x up-sampling
    followed by a 3x3, padding-1 convolution of ``weight`` [out, in, 3, 3]: along each axis an even output pixel
    sees input pixels i-1 (tap 0) and i (taps 1+2), an odd one i (taps 0+1) and i+1 (tap 2), so each output
    pixel needs 2x2 inputs instead of 3x3. Summed in float32."""
    taps = torch.tensor([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=torch.float32)  # [4 kernel, 3 taps]
    return torch.einsum("ka,lb,oiab->iokl", taps, taps, weight.float())


def _norm_relu(x, scale, shift, in_place: bool = False):
    """ReLU(x * scale + shift) for x [B, C, H, W] and per-sample, per-channel scale/shift [B or 1, C]: one
    multiply-add pass (written into ``x`` when ``in_place``: no new buffer) and an in-place clamp. Under
    torch.compile the out-of-place form (``out=`` on a channels_last tensor breaks the graph; inductor fuses both
    passes into one kernel and plans the buffers itself)."""
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


class SelfAttention(nn.Module):
    """BigGAN's self-attention over the pixels (keys and values max-pooled 2x2), added with weight ``gamma``."""

    def __init__(self, channels: int):
        super().__init__()
        self.theta = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.phi = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.g = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.o_conv = nn.Conv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        _, channels, height, width = x.shape
        theta = self.theta(x).view(-1, channels // 8, height * width)
        phi = functional.max_pool2d(self.phi(x), 2, 2).view(-1, channels // 8, height * width // 4)
        attention = torch.softmax(torch.bmm(theta.permute(0, 2, 1), phi), dim=-1)
        g = functional.max_pool2d(self.g(x), 2, 2).view(-1, channels // 2, height * width // 4)
        attended = torch.bmm(g, attention.permute(0, 2, 1)).view(-1, channels // 2, height, width)
        return x + self.gamma * self.o_conv(attended)


class ResidualBlock(nn.Module):
    """A BigGAN-deep block: four (batch norm, ReLU, convolution) steps (1x1 down to a quarter of the channels,
    two 3x3, 1x1 out), an optional 2x up-sampling before the second convolution, and the shortcut (the first
    ``out`` channels, up-sampled when the block is)."""

    def __init__(self, in_channels: int, out_channels: int, up_sample: bool, fused_upsampling: bool,
                 norm_slices: tuple):
        super().__init__()
        middle = in_channels // 4
        self.up_sample, self.drop_channels = up_sample, in_channels != out_channels
        self.fused_upsampling = up_sample and fused_upsampling
        self.norm_slices = norm_slices  # this block's four batch norms in the generator's [B, S] tables
        self.conv_0 = nn.Conv2d(in_channels, middle, 1)
        self.conv_1 = (nn.ConvTranspose2d(middle, middle, 4, stride=2, padding=1) if self.fused_upsampling
                       else nn.Conv2d(middle, middle, 3, padding=1))
        self.conv_2 = nn.Conv2d(middle, middle, 3, padding=1)
        self.conv_3 = nn.Conv2d(middle, out_channels, 1)

    def forward(self, x, scale, shift):
        """``scale``/``shift`` [B, S] hold every batch norm's per-sample affine; batch norms write into the
        convolution outputs they read; the shortcut is added in place (up-sampled by broadcasting into 2x2 pixel
        blocks, never materialised)."""
        first, second, third, fourth = self.norm_slices
        h = self.conv_0(_norm_relu(x, scale[:, first], shift[:, first]))  # x stays: it is the shortcut
        h = _norm_relu(h, scale[:, second], shift[:, second], in_place=True)
        if self.up_sample and not self.fused_upsampling:
            h = functional.interpolate(h, scale_factor=2, mode="nearest")
        h = self.conv_1(h)  # a transposed convolution that up-samples, when fused_upsampling
        h = self.conv_2(_norm_relu(h, scale[:, third], shift[:, third], in_place=True))
        h = self.conv_3(_norm_relu(h, scale[:, fourth], shift[:, fourth], in_place=True))
        shortcut = x[:, :x.shape[1] // 2] if self.drop_channels else x
        if self.up_sample:
            batch, channels, height, width = h.shape
            h.view(batch, channels, height // 2, 2, width // 2, 2).add_(shortcut[:, :, :, None, :, None])
        else:
            h.add_(shortcut)
        return h


class Generator(nn.Module):
    """cond [B, 2 z_dim] and a truncation's statistics -> images [B, 3, H, W] in [-1, 1]."""

    def __init__(self, config: dict, fused_upsampling: bool):
        super().__init__()
        width, steps, condition = int(config["channel_width"]), int(config["n_stats"]), 2 * int(config["z_dim"])
        self.channel_width = width
        self.eps = float(config["eps"])
        self.step = 1.0 / (steps - 1)
        self.memory_format = torch.contiguous_format
        self.gen_z = nn.Linear(condition, 4 * 4 * 16 * width)
        layers, offset = [], 0
        for entry in block_channels(config):
            if entry[0] == "attention":
                layers.append(SelfAttention(entry[1]))
                continue
            _, in_channels, out_channels, up_sample = entry
            sizes = (in_channels,) + (in_channels // 4,) * 3
            slices = tuple(slice(offset + sum(sizes[:i]), offset + sum(sizes[:i + 1])) for i in range(4))
            offset += sum(sizes)
            layers.append(ResidualBlock(in_channels, out_channels, up_sample, fused_upsampling, slices))
        self.layers = nn.ModuleList(layers)
        self.register_buffer("norm_weight", torch.empty(2 * offset, condition))
        self.register_buffer("norm_means", torch.empty(steps, offset))
        self.register_buffer("norm_vars", torch.empty(steps, offset))
        for name in ("final_weight", "final_bias"):
            self.register_buffer(name, torch.empty(width))
        for name in ("final_means", "final_vars"):
            self.register_buffer(name, torch.empty(steps, width))
        self.conv_to_rgb = nn.Conv2d(width, 3, 3, padding=1)
        self._statistics_cache = None

    def truncation_statistics(self, truncation: float) -> tuple:
        """What a truncation fixes, float32 on the model's device: mean [S] and 1/std [S] of all conditional batch
        norms (S channels in all), and the final batch norm's scale [C] and shift [C]. Cached for the last one."""
        key = (float(truncation), self.norm_means.device, self.norm_means.dtype)
        if self._statistics_cache is not None and self._statistics_cache[0] == key:
            return self._statistics_cache[1]
        mean = _interpolated_statistics(self.norm_means, truncation, self.step)
        inverse_std = torch.rsqrt(_interpolated_statistics(self.norm_vars, truncation, self.step) + self.eps)
        final_mean = _interpolated_statistics(self.final_means, truncation, self.step)
        final_scale = self.final_weight.float() * torch.rsqrt(
            _interpolated_statistics(self.final_vars, truncation, self.step) + self.eps)
        final_shift = self.final_bias.float() - final_mean * final_scale
        statistics = (mean, inverse_std, final_scale, final_shift)
        self._statistics_cache = (key, statistics)
        return statistics

    def forward(self, cond, mean, inverse_std, final_scale, final_shift):
        """cond [B, 2 z_dim] (noise and class embedding, model dtype) -> images [B, 3, H, W], model dtype. One
        matmul gives the scale and shift of all conditional batch norms."""
        raw = functional.linear(cond, self.norm_weight).float()
        count = mean.shape[0]
        scale = (1.0 + raw[:, :count]) * inverse_std
        shift = (raw[:, count:] - mean * scale).to(cond.dtype)
        scale = scale.to(cond.dtype)
        z = self.gen_z(cond).view(-1, 4, 4, 16 * self.channel_width).permute(0, 3, 1, 2)
        z = z.contiguous(memory_format=self.memory_format)
        for layer in self.layers:
            z = layer(z, scale, shift) if isinstance(layer, ResidualBlock) else layer(z)
        z = _norm_relu(z, final_scale.to(z.dtype)[None], final_shift.to(z.dtype)[None], in_place=True)
        return torch.tanh(self.conv_to_rgb(z))


class BigGAN(nn.Module):
    """BigGAN-deep for inference: ``model(noise [B, z_dim], class_weights [B, num_classes], truncation in (0, 1])``
    -> images [B, 3, H, W] in [-1, 1], as the library model gives them. Build it with :meth:`from_weights`."""

    def __init__(self, config: dict, fused_upsampling: bool = True):
        super().__init__()
        self.config = dict(config)
        self.embeddings = nn.Linear(int(config["num_classes"]), int(config["z_dim"]), bias=False)
        self.generator = Generator(config, fused_upsampling)

    @classmethod
    def from_weights(cls, config: dict, state: dict, fused_upsampling: bool = True) -> "BigGAN":
        """The model of ``config`` from its published weights ``state`` (checked to be complete), in float32 on
        the CPU; ``state`` is left as it was."""
        with torch.device("meta"):
            model = cls(config, fused_upsampling)
        model.load_state_dict(fused_state(config, state, fused_upsampling), strict=True, assign=True)
        return model.eval()

    def truncation_statistics(self, truncation: float) -> tuple:
        return self.generator.truncation_statistics(truncation)

    def images(self, noise, class_weights, statistics):
        """noise [B, z_dim] and class weights [B, num_classes] (any float dtype, on the model's device) and
        :meth:`truncation_statistics` -> images [B, 3, H, W] in [-1, 1], model dtype."""
        dtype = self.embeddings.weight.dtype
        cond = torch.cat((noise.to(dtype), self.embeddings(class_weights.to(dtype))), dim=1)
        return self.generator(cond, *statistics)

    def forward(self, noise, class_weights, truncation):
        if not 0 < truncation <= 1:
            raise ValueError(f"truncation {truncation} is outside (0, 1]")
        return self.images(noise, class_weights, self.truncation_statistics(float(truncation)))


def fused_state(config: dict, state: dict, fused_upsampling: bool = True) -> dict:
    """:class:`BigGAN`'s state dict from the published weights ``state``: spectral norms folded, batch-norm
    tables concatenated, the up-sampling convolutions transposed, the output convolution cut to 3 channels. Every
    tensor is a new float32 one (none shares memory with ``state``), and each is made once: the peak is about
    ``state`` plus the model."""
    def copied(key):
        return state[key].to(torch.float32, copy=True)

    with torch.no_grad():
        ours = {"embeddings.weight": copied("embeddings.weight"),
                "generator.gen_z.weight": folded_weight(state, "generator.gen_z"),
                "generator.gen_z.bias": copied("generator.gen_z.bias")}
        scales, offsets, means, variances = [], [], [], []
        for index, entry in enumerate(block_channels(config)):
            prefix = f"generator.layers.{index}"
            if entry[0] == "attention":
                for name in ("theta", "phi", "g", "o_conv"):
                    ours[f"{prefix}.{name}.weight"] = folded_weight(state, f"{prefix}.snconv1x1_{name}")
                ours[f"{prefix}.gamma"] = copied(f"{prefix}.gamma")
                continue
            for number in range(4):
                norm = f"{prefix}.bn_{number}"
                scales.append(folded_weight(state, f"{norm}.scale"))
                offsets.append(folded_weight(state, f"{norm}.offset"))
                means.append(state[f"{norm}.running_means"])
                variances.append(state[f"{norm}.running_vars"])
                weight = folded_weight(state, f"{prefix}.conv_{number}")
                if number == 1 and entry[3] and fused_upsampling:
                    weight = transposed_upsampling_weight(weight)
                ours[f"{prefix}.conv_{number}.weight"] = weight
                ours[f"{prefix}.conv_{number}.bias"] = copied(f"{prefix}.conv_{number}.bias")
        ours["generator.norm_weight"] = torch.cat(scales + offsets)
        del scales, offsets
        ours["generator.norm_means"] = torch.cat(means, dim=1).float()
        ours["generator.norm_vars"] = torch.cat(variances, dim=1).float()
        for name in ("weight", "bias"):
            ours[f"generator.final_{name}"] = copied(f"generator.bn.{name}")
        ours["generator.final_means"] = copied("generator.bn.running_means")
        ours["generator.final_vars"] = copied("generator.bn.running_vars")
        ours["generator.conv_to_rgb.weight"] = folded_weight(state, "generator.conv_to_rgb")[:3].clone()
        ours["generator.conv_to_rgb.bias"] = copied("generator.conv_to_rgb.bias")[:3].clone()
    return ours
