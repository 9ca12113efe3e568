import numpy as np
import pytest

from audiowalk_core import AudioWalkInputError, audio_from_comfy, audio_to_comfy, load_audio
from support import sine, write_wav


def _encode_with_pyav(path, samples, sample_rate, codec, fmt):
    import av

    channels = samples.shape[0]
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=sample_rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32), format="fltp",
                                           layout=layout)
        frame.sample_rate = sample_rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.mark.parametrize("ext,codec,fmt", [("mp3", "libmp3lame", "mp3"), ("ogg", "soundfile", "OGG"),
                                            ("flac", "flac", "flac"), ("m4a", "aac", "mp4")])
def test_compressed_formats_decode(tmp_path, ext, codec, fmt):
    sr = 44100
    stereo = np.stack([sine(440, 2.0, sr), sine(660, 2.0, sr)])
    path = tmp_path / f"tone.{ext}"
    if codec == "soundfile":  # PyAV's wheels carry no Vorbis encoder; libsndfile writes Ogg Vorbis
        import soundfile

        soundfile.write(str(path), stereo.T, sr, format=fmt, subtype="VORBIS")
    else:
        _encode_with_pyav(path, stereo, sr, codec, fmt)
    clip = load_audio(path)
    assert clip.sample_rate == sr and clip.channels == 2
    assert abs(clip.duration_seconds - 2.0) < 0.1
    spectrum = np.abs(np.fft.rfft(clip.samples[0, sr // 2: sr // 2 + sr]))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1


@pytest.mark.parametrize("sr,channels", [(8000, 1), (22050, 2), (48000, 6)])
def test_wav_any_rate_and_channels(tmp_path, sr, channels):
    data = np.stack([sine(200 + 100 * c, 1.0, sr) for c in range(channels)])
    clip = load_audio(write_wav(tmp_path / "a.wav", data, sr))
    assert clip.sample_rate == sr and clip.channels == channels and clip.num_samples == sr
    np.testing.assert_allclose(clip.samples, data, atol=1e-4)


def test_start_and_duration(tmp_path):
    sr = 16000
    ramp = (np.arange(4 * sr) / (4 * sr) - 0.5).astype(np.float32)
    path = write_wav(tmp_path / "ramp.wav", ramp, sr)
    clip = load_audio(path, start_seconds=1.0, duration_seconds=2.0)
    assert clip.num_samples == 2 * sr
    np.testing.assert_allclose(clip.samples[0], ramp[sr:3 * sr], atol=1e-4)
    with pytest.raises(AudioWalkInputError, match="start_seconds"):
        load_audio(path, start_seconds=10.0)


def test_missing_file_and_header_without_samples(tmp_path):
    with pytest.raises(AudioWalkInputError, match="song: .*nope.mp3' does not exist; expected an audio file"):
        load_audio(tmp_path / "nope.mp3", input_name="song")
    empty = tmp_path / "empty.wav"
    write_wav(empty, np.zeros(0, np.float32), 22050)
    with pytest.raises(AudioWalkInputError, match="audio: 'empty.wav' contains no audio samples; expected"):
        load_audio(empty, input_name="audio")


def test_error_says_what_the_file_is(tmp_path):
    """Each refusal names the input, says what the file is, and what was expected; no decoder's misleading
    "File does not exist" about a file that exists."""
    (tmp_path / "folder.wav").mkdir()
    (tmp_path / "zero.mp3").write_bytes(b"")
    (tmp_path / "notes.mp3").write_text("this is not audio at all\nbut a shopping list: caf\u00e9, cr\u00e8me\n",
                                        encoding="utf-8")
    (tmp_path / "cover.mp3").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (tmp_path / "score.wav").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 4)
    (tmp_path / "album.flac").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    (tmp_path / "photo.ogg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4)
    cases = {"folder.wav": "is a folder, not a file", "zero.mp3": "is an empty file (0 bytes)",
             "notes.mp3": "is not an audio file (looks like text)",
             "cover.mp3": "is not an audio file (looks like a PNG image)",
             "score.wav": "is not an audio file (looks like a PDF document)",
             "album.flac": "is not an audio file (looks like a zip archive)",
             "photo.ogg": "is not an audio file (looks like a JPEG image)"}
    for name, problem in cases.items():
        with pytest.raises(AudioWalkInputError) as error:
            load_audio(tmp_path / name, input_name="song")
        assert str(error.value).startswith(f"song: '{name}' {problem}; expected an audio file (.wav, "), name
        assert "does not exist" not in str(error.value), name


def test_corrupt_audio_is_refused_with_the_decoders_reason(tmp_path):
    """Valid headers, garbage bodies: a FLAC (PyAV alone would quietly return its first 0.09 s) and a WAV."""
    import soundfile

    rng = np.random.default_rng(0)
    good = tmp_path / "good.flac"
    soundfile.write(str(good), sine(440, 1.0, 44100), 44100)
    data = good.read_bytes()
    (tmp_path / "corrupt.flac").write_bytes(data[:200] + rng.integers(0, 256, len(data) - 200, np.uint8).tobytes())
    wav = write_wav(tmp_path / "good.wav", sine(440, 1.0, 22050), 22050).read_bytes()
    (tmp_path / "corrupt.wav").write_bytes(wav[:12] + rng.integers(0, 256, len(wav) - 12, np.uint8).tobytes())
    with pytest.raises(AudioWalkInputError) as error:
        load_audio(tmp_path / "corrupt.flac", input_name="audio")
    message = str(error.value)
    assert message.startswith("audio: 'corrupt.flac' could not be decoded as audio (")
    assert "of the 1.00 s its header declares" in message and "flac decoder lost sync" in message
    assert "; expected a valid, complete wav/flac/" in message
    with pytest.raises(AudioWalkInputError) as error:
        load_audio(tmp_path / "corrupt.wav", input_name="audio")
    message = str(error.value)
    assert message.startswith("audio: 'corrupt.wav' could not be decoded as audio (")
    assert "No 'data' chunk marker" in message and "does not exist" not in message
    assert load_audio(good).num_samples == 44100  # the intact file decodes whole


def test_duration_estimated_from_bitrate_is_no_corruption(tmp_path):
    """A raw AAC (ADTS) stream's header declares no length; FFmpeg guesses one from the bitrate (16.6 s here for
    6 s of sound): the file is not refused for decoding short of the guess."""
    sr = 44100
    t = np.arange(6 * sr) / sr
    quiet_then_loud = np.where(t < 3, 0.001 * np.sin(2 * np.pi * 440 * t),
                               np.random.default_rng(0).uniform(-0.8, 0.8, t.size)).astype(np.float32)
    path = tmp_path / "song.aac"
    _encode_with_pyav(path, quiet_then_loud[None], sr, "aac", "adts")
    assert abs(load_audio(path).duration_seconds - 6.0) < 0.1


def test_comfy_audio_round_trip_and_validation():
    import torch

    data = np.stack([sine(300, 0.5), sine(500, 0.5)])
    from audiowalk_core import AudioClip

    comfy = audio_to_comfy(AudioClip(data, 22050))
    assert tuple(comfy["waveform"].shape) == (1, 2, data.shape[1]) and comfy["waveform"].dtype == torch.float32
    back = audio_from_comfy(comfy)
    np.testing.assert_array_equal(back.samples, data)
    bad = {"waveform": torch.tensor([[[0.0, float("nan"), 0.1]]]), "sample_rate": 22050}
    with pytest.raises(AudioWalkInputError, match="NaN"):
        audio_from_comfy(bad)
    with pytest.raises(AudioWalkInputError, match="zero-length"):
        audio_from_comfy({"waveform": torch.zeros(1, 1, 0), "sample_rate": 22050})
    with pytest.raises(AudioWalkInputError, match="AUDIO"):
        audio_from_comfy("song.mp3")
