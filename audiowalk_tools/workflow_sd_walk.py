"""The shipped template "AudioWalk Stable Diffusion music video": a Stable Diffusion walk driven by the music.

Song -> features -> Render in Chunks (features alone) -> SD Walk Frames (keyframes or every frame of the chunk)
-> Music Noise Walk (NOISE) + Prompt Travel (three prompts by time) + SD Walk Sampler (guidance per frame from a
Feature Curve) -> SamplerCustomAdvanced on an Empty Latent Image of the chunk's frame count -> VAE Decode ->
Interpolate Frames -> Save Music Video. Registered in workflow_builder.WORKFLOWS.
"""
from __future__ import annotations

from audiowalk_core.chunks import DEFAULT_CHUNK_FRAMES, RENDER_WHOLE_SONG

from .workflow_layout import CHUNK_TEXT_ROOM, ENGINE_TOP, GROUP_TITLE, NODE_TITLE, VIDEO_ROOM, group, socket_y
from . import workflow_parts as wb
from .workflow_tools import GraphNode

SD_WALK_UI_NAME = "AudioWalk Stable Diffusion music video.json"
SD_WALK_API_NAME = "audiowalk_sd_walk.json"
PROMPTS = ("a misty forest at dawn, soft light, highly detailed painting",
           "a neon city at night in the rain, vivid colours, highly detailed painting",
           "a calm ocean under a starry sky, dreamlike, highly detailed painting")
NEGATIVE = "blurry, low quality, text, watermark, frame"
SCHEDULE = "0: 1, 8: 2, 16: 3"

(LOAD_AUDIO, FEATURES, CHUNKS, FRAMES, CHECKPOINT, PROMPT_1, PROMPT_2, PROMPT_3, NEGATIVE_PROMPT, TRAVEL, LATENT,
 NOISE, GUIDANCE_CURVE, WALK_SAMPLER, SAMPLE, DECODE, INTERPOLATE, SAVE) = range(1, 19)


def sd_walk_workflow():
    """``(nodes, notes, groups)`` of the template.

    Deck: Read me, Load Song and Load Checkpoint (what is yours) | Prompts 1-3 over Render in Chunks | Save Music
    Video (its video grows below it, left of the minimap) | Prompt Travel. Engine room: Audio Features | SD Walk
    Frames, Guidance from Loudness | Music Noise Walk, Empty Latent, Negative Prompt | SD Walk Sampler | Sample the
    Chunk | VAE Decode | Interpolate Frames; the links between deck and engine room run in lanes (the gaps between
    the deck's columns, the band below the video and the corridor below the deck)."""

    top = GROUP_TITLE + NODE_TITLE
    c1, c2, c3 = 390, 740, 1045  # deck columns after the first (0..330): 260, 260 and 230 wide
    engine = ENGINE_TOP + 40 + GROUP_TITLE + NODE_TITLE  # a deeper corridor: the deck's first column ends at 700
    e = {"B": 780, "C": 1170, "D": 1560, "E": 2020, "F": 2420, "G": 2780}  # engine columns after Audio Features
    lanes = [ENGINE_TOP - 30 + 12 * k for k in range(9)]  # horizontal lanes of the corridor
    band = 640  # below the video of Save Music Video: the prompts cross to Prompt Travel here
    song_y, checkpoint_y, chunks_y = 340, 580, 505
    gap = {name: 662 + 11 * k for k, name in enumerate(("p1", "p2", "p3", "chunk", "features", "chunk_up",
                                                         "images"))}  # lanes in the gap before the video
    into_travel = {name: 1007 + 7 * k for k, name in enumerate(("frames", "features", "p1", "p2", "p3"))}

    def to_travel(name: str, index: int, start: list) -> list:
        return start + [(into_travel[name], band + 8 * list(into_travel).index(name)),
                        (into_travel[name], socket_y(top, index) + 16)]

    def prompt_route(name: str, y: float, index: int) -> list:
        lane_y = band + 8 * list(into_travel).index(name)
        return [(gap[name], socket_y(y, 0)), (gap[name], lane_y)] + to_travel(name, index, [])

    clip_up = [(360, socket_y(checkpoint_y, 1)), (360, 430), (360, 285)]
    nodes = [
        GraphNode(LOAD_AUDIO, "AudioWalkLoadAudio", (0, song_y), (330, 170), title="Load Song",
                  values={"audio": wb.SONG, "start_seconds": 0.0, "duration_seconds": 0.0}),
        GraphNode(FEATURES, "AudioWalkAudioFeatures", (c1, engine), (280, 290), title="Audio Features",
                  values=dict(wb.PIPELINE_VALUES["AudioWalkAudioFeatures"]), links={"audio": (LOAD_AUDIO, 0)},
                  routes={"audio": [(352, socket_y(song_y, 0)), (352, lanes[8])]}),
        GraphNode(CHUNKS, "AudioWalkRenderChunks", (c1, chunks_y), (260, 188), title="Render in Chunks",
                  values={"chunk_frames": DEFAULT_CHUNK_FRAMES, "render": RENDER_WHOLE_SONG, "chunk_index": 0},
                  links={"features": (FEATURES, 0), "audio": (LOAD_AUDIO, 0)},
                  routes={"audio": [(352, socket_y(song_y, 0)), (352, socket_y(chunks_y, 2))],
                          "features": [(c1 + 300, engine - 60), (c1 + 300, lanes[7]), (378, lanes[7]),
                                       (378, socket_y(chunks_y, 1) + 16)]}),
        GraphNode(FRAMES, "AudioWalkSDWalkFrames", (e["B"], engine), (280, 170), title="SD Walk Frames",
                  values={"render_way": "keyframes", "interpolation_steps": 3, "keyframe_mode": "every_n"},
                  links={"features": (FEATURES, 0), "chunk": (CHUNKS, 1)},
                  routes={"chunk": [(gap["chunk"], socket_y(chunks_y, 1)), (gap["chunk"], lanes[3]),
                                    (e["B"] - 40, lanes[3])]}),
        GraphNode(CHECKPOINT, "CheckpointLoaderSimple", (0, checkpoint_y), (330, 120), title="Load Checkpoint",
                  values={"ckpt_name": wb.SD_CHECKPOINT}),
        GraphNode(PROMPT_1, "CLIPTextEncode", (c1, top), (260, 80), title="Prompt 1",
                  values={"text": PROMPTS[0]}, links={"clip": (CHECKPOINT, 1)},
                  routes={"clip": clip_up + [(360, socket_y(top, 0) + 16)]}),
        GraphNode(PROMPT_2, "CLIPTextEncode", (c1, top + 145), (260, 80), title="Prompt 2",
                  values={"text": PROMPTS[1]}, links={"clip": (CHECKPOINT, 1)},
                  routes={"clip": clip_up}),
        GraphNode(PROMPT_3, "CLIPTextEncode", (c1, top + 290), (260, 80), title="Prompt 3",
                  values={"text": PROMPTS[2]}, links={"clip": (CHECKPOINT, 1)},
                  routes={"clip": clip_up[:2]}),
        GraphNode(NEGATIVE_PROMPT, "CLIPTextEncode", (e["C"], engine + 650), (280, 90), title="Negative Prompt",
                  values={"text": NEGATIVE}, links={"clip": (CHECKPOINT, 1)},
                  routes={"clip": [(360, socket_y(checkpoint_y, 1)), (360, lanes[2]), (e["C"] - 60, lanes[2]),
                                   (e["C"] - 60, socket_y(engine + 650, 0))]}),
        GraphNode(TRAVEL, "AudioWalkPromptTravel", (c3, top), (230, 330), title="Prompt Travel",
                  values={"mode": "seconds", "schedule": SCHEDULE, "transition_frames": 0},
                  links={"features": (FEATURES, 0), "frames": (FRAMES, 0), "conditioning_1": (PROMPT_1, 0),
                         "conditioning_2": (PROMPT_2, 0), "conditioning_3": (PROMPT_3, 0)},
                  routes={"features": to_travel("features", 0, [(c1 + 300, engine - 60), (c1 + 300, lanes[6]),
                                                                 (into_travel["features"], lanes[6])]),
                          "frames": to_travel("frames", 1, [(e["B"] + 310, engine - 20), (e["B"] + 310, lanes[5]),
                                                             (into_travel["frames"], lanes[5])]),
                          "conditioning_1": prompt_route("p1", top, 2),
                          "conditioning_2": prompt_route("p2", top + 145, 3),
                          "conditioning_3": prompt_route("p3", top + 290, 4)}),
        GraphNode(LATENT, "EmptyLatentImage", (e["C"], engine + 330), (280, 110), title="Empty Latent (chunk frames)",
                  values={"width": 512, "height": 512}, links={"batch_size": (FRAMES, 1)},
                  routes={"batch_size": [(e["C"] - 80, engine + 330 + 84)]}),  # level with the widget's socket
        GraphNode(NOISE, "AudioWalkMusicNoiseWalk", (e["C"], engine), (280, 280), title="Music Noise Walk",
                  values={"noise_seed": 42, "drift": 0.0, "onset_push": 0.25, "beat_push": 0.3,
                          "energy_push": 0.02, "use_sections": True},
                  links={"features": (FEATURES, 0), "frames": (FRAMES, 0)},
                  routes={"features": [(c1 + 300, engine - 60), (e["C"] - 30, engine - 60)]}),
        GraphNode(GUIDANCE_CURVE, "AudioWalkFeatureCurve", (e["B"], engine + 230), (280, 170),
                  title="Guidance from Loudness",
                  values={"curve": "rms", "index": 0, "low": 5.0, "high": 9.0}, links={"features": (FEATURES, 0)}),
        GraphNode(WALK_SAMPLER, "AudioWalkSDWalkSampler", (e["D"], engine), (350, 330), title="SD Walk Sampler",
                  values={"render_way": "keyframes", "steps": 20, "cfg": 7.0, "denoise": 1.0},
                  links={"model": (CHECKPOINT, 0), "positive": (TRAVEL, 0), "negative": (NEGATIVE_PROMPT, 0),
                         "frames": (FRAMES, 0), "guidance": (GUIDANCE_CURVE, 1)},
                  routes={"model": [(336, socket_y(checkpoint_y, 0)), (336, lanes[0]), (e["D"] - 40, lanes[0])],
                          "positive": [(1295, socket_y(top, 0)), (1295, lanes[1]), (e["D"] - 30, lanes[1])],
                          "negative": [(e["C"] + 310, engine + 664), (e["D"] - 20, engine + 664),
                                       (e["D"] - 20, socket_y(engine, 2))],
                          "frames": [(e["B"] + 310, engine - 48), (e["D"] - 60, engine - 48)],
                          "guidance": [(e["B"] + 320, engine + 470), (e["D"] - 30, engine + 470)]}),
        GraphNode(SAMPLE, "SamplerCustomAdvanced", (e["E"], engine), (280, 130), title="Sample the Chunk",
                  links={"noise": (NOISE, 0), "guider": (WALK_SAMPLER, 0), "sampler": (WALK_SAMPLER, 1),
                         "sigmas": (WALK_SAMPLER, 2), "latent_image": (LATENT, 0)},
                  routes={"noise": [(e["C"] + 320, engine - 36), (e["E"] - 50, engine - 36)],
                          "latent_image": [(e["C"] + 320, engine + 440), (e["E"] - 40, engine + 440)]}),
        GraphNode(DECODE, "VAEDecode", (e["F"], engine), (240, 60), title="VAE Decode",
                  links={"samples": (SAMPLE, 0), "vae": (CHECKPOINT, 2)},
                  routes={"vae": [(344, socket_y(checkpoint_y, 2)), (344, lanes[4]), (e["F"] - 40, lanes[4])]}),
        GraphNode(INTERPOLATE, "AudioWalkInterpolateFrames", (e["G"], engine), (240, 80), title="Interpolate Frames",
                  links={"keyframes": (DECODE, 0), "keyframe_info": (FRAMES, 0)},
                  routes={"keyframe_info": [(e["B"] + 310, engine + 560), (e["G"] - 40, engine + 560)]}),
        GraphNode(SAVE, "AudioWalkSaveVideo", (c2, top), (260, 330), title="Save Music Video",
                  values={"filename_prefix": "AudioWalk/sd_walk", "crf": 18},
                  links={"images": (INTERPOLATE, 0), "chunk": (CHUNKS, 1), "features": (FEATURES, 0)},
                  routes={"images": [(e["G"] + 270, engine - 20), (e["G"] + 270, lanes[8]), (gap["images"], lanes[8]),
                                     (gap["images"], socket_y(top, 0) + 16)],
                          "chunk": [(gap["chunk"], socket_y(chunks_y, 1)), (gap["chunk_up"], socket_y(chunks_y, 1)),
                                    (gap["chunk_up"], socket_y(top, 1) + 16)],
                          "features": [(c1 + 300, engine - 60), (c1 + 300, lanes[6]), (gap["features"], lanes[6]),
                                       (gap["features"], socket_y(top, 3) + 16)]}),
    ]
    groups = [group("1  Your song and checkpoint", "song", 0, song_y - NODE_TITLE, 330, checkpoint_y + 120),
              group("2  Your prompts", "sd", c1, top - NODE_TITLE, c1 + 260, chunks_y + 188 + CHUNK_TEXT_ROOM),
              group("3  Video", "video", c2, top - NODE_TITLE, c2 + 260, top + VIDEO_ROOM),
              group("4  Travel", "sd", c3, top - NODE_TITLE, c3 + 230, top + 330),
              group("5  Music noise and sampling", "walk", c1, engine - NODE_TITLE, e["G"] + 240, engine + 740)]
    text = ("## AudioWalk: Stable Diffusion music video\n"
            "Pick your checkpoint in **Load Checkpoint**, write **Prompts 1-3** and press **Run**: the demo song "
            "becomes an mp4 in `output/AudioWalk/`, chunk by chunk. **Prompt Travel** blends the prompts over "
            "time (mode sections: by the song's parts).\n\n"
            "Below: the noise moves with onsets and beats, the guidance with the loudness; **SD Walk Sampler** "
            "sets keyframes or every frame (few-step models, steps 1-8); the negative prompt.")
    return nodes, [wb.read_me(text, height=190, width=330)], groups
