"""The Beat This! network (Foscarin, Schlueter, Widmer, "Beat This! Accurate Beat Tracking Without DBN
Postprocessing", ISMIR 2024; MIT code and weights by CPJKU), written for AudioWalk from the paper and the published
architecture, with the published checkpoints' state-dict keys and shapes so they load strictly.

Input: a log-mel spectrogram ``[batch, frames, 128]`` at 50 frames/s (spectrogram.py). Output: beat and downbeat
logits ``[batch, frames]`` each (a logit above 0 is a probability above 0.5).

- Stem: batch norm over the 128 mel bands, a 4x3 convolution with stride 4 in frequency (-> 32 channels, 32 bands),
  batch norm, GELU.
- Three front-end blocks: a "partial" transformer (attention and a feed-forward layer across frequency, then the
  same across time, both with rotary positions), a 2x3 convolution with stride 2 in frequency doubling the
  channels, batch norm, GELU (-> 256 channels x 4 bands), then a linear projection of the 1024 values per frame
  to the transformer width.
- A transformer of ``n_layers`` blocks across time (pre-norm RMSNorm, gated multi-head attention with rotary
  positions, 4x GELU feed-forward), a final RMSNorm.
- The head: one linear layer to (beat, downbeat); with ``sum_head`` the beat logit is beat + downbeat (a downbeat
  is a beat).

All attention layers share ONE rotary table (32 dimensions per head, base 10000, rotating interleaved pairs); the
published checkpoints hold its frequencies under every attention layer's ``rotary_embed.freqs`` key.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import BeatThisConfig

class RMSNorm(nn.Module):
    """x / |x| * sqrt(size) * gamma over the last axis (|x| at least 1e-12)."""

    def __init__(self, size: int):
        super().__init__()
        self.scale = math.sqrt(size)
        self.gamma = nn.Parameter(torch.ones(size))

    def forward(self, x):
        return F.normalize(x, dim=-1) * self.scale * self.gamma


class RotaryTable(nn.Module):
    """Rotary position angles: position p of a sequence turns the pair (2i, 2i + 1) of every head's dimensions by
    p * freqs[i] (freqs = 10000^(-2i / head_dim)); ``freqs`` is a parameter so it loads from the checkpoint. The
    cosines and sines of a sequence length are computed once (float32) and kept while the length repeats."""

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        exponents = torch.arange(0, head_dim, 2)[:head_dim // 2].float() / head_dim
        self.freqs = nn.Parameter(1.0 / base ** exponents, requires_grad=False)
        self._tables = {}

    def _cos_sin(self, length: int, device, dtype):
        key = (length, str(device), dtype)
        cached = self._tables.get(key)
        if cached is None or not torch.equal(cached[0], self.freqs):  # new length, device or loaded weights
            positions = torch.arange(length, device=device, dtype=dtype).to(self.freqs.dtype)
            angles = positions[:, None] * self.freqs[None, :]  # [positions, head_dim / 2]
            cached = (self.freqs.detach().clone(), angles.cos(), angles.sin())
            self._tables = {key: cached}  # the latest length only: the chunks share it
        return cached[1], cached[2]

    def rotate(self, x):
        """``x`` [..., positions, head_dim] with its pairs turned by their positions' angles (float32 maths)."""
        cos, sin = self._cos_sin(x.shape[-2], x.device, x.dtype)
        pairs = x.unflatten(-1, (-1, 2))
        even, odd = pairs[..., 0], pairs[..., 1]
        turned = torch.stack((even * cos - odd * sin, odd * cos + even * sin), dim=-1)
        return turned.flatten(-2).to(x.dtype)


class Attention(nn.Module):
    """Pre-norm multi-head self-attention over the second-last axis of [batch, positions, dim], rotary positions
    on queries and keys, each head's output scaled by a sigmoid gate computed from the normed input."""

    def __init__(self, dim: int, heads: int, head_dim: int, rotary: RotaryTable):
        super().__init__()
        self.heads = heads
        self.norm = RMSNorm(dim)
        self.to_qkv = nn.Linear(dim, 3 * heads * head_dim, bias=False)
        self.to_gates = nn.Linear(dim, heads)
        self.to_out = nn.Sequential(nn.Linear(heads * head_dim, dim, bias=False))
        self.rotary_embed = rotary

    def forward(self, x):
        x = self.norm(x)
        batch, length, _ = x.shape
        q, k, v = self.to_qkv(x).view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k = self.rotary_embed.rotate(q), self.rotary_embed.rotate(k)
        out = F.scaled_dot_product_attention(q, k, v)  # [batch, heads, positions, head_dim]
        out = out * self.to_gates(x).transpose(1, 2).sigmoid()[..., None]
        return self.to_out(out.transpose(1, 2).reshape(batch, length, -1))


class FeedForward(nn.Module):
    """RMSNorm, linear to ``mult`` x dim, GELU, linear back (the published layer indices 0, 1 and 4 hold weights)."""

    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.net = nn.Sequential(RMSNorm(dim), nn.Linear(dim, dim * mult), nn.GELU(), nn.Identity(),
                                 nn.Linear(dim * mult, dim))

    def forward(self, x):
        return self.net(x)


class PartialFTTransformer(nn.Module):
    """On [batch, channels, bands, frames]: attention + feed-forward across the bands of each frame, then across
    the frames of each band (residual both)."""

    def __init__(self, dim: int, head_dim: int, rotary: RotaryTable):
        super().__init__()
        heads = dim // head_dim
        self.attnF = Attention(dim, heads, head_dim, rotary)
        self.ffF = FeedForward(dim)
        self.attnT = Attention(dim, heads, head_dim, rotary)
        self.ffT = FeedForward(dim)

    def forward(self, x):
        batch, channels, bands, frames = x.shape
        x = x.permute(0, 3, 2, 1).reshape(batch * frames, bands, channels)
        x = x + self.attnF(x)
        x = x + self.ffF(x)
        x = x.view(batch, frames, bands, channels).transpose(1, 2).reshape(batch * bands, frames, channels)
        x = x + self.attnT(x)
        x = x + self.ffT(x)
        return x.view(batch, bands, frames, channels).permute(0, 3, 1, 2)


class Stem(nn.Module):
    """[batch, frames, bands] -> batch norm per band -> 4x3 conv, stride 4 in frequency -> batch norm -> GELU."""

    def __init__(self, spect_dim: int, stem_dim: int):
        super().__init__()
        self.bn1d = nn.BatchNorm1d(spect_dim)
        self.conv2d = nn.Conv2d(1, stem_dim, kernel_size=(4, 3), stride=(4, 1), padding=(0, 1), bias=False)
        self.bn2d = nn.BatchNorm2d(stem_dim)

    def forward(self, spect):
        x = self.bn1d(spect.transpose(1, 2)).unsqueeze(1)  # [batch, 1, bands, frames]
        return F.gelu(self.bn2d(self.conv2d(x)))


class FrontendBlock(nn.Module):
    """Partial transformer (or nothing), 2x3 conv with stride 2 in frequency to ``out_dim`` channels, batch norm,
    GELU."""

    def __init__(self, in_dim: int, out_dim: int, head_dim: int, rotary: RotaryTable, partial: bool):
        super().__init__()
        self.partial = PartialFTTransformer(in_dim, head_dim, rotary) if partial else nn.Identity()
        self.conv2d = nn.Conv2d(in_dim, out_dim, kernel_size=(2, 3), stride=(2, 1), padding=(0, 1), bias=False)
        self.norm = nn.BatchNorm2d(out_dim)

    def forward(self, x):
        return F.gelu(self.norm(self.conv2d(self.partial(x))))


class Frontend(nn.Module):
    def __init__(self, config: BeatThisConfig, rotary: RotaryTable):
        super().__init__()
        self.stem = Stem(config.spect_dim, config.stem_dim)
        dims = [config.stem_dim * 2 ** i for i in range(4)]
        self.blocks = nn.Sequential(*(FrontendBlock(dims[i], dims[i + 1], config.head_dim, rotary,
                                                    config.partial_transformers) for i in range(3)))
        self.linear = nn.Linear(dims[-1] * (config.spect_dim // 32), config.transformer_dim)

    def forward(self, spect):
        x = self.blocks(self.stem(spect))  # [batch, channels, bands, frames]
        return self.linear(x.permute(0, 3, 1, 2).flatten(2))  # each frame's channels x bands, channel-major


class Transformer(nn.Module):
    def __init__(self, config: BeatThisConfig, rotary: RotaryTable):
        super().__init__()
        dim = config.transformer_dim
        self.layers = nn.ModuleList(
            nn.ModuleList([Attention(dim, dim // config.head_dim, config.head_dim, rotary),
                           FeedForward(dim, config.ff_mult)]) for _ in range(config.n_layers))
        self.norm = RMSNorm(dim)

    def forward(self, x):
        for attention, feed_forward in self.layers:
            x = attention(x) + x
            x = feed_forward(x) + x
        return self.norm(x)


class Head(nn.Module):
    def __init__(self, dim: int, sum_head: bool):
        super().__init__()
        self.beat_downbeat_lin = nn.Linear(dim, 2)
        self.sum_head = sum_head

    def forward(self, x):
        beat, downbeat = self.beat_downbeat_lin(x).float().unbind(-1)
        return (beat + downbeat if self.sum_head else beat), downbeat


class BeatThisNetwork(nn.Module):
    """The whole network: ``forward(spect [batch, frames, spect_dim])`` -> ``(beat, downbeat)`` logits, float32
    ``[batch, frames]`` each."""

    def __init__(self, config: BeatThisConfig = BeatThisConfig()):
        super().__init__()
        self.config = config.check()
        rotary = RotaryTable(config.head_dim)
        self.frontend = Frontend(config, rotary)
        self.transformer_blocks = Transformer(config, rotary)
        self.task_heads = Head(config.transformer_dim, config.sum_head)

    def forward(self, spect):
        return self.task_heads(self.transformer_blocks(self.frontend(spect)))


def state_dict_shapes(config: BeatThisConfig) -> dict:
    """``{key: shape}`` of the network's state dict for ``config`` (built on the meta device: no memory)."""
    with torch.device("meta"):
        network = BeatThisNetwork(config)
    return {key: tuple(value.shape) for key, value in network.state_dict().items()}


def parameter_count(network: nn.Module) -> int:
    """Distinct parameters (the shared rotary frequencies once), as ``sum(p.numel() for p in parameters())``."""
    return sum(parameter.numel() for parameter in network.parameters())
