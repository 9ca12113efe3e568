"""The mapping network z (+ class c) -> w of StyleGAN2 and StyleGAN3, and the equalised-lr dense layer.

Parameter names follow the snapshot file format (``fc0.weight``, ``embed.bias``, ``w_avg``) so a state dict loads
as it is. Weights are stored unscaled; the runtime gain ``lr_multiplier / sqrt(in_features)`` is applied at use
(equalised learning rate, Karras et al. 2018).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .ops import LRELU_GAIN, LRELU_SLOPE, normalize_rows


class DenseLayer(nn.Module):
    """``act(x @ (weight * gain).T + bias * lr_multiplier)``; ``activation`` "linear", "relu" or "lrelu"."""

    def __init__(self, in_features: int, out_features: int, activation: str = "linear", lr_multiplier: float = 1.0,
                 bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init) / lr_multiplier))
        self.activation = activation
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.addmm(self.bias.to(x.dtype) * self.bias_gain, x, (self.weight.to(x.dtype) * self.weight_gain).t())
        if self.activation == "lrelu":
            return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        if self.activation == "relu":
            return F.relu(x) * math.sqrt(2.0)
        return x


class MappingNetwork(nn.Module):
    """z ``[B, z_dim]`` and c ``[B, c_dim]`` -> w ``[B, w_dim]`` (float32); :meth:`truncate` pulls w to w_avg."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_layers: int = 8, embed_features=None,
                 layer_features=None, activation: str = "lrelu", lr_multiplier: float = 0.01, **_ignored):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_layers = z_dim, c_dim, w_dim, int(num_layers)
        embed = (w_dim if embed_features is None else int(embed_features)) if c_dim > 0 else 0
        width = w_dim if layer_features is None else int(layer_features)
        if c_dim > 0:
            self.embed = DenseLayer(c_dim, embed)
        sizes = [z_dim + embed] + [width] * (self.num_layers - 1) + [w_dim]
        for index in range(self.num_layers):
            self.add_module(f"fc{index}", DenseLayer(sizes[index], sizes[index + 1], activation, lr_multiplier))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        parts = []
        if self.z_dim > 0:
            parts.append(normalize_rows(z.float()))
        if self.c_dim > 0:
            parts.append(normalize_rows(self.embed(c.float())))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for index in range(self.num_layers):
            x = getattr(self, f"fc{index}")(x)
        return x

    def truncate(self, w: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
        """``w_avg + psi * (w - w_avg)`` on w ``[B, num_ws, w_dim]`` (only the first ``cutoff`` layers when given)."""
        if psi == 1:
            return w
        if cutoff is None:
            return torch.lerp(self.w_avg.to(w.dtype), w, psi)
        w = w.clone()
        w[:, :cutoff] = torch.lerp(self.w_avg.to(w.dtype), w[:, :cutoff], psi)
        return w
