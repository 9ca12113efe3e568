"""The cross-domain transformer at the bottom of HTDemucs: the spectrogram branch (tokens: time frames x frequency
bins) and the time branch (tokens: time steps) each go through ``layers`` transformer layers that alternate
self-attention and cross-attention to the other branch (Rouard et al. 2023, section 3).

Tokens are [batch, tokens, channels]. Parameter names follow demucs (``self_attn.in_proj_weight``, ``linear1``,
``norm_out``, ``gamma_1.scale`` ...; PyTorch's TransformerEncoderLayer layout) so the published weights load by name.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .layers import LayerScale


class Attention(nn.Module):
    """Multi-head attention with PyTorch's packed layout: ``in_proj_weight`` [3C, C] (query, key, value rows),
    ``in_proj_bias`` [3C], ``out_proj`` C -> C. Softmax(q k^T / sqrt(C / heads)) v per head."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, query, memory):
        batch, count, dim = query.shape
        weight_q, weight_kv = self.in_proj_weight[:dim], self.in_proj_weight[dim:]
        bias_q, bias_kv = self.in_proj_bias[:dim], self.in_proj_bias[dim:]
        q = F.linear(query, weight_q, bias_q)
        k, v = F.linear(memory, weight_kv, bias_kv).chunk(2, dim=-1)

        def heads(x):
            return x.view(batch, x.shape[1], self.heads, dim // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(heads(q), heads(k), heads(v))
        return self.out_proj(out.transpose(1, 2).reshape(batch, count, dim))


class TokenGroupNorm(nn.GroupNorm):
    """GroupNorm over [B, tokens, C] (channels last): with one group, over all tokens and channels of an item."""

    def forward(self, x):
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class TransformerLayer(nn.Module):
    """Self-attention (``cross=False``: keys from the same tokens) or cross-attention (keys from the other
    branch, normalised by ``norm2``; the feed-forward then uses ``norm3``), each followed by a GELU feed-forward of
    ``hidden`` units; pre-norm with LayerScale and a closing GroupNorm over the whole item (demucs' settings of the
    published models), or post-norm when ``norm_first`` is False."""

    def __init__(self, dim: int, heads: int, hidden: int, cross: bool, norm_first: bool = True,
                 norm_out: bool = True, layer_scale: bool = True, gelu: bool = True, init: float = 1e-4):
        super().__init__()
        self.cross, self.norm_first = cross, norm_first
        attention = Attention(dim, heads)
        if cross:
            self.cross_attn = attention
        else:
            self.self_attn = attention
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        if cross:
            self.norm3 = nn.LayerNorm(dim)
        self.norm_out = TokenGroupNorm(1, dim) if norm_first and norm_out else None
        self.gamma_1 = LayerScale(dim, init, channels_last=True) if layer_scale else nn.Identity()
        self.gamma_2 = LayerScale(dim, init, channels_last=True) if layer_scale else nn.Identity()
        self.activation = F.gelu if gelu else F.relu

    def feed_forward(self, x):
        return self.linear2(self.activation(self.linear1(x)))

    def forward(self, x, other=None):
        attention = self.cross_attn if self.cross else self.self_attn
        if self.norm_first:
            if self.cross:
                x = x + self.gamma_1(attention(self.norm1(x), self.norm2(other)))
                x = x + self.gamma_2(self.feed_forward(self.norm3(x)))
            else:
                normed = self.norm1(x)
                x = x + self.gamma_1(attention(normed, normed))
                x = x + self.gamma_2(self.feed_forward(self.norm2(x)))
            return self.norm_out(x) if self.norm_out is not None else x
        x = self.norm1(x + self.gamma_1(attention(x, other if self.cross else x)))
        return self.norm2(x + self.gamma_2(self.feed_forward(x)))


def sin_embedding(length: int, dim: int, max_period: float, device=None) -> torch.Tensor:
    """[length, dim] positions of the time branch: cos then sin of pos / max_period^(i / (dim/2 - 1))."""
    half = dim // 2
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    phase = position / (max_period ** (torch.arange(half, device=device) / (half - 1)))
    return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)


def sin_embedding_2d(dim: int, bins: int, frames: int, max_period: float, device=None) -> torch.Tensor:
    """[frames * bins, dim] positions of the spectrogram tokens (frame-major): the first half of the channels
    alternate sin/cos of the frame index, the second half sin/cos of the bin index."""
    half = dim // 2
    rates = torch.exp(torch.arange(0.0, half, 2, device=device) * -(math.log(max_period) / half))
    frame_phase = torch.arange(frames, device=device, dtype=torch.float32)[:, None] * rates  # [frames, half/2]
    bin_phase = torch.arange(bins, device=device, dtype=torch.float32)[:, None] * rates      # [bins, half/2]
    out = torch.zeros(frames, bins, dim, device=device)
    out[:, :, 0:half:2] = torch.sin(frame_phase)[:, None, :]
    out[:, :, 1:half:2] = torch.cos(frame_phase)[:, None, :]
    out[:, :, half::2] = torch.sin(bin_phase)[None, :, :]
    out[:, :, half + 1::2] = torch.cos(bin_phase)[None, :, :]
    return out.reshape(frames * bins, dim)


class CrossTransformer(nn.Module):
    """``layers`` layers per branch: even layers self-attention, odd layers cross-attention (or the other way
    round with ``cross_first``). Input and output: spectrogram [B, C, bins, frames] and time [B, C, steps]."""

    def __init__(self, dim: int, layers: int, heads: int, hidden_scale: float, norm_in: bool = True,
                 norm_first: bool = True, norm_out: bool = True, layer_scale: bool = True, gelu: bool = True,
                 max_period: float = 10000.0, weight_pos_embed: float = 1.0, cross_first: bool = False):
        super().__init__()
        self.max_period, self.weight_pos_embed = float(max_period), float(weight_pos_embed)
        self.classic_parity = 1 if cross_first else 0
        self.norm_in = nn.LayerNorm(dim) if norm_in else nn.Identity()
        self.norm_in_t = nn.LayerNorm(dim) if norm_in else nn.Identity()
        self.layers, self.layers_t = nn.ModuleList(), nn.ModuleList()
        for index in range(layers):
            cross = index % 2 != self.classic_parity
            for stack in (self.layers, self.layers_t):
                stack.append(TransformerLayer(dim, heads, int(dim * hidden_scale), cross, norm_first, norm_out,
                                              layer_scale, gelu))

    def forward(self, x, xt):
        batch, dim, bins, frames = x.shape
        x = x.permute(0, 3, 2, 1).reshape(batch, frames * bins, dim)
        x = self.norm_in(x) + self.weight_pos_embed * sin_embedding_2d(dim, bins, frames, self.max_period, x.device)
        xt = xt.transpose(1, 2)
        xt = self.norm_in_t(xt) + self.weight_pos_embed * sin_embedding(xt.shape[1], dim, self.max_period, x.device)
        for layer, layer_t in zip(self.layers, self.layers_t):
            if layer.cross:
                x, xt = layer(x, xt), layer_t(xt, x)
            else:
                x, xt = layer(x), layer_t(xt)
        x = x.reshape(batch, frames, bins, dim).permute(0, 3, 2, 1)
        return x, xt.transpose(1, 2)
