"""The Stable Diffusion walk: music-driven NOISE for ComfyUI's samplers (music_noise), per-frame prompt travel
(prompt_travel), per-frame guidance and img2img strength (guidance), the frames a chunk diffuses (frames), and how
strongly a render's picture follows the music (reactivity). No ComfyUI import: the nodes hand ComfyUI's values in."""
