"""The shipped template "AudioWalk BigGAN and Stable Diffusion img2img": the seed's product. BigGAN renders only the
keyframes of each chunk (Keyframe Latents), Diffuse Keyframes re-imagines them with SD img2img a few at a time
(Keyframe Noise keys the noise to each keyframe's frame, so a chunked render equals a whole one), Interpolate Frames
crossfades back, Save Music Video joins the chunks with the music. Registered in workflow_builder.WORKFLOWS.

Deck: Read me, Load Song and Load Checkpoint (what is yours) | Positive and Negative Prompt over Render in Chunks |
Diffuse Keyframes | Save Music Video. Engine room: the walk (Audio Features -> Band Noise Walk + Class Schedule ->
Make Latents -> Smooth Latents) -> Keyframe Latents -> BigGAN Generate and Keyframe Noise; CFG Guider, Sampler and
Scheduler; Interpolate Frames. What Diffuse Keyframes takes rises as a ribbon of lanes in the gap before it, the
links between deck and engine room run along the corridor below the deck, one lane each.
"""
from __future__ import annotations

from dataclasses import replace

from .workflow_layout import CHUNK_TEXT_ROOM, ENGINE_TOP, GROUP_TITLE, NODE_TITLE, VIDEO_ROOM, group, socket_y
from . import workflow_parts as wb
from .workflow_tools import GraphNode

IMG2IMG_UI_NAME = "AudioWalk BigGAN and Stable Diffusion img2img.json"
IMG2IMG_API_NAME = "audiowalk_diffused_biggan.json"
# ids of the img2img part (12, 16, 21, 22 were ImageScale, VAEEncode, SamplerCustomAdvanced and VAEDecode, now
# inside Diffuse Keyframes)
(KEYFRAMES, CHECKPOINT, POSITIVE, NEGATIVE, KEY_NOISE, GUIDER, SAMPLER_SELECT, SCHEDULER,
 INTERPOLATE, DIFFUSE) = (11, 13, 14, 15, 17, 18, 19, 20, 23, 24)
POSITIVE_PROMPT = ("a surreal dreamlike painting of teapots, soap bubbles and mushrooms, vivid colours, "
                   "highly detailed")
NEGATIVE_PROMPT = "blurry, low quality, text, watermark, frame"


def img2img_workflow():
    """``(nodes, notes, groups)`` of the template (ids and shared nodes from the builder)."""

    top = GROUP_TITLE + NODE_TITLE
    c1, c2, c3 = 375, 695, 1020  # deck columns after the first (0..330): prompts, Save Music Video, Diffuse
    song_y, checkpoint_y, chunks_y = 340, 580, 495
    corridor = [ENGINE_TOP - 35 + 10 * k for k in range(13)]  # one horizontal lane per link below the deck
    engine = corridor[-1] + 15 + GROUP_TITLE + NODE_TITLE
    col = {"A": c1, "B": c2, "C": 1075, "D": 1345, "E": 1665, "F": 1995, "G": 2315, "H": 2635}
    ribbon = {name: 968 + 7 * k for k, name in enumerate(("images", "noise", "guider", "sampler", "sigmas", "vae",
                                                          "chunk"))}

    def up_to_diffuse(name: str, index: int, lane_y: float, start: tuple | None = None) -> list:
        """A ribbon lane: from ``start`` (beside the output) up to the corridor, along it to the gap before Diffuse
        Keyframes and up to its socket ``index``."""
        rise = [start, (start[0], lane_y)] if start else []
        return rise + [(ribbon[name], lane_y), (ribbon[name], socket_y(top, index) + 16)]

    at = {wb.LOAD_AUDIO: (0, song_y), wb.CHUNKS: (c1, chunks_y), wb.FEATURES: (col["A"], engine),
          wb.NOISE: (col["B"], engine), wb.CLASSES: (col["B"], engine + 330), wb.MAKE_LATENTS: (col["C"], engine),
          wb.SMOOTH: (col["D"], engine), wb.LOAD_BIGGAN: (col["E"], engine + 230)}
    chunk_trunk = [(659, socket_y(chunks_y, 1)), (659, corridor[4])]
    routes = {(wb.FEATURES, "audio"): [(352, socket_y(song_y, 0)), (352, engine - 40)],
              (wb.CHUNKS, "audio"): [(352, socket_y(song_y, 0)), (352, socket_y(chunks_y, 2))],
              (wb.CHUNKS, "latents"): [(col["D"] + 290, engine - 40), (col["D"] + 290, corridor[6]),
                                       (366, corridor[6]), (366, socket_y(chunks_y, 0) + 16)]}
    nodes = wb.walk_nodes(at, routes)
    nodes = [replace(node, size=(260, 188)) if node.id == wb.CHUNKS else node for node in nodes]
    nodes += [
        GraphNode(KEYFRAMES, "AudioWalkKeyframeLatents", (col["E"], engine), (280, 170), title="Keyframe Latents",
                  values={"interpolation_steps": 3, "mode": "every_n"},
                  links={"latents": (wb.SMOOTH, 0), "chunk": (wb.CHUNKS, 1)},
                  routes={"chunk": chunk_trunk + [(col["E"] - 40, corridor[4])]}),
        wb.generate_node((col["F"], engine), (KEYFRAMES, 0)),
        GraphNode(KEY_NOISE, "AudioWalkKeyframeNoise", (col["F"], engine + 260), (260, 130), title="Keyframe Noise",
                  values={"noise_seed": 42, "coherence": 0.8}, links={"keyframe_info": (KEYFRAMES, 1)}),
        GraphNode(CHECKPOINT, "CheckpointLoaderSimple", (0, checkpoint_y), (330, 120), title="Load Checkpoint",
                  values={"ckpt_name": wb.SD_CHECKPOINT}),
        GraphNode(POSITIVE, "CLIPTextEncode", (c1, top), (260, 110), title="Positive Prompt",
                  values={"text": POSITIVE_PROMPT}, links={"clip": (CHECKPOINT, 1)},
                  routes={"clip": [(360, socket_y(checkpoint_y, 1)), (360, 300), (360, socket_y(top, 0) + 16)]}),
        GraphNode(NEGATIVE, "CLIPTextEncode", (c1, 255), (260, 90), title="Negative Prompt",
                  values={"text": NEGATIVE_PROMPT}, links={"clip": (CHECKPOINT, 1)},
                  routes={"clip": [(360, socket_y(checkpoint_y, 1)), (360, 300)]}),
        GraphNode(GUIDER, "CFGGuider", (col["G"], engine), (260, 100), title="CFG Guider",
                  values={"cfg": 7.5}, links={"model": (CHECKPOINT, 0), "positive": (POSITIVE, 0),
                                              "negative": (NEGATIVE, 0)},
                  routes={"model": [(336, socket_y(checkpoint_y, 0)), (336, corridor[0]),
                                    (col["G"] - 50, corridor[0])],
                          "positive": [(645, socket_y(top, 0)), (645, corridor[2]), (col["G"] - 40, corridor[2])],
                          "negative": [(652, socket_y(255, 0)), (652, corridor[3]), (col["G"] - 30, corridor[3])]}),
        GraphNode(SAMPLER_SELECT, "KSamplerSelect", (col["G"], engine + 150), (260, 60), title="Sampler",
                  values={"sampler_name": "euler"}),
        GraphNode(SCHEDULER, "BasicScheduler", (col["G"], engine + 260), (260, 110), title="Scheduler (img2img)",
                  values={"scheduler": "normal", "steps": 10, "denoise": 0.5}, links={"model": (CHECKPOINT, 0)},
                  routes={"model": [(336, socket_y(checkpoint_y, 0)), (336, corridor[0]),
                                    (col["G"] - 50, corridor[0])]}),
        GraphNode(DIFFUSE, "AudioWalkDiffuseKeyframes", (c3, top), (255, 272), title="Diffuse Keyframes",
                  values={"width": 512, "height": 512, "upscale_method": "bilinear", "keyframes_per_batch": 0},
                  links={"images": (wb.GENERATE, 0), "noise": (KEY_NOISE, 0), "guider": (GUIDER, 0),
                         "sampler": (SAMPLER_SELECT, 0), "sigmas": (SCHEDULER, 0), "vae": (CHECKPOINT, 2),
                         "chunk": (wb.CHUNKS, 1)},
                  routes={"images": up_to_diffuse("images", 0, corridor[7], (col["F"] + 280, engine + 14)),
                          "noise": up_to_diffuse("noise", 1, corridor[8], (col["F"] + 290, engine + 274)),
                          "guider": up_to_diffuse("guider", 2, corridor[9], (col["G"] + 285, engine + 14)),
                          "sampler": up_to_diffuse("sampler", 3, corridor[10], (col["G"] + 295, engine + 164)),
                          "sigmas": up_to_diffuse("sigmas", 4, corridor[11], (col["G"] + 305, engine + 274)),
                          "vae": [(344, socket_y(checkpoint_y, 2)), (344, corridor[1])] + up_to_diffuse(
                              "vae", 5, corridor[1]),
                          "chunk": chunk_trunk + up_to_diffuse("chunk", 6, corridor[4])}),
        GraphNode(INTERPOLATE, "AudioWalkInterpolateFrames", (col["H"], engine), (240, 80),
                  title="Interpolate Frames", links={"keyframes": (DIFFUSE, 0), "keyframe_info": (KEYFRAMES, 1)},
                  routes={"keyframes": [(1295, socket_y(top, 0)), (1295, corridor[5]), (col["H"] - 40, corridor[5])],
                          "keyframe_info": [(col["E"] + 300, engine + 420), (col["H"] - 40, engine + 420)]}),
        wb.save_node((c2, top), (INTERPOLATE, 0), "AudioWalk/img2img", size=(260, 330),
                     routes={"images": [(col["H"] + 270, engine - 30), (col["H"] + 270, corridor[12]),
                                        (680, corridor[12]), (680, socket_y(top, 0) + 16)],
                             "chunk": chunk_trunk[:1] + [(670, socket_y(chunks_y, 1)), (670, socket_y(top, 1) + 16)]}),
    ]
    groups = [group("1  Yours: song, checkpoint", "song", 0, song_y - NODE_TITLE, 330, checkpoint_y + 120),
              group("2  Prompts", "sd", c1, top - NODE_TITLE, c1 + 260, 345),
              group("3  Chunks", "biggan", c1, chunks_y - NODE_TITLE, c1 + 260, chunks_y + 188 + CHUNK_TEXT_ROOM),
              group("4  Video", "video", c2, top - NODE_TITLE, c2 + 260, top + VIDEO_ROOM),
              group("5  img2img", "sd", c3, top - NODE_TITLE, c3 + 255, top + 272),
              group("6  The walk: BigGAN keyframes, noise, guider, crossfade", "walk", c1, engine - NODE_TITLE,
                    col["H"] + 240, engine + 520)]
    note = wb.read_me("## AudioWalk: BigGAN + Stable Diffusion\n"
                      "Put an SD 1.5 checkpoint in `models/checkpoints`, pick it in **Load Checkpoint** and press "
                      "**Run**: the demo song becomes an mp4 in `output/AudioWalk/`.\n\n"
                      "BigGAN renders every 4th frame (the keyframes), **Diffuse Keyframes** re-imagines them with "
                      "your prompts a few at a time (its text says what the song will take) and they are "
                      "crossfaded back. Below: the walk, the sampler (denoise 0.5, euler, 10 steps).",
                      height=190, width=330)
    return nodes, [note], groups
