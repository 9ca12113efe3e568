"""The shipped template "AudioWalk music map video": the drum stem drives the noise walk and the song's sections
drive the classes.

Load Song -> Separate Stems (HTDemucs: drums, bass, other, vocals; its weights are downloaded on first use; hpss, the
DSP split, calls its drum-like stem "percussive": the stem is one widget of Stem Features, as with your own stems
from Load Stems) -> Stem Features (drums, on the mix's clock, beats and sections) -> Band Noise Walk; Audio
Features (the mix) -> Class Schedule (mode sections: each section label its own class, a repeat returns to it) ->
Make Latents -> Smooth Latents -> Render in Chunks -> BigGAN
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

from .workflow_layout import CHUNK_TEXT_ROOM, ENGINE_TOP, GROUP_TITLE, NODE_TITLE, VIDEO_ROOM, group, socket_y
from . import workflow_parts as wb
from .workflow_tools import GraphNode

MUSIC_MAP_UI_NAME = "AudioWalk music map video.json"
MUSIC_MAP_API_NAME = "audiowalk_music_map.json"
SEPARATE, STEM_FEATURES = 41, 42
METHOD = "htdemucs"  # Separate Stems' model (listed "htdemucs (download, 84 MB)" until its weights are there)
STEM = "drums"  # HTDemucs' drum stem ("percussive" with hpss)


def music_map_workflow():
    """``(nodes, notes, groups)`` of the template (ids and shared nodes from the builder)."""

    top, low, engine = GROUP_TITLE + NODE_TITLE, 455, ENGINE_TOP + GROUP_TITLE + NODE_TITLE
    lane, band = ENGINE_TOP - 60, ENGINE_TOP - 85  # the corridor; the band below the video and the chunks
    c1, c2, c3 = 360, 690, 1020  # the deck's columns after the Read me's
    class_y = 315
    trunk = [(318, socket_y(low, 0))]  # the song's output, where its lanes part
    features_trunk = [(652, socket_y(engine, 0)), (652, band + 12), (1008, band + 12)]
    at = {wb.LOAD_AUDIO: (0, low), wb.CHUNKS: (c1, low), wb.FEATURES: (c1, engine), wb.LOAD_BIGGAN: (c1, engine + 390),
          wb.NOISE: (c3, engine), wb.MAKE_LATENTS: (c3 + 320, engine), wb.SMOOTH: (c3 + 580, engine),
          wb.CLASSES: (c3, class_y)}
    routes = {(wb.FEATURES, "audio"): trunk + [(318, ENGINE_TOP - 25)],
              (wb.CHUNKS, "latents"): [(c3 + 870, lane), (336, lane), (336, socket_y(low, 0) + 16)],
              (wb.CLASSES, "features"): features_trunk + [(1008, socket_y(class_y, 0) + 16)],
              (wb.MAKE_LATENTS, "classes"): [(1300, socket_y(class_y, 0)), (1300, engine - 30),
                                             (c3 + 295, engine - 30), (c3 + 295, socket_y(engine, 1))],
              (wb.NOISE, "features"): [(1290, socket_y(top, 0)), (1290, engine - 45), (995, engine - 45),
                                       (995, socket_y(engine, 0))]}
    walk = {node.id: node for node in wb.walk_nodes(at, routes)}
    walk[wb.NOISE] = replace(walk[wb.NOISE], links={"features": (STEM_FEATURES, 0)})
    walk[wb.CLASSES] = replace(walk[wb.CLASSES], size=(255, 180),
                               values={**walk[wb.CLASSES].values, "mode": "sections"})
    walk[wb.CHUNKS] = replace(walk[wb.CHUNKS], size=(260, 190))
    nodes = list(walk.values()) + [
        GraphNode(SEPARATE, "AudioWalkSeparateStems", (c1, top), (260, 150), title="Separate Stems",
                  values={"method": METHOD}, links={"audio": (wb.LOAD_AUDIO, 0)},
                  routes={"audio": trunk + [(318, socket_y(top, 0) + 16)]}),
        GraphNode(STEM_FEATURES, "AudioWalkStemFeatures", (c3, top), (255, 170), title="Stem Features",
                  values={"stem": STEM, "fps": "30"},
                  links={"stems": (SEPARATE, 0), "mix_features": (wb.FEATURES, 0)},
                  routes={"stems": [(640, socket_y(top, 0)), (640, band), (995, band), (995, socket_y(top, 0) + 16)],
                          "mix_features": features_trunk + [(1008, socket_y(top, 1) + 16)]}),
        wb.generate_node((c2, engine), (wb.CHUNKS, 0),
                         routes={"latents": [(664, socket_y(low, 0)), (664, socket_y(engine, 1))]}),
        replace(wb.save_node((c2, top), (wb.GENERATE, 0), "AudioWalk/music_map",
                             routes={"chunk": [(688, socket_y(low, 1)), (688, socket_y(top, 1) + 16)],
                                     "images": [(975, socket_y(engine, 0)), (975, lane + 20), (676, lane + 20),
                                                (676, socket_y(top, 0) + 16)]}),
                size=(270, 330)),
    ]
    groups = [group("1  Your song", "song", 0, low - NODE_TITLE, 300, low + 185),
              group("2  Stems", "stems", c1, top - NODE_TITLE, c1 + 260, top + 160),
              group("3  Chunk by chunk", "biggan", c1, low - NODE_TITLE, c1 + 260, low + 190 + CHUNK_TEXT_ROOM),
              group("4  Video", "video", c2, top - NODE_TITLE, c2 + 270, top + VIDEO_ROOM),
              group("5  Drums, sections", "walk", c3, top - NODE_TITLE, c3 + 255, class_y + 180),
              group("6  Features, walk and BigGAN", "biggan", c1, engine - NODE_TITLE, c3 + 840, engine + 540)]
    note = wb.read_me("## AudioWalk: music map video\n"
                      "The **drums** drive the noise walk, the song's **sections** drive the classes: a chorus that "
                      "comes back brings its picture back. Press **Run**: the demo song becomes an mp4 in "
                      "`output/AudioWalk/`.\n\n"
                      "**Separate Stems** splits the song once into drums, bass, other and vocals (HTDemucs, "
                      "84 MB downloaded on first use; cached); **Stem Features** picks the stem "
                      f"(`{STEM}`; `percussive` with hpss). **Class Schedule**: one class per section label, in order.")
    return list(nodes), [note], groups
