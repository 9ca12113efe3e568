"""The shipped template "AudioWalk music map video": the drum stem drives the noise walk and the song's sections
drive the classes.

Load Song -> Separate Stems (hpss: "percussive" and "harmonic"; the stem is one widget of Stem Features, so a
neural separation's "drums" or your own stems from Load Stems are one change) -> Stem Features (percussive, on the
mix's clock, beats and sections) -> Band Noise Walk; Audio Features (the mix) -> Class Schedule (mode sections: each
section label its own class, a repeat returns to it) -> Make Latents -> Smooth Latents -> Render in Chunks -> BigGAN
Generate -> Save Music Video. Separate Stems runs once per song: the chunks of one Run reuse its cached output (and a
later Run its cache on disk). Registered in workflow_builder.WORKFLOWS.

Deck: Read me over Load Song | Separate Stems over Render in Chunks | Stem Features over Class Schedule | Save Music
Video. Engine room: Audio Features and Load BigGAN | BigGAN Generate | Band Noise Walk -> Make Latents -> Smooth
Latents. Lanes: the song's trunk and the latents' return in the gap after Load Song; the mix's features up, the
chunk's latents down in the gap after Separate Stems; the stem's features and the classes down, the frames and the
chunk up in the gap before Save Music Video.
"""
from __future__ import annotations

from dataclasses import replace

from .workflow_layout import ENGINE_TOP, GROUP_TITLE, NODE_TITLE, group, socket_y
from .workflow_tools import GraphNode

MUSIC_MAP_UI_NAME = "AudioWalk music map video.json"
MUSIC_MAP_API_NAME = "audiowalk_music_map.json"
SEPARATE, STEM_FEATURES = 41, 42
STEM = "percussive"  # what Separate Stems (hpss) calls the drums; "drums" with a neural separation or your stems


def music_map_workflow():
    """``(nodes, notes, groups)`` of the template (ids and shared nodes from the builder)."""
    from . import workflow_builder as wb

    top, low, engine = GROUP_TITLE + NODE_TITLE, 455, ENGINE_TOP + GROUP_TITLE + NODE_TITLE
    lane = ENGINE_TOP - 60  # the corridor between deck and engine room
    c1, c2, c3 = 350, 675, 1005  # the deck's columns after the Read me's
    trunk = [(318, socket_y(low, 0))]  # the song's output, where its lanes part
    at = {wb.LOAD_AUDIO: (0, low), wb.CHUNKS: (c1, low), wb.FEATURES: (c1, engine), wb.LOAD_BIGGAN: (c1, engine + 330),
          wb.NOISE: (c3, engine), wb.MAKE_LATENTS: (c3 + 320, engine), wb.SMOOTH: (c3 + 580, engine),
          wb.CLASSES: (c2, low)}
    routes = {(wb.FEATURES, "audio"): trunk + [(318, ENGINE_TOP - 25)],
              (wb.CHUNKS, "latents"): [(c3 + 880, lane), (336, lane), (336, socket_y(low, 0) + 30)],
              (wb.CLASSES, "features"): [(628, ENGINE_TOP - 25), (628, socket_y(low, 0) + 30)],
              (wb.MAKE_LATENTS, "classes"): [(962, socket_y(low, 0) + 30), (962, lane + 20), (c3 + 300, lane + 20)],
              (wb.NOISE, "features"): [(948, socket_y(top, 0) + 30), (948, ENGINE_TOP - 25)]}
    walk = {node.id: node for node in wb.walk_nodes(at, routes)}
    walk[wb.NOISE] = replace(walk[wb.NOISE], links={"features": (STEM_FEATURES, 0)})
    walk[wb.CLASSES] = replace(walk[wb.CLASSES], size=(260, 180),
                               values={**walk[wb.CLASSES].values, "mode": "sections"})
    walk[wb.CHUNKS] = replace(walk[wb.CHUNKS], size=(260, 190))
    nodes = list(walk.values()) + [
        GraphNode(SEPARATE, "AudioWalkSeparateStems", (c1, top), (260, 100), title="Separate Stems",
                  values={"method": "hpss"}, links={"audio": (wb.LOAD_AUDIO, 0)},
                  routes={"audio": trunk + [(318, socket_y(top, 0) + 30)]}),
        GraphNode(STEM_FEATURES, "AudioWalkStemFeatures", (c2, top), (260, 170), title="Stem Features",
                  values={"stem": STEM, "fps": "30"},
                  links={"stems": (SEPARATE, 0), "mix_features": (wb.FEATURES, 0)},
                  routes={"mix_features": [(628, ENGINE_TOP - 25), (628, socket_y(top, 1) + 30)]}),
        wb.generate_node((c2, engine), (wb.CHUNKS, 0),
                         routes={"latents": [(645, socket_y(low, 0) + 30), (645, ENGINE_TOP - 40)]}),
        replace(wb.save_node((c3, top), (wb.GENERATE, 0), "AudioWalk/music_map",
                             routes={"chunk": [(660, 340), (978, 340), (978, socket_y(top, 1) + 30)],
                                     "images": [(992, engine - 40), (992, socket_y(top, 0) + 30)]}),
                size=(270, 330)),
    ]
    groups = [group("1  Your song", "song", 0, low - NODE_TITLE, 300, low + 170),
              group("2  The drums drive the walk", "stems", c1, top - NODE_TITLE, c2 + 260, top + 170),
              group("3  Chunk by chunk", "biggan", c1, low - NODE_TITLE, c1 + 260, low + 190),
              group("4  Sections drive the classes", "walk", c2, low - NODE_TITLE, c2 + 260, low + 180),
              group("5  Video with the music", "video", c3, top - NODE_TITLE, c3 + 270, top + 330),
              group("6  Features, walk and BigGAN", "biggan", c1, engine - NODE_TITLE, c3 + 840, engine + 480)]
    note = wb.read_me("## AudioWalk: music map video\n"
                      "The **drums** drive the noise walk, the song's **sections** drive the classes: a chorus that "
                      "comes back brings its picture back. Press **Run**: the demo song becomes an mp4 in "
                      "`output/AudioWalk/`.\n\n"
                      "**Separate Stems** splits the song once (cached); **Stem Features** picks the stem "
                      f"(`{STEM}`; `drums` with your own stems from Load Stems). **Class Schedule**: one class per "
                      "section label, in order.")
    return list(nodes), [note], groups
