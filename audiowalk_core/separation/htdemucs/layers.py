"""The convolutional layers of HTDemucs: encoder and decoder layers of the time branch (1-d over samples) and of the
spectrogram branch (2-d kernels that stride over frequency only), with their residual branches.

Parameter names follow demucs' modules (``conv``, ``rewrite``, ``dconv.layers.<i>.<j>``, ``conv_tr``, ``norm1`` ...)
so the published weights load by name; the code is this project's own.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class LayerScale(nn.Module):
    """Per-channel scale of a residual output (Touvron et al. 2021): ``scale`` [channels]; channels first
    ([B, C, T]) or last ([B, T, C])."""

    def __init__(self, channels: int, init: float = 0.0, channels_last: bool = False):
        super().__init__()
        self.channels_last = channels_last
        self.scale = nn.Parameter(torch.full((channels,), float(init)))

    def forward(self, x):
        return x * (self.scale if self.channels_last else self.scale[:, None])


class ResidualBranch(nn.Module):
    """demucs' DConv: ``depth`` residual steps over time, each a dilated 3-tap convolution down to
    ``channels / compress`` channels, GroupNorm, GELU, a 1x1 convolution to ``2 * channels``, GroupNorm, GLU and a
    LayerScale (``init``); dilation doubles per step. Input and output [B, channels, T]."""

    def __init__(self, channels: int, compress: float = 8, depth: int = 2, init: float = 1e-3):
        super().__init__()
        hidden = int(channels / compress)
        self.layers = nn.ModuleList()
        for step in range(abs(depth)):
            dilation = 2 ** step if depth > 0 else 1
            self.layers.append(nn.Sequential(
                nn.Conv1d(channels, hidden, 3, dilation=dilation, padding=dilation),
                nn.GroupNorm(1, hidden), nn.GELU(),
                nn.Conv1d(hidden, 2 * channels, 1),
                nn.GroupNorm(1, 2 * channels), nn.GLU(1),
                LayerScale(channels, init)))

    def forward(self, x):
        for layer in self.layers:
            x = x + layer(x)
        return x


def _norm(enabled: bool, groups: int, channels: int) -> nn.Module:
    return nn.GroupNorm(groups, channels) if enabled else nn.Identity()


def _over_time(branch: nn.Module, y, freq: bool):
    """``branch`` on [B, C, T], or per frequency bin for [B, C, F, T] (bins become batch items)."""
    if not freq:
        return branch(y)
    batch, channels, bins, frames = y.shape
    out = branch(y.permute(0, 2, 1, 3).reshape(batch * bins, channels, frames))
    return out.view(batch, bins, channels, frames).permute(0, 2, 1, 3)


class EncoderLayer(nn.Module):
    """One encoder layer: a strided convolution (``kernel_size`` / ``stride`` over frequency with 2-d kernels
    ``[k, 1]``, or over time), GELU, optional residual branch, optional 1x1 GLU rewrite. Output length is the input
    length / stride (time inputs are zero-padded to a multiple of the stride). ``inject`` (the time branch at the
    same resolution) is added after the convolution."""

    def __init__(self, chin: int, chout: int, kernel_size: int, stride: int, freq: bool, norm: bool,
                 norm_groups: int, rewrite: bool, context: int, dconv: bool, dconv_kw: dict):
        super().__init__()
        self.freq, self.stride = freq, stride
        pad = kernel_size // 4
        if freq:
            self.conv = nn.Conv2d(chin, chout, (kernel_size, 1), (stride, 1), (pad, 0))
        else:
            self.conv = nn.Conv1d(chin, chout, kernel_size, stride, pad)
        conv = nn.Conv2d if freq else nn.Conv1d
        self.norm1 = _norm(norm, norm_groups, chout)
        self.rewrite = conv(chout, 2 * chout, 1 + 2 * context, 1, context) if rewrite else None
        self.norm2 = _norm(norm, norm_groups, 2 * chout) if rewrite else None
        self.dconv = ResidualBranch(chout, **dconv_kw) if dconv else None

    def forward(self, x, inject=None):
        if not self.freq and x.shape[-1] % self.stride:
            x = F.pad(x, (0, self.stride - x.shape[-1] % self.stride))
        y = self.conv(x)
        if inject is not None:
            y = y + (inject[:, :, None] if inject.dim() == 3 and y.dim() == 4 else inject)
        y = F.gelu(self.norm1(y))
        if self.dconv is not None:
            y = _over_time(self.dconv, y, self.freq)
        if self.rewrite is None:
            return y
        return F.glu(self.norm2(self.rewrite(y)), dim=1)


class DecoderLayer(nn.Module):
    """One decoder layer: the skip connection added, a GLU rewrite (3x3 over frequency and time, or 3 taps over
    time), optional residual branch, then a transposed convolution back up by ``stride`` (cropped to the
    encoder's length); GELU except in the last layer. Returns ``(output, input of the transposed convolution)``."""

    def __init__(self, chin: int, chout: int, kernel_size: int, stride: int, freq: bool, norm: bool,
                 norm_groups: int, rewrite: bool, context: int, dconv: bool, dconv_kw: dict, last: bool):
        super().__init__()
        self.freq, self.last, self.chin = freq, last, chin
        self.pad = kernel_size // 4
        if freq:
            self.conv_tr = nn.ConvTranspose2d(chin, chout, (kernel_size, 1), (stride, 1))
        else:
            self.conv_tr = nn.ConvTranspose1d(chin, chout, kernel_size, stride)
        conv = nn.Conv2d if freq else nn.Conv1d
        self.norm2 = _norm(norm, norm_groups, chout)
        self.rewrite = conv(chin, 2 * chin, 1 + 2 * context, 1, context) if rewrite else None
        self.norm1 = _norm(norm, norm_groups, 2 * chin) if rewrite else None
        self.dconv = ResidualBranch(chin, **dconv_kw) if dconv else None

    def forward(self, x, skip, length: int):
        if self.freq and x.dim() == 3:
            x = x.view(x.shape[0], self.chin, -1, x.shape[-1])
        y = x + skip
        if self.rewrite is not None:
            y = F.glu(self.norm1(self.rewrite(y)), dim=1)
        if self.dconv is not None:
            y = _over_time(self.dconv, y, self.freq)
        z = self.norm2(self.conv_tr(y))
        if self.freq:
            z = z[..., self.pad:-self.pad, :] if self.pad else z
        else:
            z = z[..., self.pad:self.pad + length]
        return (z if self.last else F.gelu(z)), y


class FrequencyEmbedding(nn.Module):
    """A learned vector per frequency bin of the first layer's output (Isik et al. 2020), added with a weight:
    ``embedding.weight`` [bins, channels] is stored divided by ``scale``."""

    def __init__(self, bins: int, channels: int, scale: float = 10.0, smooth: bool = True):
        super().__init__()
        self.embedding = nn.Embedding(bins, channels)
        self.scale = float(scale)
        with torch.no_grad():
            if smooth:  # a random walk over frequency, normalised by its growing spread
                walk = torch.cumsum(self.embedding.weight, dim=0)
                self.embedding.weight.copy_(walk / torch.arange(1, bins + 1).to(walk).sqrt()[:, None])
            self.embedding.weight.div_(self.scale)

    def forward(self, bins: int):
        """[1, channels, bins, 1]: the embedding of bins 0 .. bins-1, to add to [B, channels, bins, T]."""
        return (self.embedding.weight[:bins] * self.scale).t()[None, :, :, None]


def rescale_convolutions(module: nn.Module, reference: float) -> None:
    """demucs' initialisation trick: every convolution's weight and bias divided by sqrt(std(weight) /
    reference) (random-weight networks only; loaded weights replace them)."""
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d)):
                scale = (sub.weight.std() / reference) ** 0.5
                sub.weight.div_(scale)
                if sub.bias is not None:
                    sub.bias.div_(scale)
