"""The decoded song on disk (audiowalk_core.audio_file): the same samples, features and video as in memory, and
``audiowalk render``'s peak memory flat in the song's length (1 vs 10 minutes, fresh processes)."""
import importlib.util
import os
import sys

import numpy as np
import pytest

from audiowalk_core.analysis import compute_features
from audiowalk_core.audio import load_audio, silence_warning
from audiowalk_core.audio_file import DiskSamples, close_clip, load_audio_to_disk
from audiowalk_core.errors import AudioWalkInputError
from support import REPO_ROOT, write_wav


def bench_module():
    spec = importlib.util.spec_from_file_location("bench_cli_memory", REPO_ROOT / "bench" / "bench_cli_memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def song(tmp_path):
    rng = np.random.default_rng(4)
    samples = (rng.standard_normal((2, 22050 * 3)) * 0.2).astype(np.float32)
    return write_wav(tmp_path / "song.wav", samples, 22050)


@pytest.mark.parametrize("start, duration", [(0.0, None), (0.5, 1.25)])
def test_disk_samples_are_load_audios_samples(song, tmp_path, start, duration):
    memory = load_audio(song, start, duration)
    disk = load_audio_to_disk(song, tmp_path, start, duration)
    try:
        assert isinstance(disk.samples, DiskSamples) and disk.samples.shape == memory.samples.shape
        assert disk.sample_rate == memory.sample_rate
        assert np.array_equal(np.asarray(disk.samples), memory.samples)
        assert np.array_equal(disk.samples[:, 100:5000], memory.samples[:, 100:5000])
        assert np.array_equal(disk.samples[1, 7:9], memory.samples[1, 7:9])
        assert np.array_equal(disk.samples[:2, disk.num_samples - 3:disk.num_samples + 10],
                              memory.samples[:, -3:])  # past the end: what is there
        assert np.array_equal(disk.mono_between(10, 2000), memory.mono_between(10, 2000))
        assert np.array_equal(disk.mono(), memory.mono())
    finally:
        close_clip(disk)


@pytest.mark.parametrize("band_mode", ["improved", "seed"])
def test_features_from_disk_equal_features_from_memory(song, tmp_path, band_mode):
    memory = compute_features(load_audio(song), 10, band_mode=band_mode)
    clip = load_audio_to_disk(song, tmp_path)
    disk = compute_features(clip, 10, band_mode=band_mode)
    close_clip(clip)
    assert disk.frame_count == memory.frame_count and disk.song_samples == memory.song_samples
    for name, curve in memory.curves.items():
        assert np.array_equal(disk.curves[name], curve), name


def test_features_with_the_log_bands_on_disk_are_the_same(song, monkeypatch):
    """A long song's log bands go to a temporary file (analysis.LOG_BANDS_IN_MEMORY_BYTES): same features."""
    import audiowalk_core.analysis as analysis
    from audiowalk_core.frame_means import DiskRows

    clip = load_audio(song)
    in_memory = compute_features(clip, 7)
    monkeypatch.setattr(analysis, "LOG_BANDS_IN_MEMORY_BYTES", 1024)
    on_disk = compute_features(clip, 7)
    for name, curve in in_memory.curves.items():
        assert np.array_equal(on_disk.curves[name], curve), name
    rows = DiskRows(5, 3)
    rows[1:4] = np.arange(9, dtype=np.float32).reshape(3, 3)
    assert np.array_equal(rows[0:5][1:4], np.arange(9).reshape(3, 3)) and rows.max() == 8.0 and len(rows) == 5
    rows.close()


def test_disk_loading_gives_load_audios_errors_and_silence_warning(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n")
    with pytest.raises(AudioWalkInputError, match="song"):
        load_audio_to_disk(text, tmp_path, input_name="song")
    silent = write_wav(tmp_path / "silent.wav", np.zeros((1, 22050), np.float32), 22050)
    with pytest.raises(AudioWalkInputError, match="start_seconds"):
        load_audio_to_disk(silent, tmp_path, start_seconds=5.0)
    clip = load_audio_to_disk(silent, tmp_path)
    assert "digital silence" in silence_warning(clip)
    close_clip(clip)


@pytest.mark.slow
def test_render_peak_memory_is_flat_in_song_length(tmp_path):
    """``audiowalk render`` of a 10-minute song peaks within 10% of a 1-minute song (fresh processes, tiny BigGAN,
    1/4 fps so the song's length is what grows; 22.05 kHz mono to keep it short: bench/bench_cli_memory.py measures
    44.1 kHz stereo up to an hour). Before: 367 vs 519 MiB (the song held, frame_rms reading 256 frames at once)."""
    from audiowalk_core.generators.biggan import random_biggan_weights, save_biggan_safetensors, tiny_config

    bench = bench_module()
    models = tmp_path / "models"
    models.mkdir()
    config = tiny_config()
    save_biggan_safetensors(random_biggan_weights(config, 0), config, models / "biggan-deep-128.safetensors")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    peaks = {}
    for minutes in (1, 10):
        song = bench.write_long_song(tmp_path / f"song-{minutes}.wav", minutes * 60, 22050, channels=1)
        peaks[minutes], _, _ = bench.peak_mib(
            [sys.executable, "-m", "audiowalk_tools.cli", "render", str(song), "-o", str(tmp_path / "out.mp4"),
             "--models-dir", str(models), "--fps", "1/4", "--batch-size", "16"], env)
        song.unlink()
    assert peaks[10] <= 1.10 * peaks[1], peaks
