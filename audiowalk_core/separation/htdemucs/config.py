"""The settings of an HTDemucs network (Demucs v4, Rouard, Massa & Defossez, ICASSP 2023) and the published models.

A model file carries its constructor keywords (demucs' ``kwargs``: JSON metadata of the .safetensors files demucs 4.1
downloads from the Hugging Face hub, a pickled dict in the older .th files). :func:`config_from_kwargs` turns them
into an :class:`HTDemucsConfig`: every keyword this implementation honours is read, keywords that only steer
training (dropout, weight decay, learning rate, CAPE augmentation, sparse-attention masks left off) are accepted and
ignored, and a value that changes what inference computes but that this implementation does not have (Wiener
filtering, sparse attention, CAPE or learned positions, multi-band frequency layers, more layers than the spectrogram
has frequency levels) is refused by name, as is a keyword nobody knows.
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction

from ...errors import AudioWalkInputError


@dataclasses.dataclass(frozen=True)
class HTDemucsConfig:
    """Constructor settings of :class:`~.model.HTDemucs`. Defaults are demucs' class defaults; the published models
    differ in ``dconv_mode``, ``bottom_channels`` and the segment (see PUBLISHED_CONFIGS)."""

    sources: tuple = ("drums", "bass", "other", "vocals")
    audio_channels: int = 2
    channels: int = 48                  # hidden channels of the first layer (grows by ``growth`` per layer)
    channels_time: int | None = None    # another width for the time branch
    growth: int = 2
    nfft: int = 4096                    # STFT size (hop nfft // 4); frequency bins nfft // 2
    depth: int = 4
    rewrite: bool = True                # 1x1 (encoder) / 3x3 (decoder) GLU convolution in every layer
    freq_emb: float = 0.2               # weight of the frequency embedding after the first layer (0: none)
    emb_scale: float = 10.0
    emb_smooth: bool = True             # initialisation only
    kernel_size: int = 8
    stride: int = 4
    context: int = 1                    # decoder rewrite reach (kernel 1 + 2 * context)
    context_enc: int = 0
    norm_starts: int = 4                # GroupNorm from this layer on
    norm_groups: int = 4
    dconv_mode: int = 1                 # residual branches: 1 encoder, 2 decoder, 3 both
    dconv_depth: int = 2
    dconv_comp: float = 8
    dconv_init: float = 1e-3
    bottom_channels: int = 0            # transformer width (0: the last layer's channels)
    t_layers: int = 5
    t_hidden_scale: float = 4.0
    t_heads: int = 8
    t_norm_in: bool = True
    t_norm_first: bool = True
    t_norm_out: bool = True
    t_max_period: float = 10000.0
    t_layer_scale: bool = True
    t_gelu: bool = True
    t_weight_pos_embed: float = 1.0
    t_cross_first: bool = False
    rescale: float = 0.1                # initialisation only
    samplerate: int = 44100
    segment: Fraction = Fraction(10)    # seconds the network sees at once (the published models: 39/5 = 7.8 s)
    use_train_segment: bool = True

    @property
    def hop_length(self) -> int:
        return self.nfft // 4

    @property
    def segment_samples(self) -> int:
        """Samples per segment at ``samplerate``: every forward call works on exactly this many."""
        return int(Fraction(self.segment) * self.samplerate)

    @property
    def transformer_channels(self) -> int:
        return self.bottom_channels or self.channels * self.growth ** (self.depth - 1)

    def to_kwargs(self) -> dict:
        """demucs' constructor keywords (``segment`` a Fraction): what a model file stores."""
        out = dataclasses.asdict(self)
        out["sources"] = list(self.sources)
        out["segment"] = Fraction(self.segment)
        return out


# Keywords demucs' HTDemucs takes that do not change inference here (training-only settings, or options whose values
# below are the only ones that matter at inference): accepted, checked against ``_MUST_BE`` where they matter.
_IGNORED = {"wiener_iters", "end_iters", "wiener_residual", "cac", "multi_freqs", "multi_freqs_depth", "t_emb",
            "t_dropout", "t_max_positions", "t_norm_in_group", "t_group_norm", "t_weight_decay", "t_lr",
            "t_sin_random_shift", "t_cape_mean_normalize", "t_cape_augment", "t_cape_glob_loc_scale",
            "t_sparse_self_attn", "t_sparse_cross_attn", "t_mask_type", "t_mask_random_seed", "t_sparse_attn_window",
            "t_global_window", "t_sparsity", "t_auto_sparsity"}
# What those keywords must be for this implementation to compute what demucs computes.
_MUST_BE = {"wiener_iters": 0, "end_iters": 0, "cac": True, "multi_freqs": [], "t_emb": "sin",
            "t_norm_in_group": False, "t_group_norm": False, "t_sin_random_shift": 0, "t_sparse_self_attn": False,
            "t_sparse_cross_attn": False, "t_auto_sparsity": False}
_FIELDS = {field.name: field for field in dataclasses.fields(HTDemucsConfig)}


def _plain(value):
    """JSON-ish value (lists for tuples) for comparisons and messages."""
    return list(value) if isinstance(value, tuple) else value


def config_from_kwargs(kwargs: dict, source: str = "model file", input_name: str = "model") -> HTDemucsConfig:
    """:class:`HTDemucsConfig` from demucs' constructor keywords ``kwargs`` (``segment`` a Fraction, a number, or
    demucs' JSON ``{"_type": "fraction", ...}``); AudioWalkInputError naming ``source`` and the keyword otherwise."""
    if not isinstance(kwargs, dict):
        raise AudioWalkInputError(input_name, f"{source}: its HTDemucs settings are a {type(kwargs).__name__}",
                                  "a dict of HTDemucs constructor keywords")
    values = {}
    for key, value in kwargs.items():
        if key in _IGNORED:
            expected = _MUST_BE.get(key, value)
            if _plain(value) != expected and not (key == "multi_freqs" and not value):
                raise AudioWalkInputError(input_name, f"{source}: HTDemucs option {key}={value!r} is not supported "
                                          "by this implementation", f"{key}={expected!r} (as in htdemucs, htdemucs_6s)")
            continue
        if key not in _FIELDS:
            raise AudioWalkInputError(input_name, f"{source}: unknown HTDemucs option {key!r}",
                                      "the constructor keywords of demucs 4's HTDemucs")
        values[key] = value
    if "segment" in values:
        values["segment"] = _fraction(values["segment"], source, input_name)
    if "sources" in values:
        values["sources"] = tuple(str(name) for name in values["sources"])
    try:
        config = HTDemucsConfig(**values)
    except TypeError as exc:
        raise AudioWalkInputError(input_name, f"{source}: bad HTDemucs settings ({exc})",
                                  "HTDemucs constructor keywords") from None
    check_config(config, source, input_name)
    return config


def _fraction(value, source: str, input_name: str) -> Fraction:
    if isinstance(value, dict) and value.get("_type") == "fraction":
        return Fraction(int(value["numerator"]), int(value["denominator"]))
    if isinstance(value, (int, float, Fraction)) and not isinstance(value, bool) and value > 0:
        return Fraction(value).limit_denominator(1000)
    raise AudioWalkInputError(input_name, f"{source}: segment {value!r} is not a positive number of seconds",
                              "a segment length in seconds")


def check_config(config: HTDemucsConfig, source: str = "model", input_name: str = "model") -> HTDemucsConfig:
    """The structural limits of this implementation: every layer works over frequency (as in the published
    models: 2048 bins / 4 per layer stay above the kernel for 4 layers), sizes divisible where the network needs it."""
    def refuse(problem: str, expected: str):
        raise AudioWalkInputError(input_name, f"{source}: {problem}", expected)

    if not config.sources or len(set(config.sources)) != len(config.sources):
        refuse(f"sources {list(config.sources)} are empty or repeated", "distinct source names")
    if config.nfft < 16 or config.nfft & (config.nfft - 1):
        refuse(f"nfft {config.nfft} is not a power of two >= 16", "a power of two, e.g. 4096")
    freqs = config.nfft // 2
    for index in range(config.depth):
        if freqs <= config.kernel_size:
            refuse(f"layer {index} would reach {freqs} frequency bins (the merged time/frequency layers of deeper "
                   "HTDemucs variants are not implemented)",
                   f"depth <= {index} for nfft {config.nfft}, or a larger nfft")
        freqs //= config.stride
    if config.kernel_size % 4 or config.kernel_size < config.stride:
        refuse(f"kernel_size {config.kernel_size} with stride {config.stride}", "a kernel of 4k >= stride (8, 4)")
    if config.transformer_channels % config.t_heads or (config.transformer_channels // 2) % 2:
        refuse(f"transformer width {config.transformer_channels} with {config.t_heads} heads",
               "a width divisible by the heads and by 4")
    if config.dconv_mode not in (0, 1, 2, 3):
        refuse(f"dconv_mode {config.dconv_mode}", "0, 1, 2 or 3")
    if config.segment_samples <= 3 * config.hop_length:
        refuse(f"segment {float(config.segment)} s is shorter than the STFT needs", "a longer segment")
    return config


def _published(sources, bottom_channels) -> HTDemucsConfig:
    # The keywords stored in the published files (read from the .th package of htdemucs, 955717e8, by two
    # independent reimplementations; they are those of demucs' htdemucs grid, demucs/grids/mmi.py: dconv_mode 3,
    # t_dropout 0.02, model segment 7.8 s). htdemucs_6s has no bottom projection: its transformer is 384 wide.
    return HTDemucsConfig(sources=sources, dconv_mode=3, bottom_channels=bottom_channels, segment=Fraction(39, 5))


PUBLISHED_CONFIGS = {
    "htdemucs": _published(("drums", "bass", "other", "vocals"), 512),
    "htdemucs_6s": _published(("drums", "bass", "other", "vocals", "guitar", "piano"), 0),
}
