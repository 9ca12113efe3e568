"""StyleGAN2 / StyleGAN3 generators written for this project: networks, safe loading, conversion, runtime."""
from .config import StyleGANConfig
from .network import StyleGANGenerator, build_generator, check_state_dict
from .store import convert_stylegan, read_stylegan, write_safetensors

__all__ = ["StyleGANConfig", "StyleGANGenerator", "build_generator", "check_state_dict", "convert_stylegan",
           "read_stylegan", "write_safetensors"]
