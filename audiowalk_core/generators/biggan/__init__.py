"""BigGAN-deep (128, 256, 512 px; z 128 + 1000 ImageNet classes), the generator the seed used: its configs and
weight layout (``architecture``), weights on disk and their download (``weights``), our inference model built from
the published weights (``model``), the handle and its frame generation (``runtime``), and the model list with one
shared copy per loaded model (``store``)."""
from .architecture import (BIGGAN_MODELS, builtin_config, parameter_count, random_biggan_weights, state_dict_shapes,
                           tiny_config, weight_bytes)
from .runtime import BigGANHandle, handle_from_weights, load_biggan, load_biggan_files
from .weights import (CONFIG_FILE, DEFAULT_URL_BASE, URL_BASE_ENV, WEIGHTS_FILE, check_weights,
                      convert_to_safetensors, download_model, find_model_files, locate_biggan, published_urls,
                      read_model_files, save_biggan_safetensors)

__all__ = ["BIGGAN_MODELS", "builtin_config", "parameter_count", "random_biggan_weights", "state_dict_shapes",
           "tiny_config", "weight_bytes", "BigGANHandle", "handle_from_weights", "load_biggan", "load_biggan_files",
           "CONFIG_FILE", "DEFAULT_URL_BASE", "URL_BASE_ENV", "WEIGHTS_FILE", "check_weights",
           "convert_to_safetensors", "download_model", "find_model_files", "locate_biggan", "published_urls",
           "read_model_files", "save_biggan_safetensors"]
