"""The whole generator (mapping + synthesis) built from a :class:`StyleGANConfig`, and its strict weight check."""
from __future__ import annotations

import torch
from torch import nn

from ...errors import AudioWalkInputError
from .config import StyleGANConfig
from .mapping import MappingNetwork
from .stylegan2 import StyleGAN2Synthesis
from .stylegan3 import StyleGAN3Synthesis


class StyleGANGenerator(nn.Module):
    """``mapping`` (z, c -> w) and ``synthesis`` (ws -> image); state-dict names as in the snapshot files."""

    def __init__(self, config: StyleGANConfig):
        super().__init__()
        self.config = config
        synthesis = StyleGAN2Synthesis if config.kind == "stylegan2" else StyleGAN3Synthesis
        self.synthesis = synthesis(config)
        self.mapping = MappingNetwork(config.z_dim, config.c_dim, config.w_dim, **config.mapping)
        self.num_ws = config.num_ws

    @torch.no_grad()
    def ws_from_z(self, z: torch.Tensor, c: torch.Tensor | None = None, psi: float = 1.0,
                  cutoff: int | None = None) -> torch.Tensor:
        """z ``[B, z_dim]`` (+ c ``[B, c_dim]``) -> truncated ws ``[B, num_ws, w_dim]`` float32."""
        if self.config.c_dim > 0 and c is None:
            c = torch.zeros(z.shape[0], self.config.c_dim, device=z.device)
        w = self.mapping(z, c)
        return self.mapping.truncate(w.unsqueeze(1).expand(-1, self.num_ws, -1), psi, cutoff)

    @torch.no_grad()
    def forward(self, z, c=None, psi: float = 1.0, noise="const", dtype=torch.float32, grouped: bool = False):
        return self.synthesis(self.ws_from_z(z, c, psi), noise=noise, dtype=dtype, grouped=grouped)


def expected_shapes(config: StyleGANConfig) -> dict:
    """``{state-dict key: shape}`` of the generator ``config`` describes (built on the meta device: no memory)."""
    with torch.device("meta"):
        network = StyleGANGenerator(config)
    return {name: tuple(tensor.shape) for name, tensor in network.state_dict().items()}


def check_state_dict(config: StyleGANConfig, state: dict, source: str) -> None:
    """AudioWalkInputError naming ``source`` and the first key that is missing, extra or of another shape."""
    expected = expected_shapes(config)
    for name, shape in expected.items():
        if name not in state:
            raise AudioWalkInputError("model", f"{source}: weight {name} {list(shape)} is missing for a {config.kind} "
                                      f"at {config.resolution} px", "the weights of a supported StyleGAN2 / "
                                      "StyleGAN3 (T or R) generator")
        if tuple(state[name].shape) != shape:
            raise AudioWalkInputError("model", f"{source}: weight {name} has shape {list(state[name].shape)}, "
                                      f"the {config.kind} architecture needs {list(shape)}",
                                      "a state dict matching its architecture config")
    for name in state:
        if name not in expected:
            raise AudioWalkInputError("model", f"{source}: weight {name} {list(state[name].shape)} belongs to no "
                                      f"part of a {config.kind} at {config.resolution} px",
                                      "exactly the weights of a supported StyleGAN2 / StyleGAN3 generator")


def build_generator(config: StyleGANConfig, state: dict | None, source: str = "model",
                    device="cpu") -> StyleGANGenerator:
    """Our network for ``config`` with ``state`` loaded (checked strictly first); ``state`` None: random weights."""
    if state is not None:
        check_state_dict(config, state, source)
    network = StyleGANGenerator(config)
    if state is not None:
        network.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()},
                                strict=True)
    return network.eval().requires_grad_(False).to(device)
