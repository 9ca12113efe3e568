"""``audiowalk render``: the BigGAN-only pipeline without ComfyUI, end to end on the demo song with a tiny random
BigGAN (real architecture, random weights), checked by decoding the mp4 it wrote.

Needs the other issues' core modules (demo, analysis, pipeline.make_walk_latents, biggan, video): it runs once they
are merged.
"""
from fractions import Fraction

import av
import numpy as np
import audiowalk_core
import pytest

from audiowalk_tools import cli
from audiowalk_core.errors import AudioWalkInputError

SECONDS = 3.0
FPS = 8
@pytest.fixture(scope="module")
def demo_song(tmp_path_factory):
    from audiowalk_tools.demo import write_demo_song

    return write_demo_song(tmp_path_factory.mktemp("song") / "demo.wav")


@pytest.fixture(scope="module")
def tiny_models_dir(tmp_path_factory):
    """A folder holding a tiny random BigGAN saved under the name biggan-deep-128."""
    from audiowalk_core.generators.biggan import random_biggan_weights, save_biggan_safetensors, tiny_config

    folder = tmp_path_factory.mktemp("models")
    config = tiny_config()  # 32 px, the real architecture at channel width 4
    model = random_biggan_weights(config, 0)
    save_biggan_safetensors(model, config, folder / "biggan-deep-128.safetensors")
    return folder


def decode(path):
    """(frames uint8 [N, H, W, 3], video fps, audio seconds, audio sample rate) of an mp4."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        fps = video.average_rate
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video)])
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        samples = sum(f.samples for f in container.decode(audio))
        rate = audio.rate
    return frames, Fraction(fps), samples / rate, rate


def render(song, out, models_dir, *extra):
    return cli.main(["render", str(song), "-o", str(out), "--models-dir", str(models_dir), "--fps", str(FPS),
                     "--duration-seconds", str(SECONDS), "--batch-size", "5", "--seed", "3", *extra])


def test_render_writes_the_song_as_video_with_its_audio(demo_song, tiny_models_dir, tmp_path, capsys):
    out = tmp_path / "out" / "walk.mp4"
    assert render(demo_song, out, tiny_models_dir) == 0, capsys.readouterr().err
    frames, fps, audio_seconds, _ = decode(out)
    assert fps == FPS
    assert frames.shape == (SECONDS * FPS, 32, 32, 3)
    assert abs(audio_seconds - SECONDS) <= 1.0 / FPS          # audio and video lengths equal within one frame
    assert frames.std() > 1.0                                  # not a blank picture
    assert np.abs(np.diff(frames.astype(np.int16), axis=0)).mean() > 0.1  # the picture moves
    assert [p.name for p in out.parent.iterdir()] == ["walk.mp4"]          # no temporary files left


def test_render_is_deterministic(demo_song, tiny_models_dir, tmp_path):
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    assert render(demo_song, first, tiny_models_dir) == 0
    assert render(demo_song, second, tiny_models_dir) == 0
    frames_a, frames_b = decode(first)[0], decode(second)[0]
    # the frames given to the encoder are bit-identical (tests/test_biggan.py); x264 itself varies by codec noise
    difference = np.abs(frames_a.astype(np.int16) - frames_b)
    assert frames_a.shape == frames_b.shape and difference.mean() < 1.0


def test_missing_weights_fail_clearly_without_random_weights(demo_song, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    empty = tmp_path / "no_models"
    empty.mkdir()
    out = tmp_path / "x.mp4"
    assert render(demo_song, out, empty) == 2
    err = capsys.readouterr().err
    assert "error: model:" in err and "--random-weights" in err
    assert not out.exists()


def test_bad_render_arguments_name_the_input(demo_song, tiny_models_dir, tmp_path, capsys):
    from audiowalk_core.render import render_song

    with pytest.raises(AudioWalkInputError) as error:
        render_song(demo_song, tmp_path / "x.avi", models_dir=tiny_models_dir)
    assert error.value.input_name == "output"
    with pytest.raises(AudioWalkInputError) as error:
        render_song(demo_song, tmp_path / "x.mp4", models_dir=tiny_models_dir, batch_size=0)
    assert error.value.input_name == "batch_size"
    assert cli.main(["render", str(tmp_path / "nope.wav"), "-o", str(tmp_path / "y.mp4")]) == 2
    assert "error: song:" in capsys.readouterr().err
    assert cli.main(["render", "-o", str(tmp_path / "y.mp4")]) == 2
    assert "give either a SONG or --demo" in capsys.readouterr().err


@pytest.mark.slow
def test_random_weights_fallback_warns_loudly(demo_song, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    empty = tmp_path / "no_models"
    empty.mkdir()
    out = tmp_path / "random.mp4"
    code = cli.main(["render", str(demo_song), "-o", str(out), "--models-dir", str(empty), "--fps", "2",
                     "--duration-seconds", "1", "--random-weights"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "rendering with RANDOM weights" in err and str(empty) in err
    frames, fps, _, _ = decode(out)
    assert frames.shape == (2, 128, 128, 3) and fps == 2


def test_demo_song_and_features_commands(tmp_path, capsys):
    song = tmp_path / "demo.wav"
    assert cli.main(["demo-song", str(song)]) == 0
    import soundfile

    info = soundfile.info(str(song))
    assert info.channels == 2 and info.duration > 10
    plot = tmp_path / "plots" / "features.png"
    assert cli.main(["features", str(song), "--fps", "8", "--duration-seconds", "3", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "-> 24 frames at 8 fps" in out and "BPM" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
