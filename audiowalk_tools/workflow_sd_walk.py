"""The shipped template "AudioWalk Stable Diffusion music video": a Stable Diffusion walk driven by the music.

Song -> features -> Render in Chunks (features alone) -> SD Walk Frames (keyframes or every frame of the chunk)
-> Music Noise Walk (NOISE) + Prompt Travel (three prompts by time) + SD Walk Sampler (guidance per frame from a
Feature Curve) -> SamplerCustomAdvanced on an Empty Latent Image of the chunk's frame count -> VAE Decode ->
Interpolate Frames -> Save Music Video. Registered in workflow_builder.WORKFLOWS.
"""
from __future__ import annotations

from audiowalk_core.chunks import DEFAULT_CHUNK_FRAMES, RENDER_WHOLE_SONG

from .workflow_layout import ENGINE_TOP, GROUP_TITLE, NODE_TITLE, group, socket_y
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

    Deck: Read me, Load Song and Load Checkpoint (what is yours) | Prompts 1-3 over Render in Chunks | Prompt Travel
    over Negative Prompt | Save Music Video. Engine room: Audio Features | SD Walk Frames, Guidance from Loudness |
    Music Noise Walk, Empty Latent | SD Walk Sampler | Sample the Chunk | VAE Decode | Interpolate Frames; the links
    between deck and engine room run in lanes (the gaps between the deck's columns and the corridor below it)."""
    from . import workflow_builder as wb

    top = GROUP_TITLE + NODE_TITLE
    c1, c2, c3 = 390, 705, 1025  # deck columns after the first (0..330); Prompt Travel is 260 wide
    engine = ENGINE_TOP + 40 + GROUP_TITLE + NODE_TITLE  # a deeper corridor: the deck's first column ends at 700
    e = {"B": 780, "C": 1170, "D": 1560, "E": 2020, "F": 2420, "G": 2780}  # engine columns after Audio Features
    lanes = [ENGINE_TOP - 30 + 12 * k for k in range(8)]  # horizontal lanes of the corridor
    song_y, checkpoint_y, chunks_y = 340, 580, 535
    trunk = 356  # the song's lane in the gap after the first column; the checkpoint's lanes beside it
    nodes = [
        GraphNode(LOAD_AUDIO, "AudioWalkLoadAudio", (0, song_y), (330, 170), title="Load Song",
                  values={"audio": wb.SONG, "start_seconds": 0.0, "duration_seconds": 0.0}),
        GraphNode(FEATURES, "AudioWalkAudioFeatures", (c1, engine), (280, 290), title="Audio Features",
                  values=dict(wb.PIPELINE_VALUES["AudioWalkAudioFeatures"]), links={"audio": (LOAD_AUDIO, 0)},
                  routes={"audio": [(trunk, socket_y(song_y, 0)), (trunk, lanes[6])]}),
        GraphNode(CHUNKS, "AudioWalkRenderChunks", (c1, chunks_y), (270, 188), title="Render in Chunks",
                  values={"chunk_frames": DEFAULT_CHUNK_FRAMES, "render": RENDER_WHOLE_SONG, "chunk_index": 0},
                  links={"features": (FEATURES, 0), "audio": (LOAD_AUDIO, 0)},
                  routes={"audio": [(trunk, socket_y(song_y, 0)), (trunk, socket_y(chunks_y, 2))],
                          "features": [(c1 + 300, engine - 60), (c1 + 300, lanes[7]), (378, lanes[7]),
                                       (378, socket_y(chunks_y, 1) + 20)]}),
        GraphNode(FRAMES, "AudioWalkSDWalkFrames", (e["B"], engine), (280, 170), title="SD Walk Frames",
                  values={"render_way": "keyframes", "interpolation_steps": 3, "keyframe_mode": "every_n"},
                  links={"features": (FEATURES, 0), "chunk": (CHUNKS, 1)},
                  routes={"chunk": [(c2 - 22, socket_y(chunks_y, 1)), (c2 - 22, lanes[3]), (e["B"] - 40, lanes[3])]}),
        GraphNode(CHECKPOINT, "CheckpointLoaderSimple", (0, checkpoint_y), (330, 120), title="Load Checkpoint",
                  values={"ckpt_name": wb.SD_CHECKPOINT}),
        GraphNode(PROMPT_1, "CLIPTextEncode", (c1, top), (270, 90), title="Prompt 1",
                  values={"text": PROMPTS[0]}, links={"clip": (CHECKPOINT, 1)},
                  routes={"clip": [(366, socket_y(checkpoint_y, 1)), (366, 420), (366, 270), (366, 110)]}),
        GraphNode(PROMPT_2, "CLIPTextEncode", (c1, top + 150), (270, 90), title="Prompt 2",
                  values={"text": PROMPTS[1]}, links={"clip": (CHECKPOINT, 1)},
                  routes={"clip": [(366, socket_y(checkpoint_y, 1)), (366, 420), (366, 270)]}),
        GraphNode(PROMPT_3, "CLIPTextEncode", (c1, top + 300), (270, 90), title="Prompt 3",
                  values={"text": PROMPTS[2]}, links={"clip": (CHECKPOINT, 1)},
                  routes={"clip": [(366, socket_y(checkpoint_y, 1)), (366, 420)]}),
        GraphNode(NEGATIVE_PROMPT, "CLIPTextEncode", (c2, 520), (260, 90), title="Negative Prompt",
                  values={"text": NEGATIVE}, links={"clip": (CHECKPOINT, 1)},
                  routes={"clip": [(366, socket_y(checkpoint_y, 1)), (366, 420), (366, 490), (c2 - 30, 490)]}),
        GraphNode(TRAVEL, "AudioWalkPromptTravel", (c2, top), (260, 330), title="Prompt Travel",
                  values={"mode": "seconds", "schedule": SCHEDULE, "transition_frames": 0},
                  links={"features": (FEATURES, 0), "frames": (FRAMES, 0), "conditioning_1": (PROMPT_1, 0),
                         "conditioning_2": (PROMPT_2, 0), "conditioning_3": (PROMPT_3, 0)},
                  routes={"features": [(c1 + 300, engine - 60), (c1 + 300, lanes[7]), (c2 - 34, lanes[7]),
                                       (c2 - 34, socket_y(top, 0) + 30)],
                          "frames": [(e["B"] + 310, engine - 20), (e["B"] + 310, lanes[5]), (c2 - 10, lanes[5]),
                                     (c2 - 10, socket_y(top, 1) + 30)]}),
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
                  routes={"model": [(344, socket_y(checkpoint_y, 0)), (344, lanes[0]), (e["D"] - 40, lanes[0])],
                          "positive": [(c3 - 50, socket_y(top, 0)), (c3 - 50, lanes[1]), (e["D"] - 30, lanes[1])],
                          "negative": [(c3 - 38, socket_y(520, 0)), (c3 - 38, lanes[2]), (e["D"] - 20, lanes[2])],
                          "frames": [(e["B"] + 310, engine - 48), (e["D"] - 60, engine - 48)],
                          "guidance": [(e["B"] + 320, engine + 470), (e["D"] - 30, engine + 470)]}),
        GraphNode(SAMPLE, "SamplerCustomAdvanced", (e["E"], engine), (280, 130), title="Sample the Chunk",
                  links={"noise": (NOISE, 0), "guider": (WALK_SAMPLER, 0), "sampler": (WALK_SAMPLER, 1),
                         "sigmas": (WALK_SAMPLER, 2), "latent_image": (LATENT, 0)},
                  routes={"noise": [(e["C"] + 320, engine - 36), (e["E"] - 50, engine - 36)],
                          "latent_image": [(e["C"] + 320, engine + 480), (e["E"] - 40, engine + 480)]}),
        GraphNode(DECODE, "VAEDecode", (e["F"], engine), (240, 60), title="VAE Decode",
                  links={"samples": (SAMPLE, 0), "vae": (CHECKPOINT, 2)},
                  routes={"vae": [(332, socket_y(checkpoint_y, 2)), (332, lanes[4]), (e["F"] - 40, lanes[4])]}),
        GraphNode(INTERPOLATE, "AudioWalkInterpolateFrames", (e["G"], engine), (240, 80), title="Interpolate Frames",
                  links={"keyframes": (DECODE, 0), "keyframe_info": (FRAMES, 0)},
                  routes={"keyframe_info": [(e["B"] + 310, engine + 520), (e["G"] - 40, engine + 520)]}),
        GraphNode(SAVE, "AudioWalkSaveVideo", (c3, top), (250, 330), title="Save Music Video",
                  values={"filename_prefix": "AudioWalk/sd_walk", "crf": 18},
                  links={"images": (INTERPOLATE, 0), "chunk": (CHUNKS, 1), "features": (FEATURES, 0)},
                  routes={"images": [(e["G"] + 270, engine - 20), (e["G"] + 270, lanes[6]), (c3 - 10, lanes[6]),
                                     (c3 - 10, socket_y(top, 0) + 30)],
                          "chunk": [(c2 - 22, socket_y(chunks_y, 1)), (c2 - 22, lanes[3]), (c3 - 18, lanes[3]),
                                    (c3 - 18, socket_y(top, 1) + 30)],
                          "features": [(c1 + 300, engine - 60), (c1 + 300, lanes[7]), (c3 - 26, lanes[7]),
                                       (c3 - 26, socket_y(top, 3) + 30)]}),
    ]
    groups = [group("1  Your song and checkpoint", "song", 0, song_y - NODE_TITLE, 330, checkpoint_y + 120),
              group("2  Your prompts", "sd", c1, top - NODE_TITLE, c1 + 270, chunks_y + 188),
              group("3  Travel", "sd", c2, top - NODE_TITLE, c2 + 260, 610),
              group("4  Video", "video", c3, top - NODE_TITLE, c3 + 250, top + 330),
              group("5  Music noise and sampling", "walk", c1, engine - NODE_TITLE, e["G"] + 240, engine + 500)]
    text = ("## AudioWalk: Stable Diffusion music video\n"
            "Pick your checkpoint in **Load Checkpoint**, write **Prompts 1-3** and press **Run**: the demo song "
            "becomes an mp4 in `output/AudioWalk/`, chunk by chunk. **Prompt Travel** blends the prompts over "
            "time (mode sections: by the song's parts).\n\n"
            "Below: the noise moves with onsets and beats, the guidance with the loudness; **SD Walk Sampler** "
            "sets keyframes or every frame (few-step models, steps 1-8).")
    return nodes, [wb.read_me(text, height=190, width=330)], groups
