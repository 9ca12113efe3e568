"""Inference building blocks shared by our StyleGAN2 and StyleGAN3 networks (written for this project).

Images are ``[batch, channels, height, width]`` tensors. FIR filters are float32, either 1-D ``[taps]``
(separable: applied along width then height) or 2-D ``[taps, taps]``. "Full" convolution semantics throughout:
``upfirdn2d`` zero-stuffs by ``up``, pads (negative padding crops), convolves with the filter and keeps every
``down``-th sample, the resampling operator of the StyleGAN papers (Karras et al. 2020, 2021, appendix C).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def binomial_filter(taps=(1, 3, 3, 1)) -> torch.Tensor:
    """The 2-D outer product of ``taps`` normalised to sum 1, float32 ``[k, k]`` (StyleGAN2's blur)."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f) if f.ndim == 1 else f
    return f / f.sum()


def _depthwise(x: torch.Tensor, f: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Correlate every channel of ``x`` with the (flipped, so: convolve with) filter ``f`` (1-D separable or 2-D)."""
    channels = x.shape[1]
    f = f.to(x.dtype).flip(list(range(f.ndim)))
    if f.ndim == 1:
        kx = f.view(1, 1, 1, -1).expand(channels, 1, 1, f.numel())
        ky = f.view(1, 1, -1, 1).expand(channels, 1, f.numel(), 1)
        x = F.conv2d(x, kx, stride=(1, stride), groups=channels)
        return F.conv2d(x, ky, stride=(stride, 1), groups=channels)
    return F.conv2d(x, f.expand(channels, 1, *f.shape), stride=stride, groups=channels)


def _transposed_depthwise(x: torch.Tensor, f: torch.Tensor, up: int) -> torch.Tensor:
    """Full convolution of the ``up``-zero-stuffed ``x`` with ``f``, by a strided transposed depthwise conv.

    Output length per axis ``(L - 1) * up + taps`` (the stuffed signal's trailing zeros contribute nothing).
    """
    channels = x.shape[1]
    f = f.to(x.dtype)
    if f.ndim == 1:
        kx = f.view(1, 1, 1, -1).expand(channels, 1, 1, f.numel())
        ky = f.view(1, 1, -1, 1).expand(channels, 1, f.numel(), 1)
        x = F.conv_transpose2d(x, kx, stride=(1, up), groups=channels)
        return F.conv_transpose2d(x, ky, stride=(up, 1), groups=channels)
    return F.conv_transpose2d(x, f.expand(channels, 1, *f.shape), stride=up, groups=channels)


def _window(full: torch.Tensor, start_y: int, start_x: int, out_h: int, out_w: int) -> torch.Tensor:
    """Rows ``[start_y, start_y + out_h)`` and columns likewise of ``full``, zeros outside it."""
    pad_l, pad_t = max(-start_x, 0), max(-start_y, 0)
    pad_r = max(start_x + out_w - full.shape[3], 0)
    pad_b = max(start_y + out_h - full.shape[2], 0)
    if pad_l or pad_t or pad_r or pad_b:
        full = F.pad(full, [pad_l, pad_r, pad_t, pad_b])
    start_x, start_y = start_x + pad_l, start_y + pad_t
    return full[:, :, start_y:start_y + out_h, start_x:start_x + out_w]


def upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, up: int = 1, down: int = 1, padding=(0, 0, 0, 0),
              gain: float = 1.0) -> torch.Tensor:
    """Upsample (zero-stuff) by ``up``, pad ``(x0, x1, y0, y1)`` px (negative crops), convolve with ``f`` times
    ``gain``, keep every ``down``-th sample. ``f`` None is the identity filter.

    Output size per axis: ``(L * up + pad0 + pad1 - taps + 1)`` before the ``down`` decimation (ceil division).
    """
    x0, x1, y0, y1 = (int(p) for p in padding)
    if f is None:
        f = torch.ones(1, dtype=torch.float32)
    f = f.to(x.device, torch.float32)
    f = f * (math.sqrt(gain) if f.ndim == 1 else gain)  # a 1-D filter runs along both axes
    taps = f.shape[-1]
    if up > 1:
        full = _transposed_depthwise(x, f, up)
        out_h = x.shape[2] * up + y0 + y1 - taps + 1
        out_w = x.shape[3] * up + x0 + x1 - taps + 1
        x = _window(full, taps - 1 - y0, taps - 1 - x0, out_h, out_w)
        return x[:, :, ::down, ::down] if down > 1 else x
    if x0 or x1 or y0 or y1:
        x = F.pad(x, [x0, x1, y0, y1])
    if taps == 1 and f.ndim == 1:
        x = x * f[0] ** 2 if float(f[0]) != 1.0 else x
        return x[:, :, ::down, ::down] if down > 1 else x
    return _depthwise(x, f, stride=down)


def upfirdn2d_naive(x: torch.Tensor, f: torch.Tensor | None, up: int = 1, down: int = 1, padding=(0, 0, 0, 0),
                    gain: float = 1.0) -> torch.Tensor:
    """:func:`upfirdn2d` the slow obvious way (stuff zeros, pad, convolve, decimate): the tests' reference."""
    x0, x1, y0, y1 = (int(p) for p in padding)
    n, c, h, w = x.shape
    if up > 1:
        stuffed = x.new_zeros(n, c, h * up, w * up)
        stuffed[:, :, ::up, ::up] = x
        x = stuffed
    x = F.pad(x, [x0, x1, y0, y1])
    f = torch.ones(1, 1) if f is None else f.float()
    f2 = torch.outer(f, f) if f.ndim == 1 else f
    f2 = (f2 * gain).to(x.dtype).flip([0, 1])
    padded_h, padded_w = x.shape[2], x.shape[3]
    x = F.conv2d(x.reshape(n * c, 1, padded_h, padded_w), f2[None, None])
    x = x.reshape(n, c, x.shape[2], x.shape[3])
    return x[:, :, ::down, ::down]


def bias_lrelu(x: torch.Tensor, bias: torch.Tensor | None, slope: float = LRELU_SLOPE, gain: float = LRELU_GAIN,
               clamp: float | None = None) -> torch.Tensor:
    """``clamp(lrelu(x + bias) * gain, -clamp, clamp)`` per channel (dim 1), in place on ``x`` where it can be.

    ``slope`` 1 is the linear case. The gain is folded into the activation (lrelu is positively homogeneous).
    """
    if bias is not None:
        x = x + bias.to(x.dtype).view(1, -1, *([1] * (x.ndim - 2)))
    if slope != 1.0:
        x = F.leaky_relu_(x, slope)
    if gain != 1.0:
        x = x.mul_(gain)
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp)
    return x


def normalize_rows(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``x / sqrt(mean(x^2 over dim 1) + eps)``: the pixel norm of z and of the class embedding."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def modulated_weights(weight: torch.Tensor, styles: torch.Tensor, demodulate: bool) -> torch.Tensor:
    """Per-sample weights ``[B, O, I, k, k]`` = weight[O, I, k, k] * styles[B, I] (then unit L2 norm per output
    channel when ``demodulate``, with eps 1e-8), in float32."""
    w = weight.float().unsqueeze(0) * styles.float()[:, None, :, None, None]
    if demodulate:
        w = w * (w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
    return w


def demodulation(weight: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
    """The demodulation coefficients ``[B, O]`` of :func:`modulated_weights` without building the [B, O, I, k, k]
    weights: ``rsqrt(sum_i styles[b, i]^2 * sum_kk weight[o, i]^2 + 1e-8)``."""
    energy = weight.float().square().sum(dim=(2, 3))  # [O, I]
    return (styles.float().square() @ energy.t() + 1e-8).rsqrt()


def grouped_conv(x: torch.Tensor, weights: torch.Tensor, padding: int) -> torch.Tensor:
    """Convolve sample b of ``x`` [B, I, H, W] with its own ``weights[b]`` [O, I, k, k] (one grouped conv)."""
    batch, out_ch, in_ch, kh, kw = weights.shape
    y = F.conv2d(x.reshape(1, batch * in_ch, *x.shape[2:]), weights.reshape(batch * out_ch, in_ch, kh, kw).to(x.dtype),
                 padding=padding, groups=batch)
    return y.reshape(batch, out_ch, *y.shape[2:])


def design_lowpass(taps: int, cutoff: float, half_width: float, sampling_rate: float, radial: bool = False):
    """Kaiser-windowed low-pass FIR: float32 ``[taps]`` (separable) or, ``radial``, the 2-D jinc ``[taps, taps]``;
    None when ``taps`` is 1 (identity). ``cutoff`` and ``half_width`` in cycles per unit, as ``sampling_rate``."""
    import scipy.signal
    import scipy.special

    if taps == 1:
        return None
    width = 2.0 * half_width
    if not radial:
        return torch.as_tensor(scipy.signal.firwin(numtaps=taps, cutoff=cutoff, width=width, fs=sampling_rate),
                               dtype=torch.float32)
    grid = (np.arange(taps) - (taps - 1) / 2) / sampling_rate
    radius = np.hypot(*np.meshgrid(grid, grid))
    with np.errstate(invalid="ignore", divide="ignore"):
        jinc = scipy.special.j1(2 * np.pi * cutoff * radius) / (np.pi * radius)
    jinc[radius == 0] = cutoff  # the limit of j1(2 pi c r) / (pi r) at r = 0
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(taps, width / (sampling_rate / 2)))
    window = np.kaiser(taps, beta)
    jinc = jinc * np.outer(window, window)
    return torch.as_tensor(jinc / jinc.sum(), dtype=torch.float32)
