"""Video writing decoded back with PyAV: counts, rates, stream durations, pixels, audio, chunks, atomicity (#5)."""
import sys
import threading
from fractions import Fraction

import av
import numpy as np
import audiowalk_core
import pytest
import torch

from support import sine

from audiowalk_core.audio import AudioClip
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.keyframes import interpolate_frames, select_keyframes
from audiowalk_core.chunks import chunk_parts, chunk_parts_complete, join_chunk_parts, write_chunk_part
from audiowalk_core.video import VideoWriter, next_numbered_path, write_video


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
    with pytest.raises(AudioWalkInputError, match="^chunk_frames: part part-000000005-000000010.mp4 overlaps"):
        chunk_parts_complete(parts, 20)
    with pytest.raises(AudioWalkInputError, match="^images: frames 10..29 do not fit a render of 20 frames"):
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
    with pytest.raises(AudioWalkInputError, match="^chunk_index: the parts in .parts do not cover the render"):
        join_chunk_parts(parts, tmp_path / "gap.mp4", 30)
    assert not (tmp_path / "gap.mp4").exists() and len(chunk_parts(parts)) == 2


# ---------------------------------------------------------------------------------------------------------------
# Encoder thread, uint8 input, swscale colour conversion and its tags (issue 12)

PATCH = 16
PATCH_COLOURS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [0, 0, 0], [.5, .5, .5], [1, .5, 0], [0, .5, 1],
                          [.8, .2, .6], [.2, .7, .3], [.9, .9, .2], [.1, .1, .4], [.3, 0, 0], [0, .3, 0], [.6, .6, 1],
                          [1, .8, .7]], np.float32)


def colour_patches():
    """One 64x64 frame of 16 flat 16x16 patches (primaries, white, black, greys, mixtures); and the mask of the
    patch interiors (3 px from every edge, away from the 2x2 chroma blocks that straddle two patches)."""
    frame = np.zeros((4 * PATCH, 4 * PATCH, 3), np.float32)
    inside = np.zeros((4 * PATCH, 4 * PATCH), bool)
    for index, colour in enumerate(PATCH_COLOURS):
        row, column = divmod(index, 4)
        frame[row * PATCH:(row + 1) * PATCH, column * PATCH:(column + 1) * PATCH] = colour
        inside[row * PATCH + 3:(row + 1) * PATCH - 3, column * PATCH + 3:(column + 1) * PATCH - 3] = True
    return frame, inside


def encoder_threads():
    return [thread for thread in threading.enumerate() if thread.name.startswith("audiowalk-")]


@pytest.mark.parametrize("matrix, tags, other", [("bt709", (1, 1, 1, 1), "ITU601"), ("bt601", (6, 6, 6, 1), "ITU709")])
def test_colour_patches_decode_to_their_rgb_with_the_tagged_matrix(tmp_path, matrix, tags, other):
    """swscale converts with the matrix the stream is tagged with (limited range), so a player that reads the tags
    gets the RGB back within a few levels; read with the other matrix, the saturated patches are far off."""
    from av.video.reformatter import ColorRange, Colorspace

    frame, inside = colour_patches()
    path = tmp_path / f"{matrix}.mp4"
    with VideoWriter(path, 30, crf=8, color_matrix=matrix) as writer:
        writer.write(np.repeat(frame[None], 3, axis=0))
    expected = np.floor(frame * 255 + 0.5).astype(int)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        assert (context.colorspace, context.color_primaries, context.color_trc, context.color_range) == tags
        decoded = next(container.decode(stream))
        rgb = decoded.to_ndarray(format="rgb24").astype(int)
        luma = decoded.to_ndarray(format="yuv420p")[:4 * PATCH]
        misread = decoded.reformat(format="rgb24", src_colorspace=Colorspace[other],
                                   src_color_range=ColorRange.MPEG).to_ndarray().astype(int)
    error = np.abs(rgb - expected)[inside]
    assert error.max() <= 6 and error.mean() < 1.5, (error.max(), error.mean())
    assert np.abs(misread - expected)[inside].max() > 20
    white, black = luma[PATCH // 2, 3 * PATCH + PATCH // 2], luma[PATCH + PATCH // 2, PATCH // 2]
    assert abs(int(white) - 235) <= 1 and abs(int(black) - 16) <= 1  # limited ("tv") range


def test_uint8_and_float_frames_are_the_same_pixels(tmp_path):
    from audiowalk_core.pixels import to_uint8
    from audiowalk_core.video import frames_to_uint8

    frames = gradient_frames(6, 23, 31) * 1.2 - 0.1  # some values outside [0, 1]: clamped
    pixels = frames_to_uint8(frames)
    assert pixels.shape == (6, 24, 32, 3) and pixels.dtype == np.uint8
    assert np.array_equal(pixels[:, :23, :31], np.floor(np.clip(frames, 0, 1) * 255 + 0.5).astype(np.uint8))
    assert np.array_equal(frames_to_uint8(torch.from_numpy(frames)), pixels)
    assert np.array_equal(frames_to_uint8(pixels), pixels)
    assert np.array_equal(frames_to_uint8(frames.astype(np.float64)), pixels)
    assert np.array_equal(frames_to_uint8(np.concatenate([frames, frames[..., :1]], axis=-1)), pixels)  # RGBA
    assert torch.equal(to_uint8(torch.from_numpy(frames[:, :22, :30])), torch.from_numpy(pixels[:, :22, :30]))
    path = write_video(tmp_path / "u8.mp4", [pixels[:3], torch.from_numpy(pixels[3:])], 30)
    decoded = decode(path)[0]
    assert len(decoded) == 6 and np.abs(decoded.astype(int) - pixels).mean() < 3
    with pytest.raises(AudioWalkInputError, match="images"):
        frames_to_uint8(np.zeros((2, 4, 4, 3), np.int32))


@pytest.mark.parametrize("background", [True, False])
def test_encoding_in_a_thread_or_inline_gives_the_same_counts(tmp_path, background):
    frames = gradient_frames(30)
    path = tmp_path / "v.mp4"
    with VideoWriter(path, 30, audio=music(2.0), background=background) as writer:
        for first in range(0, 30, 4):
            writer.write(frames[first:first + 4])
        assert writer.frames_written == 30
    decoded, rate, video_seconds, audio_seconds, _ = decode(path)
    assert len(decoded) == 30 and abs(video_seconds - 1.0) < 1 / 30 and abs(audio_seconds - 1.0) < 1 / 30
    assert np.abs(decoded / 255.0 - frames).mean() < 0.02
    assert encoder_threads() == []


def test_an_error_in_the_encoder_thread_reaches_the_caller_and_leaves_nothing(tmp_path):
    """x264 refuses the preset when the encoder thread opens it: the error comes out of write() or the end of the
    with block, the thread is gone and no file is left."""
    with pytest.raises(av.error.FFmpegError):
        with VideoWriter(tmp_path / "v.mp4", 30, preset="no-such-preset", audio=music(1.0)) as writer:
            for _ in range(20):
                writer.write(gradient_frames(4))
    assert list(tmp_path.iterdir()) == [] and encoder_threads() == []


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, RuntimeError])
def test_ctrl_c_or_a_cancel_while_encoding_stops_the_encoder_and_leaves_nothing(tmp_path, interruption):
    with pytest.raises(interruption):
        with VideoWriter(tmp_path / "v.mp4", 30, audio=music(2.0)) as writer:
            for _ in range(3):
                writer.write(gradient_frames(16, 64, 64))
            raise interruption()
    assert list(tmp_path.iterdir()) == [] and encoder_threads() == []


def test_an_unknown_colour_matrix_is_refused(tmp_path):
    with pytest.raises(AudioWalkInputError, match="color_matrix"):
        VideoWriter(tmp_path / "v.mp4", 30, color_matrix="srgb")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_frames_are_converted_on_the_gpu_to_the_same_pixels():
    from audiowalk_core.video import frames_to_uint8

    frames = gradient_frames(4, 23, 31)
    assert np.array_equal(frames_to_uint8(torch.from_numpy(frames).cuda()), frames_to_uint8(frames))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_the_encoder_thread_runs_nicer_than_the_producer(tmp_path):
    import os

    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    with VideoWriter(tmp_path / "v.mp4", 30, audio=music(1.0)) as writer:
        writer.write(gradient_frames(4))
        threads = encoder_threads()
        assert sorted(thread.name for thread in threads) == ["audiowalk-audio-encoder", "audiowalk-video-encoder"]
        for thread in threads:
            assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == min(19, own + 10)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own and encoder_threads() == []
