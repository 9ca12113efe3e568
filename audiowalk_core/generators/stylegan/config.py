"""Architecture configs of StyleGAN2 and StyleGAN3 generators, and the layer plans derived from them.

A config holds the hyperparameters NVlabs' snapshots keep in the generator's ``init_kwargs`` (names as stored
there, so a config read from a pickle and one written to a safetensors file's metadata are the same JSON), with
the defaults of those file formats filled in. StyleGAN3's per-layer sampling rates, cutoffs, sizes and channels
follow the geometric progression of the alias-free GAN paper (Karras et al. 2021, section 3 and appendix F).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from ...errors import AudioWalkInputError

KINDS = ("stylegan2", "stylegan3")

MAPPING_DEFAULTS = {
    "stylegan2": {"num_layers": 8, "embed_features": None, "layer_features": None, "activation": "lrelu",
                  "lr_multiplier": 0.01, "w_avg_beta": 0.998},
    "stylegan3": {"num_layers": 2, "lr_multiplier": 0.01, "w_avg_beta": 0.998},
}
SYNTHESIS_DEFAULTS = {
    "stylegan2": {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "architecture": "skip",
                  "resample_filter": [1, 3, 3, 1], "conv_clamp": 256, "kernel_size": 3, "use_noise": True,
                  "activation": "lrelu"},
    "stylegan3": {"channel_base": 32768, "channel_max": 512, "num_layers": 14, "num_critical": 2,
                  "first_cutoff": 2, "first_stopband": 2 ** 2.1, "last_stopband_rel": 2 ** 0.3, "margin_size": 10,
                  "output_scale": 0.25, "num_fp16_res": 4, "conv_kernel": 3, "filter_size": 6,
                  "lrelu_upsampling": 2, "use_radial_filters": False, "conv_clamp": 256},
}
# keys of the synthesis kwargs that change nothing at inference (training-only or memory-layout switches)
IGNORED_SYNTHESIS_KEYS = {"fp16_channels_last", "fused_modconv_default", "magnitude_ema_beta", "channels_last"}


@dataclass(frozen=True)
class StyleGANConfig:
    """One generator's architecture. ``kind`` "stylegan2" or "stylegan3"; ``resolution`` px (square);
    ``mapping`` / ``synthesis`` the keyword arguments of the two networks, defaults filled in."""

    kind: str
    z_dim: int
    c_dim: int
    w_dim: int
    resolution: int
    img_channels: int = 3
    mapping: dict = field(default_factory=dict)
    synthesis: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise AudioWalkInputError("model", f"architecture {self.kind!r} is not supported", "stylegan2 or stylegan3")
        if self.kind == "stylegan2" and (self.resolution < 4 or self.resolution & (self.resolution - 1)):
            raise AudioWalkInputError("model", f"resolution {self.resolution} px", "a power of two (64 ... 1024)")
        mapping = dict(MAPPING_DEFAULTS[self.kind], **(self.mapping or {}))
        synthesis = {k: v for k, v in dict(SYNTHESIS_DEFAULTS[self.kind], **(self.synthesis or {})).items()
                     if k not in IGNORED_SYNTHESIS_KEYS}
        object.__setattr__(self, "mapping", mapping)
        object.__setattr__(self, "synthesis", synthesis)

    @property
    def num_ws(self) -> int:
        """How many w vectors the synthesis network takes (one per style input)."""
        if self.kind == "stylegan3":
            return int(self.synthesis["num_layers"]) + 2
        blocks = int(math.log2(self.resolution)) - 1
        return 2 * blocks  # one conv at 4 px, two per later block, and the last ToRGB

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "z_dim": self.z_dim, "c_dim": self.c_dim, "w_dim": self.w_dim,
                           "resolution": self.resolution, "img_channels": self.img_channels,
                           "mapping": self.mapping, "synthesis": self.synthesis}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "StyleGANConfig":
        data = json.loads(text)
        return cls(data["kind"], int(data["z_dim"]), int(data["c_dim"]), int(data["w_dim"]), int(data["resolution"]),
                   int(data.get("img_channels", 3)), data.get("mapping", {}), data.get("synthesis", {}))

    @classmethod
    def from_init_kwargs(cls, kind: str, kwargs: dict) -> "StyleGANConfig":
        """From a snapshot generator's ``init_kwargs`` (z_dim, c_dim, w_dim, img_resolution, img_channels,
        mapping_kwargs, and the synthesis keyword arguments)."""
        kwargs = dict(kwargs)
        try:
            head = {name: int(kwargs.pop(name)) for name in ("z_dim", "c_dim", "w_dim", "img_resolution")}
        except KeyError as missing:
            raise AudioWalkInputError("model", f"the generator's init_kwargs lack {missing}",
                                      "z_dim, c_dim, w_dim and img_resolution") from None
        img_channels = int(kwargs.pop("img_channels", 3))
        mapping = _plain(dict(kwargs.pop("mapping_kwargs", {}) or {}))
        nested = kwargs.pop("synthesis_kwargs", None) or {}  # stylegan2-ada-pytorch nests them
        synthesis = _plain(dict(kwargs, **nested))
        return cls(kind, head["z_dim"], head["c_dim"], head["w_dim"], head["img_resolution"], img_channels,
                   mapping, synthesis)


def _plain(value):
    """JSON-able copy: numpy scalars to Python numbers, tuples to lists, dict subclasses to dicts."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def stylegan2_channels(config: StyleGANConfig) -> dict:
    """Channels per block resolution (4, 8, ... resolution): ``min(channel_base // res, channel_max)``."""
    base, top = int(config.synthesis["channel_base"]), int(config.synthesis["channel_max"])
    return {2 ** i: min(base // 2 ** i, top) for i in range(2, int(math.log2(config.resolution)) + 1)}


@dataclass(frozen=True)
class SG3LayerPlan:
    """One StyleGAN3 synthesis layer: sizes px, rates in samples per unit, cutoffs/half widths in cycles per unit,
    ``padding`` (x0, x1, y0, y1) of its filtered leaky ReLU after the up-sampling."""

    name: str
    is_torgb: bool
    is_critical: bool
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    in_rate: int
    out_rate: int
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float
    conv_kernel: int
    up: int
    down: int
    up_taps: int
    down_taps: int
    down_radial: bool
    padding: tuple


def stylegan3_plan(config: StyleGANConfig) -> tuple[dict, list[SG3LayerPlan]]:
    """``(input spec {channels, size, sampling_rate, bandwidth}, [layer plans])`` of a StyleGAN3 config."""
    s = config.synthesis
    count, critical = int(s["num_layers"]), int(s["num_critical"])
    resolution = config.resolution
    # cutoff and stopband rise geometrically from the first layer to the last non-critical one, then stay
    ramp = np.minimum(np.arange(count + 1) / (count - critical), 1.0)
    end_cutoff = resolution / 2
    end_stopband = end_cutoff * float(s["last_stopband_rel"])
    cutoffs = float(s["first_cutoff"]) * (end_cutoff / float(s["first_cutoff"])) ** ramp
    stopbands = float(s["first_stopband"]) * (end_stopband / float(s["first_stopband"])) ** ramp
    rates = np.exp2(np.ceil(np.log2(np.minimum(2 * stopbands, resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + 2 * int(s["margin_size"])
    sizes[-2:] = resolution
    channels = np.rint(np.minimum(float(s["channel_base"]) / 2 / cutoffs, float(s["channel_max"])))
    channels[-1] = config.img_channels

    source = {"channels": int(channels[0]), "size": int(sizes[0]), "sampling_rate": float(rates[0]),
              "bandwidth": float(cutoffs[0])}
    layers = []
    for index in range(count + 1):
        before = max(index - 1, 0)
        is_torgb = index == count
        kernel = 1 if is_torgb else int(s["conv_kernel"])
        in_rate, out_rate = int(rates[before]), int(rates[index])
        work_rate = max(in_rate, out_rate) * (1 if is_torgb else int(s["lrelu_upsampling"]))
        up, down = int(round(work_rate / in_rate)), int(round(work_rate / out_rate))
        up_taps = int(s["filter_size"]) * up if up > 1 and not is_torgb else 1
        down_taps = int(s["filter_size"]) * down if down > 1 and not is_torgb else 1
        in_size, out_size = int(sizes[before]), int(sizes[index])
        # centre the output samples on the input ones (symmetric sample positions)
        total = (out_size - 1) * down + 1 - (in_size + kernel - 1) * up + up_taps + down_taps - 2
        low = (total + up) // 2
        is_critical = index >= count - critical
        layers.append(SG3LayerPlan(
            name=f"L{index}_{out_size}_{int(channels[index])}", is_torgb=is_torgb, is_critical=is_critical,
            in_channels=int(channels[before]), out_channels=int(channels[index]), in_size=in_size,
            out_size=out_size, in_rate=in_rate, out_rate=out_rate, in_cutoff=float(cutoffs[before]),
            out_cutoff=float(cutoffs[index]), in_half_width=float(half_widths[before]),
            out_half_width=float(half_widths[index]), conv_kernel=kernel, up=up, down=down, up_taps=up_taps,
            down_taps=down_taps, down_radial=bool(s["use_radial_filters"]) and not is_critical,
            padding=(low, total - low, low, total - low)))
    return source, layers
