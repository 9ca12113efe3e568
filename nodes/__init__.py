"""ComfyUI node classes of AudioWalk: thin wrappers over audiowalk_core."""
from . import audio_nodes, biggan_nodes, chunk_nodes, curve_nodes, video_nodes, walk_nodes
from . import music_map_nodes, sd_walk_nodes, stylegan_nodes

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}

for _module in (audio_nodes, walk_nodes, chunk_nodes, biggan_nodes, video_nodes, curve_nodes, music_map_nodes,
                sd_walk_nodes, stylegan_nodes):
    NODE_CLASS_MAPPINGS.update(_module.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(_module.NODE_DISPLAY_NAME_MAPPINGS)
from . import diffusion_nodes  # noqa: E402 - Diffuse Keyframes (sub-batched img2img)
NODE_CLASS_MAPPINGS.update(diffusion_nodes.NODE_CLASS_MAPPINGS)
NODE_DISPLAY_NAME_MAPPINGS.update(diffusion_nodes.NODE_DISPLAY_NAME_MAPPINGS)
