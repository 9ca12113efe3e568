"""The SD walk nodes as ComfyUI calls them (no ComfyUI needed up to the sampler): Render in Chunks on features alone,
SD Walk Frames -> Music Noise Walk / Prompt Travel / Music Strength for a chunk, equal to that range of the whole
song; SD Walk Sampler refuses bad settings before touching ComfyUI; Save Music Video reports reactivity; the CLI
reactivity command on a video that follows a click track."""
import numpy as np
import pytest
import torch

from audiowalk_core.errors import AudioWalkInputError
from sd_walk_support import section, song_features

FEATURES = song_features(120, onsets=range(3, 120, 11), beats=range(0, 120, 5), rms=0.4,
                         sections=(section(0, 4, "A"), section(4, 8, "B"), section(8, 12, "A")))


def node(pack, name):
    return pack.NODE_CLASS_MAPPINGS[name]()


def conditioning(value):
    return [[torch.full((1, 77, 16), float(value)), {"pooled_output": torch.full((1, 8), float(value))}]]


def chunk_outputs(pack, way, chunk):
    frames, count = node(pack, "AudioWalkSDWalkFrames").frames(FEATURES, way, 3, "every_n", chunk)
    (noise,) = node(pack, "AudioWalkMusicNoiseWalk").make(FEATURES, frames, 7, 0.0, 0.25, 0.3, 0.02, True)
    (cond,) = node(pack, "AudioWalkPromptTravel").travel(FEATURES, frames, "sections", "A: 1, B: 2", 6,
                                                         conditioning(1), conditioning_2=conditioning(3))
    latent = {"samples": torch.zeros(count, 4, 8, 8)}
    (masked,) = node(pack, "AudioWalkMusicStrength").mask(latent, frames, np.linspace(0.2, 0.8, 120).tolist())
    return frames, noise.generate_noise(latent), cond, masked


@pytest.mark.parametrize("way", ["keyframes", "every frame"])
def test_a_chunks_noise_prompts_and_strength_are_that_range_of_the_whole_song(pack, way):
    plan = node(pack, "AudioWalkRenderChunks")
    _, whole_chunk, _, _ = plan.plan(0, "whole song", 0, features=FEATURES)
    whole_frames, whole_noise, whole_cond, whole_mask = chunk_outputs(pack, way, whole_chunk)
    part, chunk, start, count = plan.plan(50, "whole song", 1, features=FEATURES)
    assert part is None and (start, count, chunk.count) == (50, 50, 3)
    frames, noise, cond, masked = chunk_outputs(pack, way, chunk)
    rows = [whole_frames.indices.index(f) for f in frames.indices]
    assert torch.equal(noise, whole_noise[rows])
    assert torch.equal(cond[0][0], whole_cond[0][0][rows])
    assert torch.equal(cond[0][1]["pooled_output"], whole_cond[0][1]["pooled_output"][rows])
    assert torch.equal(masked["noise_mask"], whole_mask["noise_mask"][rows])
    if way == "every frame":
        assert frames.indices == tuple(range(50, 100))


def test_render_in_chunks_needs_latents_or_features(pack):
    with pytest.raises(AudioWalkInputError, match="Render in Chunks: latents"):
        node(pack, "AudioWalkRenderChunks").plan(50, "whole song", 0)


def test_sd_walk_sampler_refuses_what_cannot_work_before_sampling(pack):
    frames, _ = node(pack, "AudioWalkSDWalkFrames").frames(FEATURES, "every frame", 3, "every_n", None)
    sampler = node(pack, "AudioWalkSDWalkSampler")
    cases = [(dict(render_way="every frame", steps=20, cfg=1.0), "SD Walk Sampler: steps"),
             (dict(render_way="every frame", steps=2, cfg=7.0), "SD Walk Sampler: cfg"),
             (dict(render_way="every frame", steps=2, cfg=1.0, guidance=[5.0] * 120), "SD Walk Sampler: guidance"),
             (dict(render_way="keyframes", steps=20, cfg=7.0, guidance=[5.0] * 10), "guidance.*frame 119")]
    for settings, message in cases:
        with pytest.raises(AudioWalkInputError, match=message):
            sampler.make(model=None, positive=None, negative=None, frames=frames,
                         few_step_model="Turbo (SD-Turbo, SDXL-Turbo)", denoise=1.0, **settings)


def test_prompt_travel_names_missing_prompts(pack):
    frames, _ = node(pack, "AudioWalkSDWalkFrames").frames(FEATURES, "every frame", 3, "every_n", None)
    with pytest.raises(AudioWalkInputError, match="Prompt Travel: conditioning_2"):
        node(pack, "AudioWalkPromptTravel").travel(FEATURES, frames, "sections", "A: 1, B: 2", 0, conditioning(1))
    with pytest.raises(AudioWalkInputError, match="Prompt Travel: schedule.*'C'"):
        node(pack, "AudioWalkPromptTravel").travel(FEATURES, frames, "sections", "A: 1, C: 2", 0, conditioning(1),
                                                   conditioning_2=conditioning(2))


def test_save_music_video_reports_reactivity(pack, comfy_home, monkeypatch):
    import re

    from audiowalk_core.chunks import plan_chunk

    shown = {}  # what ComfyUI's progress text would show under each node (the boundary to ComfyUI's server)
    monkeypatch.setattr(pack.nodes.video_nodes, "send_node_text", lambda node_id, text: shown.update({node_id: text}))
    onset = np.asarray(FEATURES.curves["onset"])
    level = np.cumsum(onset * 0.3 * np.where(np.arange(120) % 2, 1, -1)) % 1.0  # jumps on the onsets
    images = torch.tensor(np.broadcast_to(level[:, None, None, None], (120, 16, 16, 3)).copy(), dtype=torch.float32)
    texts = []
    for index in range(3):
        chunk = plan_chunk(120, 40, index, FEATURES.clock, "react", "one chunk")
        node(pack, "AudioWalkSaveVideo").save(images[index * 40:(index + 1) * 40], "AudioWalk/r", 23, chunk=chunk,
                                              features=FEATURES, unique_id="9")
        texts.append(shown["9"])
    assert "reactivity: picture change vs onsets" in texts[-1] and "(whole song)" in texts[-1]
    assert "lag 0 frames" in texts[-1] and "frames 0-39" in texts[0]
    correlation = float(re.search(r"r = ([+-][0-9.]+)", texts[-1]).group(1))
    assert correlation > 0.9  # the picture jumps exactly on the onsets


def test_cli_reactivity_of_a_video_that_jumps_on_the_clicks(tmp_path, capsys):
    from audiowalk_core.video import write_video
    from audiowalk_tools import cli
    from support import clicks, write_wav

    rate, fps, seconds = 22050, 10, 12.0
    samples, times = clicks(120, seconds, rate)
    song = write_wav(tmp_path / "clicks.wav", samples, rate)
    frame_count = int(seconds * fps)
    level = np.zeros(frame_count)
    for index, t in enumerate(times):  # the picture flips at each click
        level[int(t * fps):] = 0.25 if index % 2 else 0.75
    frames = np.broadcast_to(level[:, None, None, None], (frame_count, 32, 32, 3)).astype(np.float32)
    video = write_video(tmp_path / "v.mp4", [frames], fps)
    assert cli.main(["reactivity", str(video), str(song)]) == 0
    line = capsys.readouterr().out
    value = float(line.split("r = ")[1].split()[0])
    assert value > 0.5 and "at lag" in line, line
