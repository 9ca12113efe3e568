"""Widgets every Generate node shares (BigGAN, StyleGAN): the frame range and the batch size."""


def frame_range_inputs(what: str) -> dict:
    """``start_frame``, ``frame_count`` and ``batch_size`` widgets (``what``: the generator's name, for the
    tooltip)."""
    return {
        "start_frame": ("INT", {"default": 0, "min": 0, "max": 10_000_000,
                                "tooltip": "First frame to render, relative to the latents given (a chunk's latents "
                                           "already start at the chunk)."}),
        "frame_count": ("INT", {"default": 0, "min": 0, "max": 10_000_000,
                                "tooltip": "Frames to render from start_frame; 0 = to the end."}),
        "batch_size": ("INT", {"default": 8, "min": 1, "max": 256,
                               "tooltip": f"Frames per {what} forward pass; larger is faster until memory runs "
                                          "out."}),
    }
