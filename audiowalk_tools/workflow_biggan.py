"""The shipped template "AudioWalk BigGAN music video": song -> features -> band noise walk + class schedule ->
latents -> chunks -> BigGAN -> mp4 with the song. Registered in workflow_builder.WORKFLOWS."""
from __future__ import annotations

from dataclasses import replace

from .workflow_layout import CHUNK_TEXT_ROOM, ENGINE_TOP, GROUP_TITLE, NODE_TITLE, VIDEO_ROOM, group, socket_y
from .workflow_parts import (CHUNKS, CLASSES, FEATURES, GENERATE, LOAD_AUDIO, LOAD_BIGGAN, MAKE_LATENTS, NOISE,
                             SMOOTH, generate_node, read_me, save_node, walk_nodes)

BIGGAN_UI_NAME = "AudioWalk BigGAN music video.json"
BIGGAN_API_NAME = "audiowalk_biggan.json"


def biggan_workflow():
    """Song -> features -> band noise walk + class schedule -> latents -> chunks -> BigGAN -> mp4 with the song.

    Deck: Read me over Load Song | Load BigGAN over Render in Chunks | Save Music Video (its video grows below it,
    left of the minimap) | Class Schedule. Engine room: Audio Features -> Band Noise Walk (and BigGAN Generate) ->
    Make Latents -> Smooth Latents, whose latents come back up to Render in Chunks along the corridor."""
    top, low, engine = GROUP_TITLE + NODE_TITLE, 455, ENGINE_TOP + GROUP_TITLE + NODE_TITLE
    c1, c2, c3 = 360, 700, 1020
    lane = ENGINE_TOP - 60
    at = {LOAD_AUDIO: (0, low), LOAD_BIGGAN: (c1, top), CHUNKS: (c1, low), CLASSES: (c3, top),
          FEATURES: (c1, engine), NOISE: (c2, engine), MAKE_LATENTS: (c3, engine), SMOOTH: (c3 + 260, engine)}
    routes = {(CHUNKS, "latents"): [(c3 + 550, lane), (330, lane), (330, low + 30)],
              (CLASSES, "features"): [(660, socket_y(engine, 0)), (660, engine - 60), (995, engine - 60),
                                      (995, socket_y(top, 0) + 16)],
              (MAKE_LATENTS, "classes"): [(c3 + 285, socket_y(top, 0)), (c3 + 285, engine - 45),
                                          (995, engine - 45), (995, socket_y(engine, 1))]}
    nodes = walk_nodes(at, routes)
    nodes = [replace(node, size=(255, 180)) if node.id == CLASSES else node for node in nodes]
    nodes += [generate_node((c2, engine + 340), (CHUNKS, 0),
                            routes={"model": [(650, socket_y(top, 0)), (650, socket_y(engine + 340, 0))],
                                    "latents": [(662, socket_y(low, 0)), (662, socket_y(engine + 340, 1))]}),
              save_node((c2, top), (GENERATE, 0), "AudioWalk/biggan",
                        routes={"images": [(990, socket_y(engine + 340, 0)), (990, lane + 20), (686, lane + 20),
                                           (686, socket_y(top, 0) + 16)],
                                "chunk": [(674, socket_y(low, 1)), (674, socket_y(top, 1) + 16)]})]
    groups = [group("1  Your song", "song", 0, low - NODE_TITLE, 300, low + 185),
              group("2  BigGAN in chunks", "biggan", c1, top - NODE_TITLE, c1 + 280, low + 190 + CHUNK_TEXT_ROOM),
              group("3  Video", "video", c2, top - NODE_TITLE, c2 + 270, top + VIDEO_ROOM),
              group("4  What it paints", "walk", c3, top - NODE_TITLE, c3 + 255, top + 180),
              group("5  The music moves BigGAN: features and latent walk", "walk", c1, engine - NODE_TITLE,
                    c3 + 520, engine + 540)]
    note = read_me("## AudioWalk: BigGAN music video\n"
                   "Press **Run**: the bundled 20 s demo song becomes an mp4 in `output/AudioWalk/`. Your song: "
                   "upload it in **Load Song**; what BigGAN paints: ImageNet classes in **Class Schedule**.\n\n"
                   "One Run renders the whole song in chunks (**Render in Chunks**); Save Music Video joins them "
                   "with the music. BigGAN weights go in `models/biggan` (downloaded on first use when online).\n\n"
                   "Below: how the music moves BigGAN (features, noise walk, smoothing).")
    return nodes, [note], groups
