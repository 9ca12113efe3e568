"""What only the benchmarks need from BigGAN: the seed's model (pytorch-pretrained-biggan, the dev extra: spectral-norm
hooks live, no fusion) holding given weights, and FLOPs per frame counted with forward hooks."""
from __future__ import annotations

import torch


def library_biggan(config: dict, weights: dict):
    """The library's BigGAN of ``config`` with ``weights`` (published layout) loaded strictly, in eval mode."""
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    model = BigGAN(BigGANConfig.from_dict(dict(config, layers=[tuple(layer) for layer in config["layers"]])))
    model.load_state_dict(weights, strict=True)
    return model.eval()


def count_flops_per_frame(handle_or_model) -> float:
    """Multiply-add FLOPs (2 per MAC) of one generated frame of a BigGAN (ours, or the library's), counted with
    forward hooks on conv/linear layers and the attention's two batched matmuls."""
    model = getattr(handle_or_model, "model", handle_or_model)
    macs = [0]

    def conv_hook(module, inputs, output):
        kernel = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
        macs[0] += output.numel() * kernel

    def linear_hook(module, inputs, output):
        macs[0] += output.numel() * module.weight.shape[1]

    def transposed_hook(module, inputs, output):  # every input pixel meets the whole kernel once
        macs[0] += inputs[0].numel() * module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]

    def attention_hook(module, inputs, output):
        _, channels, height, width = inputs[0].shape
        positions = height * width
        # theta^T phi: positions x positions/4 x C/8 ; attn x g: positions x positions/4 x C/2
        macs[0] += positions * (positions // 4) * (channels // 8 + channels // 2)

    hooks = []
    for module in model.modules():
        if isinstance(module, torch.nn.ConvTranspose2d):
            hooks.append(module.register_forward_hook(transposed_hook))
        elif isinstance(module, torch.nn.Conv2d):
            hooks.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, torch.nn.Linear):
            hooks.append(module.register_forward_hook(linear_hook))
        elif type(module).__name__ in ("SelfAttn", "SelfAttention"):  # the library's, ours
            hooks.append(module.register_forward_hook(attention_hook))
    try:
        parameter = next(model.parameters())
        with torch.inference_mode():
            model(torch.zeros(1, 128, dtype=parameter.dtype, device=parameter.device),
                  torch.zeros(1, 1000, dtype=parameter.dtype, device=parameter.device), 0.5)
    finally:
        for hook in hooks:
            hook.remove()
    return 2.0 * macs[0]
