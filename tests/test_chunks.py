"""Whole songs in chunks: the plan, keyframes per chunk, noise keyed to the frame index, the prompt of the next
chunk, and cancel / restart / resume of the parts on disk. Known answers, no server."""
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from audiowalk_core.chunks import (ChunkPlan, chunk_prompt_id, needs_next_chunk, origin_of_prompt, plan_chunk,
                                   prompt_for_chunk, render_id_of_prompt)
from audiowalk_core.clock import FrameClock
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.features import AudioFeatures
from audiowalk_core.frame_noise import FrameKeyedNoise, keyframe_noise
from audiowalk_core.keyframes import chunk_keyframes, interpolate_frames, select_keyframes
from audiowalk_core.chunks import missing_frame_ranges
from audiowalk_core.save_music_video import save_video

CLOCK = FrameClock(Fraction(30), 48000, 5400)  # three minutes at 30 fps


# ------------------------------------------------------------------------------------------------ the plan

@pytest.mark.parametrize("total, size, expected", [
    (5400, 240, [(i * 240, 240) for i in range(22)] + [(5280, 120)]),
    (1000, 1000, [(0, 1000)]),
    (1000, 0, [(0, 1000)]),             # 0 = the whole song at once
    (10, 64, [(0, 10)]),                # a chunk larger than the song
    (241, 240, [(0, 240), (240, 1)]),   # a last chunk of one frame
])
def test_chunk_boundaries_cover_every_frame_once(total, size, expected):
    plan = ChunkPlan(total, size)
    assert plan.ranges() == expected and plan.count == len(expected)
    assert sum(count for _, count in plan.ranges()) == total


def test_chunk_index_outside_the_plan_is_refused_with_the_count():
    with pytest.raises(AudioWalkInputError, match=r"chunk_index: 23 is outside 0..22.*23.*5400 frames"):
        plan_chunk(5400, 240, 23, CLOCK, "r")
    with pytest.raises(AudioWalkInputError, match="chunk_frames"):
        ChunkPlan(100, -1)
    with pytest.raises(AudioWalkInputError, match="render"):
        plan_chunk(100, 10, 0, CLOCK, "r", mode="everything")


def test_render_chunk_describes_itself_and_knows_when_to_queue_the_next():
    chunk = plan_chunk(5400, 240, 2, CLOCK, "r")
    assert chunk.describe() == "chunk 3 of 23: frames 480-719 of 5,400"
    assert needs_next_chunk(chunk) and not chunk.is_last
    last = plan_chunk(5400, 240, 22, CLOCK, "r")
    assert last.is_last and not needs_next_chunk(last) and last.frame_count == 120
    assert not needs_next_chunk(plan_chunk(5400, 240, 2, CLOCK, "r", mode="one chunk"))


# ------------------------------------------------------------------------------------------------ prompts

PROMPT = {"1": {"class_type": "AudioWalkLoadAudio", "inputs": {"audio": "song.mp3"}},
          "7": {"class_type": "AudioWalkRenderChunks", "inputs": {"latents": ["6", 0], "chunk_frames": 240,
                                                                  "render": "whole song", "chunk_index": 0}},
          "9": {"class_type": "AudioWalkSaveVideo", "inputs": {"images": ["8", 0], "filename_prefix": "v"}}}


def test_the_next_chunks_prompt_changes_only_the_chunk_bookkeeping():
    queued = prompt_for_chunk(PROMPT, "7", 3, "origin-id")
    assert queued["7"]["inputs"]["chunk_index"] == 3 and queued["7"]["inputs"]["audiowalk_render_origin"] == "origin-id"
    assert {k: v for k, v in queued.items() if k != "7"} == {k: v for k, v in PROMPT.items() if k != "7"}
    assert PROMPT["7"]["inputs"]["chunk_index"] == 0  # the running prompt is not touched
    # every chunk of a render has one id; other settings give another
    assert render_id_of_prompt(queued, "7") == render_id_of_prompt(PROMPT, "7")
    other = prompt_for_chunk(PROMPT, "7", 0, "x")
    other["1"]["inputs"]["audio"] = "other.mp3"
    assert render_id_of_prompt(other, "7") != render_id_of_prompt(PROMPT, "7")
    with pytest.raises(AudioWalkInputError, match="prompt"):
        prompt_for_chunk(PROMPT, "99", 1, "o")


def test_chunk_prompt_ids_follow_from_the_first_prompt():
    assert chunk_prompt_id("abc", 0) == "abc"
    ids = [chunk_prompt_id("abc", k) for k in range(1, 5)]
    assert len(set(ids)) == 4 and ids == [chunk_prompt_id("abc", k) for k in range(1, 5)]
    assert chunk_prompt_id("abd", 1) != ids[0]
    # the origin: recorded in a requeued prompt, else the running prompt's id
    assert origin_of_prompt(prompt_for_chunk(PROMPT, "7", 2, "first"), "7", "now") == "first"
    assert origin_of_prompt(PROMPT, "7", "now") == "now"


# ------------------------------------------------------------------------------------------------ keyframes

def test_chunk_keyframes_bracket_the_chunk_every_n():
    song = select_keyframes(5400, 3, "every_n").indices  # 0, 4, ..., 5396, 5399
    first = chunk_keyframes(song, 0, 240)
    assert first.indices == tuple(range(0, 241, 4)) and (first.first_frame, first.frame_count) == (0, 240)
    odd = chunk_keyframes(song, 250, 250)  # 250..499: starts between 248 and 252
    assert odd.indices[0] == 248 and odd.indices[-1] == 500 and len(odd.indices) == 64
    last = chunk_keyframes(song, 5280, 120)
    assert last.indices[-2:] == (5396, 5399)
    # keyframes per chunk of the shipped default: 61 (60 inside + the next chunk's first)
    assert {len(chunk_keyframes(song, s, c).indices) for s, c in ChunkPlan(5400, 240).ranges()[:-1]} == {61}


def test_chunk_keyframes_on_beats_are_the_songs_beats():
    beats = np.arange(15, 5400, 15)  # 120 BPM at 30 fps
    features = AudioFeatures(clock=CLOCK, curves={}, beat_frames=beats)
    song = select_keyframes(5400, 3, "beats", features).indices
    assert song[0] == 0 and song[-1] == 5399 and set(song[1:-1]) <= set(beats.tolist())
    for start, count in ChunkPlan(5400, 100).ranges():
        plan = chunk_keyframes(song, start, count)
        assert plan.indices[0] <= start and plan.indices[-1] >= start + count - 1
        assert set(plan.indices) <= set(song)


def test_chunked_crossfades_equal_the_whole_songs():
    """Keyframe k carries the value k: every output frame is then exactly its frame index's crossfade."""
    total = 97
    song = select_keyframes(total, 3, "every_n").indices
    whole = interpolate_frames(torch.tensor(song, dtype=torch.float32).reshape(-1, 1, 1, 1).expand(-1, 2, 2, 3),
                               chunk_keyframes(song, 0, total))
    pieces = []
    for start, count in ChunkPlan(total, 30).ranges():
        plan = chunk_keyframes(song, start, count)
        keyframes = torch.tensor(plan.indices, dtype=torch.float32).reshape(-1, 1, 1, 1).expand(-1, 2, 2, 3)
        pieces.append(interpolate_frames(keyframes, plan))
    chunked = torch.cat(pieces)
    assert torch.equal(chunked, whole)
    assert torch.allclose(whole[:, 0, 0, 0], torch.arange(total, dtype=torch.float32), atol=1e-5)


# ------------------------------------------------------------------------------------------------ noise

def test_keyframe_noise_depends_on_the_frame_index_only():
    shape = (4, 4, 8, 8)
    frames = [0, 4, 8, 12]
    whole = keyframe_noise(shape, frames, seed=42, coherence=0.8)
    reordered = keyframe_noise((2, 4, 8, 8), [12, 4], seed=42, coherence=0.8)
    assert torch.equal(reordered[0], whole[3]) and torch.equal(reordered[1], whole[1])
    assert not torch.equal(keyframe_noise(shape, frames, seed=43, coherence=0.8), whole)
    noise = FrameKeyedNoise(frames, 42, 0.8)
    assert noise.seed == 42 and torch.equal(noise.generate_noise({"samples": torch.zeros(shape)}), whole)
    with pytest.raises(AudioWalkInputError, match="a batch of 3 latents for 4 keyframes"):
        noise.generate_noise({"samples": torch.zeros(3, 4, 8, 8)})
    with pytest.raises(AudioWalkInputError, match="coherence"):
        FrameKeyedNoise(frames, 42, 1.5)


@pytest.mark.parametrize("coherence", [0.0, 0.5, 0.8, 1.0])
def test_keyframe_noise_is_standard_normal_and_correlates_by_coherence_squared(coherence):
    noise = keyframe_noise((6, 4, 64, 64), range(0, 24, 4), seed=7, coherence=coherence)
    flat = noise.reshape(6, -1).double()
    assert abs(float(flat.std()) - 1.0) < 0.02 and abs(float(flat.mean())) < 0.03
    correlations = torch.corrcoef(flat)[~torch.eye(6, dtype=torch.bool)]
    assert torch.allclose(correlations, torch.full_like(correlations, coherence ** 2), atol=0.03)


# ------------------------------------------------------------------------------------------------ parts on disk

def _chunk(index, mode="whole song", render_id="render-a", total=30, size=10):
    return plan_chunk(total, size, index, FrameClock(Fraction(10), 48000, total), render_id, mode)


def _frames(start, count):
    values = torch.arange(start, start + count, dtype=torch.float32) / 40.0
    return values.reshape(-1, 1, 1, 1).expand(-1, 16, 16, 3).contiguous()


def test_cancel_then_restart_gives_one_whole_video_and_no_stale_parts(tmp_path):
    out = tmp_path / "output"
    save_video(out, "song", _frames(0, 10), chunk=_chunk(0, render_id="render-b"))  # other settings, cancelled
    save_video(out, "song", _frames(0, 10), chunk=_chunk(0))  # chunk 0 of a new render clears render-b's parts
    assert sorted(p.name for p in out.iterdir()) == [".song.parts-render-a"]
    save_video(out, "song", _frames(10, 10), chunk=_chunk(1))
    # cancelled here (and a one-chunk render of the same prefix left a part too)
    save_video(out, "song", _frames(0, 10), chunk=_chunk(0, mode="one chunk", render_id="render-b"))
    assert sorted(p.name for p in out.iterdir()) == [".song.parts-render-a", ".song.parts-render-b"]
    # running again from chunk 0 clears every stale part of this prefix, then renders all chunks
    for index in range(3):
        saved = save_video(out, "song", _frames(index * 10, 10), chunk=_chunk(index, render_id="render-c"))
    assert saved.complete and saved.filename == "song_00001_.mp4"
    assert sorted(p.name for p in out.iterdir()) == ["song_00001_.mp4"]
    with av.open(str(saved.path)) as container:
        assert container.streams.video[0].frames == 30


def test_resume_from_a_later_chunk_uses_the_parts_already_there(tmp_path):
    out = tmp_path / "output"
    save_video(out, "song", _frames(0, 10), chunk=_chunk(0))
    # resumed at chunk 1 (chunk_index 1 in the same graph): chunk 0's part is kept and joined
    save_video(out, "song", _frames(10, 10), chunk=_chunk(1))
    saved = save_video(out, "song", _frames(20, 10), chunk=_chunk(2))
    with av.open(str(saved.path)) as container:
        assert container.streams.video[0].frames == 30


def test_a_skipped_chunk_is_named_and_nothing_is_joined(tmp_path):
    out = tmp_path / "output"
    save_video(out, "song", _frames(0, 10), chunk=_chunk(0))
    with pytest.raises(AudioWalkInputError, match=r"lack frames \[\(10, 19\)\]"):
        save_video(out, "song", _frames(20, 10), chunk=_chunk(2))
    assert not any(p.suffix == ".mp4" for p in out.iterdir())
    assert missing_frame_ranges(out / ".song.parts-render-a", 30) == [(10, 19)]


def test_one_chunk_renders_leave_their_part_for_the_caller(tmp_path):
    out = tmp_path / "output"
    saved = save_video(out, "AudioWalk/song", _frames(10, 10), chunk=_chunk(1, mode="one chunk"))
    assert not saved.complete and saved.filename == "part-000000010-000000010.mp4"
    assert saved.subfolder == "AudioWalk/.song.parts-render-a" and saved.path.is_file()
    # another one-chunk render of the same prefix does not clear it (several servers share nothing, but be safe)
    save_video(out, "AudioWalk/song", _frames(0, 10), chunk=_chunk(0, mode="one chunk"))
    assert saved.path.is_file()


def test_the_song_rides_with_the_chunk_into_the_joined_video(tmp_path):
    """Render in Chunks hands the song to Save Music Video inside the chunk: the joined mp4 has the music without
    a second audio link."""
    from audiowalk_core.audio import AudioClip, audio_to_comfy

    song = audio_to_comfy(AudioClip(np.zeros((2, 48000 * 3), np.float32) + 0.1, 48000))
    out = tmp_path / "output"
    for index in range(3):
        chunk = plan_chunk(30, 10, index, FrameClock(Fraction(10), 48000, 30), "r", audio=song)
        saved = save_video(out, "song", _frames(index * 10, 10), chunk=chunk)
    with av.open(str(saved.path)) as container:
        audio = container.streams.audio[0]
        assert abs(float(audio.duration * audio.time_base) - 3.0) < 0.1


def test_render_chunk_outside_comfyui_ids_the_render_by_its_latents():
    from audiowalk_core.chunks import render_chunk
    from audiowalk_core.latents import WalkLatents

    def latents(seed):
        noise = np.random.default_rng(seed).standard_normal((100, 128)).astype(np.float32)
        return WalkLatents(noise, np.full((100, 1), 1.0, np.float32), 0.7, seed, FrameClock(30, 48000, 100),
                           class_indices=(1,))

    chunk, rows = render_chunk(latents(1), 40, "whole song", 2)
    assert (chunk.start_frame, chunk.frame_count, rows.frame_count, rows.first_frame) == (80, 20, 20, 80)
    assert render_chunk(latents(1), 40, "whole song", 0)[0].render_id == chunk.render_id
    assert render_chunk(latents(2), 40, "whole song", 0)[0].render_id != chunk.render_id
