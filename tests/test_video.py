"""Video writing decoded back with PyAV: counts, rates, stream durations, pixels, audio, chunks, atomicity (#5)."""
from fractions import Fraction

import av
import numpy as np
import audiowalk_core
import audiowalk_core.biggan
import pytest
import torch

from support import sine

from audiowalk_core.audio import AudioClip
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.keyframes import interpolate_frames, select_keyframes
from audiowalk_core.video import (VideoWriter, chunk_parts, chunk_parts_complete, join_chunk_parts,
                                  next_numbered_path, write_chunk_part, write_video)


def gradient_frames(count, height=24, width=32):
    """Smooth frames whose brightness ramps over time (easy for the codec, so pixels come back close)."""
    y = np.linspace(0, 1, height)[:, None, None]
    x = np.linspace(0, 1, width)[None, :, None]
    base = np.concatenate([np.broadcast_to(y, (height, width, 1)), np.broadcast_to(x, (height, width, 1)),
                           np.full((height, width, 1), 0.5)], axis=2)
    level = np.linspace(0.2, 0.8, count)[:, None, None, None]
    return (0.5 * base[None] + 0.5 * level).astype(np.float32)


def decode(path):
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video)])
        rate = Fraction(video.average_rate)
        video_seconds = float(video.duration * video.time_base)
    audio_seconds, audio = None, None
    with av.open(str(path)) as container:
        if container.streams.audio:
            stream = container.streams.audio[0]
            chunks = [f.to_ndarray() for f in container.decode(stream)]
            audio = np.concatenate(chunks, axis=1)
            audio_seconds = audio.shape[1] / stream.rate
    return frames, rate, video_seconds, audio_seconds, audio


def music(seconds, sample_rate=44100):
    left = sine(440.0, seconds, sample_rate)
    return AudioClip(np.stack([left, sine(660.0, seconds, sample_rate)]), sample_rate)


@pytest.mark.parametrize("fps", [Fraction(30000, 1001), Fraction(24), Fraction(25)])
def test_counts_rates_durations_and_pixels(tmp_path, fps):
    frames = gradient_frames(40)
    path = tmp_path / "v.mp4"
    with VideoWriter(path, fps, audio=music(5.0)) as writer:  # music longer than the video: trimmed
        for first in range(0, 40, 7):
            writer.write(torch.from_numpy(frames[first:first + 7]))
    decoded, rate, video_seconds, audio_seconds, _ = decode(path)
    assert len(decoded) == 40 and rate == fps
    one_frame = float(1 / fps)
    assert abs(video_seconds - 40 / fps) < one_frame
    assert abs(audio_seconds - 40 / fps) < one_frame
    for index in (0, -1):
        assert np.abs(decoded[index] / 255.0 - frames[index]).mean() < 0.02


def test_short_music_is_padded_and_correlates_with_the_input(tmp_path):
    clip = music(1.0, 22050)  # 1 s of music under 2 s of video
    path = write_video(tmp_path / "v.mp4", [gradient_frames(60)], 30, audio=clip)
    _, _, video_seconds, audio_seconds, audio = decode(path)
    assert abs(audio_seconds - video_seconds) < 1 / 30
    left = audio[0]
    expected = sine(440.0, 1.0, 48000)
    window = left[2000:2000 + 24000]
    correlation = max(np.corrcoef(window, expected[shift:shift + 24000])[0, 1] for shift in range(0, 110))
    assert correlation > 0.9
    assert np.abs(left[int(1.3 * 48000):int(1.9 * 48000)]).max() < 0.01  # the padding is silence


def test_odd_sizes_are_padded_to_even(tmp_path):
    path = write_video(tmp_path / "odd.mp4", [gradient_frames(5, 23, 31)], 30)
    decoded = decode(path)[0]
    assert decoded.shape == (5, 24, 32, 3)


def test_a_frame_of_another_size_is_refused(tmp_path):
    with pytest.raises(AudioWalkInputError, match="images"):
        with VideoWriter(tmp_path / "v.mp4", 30) as writer:
            writer.write(gradient_frames(3))
            writer.write(gradient_frames(3, 32, 32))
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_write_leaves_nothing_under_the_final_name(tmp_path):
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "v.mp4", 30, audio=music(2.0)) as writer:
            writer.write(gradient_frames(10))
            raise RuntimeError("cancelled by the user")
    assert list(tmp_path.iterdir()) == []


def test_nan_frames_are_refused(tmp_path):
    frames = gradient_frames(2)
    frames[1, 3, 3, 0] = np.nan
    with pytest.raises(AudioWalkInputError, match="images"):
        write_video(tmp_path / "v.mp4", [frames], 30)


def test_chunks_join_into_one_file_with_the_music(tmp_path):
    frames = gradient_frames(45)
    parts = tmp_path / ".parts"
    for start, stop in ((30, 45), (0, 15)):
        write_chunk_part(parts, frames[start:stop], 30, start_frame=start, total_frames=45)
    assert not chunk_parts_complete(parts, 45)
    write_chunk_part(parts, frames[15:30], 30, start_frame=15, total_frames=45)
    assert chunk_parts_complete(parts, 45) and len(chunk_parts(parts)) == 3
    out = join_chunk_parts(parts, tmp_path / "joined.mp4", 30, audio=music(2.0))
    decoded, rate, video_seconds, audio_seconds, _ = decode(out)
    assert len(decoded) == 45 and rate == 30 and not parts.exists()
    assert abs(video_seconds - 1.5) < 1 / 30 and abs(audio_seconds - 1.5) < 1 / 30
    for index in (0, 15, 30, 44):
        assert np.abs(decoded[index] / 255.0 - frames[index]).mean() < 0.02


def test_overlapping_or_oversized_chunks_are_refused(tmp_path):
    frames = gradient_frames(20)
    parts = tmp_path / ".parts"
    write_chunk_part(parts, frames[:10], 30, start_frame=0, total_frames=20)
    write_chunk_part(parts, frames[:10], 30, start_frame=5, total_frames=20)
    with pytest.raises(AudioWalkInputError, match="chunk_start_frame"):
        chunk_parts_complete(parts, 20)
    with pytest.raises(AudioWalkInputError, match="chunk_start_frame"):
        write_chunk_part(parts, frames, 30, start_frame=10, total_frames=20)


def test_numbered_names_and_prefixes_that_leave_the_folder(tmp_path):
    first, subfolder, name = next_numbered_path(tmp_path, "AudioWalk/video")
    assert name == "video_00001_.mp4" and subfolder == "AudioWalk"
    first.write_bytes(b"x")
    assert next_numbered_path(tmp_path, "AudioWalk/video")[2] == "video_00002_.mp4"
    for bad in ("../escape", "/abs/video", "a/../../b"):
        with pytest.raises(AudioWalkInputError, match="filename_prefix"):
            next_numbered_path(tmp_path, bad)


def test_keyframes_every_n_and_crossfades_back():
    plan = select_keyframes(10, interpolation_steps=3)
    assert plan.indices == (0, 4, 8, 9)
    keyframes = torch.tensor([0.0, 0.4, 0.8, 1.0]).reshape(4, 1, 1, 1).expand(4, 2, 2, 3)
    frames = interpolate_frames(keyframes, plan)
    assert frames.shape == (10, 2, 2, 3)
    np.testing.assert_allclose(frames[:, 0, 0, 0].numpy(), [0, .1, .2, .3, .4, .5, .6, .7, .8, 1.0], atol=1e-6)
    with pytest.raises(AudioWalkInputError, match="keyframes"):
        interpolate_frames(keyframes[:3], plan)


def test_the_written_file_has_ordinary_permissions(tmp_path):
    import os

    path = write_video(tmp_path / "v.mp4", [gradient_frames(2)], 30)
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_chunks_at_ntsc_rate_keep_the_music_in_step(tmp_path):
    fps = Fraction(30000, 1001)
    frames = gradient_frames(36)
    parts = tmp_path / ".parts"
    for start in (24, 0, 12):  # arrival order does not matter
        write_chunk_part(parts, frames[start:start + 12], fps, start_frame=start, total_frames=36, preset="ultrafast")
    out = join_chunk_parts(parts, tmp_path / "ntsc.mp4", fps, audio=music(3.0, 48000))
    decoded, rate, video_seconds, audio_seconds, audio = decode(out)
    assert len(decoded) == 36 and rate == fps
    assert abs(video_seconds - float(36 / fps)) < float(1 / fps)
    assert abs(audio_seconds - video_seconds) < float(1 / fps)
    expected = sine(440.0, 1.2, 48000)
    window = audio[0][4000:4000 + 24000]
    correlation = max(np.corrcoef(window, expected[shift:shift + 24000])[0, 1] for shift in range(3000, 5200, 1))
    assert correlation > 0.9


def test_joining_with_a_missing_part_is_refused(tmp_path):
    frames = gradient_frames(20)
    parts = tmp_path / ".parts"
    write_chunk_part(parts, frames[:5], 30, start_frame=0, total_frames=20, preset="ultrafast")
    write_chunk_part(parts, frames[10:], 30, start_frame=10, total_frames=20, preset="ultrafast")
    assert not chunk_parts_complete(parts, 20)
    with pytest.raises(AudioWalkInputError, match="chunk_start_frame"):
        join_chunk_parts(parts, tmp_path / "gap.mp4", 30)
    assert not (tmp_path / "gap.mp4").exists() and len(chunk_parts(parts)) == 2
