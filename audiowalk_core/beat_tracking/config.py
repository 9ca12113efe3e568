"""The Beat This! architecture's sizes (no torch import: the checkpoint list and settings read it cheaply)."""
from __future__ import annotations

import dataclasses

# The keys of a checkpoint's hyper_parameters that shape the network (the rest are training settings).
CONFIG_KEYS = ("spect_dim", "transformer_dim", "ff_mult", "n_layers", "head_dim", "stem_dim", "sum_head",
               "partial_transformers")


@dataclasses.dataclass(frozen=True)
class BeatThisConfig:
    """The architecture: ``spect_dim`` mel bands in, ``transformer_dim`` width, ``ff_mult`` feed-forward factor,
    ``n_layers`` transformer blocks, ``head_dim`` dimensions per attention head, ``stem_dim`` stem channels,
    ``sum_head`` (beat logit = beat + downbeat), ``partial_transformers`` (the front end's attention layers).
    Defaults: the published "final" models; the "small" ones have ``transformer_dim`` 128."""

    spect_dim: int = 128
    transformer_dim: int = 512
    ff_mult: int = 4
    n_layers: int = 6
    head_dim: int = 32
    stem_dim: int = 32
    sum_head: bool = True
    partial_transformers: bool = True

    @classmethod
    def from_hyper_parameters(cls, hyper_parameters: dict) -> "BeatThisConfig":
        """The config of a checkpoint's ``hyper_parameters`` (missing keys take the defaults, as the published
        code does)."""
        values = {key: hyper_parameters[key] for key in CONFIG_KEYS if key in hyper_parameters}
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def check(self) -> "BeatThisConfig":
        """ValueError when the sizes cannot form the network (the loader turns it into an input error)."""
        if self.spect_dim % 32 or self.spect_dim < 32:
            raise ValueError(f"spect_dim {self.spect_dim} is not a positive multiple of 32")
        if self.transformer_dim % self.head_dim or self.stem_dim % self.head_dim:
            raise ValueError(f"transformer_dim {self.transformer_dim} and stem_dim {self.stem_dim} must be "
                             f"multiples of head_dim {self.head_dim}")
        if min(self.transformer_dim, self.ff_mult, self.head_dim, self.stem_dim) < 1 or self.n_layers < 0:
            raise ValueError("sizes must be positive")
        if self.head_dim % 2:
            raise ValueError(f"head_dim {self.head_dim} must be even (rotary pairs)")
        return self
