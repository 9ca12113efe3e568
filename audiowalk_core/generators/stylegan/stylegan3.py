"""Our StyleGAN3 synthesis network (Karras et al. 2021, "Alias-Free Generative Adversarial Networks"), configs
T (3x3 convs, separable Kaiser filters) and R (1x1 convs, radial jinc down-sampling filters), inference only.

Parameter and buffer names follow the snapshot file format (``input.freqs``, ``L3_52_512.affine.weight``,
``L3_52_512.up_filter`` ...). The stored filters are used as stored; a network we build ourselves designs them
from the config (:func:`.ops.design_lowpass`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import SG3LayerPlan, StyleGANConfig, stylegan3_plan
from .mapping import DenseLayer
from .ops import LRELU_GAIN, bias_lrelu, demodulation, design_lowpass, grouped_conv, modulated_weights, upfirdn2d


class FourierInput(nn.Module):
    """Fourier features on a grid of ``size`` px at ``sampling_rate`` px per unit, rotated and translated by a
    per-sample (cos, sin, tx, ty) from w, then mixed by a learned channel matrix."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float):
        super().__init__()
        self.channels, self.size, self.sampling_rate, self.bandwidth = channels, size, sampling_rate, bandwidth
        self.weight = nn.Parameter(torch.randn(channels, channels))
        self.affine = DenseLayer(w_dim, 4)
        with torch.no_grad():
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]) / self.affine.bias_gain)
        self.register_buffer("transform", torch.eye(3))
        direction = torch.randn(channels, 2)
        radius = direction.norm(dim=1, keepdim=True)
        self.register_buffer("freqs", direction / (radius * radius.square().exp().pow(0.25)) * bandwidth)
        self.register_buffer("phases", torch.rand(channels) - 0.5)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        batch = w.shape[0]
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        cos, sin, tx, ty = t.unbind(1)
        # rotation then translation of the image, then the user's own transform (all as inverse maps)
        one, zero = torch.ones_like(cos), torch.zeros_like(cos)
        rotation = torch.stack([cos, -sin, zero, sin, cos, zero, zero, zero, one], 1).view(batch, 3, 3)
        shift = torch.stack([one, zero, -tx, zero, one, -ty, zero, zero, one], 1).view(batch, 3, 3)
        transform = rotation @ shift @ self.transform.float()
        phases = self.phases + (self.freqs @ transform[:, :2, 2:]).squeeze(2)  # [B, C]
        freqs = self.freqs @ transform[:, :2, :2]  # [B, C, 2]
        amplitude = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        coords = (torch.arange(self.size, dtype=torch.float32, device=w.device) + 0.5 - self.size / 2) \
            / self.sampling_rate
        # phase at pixel (y, x): x * fx + y * fy + phase
        px = coords[None, None, :, None] * freqs[:, None, None, :, 0]  # [B, 1, W, C]
        py = coords[None, :, None, None] * freqs[:, None, None, :, 1]  # [B, H, 1, C]
        x = torch.sin((px + py + phases[:, None, None, :]) * (2 * math.pi)) * amplitude[:, None, None, :]
        x = x @ (self.weight / math.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)


class AliasFreeLayer(nn.Module):
    """Modulated conv, bias, up-sampling filter, leaky ReLU at the higher rate, down-sampling filter, clamp."""

    def __init__(self, w_dim: int, plan: SG3LayerPlan, conv_clamp):
        super().__init__()
        self.plan = plan
        self.affine = DenseLayer(w_dim, plan.in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(plan.out_channels, plan.in_channels, plan.conv_kernel,
                                               plan.conv_kernel))
        self.bias = nn.Parameter(torch.zeros(plan.out_channels))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.register_buffer("up_filter", design_lowpass(plan.up_taps, plan.in_cutoff, plan.in_half_width,
                                                         plan.in_rate * plan.up))
        self.register_buffer("down_filter", design_lowpass(plan.down_taps, plan.out_cutoff, plan.out_half_width,
                                                           plan.in_rate * plan.up, radial=plan.down_radial))
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor, grouped: bool = False) -> torch.Tensor:
        p = self.plan
        styles = self.affine(w)
        if p.is_torgb:
            styles = styles / math.sqrt(p.in_channels * p.conv_kernel ** 2)
        input_gain = self.magnitude_ema.float().rsqrt()
        if grouped:
            weights = modulated_weights(self.weight, styles, demodulate=not p.is_torgb) * input_gain
            x = grouped_conv(x, weights, p.conv_kernel - 1)
        else:
            y = x * (styles * input_gain).to(x.dtype)[:, :, None, None]
            x = F.conv2d(y, self.weight.to(x.dtype), padding=p.conv_kernel - 1)
            if not p.is_torgb:
                x = x * demodulation(self.weight, styles).to(x.dtype)[:, :, None, None]
        x = x + self.bias.to(x.dtype)[None, :, None, None]
        x = upfirdn2d(x, self.up_filter, up=p.up, padding=p.padding, gain=p.up ** 2)
        slope, gain = (1.0, 1.0) if p.is_torgb else (0.2, LRELU_GAIN)
        x = bias_lrelu(x, None, slope=slope, gain=gain, clamp=self.conv_clamp)
        return upfirdn2d(x, self.down_filter, down=p.down)


class StyleGAN3Synthesis(nn.Module):
    """ws ``[B, num_ws, w_dim]`` -> images ``[B, img_channels, res, res]`` float32 (noise inputs: none)."""

    def __init__(self, config: StyleGANConfig):
        super().__init__()
        source, plans = stylegan3_plan(config)
        self.input = FourierInput(config.w_dim, **source)
        self.layer_names = [plan.name for plan in plans]
        for plan in plans:
            self.add_module(plan.name, AliasFreeLayer(config.w_dim, plan, config.synthesis["conv_clamp"]))
        self.output_scale = float(config.synthesis["output_scale"])
        self.num_ws = config.num_ws

    def noise_layers(self) -> list:
        return []

    def forward(self, ws: torch.Tensor, noise="const", dtype=torch.float32, grouped: bool = False):
        ws = ws.float()
        x = self.input(ws[:, 0]).to(dtype)
        for index, name in enumerate(self.layer_names):
            x = getattr(self, name)(x, ws[:, index + 1], grouped=grouped)
        return x.float() * self.output_scale
