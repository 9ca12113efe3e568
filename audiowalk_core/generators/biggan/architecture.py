"""BigGAN-deep's configs and the layout of its published weights (the state dict of DeepMind's TF-Hub BigGAN-deep as
ported by pytorch-pretrained-biggan, which the seed used): names, shapes, sizes, and random weights in that layout.

The layout, for ``ch = channel_width``, conditioning width ``cond = 2 * z_dim`` and ``S = n_stats`` truncation
steps (a spectral-normalised layer ``x`` stores ``x.weight_orig``, ``x.weight_u`` [out], ``x.weight_v`` [in]):
``embeddings.weight`` [z_dim, num_classes]; ``generator.gen_z`` (linear cond -> 4 x 4 x 16 ch); per entry of
``layers`` (up-sample, in x ch, out x ch) a block ``generator.layers.<i>`` of four conditional batch norms
``bn_0..3`` (``running_means``/``running_vars`` [S, C], ``scale``/``offset`` linears cond -> C) and convolutions
``conv_0`` 1x1 in -> in/4, ``conv_1`` and ``conv_2`` 3x3, ``conv_3`` 1x1 -> out, with a self-attention layer
(``gamma``, 1x1 ``snconv1x1_theta``/``phi`` C -> C/8, ``g`` C -> C/2, ``o_conv`` C/2 -> C) inserted before the
block at ``attention_layer_position``; then ``generator.bn`` (plain batch norm with statistics) and
``generator.conv_to_rgb`` 3x3 ch -> ch, of which the first 3 channels are the image.
"""
from __future__ import annotations

import json
from importlib import resources

from ...errors import AudioWalkInputError

BIGGAN_MODELS = ("biggan-deep-128", "biggan-deep-256", "biggan-deep-512")
_BUFFER_SUFFIXES = ("running_means", "running_vars", "weight_u", "weight_v")


def builtin_config(model_name: str) -> dict:
    """The published config.json of a biggan-deep model (shipped with the pack)."""
    if model_name not in BIGGAN_MODELS:
        raise AudioWalkInputError("model_name", f"{model_name!r} is not a known BigGAN",
                                  "one of " + ", ".join(BIGGAN_MODELS))
    return json.loads(resources.files(__package__).joinpath("configs", f"{model_name}.json").read_text())


def tiny_config(channel_width: int = 4) -> dict:
    """A small config of the same architecture (for tests): 4 -> 32 px in three up-sampling blocks, channels
    16 -> 1 (x ``channel_width``) halving as the real ones do, attention at 16 px."""
    layers = [[False, 16, 8], [True, 8, 4], [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1]]
    return {"output_dim": 32, "z_dim": 128, "class_embed_dim": 128, "channel_width": channel_width,
            "num_classes": 1000, "layers": layers, "attention_layer_position": 4, "eps": 1e-4, "n_stats": 51}


def _spectral(prefix: str, shape: tuple, bias: bool) -> dict:
    """Keys of a spectral-normalised layer with weight ``shape`` [out, in, ...], in the library's order."""
    inputs = 1
    for size in shape[1:]:
        inputs *= size
    keys = {f"{prefix}.bias": (shape[0],)} if bias else {}
    keys.update({f"{prefix}.weight_orig": tuple(shape), f"{prefix}.weight_u": (shape[0],),
                 f"{prefix}.weight_v": (inputs,)})
    return keys


def _conditional_norm(prefix: str, channels: int, condition: int, steps: int) -> dict:
    keys = {f"{prefix}.running_means": (steps, channels), f"{prefix}.running_vars": (steps, channels)}
    keys.update(_spectral(f"{prefix}.scale", (channels, condition), bias=False))
    keys.update(_spectral(f"{prefix}.offset", (channels, condition), bias=False))
    return keys


def block_channels(config: dict) -> list[tuple]:
    """``("attention", channels)`` and ``("block", in_channels, out_channels, up_sample)`` for each entry of
    ``generator.layers``, in order."""
    width = int(config["channel_width"])
    entries = []
    for index, (up_sample, in_mult, out_mult) in enumerate(config["layers"]):
        if index == int(config["attention_layer_position"]):
            entries.append(("attention", width * int(in_mult)))
        entries.append(("block", width * int(in_mult), width * int(out_mult), bool(up_sample)))
    return entries


def state_dict_shapes(config: dict) -> dict:
    """``{key: shape}`` of the published weights of ``config``'s model, in the order the library stores them."""
    width, steps = int(config["channel_width"]), int(config["n_stats"])
    condition = 2 * int(config["z_dim"])
    shapes = {"embeddings.weight": (int(config["z_dim"]), int(config["num_classes"]))}
    shapes.update(_spectral("generator.gen_z", (4 * 4 * 16 * width, condition), bias=True))
    for index, entry in enumerate(block_channels(config)):
        prefix = f"generator.layers.{index}"
        if entry[0] == "attention":
            channels = entry[1]
            shapes[f"{prefix}.gamma"] = (1,)
            for name, out, inp in (("theta", channels // 8, channels), ("phi", channels // 8, channels),
                                   ("g", channels // 2, channels), ("o_conv", channels, channels // 2)):
                shapes.update(_spectral(f"{prefix}.snconv1x1_{name}", (out, inp, 1, 1), bias=False))
            continue
        _, in_channels, out_channels, _ = entry
        middle = in_channels // 4
        convs = ((in_channels, middle, 1), (middle, middle, 3), (middle, middle, 3), (middle, out_channels, 1))
        for number, (inp, out, kernel) in enumerate(convs):
            shapes.update(_conditional_norm(f"{prefix}.bn_{number}", inp, condition, steps))
            shapes.update(_spectral(f"{prefix}.conv_{number}", (out, inp, kernel, kernel), bias=True))
    shapes.update({"generator.bn.weight": (width,), "generator.bn.bias": (width,),
                   "generator.bn.running_means": (steps, width), "generator.bn.running_vars": (steps, width)})
    shapes.update(_spectral("generator.conv_to_rgb", (width, width, 3, 3), bias=True))
    return shapes


def weight_bytes(config: dict) -> int:
    """Bytes of the float32 tensors of ``config``'s published weights: a lower bound for the file size."""
    total = 0
    for shape in state_dict_shapes(config).values():
        count = 1
        for size in shape:
            count *= size
        total += 4 * count
    return total


def parameter_count(config: dict) -> int:
    """Trainable numbers of ``config``'s model (the library's ``parameters()``: no statistics, no u/v vectors)."""
    total = 0
    for key, shape in state_dict_shapes(config).items():
        if not key.endswith(_BUFFER_SUFFIXES):
            count = 1
            for size in shape:
                count *= size
            total += count
    return total


def random_biggan_weights(model_name_or_config, seed: int = 0) -> dict:
    """Random weights in the published layout for ``model_name`` or a config dict, drawn deterministically from
    ``seed``: conv/linear weights N(0, 0.02), identity batch-norm statistics, and the stored singular vectors
    (``weight_u``, ``weight_v``) of each weight found by power iteration, as a trained model's are."""
    import torch

    config = builtin_config(model_name_or_config) if isinstance(model_name_or_config, str) \
        else dict(model_name_or_config)
    generator = torch.Generator().manual_seed(int(seed))
    state = {}
    for name, shape in state_dict_shapes(config).items():
        if name.endswith("running_means") or name.endswith("bias"):
            state[name] = torch.zeros(shape)
        elif name.endswith("running_vars") or (name.endswith(".weight") and len(shape) == 1):
            state[name] = torch.ones(shape)
        elif name.endswith("weight_u") or name.endswith("weight_v"):
            state[name] = None  # set below from the weight they normalise
        else:
            state[name] = torch.randn(shape, generator=generator) * 0.02
    for name in [key for key in state if key.endswith("weight_orig")]:
        matrix = state[name].reshape(state[name].shape[0], -1)
        v = torch.nn.functional.normalize(torch.randn(matrix.shape[1], generator=generator), dim=0)
        for _ in range(30):
            u = torch.nn.functional.normalize(matrix @ v, dim=0)
            v = torch.nn.functional.normalize(matrix.T @ u, dim=0)
        state[name[:-len("orig")] + "u"], state[name[:-len("orig")] + "v"] = u, v
    return state
