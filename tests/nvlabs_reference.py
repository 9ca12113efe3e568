"""Run NVlabs' own StyleGAN code from a clone given on the command line (never shipped with the pack): build a
random-weight generator with their classes, pickle it the way their training loop saves snapshots, and write
their images for some seeds the way their gen_images.py / generate.py do (on the CPU their ops take their
reference implementations). Used by tests/test_stylegan_nvlabs.py; this file holds no NVlabs code.

    python tests/nvlabs_reference.py CLONE FLAVOUR OUT.pkl OUTDIR SEEDS PSI NOISE_MODE [RESOLUTION] [C_DIM]
FLAVOUR: ada (stylegan2-ada-pytorch training.networks), sg2 / sg3t / sg3r (stylegan3 repo).
"""
import copy
import os
import pickle
import sys
import types

import numpy as np
import torch

clone, flavour, out_pkl, outdir, seeds, psi, noise_mode = sys.argv[1:8]
resolution = int(sys.argv[8]) if len(sys.argv) > 8 else 64
c_dim = int(sys.argv[9]) if len(sys.argv) > 9 else 0
try:
    import pkg_resources  # noqa: F401
except ImportError:  # their conv2d_gradfix imports it; newer setuptools no longer has it
    from packaging.version import parse

    sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse)
sys.path.insert(0, clone)
import dnnlib  # noqa: E402

torch.manual_seed(123)
small = dict(z_dim=64, c_dim=c_dim, w_dim=64, img_resolution=resolution, img_channels=3)
if flavour == "ada":
    from training import networks as nets
    G = nets.Generator(**small, mapping_kwargs=dnnlib.EasyDict(num_layers=2),
                       synthesis_kwargs=dnnlib.EasyDict(channel_base=4096, channel_max=64, num_fp16_res=4,
                                                        conv_clamp=256))
    D = nets.Discriminator(c_dim=c_dim, img_resolution=resolution, img_channels=3, channel_base=2048, channel_max=32)
elif flavour == "sg2":
    from training import networks_stylegan2 as nets
    G = nets.Generator(**small, mapping_kwargs=dnnlib.EasyDict(num_layers=2), channel_base=4096, channel_max=64,
                       num_fp16_res=4, conv_clamp=256, fused_modconv_default="inference_only")
    D = nets.Discriminator(c_dim=c_dim, img_resolution=resolution, img_channels=3, channel_base=2048, channel_max=32)
else:
    from training import networks_stylegan2, networks_stylegan3 as nets
    extra = dict(conv_kernel=1, use_radial_filters=True, channel_base=4096, channel_max=128) \
        if flavour == "sg3r" else dict(channel_base=2048, channel_max=64)
    G = nets.Generator(**small, mapping_kwargs=dnnlib.EasyDict(num_layers=2), num_fp16_res=4, conv_clamp=256,
                       num_layers=6, num_critical=2, magnitude_ema_beta=0.999, **extra)
    D = networks_stylegan2.Discriminator(c_dim=c_dim, img_resolution=resolution, img_channels=3, channel_base=2048,
                                         channel_max=32)
generator = torch.Generator().manual_seed(7)
with torch.no_grad():  # random values where a fresh network has zeros / ones
    for name, tensor in list(G.named_parameters()) + list(G.named_buffers()):
        if tensor is None or name.endswith(("filter", "transform", "freqs", "phases")):
            continue
        if name.endswith("noise_strength"):
            tensor.copy_(torch.rand([], generator=generator) * 0.5)
        elif name.endswith("magnitude_ema"):
            tensor.copy_(torch.rand([], generator=generator) * 2 + 0.1)
        elif name.endswith("bias"):
            tensor.add_(torch.randn(tensor.shape, generator=generator) * 0.1)
        elif name.endswith("w_avg"):
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.5)
from training import augment  # noqa: E402

snapshot = dict(training_set_kwargs=dict(resolution=resolution))
for key, module in [("G", G), ("D", D), ("G_ema", copy.deepcopy(G)), ("augment_pipe", augment.AugmentPipe(xflip=1))]:
    snapshot[key] = copy.deepcopy(module).eval().requires_grad_(False).cpu()
with open(out_pkl, "wb") as handle:
    pickle.dump(snapshot, handle)

import legacy  # noqa: E402
import PIL.Image  # noqa: E402

with open(out_pkl, "rb") as handle:
    G = legacy.load_network_pkl(handle)["G_ema"].float()
os.makedirs(outdir, exist_ok=True)
label = torch.zeros([1, G.c_dim])
if G.c_dim:
    label[:, 1] = 1
for seed in [int(s) for s in seeds.split(",")]:
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim))
    image = G(z, label, truncation_psi=float(psi), noise_mode=noise_mode)
    image = (image.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    PIL.Image.fromarray(image[0].numpy(), "RGB").save(f"{outdir}/seed{seed:04d}.png")
