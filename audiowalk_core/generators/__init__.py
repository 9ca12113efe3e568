"""Generators behind the seam (BigGAN, StyleGAN2/3)."""
