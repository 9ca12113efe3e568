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


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(AudioWalkInputError, match="does not exist"):
        load_audio(tmp_path / "nope.mp3")
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"this is not audio at all" * 100)
    with pytest.raises(AudioWalkInputError, match="could not be decoded"):
        load_audio(junk)
    empty = tmp_path / "empty.wav"
    write_wav(empty, np.zeros(0, np.float32), 22050)
    with pytest.raises(AudioWalkInputError, match="audio file"):
        load_audio(empty)


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
