"""Diffuse Keyframes' core: sub-batch sizes from device and resolution, results independent of the sub-batch
size (noise keyed to the frame index), the song's cost estimate, and the cancel tidying of a chunked render."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from audiowalk_core.chunks import (RENDER_ONE_CHUNK, cancel_render, chunk_parts_folder, chunk_queue_number,
                                   next_chunk_request, part_file_name, plan_chunk, prompt_for_chunk)
from audiowalk_core.clock import FrameClock
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.frame_noise import FrameKeyedNoise
from audiowalk_core.keyframe_diffusion import (RenderCost, choose_keyframes_per_batch, diffuse_keyframes,
                                               format_duration, song_keyframe_count, sub_batches)


def test_sub_batch_size_follows_device_and_resolution():
    assert choose_keyframes_per_batch(0, 61, 512, 512, on_cpu=True) == 1
    assert choose_keyframes_per_batch(0, 61, 256, 256, on_cpu=True) == 4
    assert choose_keyframes_per_batch(0, 61, 64, 64, on_cpu=True) == 16  # the cap
    assert choose_keyframes_per_batch(0, 3, 64, 64, on_cpu=True) == 3  # never more than the keyframes
    # a GPU: 60% of 10 GB free at 1 GB per keyframe
    assert choose_keyframes_per_batch(0, 61, 512, 512, on_cpu=False, free_bytes=10 << 30,
                                      bytes_per_keyframe=1 << 30) == 6
    assert choose_keyframes_per_batch(5, 61, 512, 512, on_cpu=True) == 5  # the widget wins
    with pytest.raises(AudioWalkInputError, match="^keyframes_per_batch: -1 is negative"):
        choose_keyframes_per_batch(-1, 61, 512, 512, on_cpu=True)
    assert sub_batches(7, 3) == [(0, 3), (3, 6), (6, 7)]


def _fake_img2img(images, frame_indices):
    """A stand-in for VAE encode + sampling + decode with the same noise contract: each keyframe's result depends
    on its own image and its frame-keyed noise only (a batched sampler treats rows independently)."""
    noise = FrameKeyedNoise(frame_indices, 42, 0.8).generate_noise(
        {"samples": torch.zeros(len(frame_indices), 3, images.shape[1], images.shape[2])})
    return (images + 0.1 * noise.movedim(1, -1)).clamp(0, 1)


def test_results_do_not_depend_on_the_sub_batch_size_and_progress_follows_the_batches():
    images = torch.rand(7, 8, 8, 3)
    indices = [0, 4, 8, 12, 16, 20, 24]
    whole = diffuse_keyframes(images, indices, 7, _fake_img2img)
    seen = []
    batched = diffuse_keyframes(images, indices, 2, _fake_img2img, on_batch=lambda d, t, s: seen.append((d, t)))
    assert torch.equal(whole, batched)
    assert seen == [(2, 7), (4, 7), (6, 7), (7, 7)]
    # a chunk's keyframes alone equal those rows of the whole song's
    assert torch.equal(diffuse_keyframes(images[3:], indices[3:], 1, _fake_img2img), whole[3:])
    with pytest.raises(AudioWalkInputError, match="^images: 7 keyframe images for 6 keyframes"):
        diffuse_keyframes(images, indices[:6], 2, _fake_img2img)


def test_a_cancel_raised_in_a_sub_batch_stops_before_the_next():
    calls = []

    def run(images, frame_indices):
        calls.append(frame_indices)
        if len(calls) == 2:
            raise KeyboardInterrupt  # what ComfyUI's interrupt does inside a sampler step
        return images

    with pytest.raises(KeyboardInterrupt):
        diffuse_keyframes(torch.rand(6, 4, 4, 3), range(6), 2, run)
    assert calls == [[0, 1], [2, 3]]


def test_the_song_estimate_from_the_first_sub_batch():
    clock = FrameClock.for_duration(48000 * 180, 48000, "30")  # 3 minutes: 5,400 frames
    chunk = plan_chunk(clock.frame_count, 240, 0, clock, "r")
    song, after = song_keyframe_count(61, chunk)
    assert (song, after) == (1373, 1312)  # 61 keyframes per 240 frames
    cost = RenderCost(song)
    assert cost.estimate(100) == "no estimate yet"
    cost.record(1, 12.0)
    assert cost.estimate(60 + after) == ("about 4 h 35 min for this song (1,373 keyframes at 12.0 s), "
                                         "4 h 34 min left")
    assert [format_duration(s) for s in (0.2, 59, 61, 7199, 7260)] == ["1 s", "59 s", "1 min", "2 h 00 min",
                                                                        "2 h 01 min"]


def _render_with_parts(tmp_path, index, chunks_done, mode="whole song"):
    clock = FrameClock.for_duration(30 * 100, 30, "30")  # 100 frames, chunks of 25
    chunk = plan_chunk(100, 25, index, clock, "abc123", mode)
    folder = chunk_parts_folder(tmp_path, "AudioWalk/song", "abc123")
    folder.mkdir(parents=True)
    for done in chunks_done:
        (folder / part_file_name(done * 25, 25)).write_bytes(b"x")
    (folder / ".part-000000050.123.abcd.part.mp4").write_bytes(b"half")  # an encode that was stopped
    return chunk, folder


def test_cancel_in_the_first_chunk_leaves_no_parts_folder(tmp_path):
    chunk, folder = _render_with_parts(tmp_path, 0, [])
    assert cancel_render(tmp_path, chunk) == "cancelled at chunk 1 of 4: its parts were removed"
    assert not folder.exists() and (tmp_path / "AudioWalk").is_dir()


def test_cancel_later_keeps_exactly_the_parts_a_resume_needs(tmp_path):
    chunk, folder = _render_with_parts(tmp_path, 2, [0, 1, 2])  # chunk 3 had been written by an earlier try
    message = cancel_render(tmp_path, chunk)
    assert message.startswith("cancelled at chunk 3 of 4: the 2 finished chunk(s) before it are kept; Run with "
                              "chunk_index 2 to resume")
    assert sorted(p.name for p in folder.iterdir()) == [part_file_name(0, 25), part_file_name(25, 25)]


def test_cancel_of_one_chunk_removes_only_its_own_part(tmp_path):
    chunk, folder = _render_with_parts(tmp_path, 1, [0, 1, 3], RENDER_ONE_CHUNK)
    assert cancel_render(tmp_path, chunk) == "cancelled at chunk 2 of 4: its parts were removed"
    assert sorted(p.name for p in folder.iterdir()) == [part_file_name(0, 25), part_file_name(75, 25)]


def test_chunk_prompts_run_next_and_each_lands_on_top_of_the_history_panel():
    clock = FrameClock.for_duration(30 * 100, 30, "30")
    prompt = {"5": {"class_type": "AudioWalkRenderChunks", "inputs": {"chunk_frames": 25, "render": "whole song",
                                                                      "chunk_index": 0}}}
    number, numbers, index = 7.0, [7.0], 0
    while True:
        chunk = plan_chunk(100, 25, index, clock, "r", origin="first", node_id="5", prompt=prompt)
        request = next_chunk_request(chunk)
        if request is None:
            break
        assert request.prompt == prompt_for_chunk(prompt, "5", index + 1, "first") and request.index == index + 1
        number = request.queue_number(number)
        numbers.append(number)
        prompt, index = request.prompt, index + 1
    assert index == 3 and np.all(np.diff(numbers) > 0) and numbers[-1] < 8.0  # before anything queued after it
    assert numbers == pytest.approx([7.0, 7.2, 7.4, 7.6]) and chunk_queue_number(-3.0, 4) == pytest.approx(-2.8)


def test_render_in_chunks_shows_the_time_left_from_the_chunks_done():
    from audiowalk_core.chunks import ChunkTimer

    clock = FrameClock.for_duration(30 * 100, 30, "30")
    timer = ChunkTimer()
    texts = [timer.text(plan_chunk(100, 25, index, clock, "timed"), 1000.0 + 120.0 * index)  # 2 min per chunk
             for index in range(3)]
    assert texts == ["chunk 1 of 4: frames 0-24 of 100", "chunk 2 of 4: frames 25-49 of 100, about 6 min left",
                     "chunk 3 of 4: frames 50-74 of 100, about 4 min left"]
    # a re-run from chunk 0 (or another render) starts afresh: no estimate from the old times
    assert timer.text(plan_chunk(100, 25, 0, clock, "timed"), 5000.0) == "chunk 1 of 4: frames 0-24 of 100"
    assert timer.text(plan_chunk(100, 25, 2, clock, "other"), 5100.0) == "chunk 3 of 4: frames 50-74 of 100"


def test_render_in_chunks_says_when_the_render_is_done():
    """After the last chunk Render in Chunks' text (which said "chunk 4 of 4 ..., about 2 min left") says done,
    with the time since the render's first chunk."""
    from audiowalk_core.chunks import ChunkTimer

    clock = FrameClock.for_duration(30 * 100, 30, "30")
    timer = ChunkTimer()
    for index in range(4):
        timer.text(plan_chunk(100, 25, index, clock, "timed"), 1000.0 + 120.0 * index)
    assert timer.finished_text(plan_chunk(100, 25, 3, clock, "timed"), 1480.0) == "done: 100 frames in 4 chunks, 8 min"
    assert timer.finished_text(plan_chunk(100, 25, 3, clock, "other"), 1480.0) == "done: 100 frames in 4 chunks"
