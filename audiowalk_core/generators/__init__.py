"""Generators behind one seam: a handle (``GeneratorHandle``) from a generator's loader, and ``generate_frames``
that renders any ``WalkLatents`` with it. Each generator is one subpackage (BigGAN: ``generators.biggan``); the
device, dtype and compile policy (``devices``) and the batch loop (``batches``) are shared."""
from .base import (OUTPUT_FORMATS, OUTPUT_MAPPINGS, GeneratorHandle, check_generation_settings, check_latents_fit,
                   generate_frames)

__all__ = ["OUTPUT_FORMATS", "OUTPUT_MAPPINGS", "GeneratorHandle", "check_generation_settings", "check_latents_fit",
           "generate_frames"]
