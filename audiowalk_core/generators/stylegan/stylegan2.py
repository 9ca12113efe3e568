"""Our StyleGAN2 synthesis network (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"),
inference only, with the parameter names of the snapshot file format (``b4.const``, ``b8.conv0.affine.weight``,
``b8.torgb.weight`` ...).

Modulated convolution runs as "scale the activations": ``conv(x * s, W) * d`` with the demodulation ``d`` computed
from ``s`` and ``W`` directly ([B, O], not a [B, O, I, k, k] weight), one ordinary batched convolution per layer;
for batch 1 or when asked, as one grouped convolution of per-sample weights. Up-sampling is a stride-2 transposed
convolution followed by the [1, 3, 3, 1] blur; noise is added before bias + leaky ReLU + clamp (one pass).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import StyleGANConfig, stylegan2_channels
from .mapping import DenseLayer
from .ops import LRELU_GAIN, bias_lrelu, binomial_filter, demodulation, grouped_conv, modulated_weights, upfirdn2d


def _blur_up_padding(taps: int, kernel: int) -> tuple:
    """Padding of the blur after a stride-2 transposed conv of a ``kernel`` conv (output 2x the input size)."""
    low = (taps + 1) // 2 + kernel // 2 - (kernel - 1)
    high = (taps - 2) // 2 + kernel // 2 - (kernel - 2)
    return (low, high, low, high)


class StyledConv(nn.Module):
    """Modulated 3x3 conv (optionally 2x up), noise, bias, leaky ReLU, clamp (a "SynthesisLayer" in the files)."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, up: int = 1, kernel: int = 3,
                 use_noise: bool = True, activation: str = "lrelu", conv_clamp=None, blur=(1, 3, 3, 1)):
        super().__init__()
        self.affine = DenseLayer(w_dim, in_ch, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.register_buffer("resample_filter", binomial_filter(blur))
        self.use_noise, self.up, self.resolution, self.kernel = use_noise, up, resolution, kernel
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.conv_clamp = conv_clamp
        self.slope = 1.0 if activation == "linear" else (0.0 if activation == "relu" else 0.2)
        self.act_gain = 1.0 if activation == "linear" else LRELU_GAIN

    def forward(self, x, w, noise=None, gain: float = 1.0, grouped: bool = False):
        styles = self.affine(w)
        if grouped:
            weights = modulated_weights(self.weight, styles, demodulate=True)
            if self.up > 1:
                y = _grouped_up_conv(x, weights)
                y = upfirdn2d(y, self.resample_filter, padding=_blur_up_padding(4, self.kernel), gain=4)
            else:
                y = grouped_conv(x, weights, self.kernel // 2)
        else:
            y = x * styles.to(x.dtype)[:, :, None, None]
            weight = self.weight.to(x.dtype)
            if self.up > 1:
                y = F.conv_transpose2d(y, weight.transpose(0, 1), stride=2)
                y = upfirdn2d(y, self.resample_filter, padding=_blur_up_padding(4, self.kernel), gain=4)
            else:
                y = F.conv2d(y, weight, padding=self.kernel // 2)
            y = y * demodulation(self.weight, styles).to(x.dtype)[:, :, None, None]
        if self.use_noise and noise is not None:
            if isinstance(noise, str):  # "const"
                y = y + (self.noise_const * self.noise_strength).to(y.dtype)
            else:  # unit noise [B, 1, res, res]
                y = y + (noise.to(y.dtype) * self.noise_strength.to(y.dtype))
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_lrelu(y, self.bias, slope=self.slope, gain=self.act_gain * gain, clamp=clamp)


def _grouped_up_conv(x, weights):
    """Stride-2 transposed conv of sample b with its own weights [O, I, k, k] (one grouped call)."""
    batch, out_ch, in_ch, kh, kw = weights.shape
    w = weights.transpose(1, 2).reshape(batch * in_ch, out_ch, kh, kw).to(x.dtype)
    y = F.conv_transpose2d(x.reshape(1, batch * in_ch, *x.shape[2:]), w, stride=2, groups=batch)
    return y.reshape(batch, out_ch, *y.shape[2:])


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation + bias + clamp."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, conv_clamp=None):
        super().__init__()
        self.affine = DenseLayer(w_dim, in_ch, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.conv_clamp = conv_clamp
        self.gain = 1.0 / math.sqrt(in_ch)

    def forward(self, x, w):
        styles = self.affine(w) * self.gain
        y = F.conv2d(x * styles.to(x.dtype)[:, :, None, None], self.weight.to(x.dtype))
        return bias_lrelu(y, self.bias, slope=1.0, gain=1.0, clamp=self.conv_clamp)


class SkipUp(nn.Module):
    """The resnet block's shortcut: 1x1 conv (no bias), 2x up with the blur."""

    def __init__(self, in_ch: int, out_ch: int, blur=(1, 3, 3, 1)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 1, 1))
        self.register_buffer("resample_filter", binomial_filter(blur))
        self.gain = 1.0 / math.sqrt(in_ch)

    def forward(self, x, gain: float):
        y = F.conv2d(x, (self.weight * (self.gain * gain)).to(x.dtype))
        return upfirdn2d(y, self.resample_filter, up=2, padding=(2, 1, 2, 1), gain=4)


class Block(nn.Module):
    """One resolution: (const at 4 px | up conv0) + conv1 (+ ToRGB, + resnet shortcut)."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, img_channels: int, is_last: bool,
                 s: dict):
        super().__init__()
        self.in_ch, self.resolution, self.architecture = in_ch, resolution, s["architecture"]
        blur = s["resample_filter"]
        self.register_buffer("resample_filter", binomial_filter(blur))
        layer = dict(w_dim=w_dim, resolution=resolution, kernel=int(s["kernel_size"]), use_noise=bool(s["use_noise"]),
                     activation=s["activation"], conv_clamp=s["conv_clamp"], blur=blur)
        if in_ch == 0:
            self.const = nn.Parameter(torch.randn(out_ch, resolution, resolution))
        else:
            self.conv0 = StyledConv(in_ch, out_ch, up=2, **layer)
        self.conv1 = StyledConv(out_ch, out_ch, **layer)
        self.has_torgb = is_last or self.architecture == "skip"
        if self.has_torgb:
            self.torgb = ToRGB(out_ch, img_channels, w_dim, conv_clamp=s["conv_clamp"])
        if in_ch != 0 and self.architecture == "resnet":
            self.skip = SkipUp(in_ch, out_ch, blur)
        self.num_conv = 1 if in_ch == 0 else 2

    def forward(self, x, img, ws, noises, dtype, grouped):
        if self.in_ch == 0:
            x = self.const.to(dtype).unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, ws[:, 0], noises[0], grouped=grouped)
        elif self.architecture == "resnet":
            shortcut = self.skip(x.to(dtype), math.sqrt(0.5))
            x = self.conv0(x.to(dtype), ws[:, 0], noises[0], grouped=grouped)
            x = shortcut.add_(self.conv1(x, ws[:, 1], noises[1], gain=math.sqrt(0.5), grouped=grouped))
        else:
            x = self.conv0(x.to(dtype), ws[:, 0], noises[0], grouped=grouped)
            x = self.conv1(x, ws[:, 1], noises[1], grouped=grouped)
        if img is not None:
            img = upfirdn2d(img, self.resample_filter, up=2, padding=(2, 1, 2, 1), gain=4)
        if self.has_torgb:
            rgb = self.torgb(x, ws[:, self.num_conv]).float()
            img = rgb if img is None else img.add_(rgb)
        return x, img


class StyleGAN2Synthesis(nn.Module):
    """ws ``[B, num_ws, w_dim]`` -> images ``[B, img_channels, res, res]`` float32, about [-1, 1]."""

    def __init__(self, config: StyleGANConfig):
        super().__init__()
        s = config.synthesis
        if s["architecture"] not in ("orig", "skip", "resnet"):
            raise ValueError(f"unknown StyleGAN2 architecture {s['architecture']!r}")
        channels = stylegan2_channels(config)
        self.resolutions = sorted(channels)
        self.num_ws = config.num_ws
        for res in self.resolutions:
            in_ch = channels[res // 2] if res > 4 else 0
            self.add_module(f"b{res}", Block(in_ch, channels[res], config.w_dim, res, config.img_channels,
                                             res == config.resolution, s))

    def noise_layers(self) -> list[tuple[str, int]]:
        """``(name, resolution px)`` of every layer with a noise input, in the order ``forward`` takes them."""
        out = []
        for res in self.resolutions:
            block = getattr(self, f"b{res}")
            for name in (("conv1",) if block.in_ch == 0 else ("conv0", "conv1")):
                if getattr(block, name).use_noise:
                    out.append((f"b{res}.{name}", res))
        return out

    def forward(self, ws: torch.Tensor, noise="const", dtype=torch.float32, grouped: bool = False):
        """``noise``: "const" (the stored noise), "none", or a list of unit-noise tensors [B, 1, res, res] in the
        order of :meth:`noise_layers`."""
        ws = ws.float()
        supplied = list(noise) if isinstance(noise, (list, tuple)) else None
        x = img = None
        first = 0
        for res in self.resolutions:
            block = getattr(self, f"b{res}")
            if supplied is not None:
                noises = [supplied.pop(0) if getattr(block, n).use_noise else None
                          for n in (("conv1",) if block.in_ch == 0 else ("conv0", "conv1"))]
            else:
                noises = [None if noise == "none" else "const"] * block.num_conv
            x, img = block(x, img, ws[:, first:first + block.num_conv + 1], noises, dtype, grouped)
            first += block.num_conv
        return img
