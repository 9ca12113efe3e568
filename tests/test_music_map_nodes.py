"""The music map nodes driven as ComfyUI drives them: Load Stems -> Stem Features (drums) -> Band Noise Walk, the
mix's sections -> Class Schedule, and the Music Map picture."""
import numpy as np
import pytest
import soundfile

from audiowalk_tools.synthetic_songs import synthesize_song


def run(pack, node_id, **inputs):
    cls = pack.NODE_CLASS_MAPPINGS[node_id]
    return getattr(cls(), cls.FUNCTION)(**inputs)


@pytest.fixture
def stem_files(comfy_home):
    song = synthesize_song((("A", 8), ("B", 8), ("A", 8), ("B", 8)), bpm=120.0)
    folder = comfy_home / "input" / "my song"
    folder.mkdir()
    soundfile.write(comfy_home / "input" / "mix.wav", song.mix, song.sample_rate)
    for name, samples in song.stems.items():
        soundfile.write(folder / f"{name}.wav", samples, song.sample_rate)
    return song


def test_kick_drives_the_noise_and_sections_drive_the_classes(pack, stem_files):
    audio, = run(pack, "AudioWalkLoadAudio", audio="mix.wav", start_seconds=0.0, duration_seconds=0.0)
    listing = "drums = my song/drums.wav\nbass = my song/bass.wav\nchords = my song/chords.wav"
    stems, names = run(pack, "AudioWalkLoadStems", audio=audio, stems=listing)
    assert names == "drums | bass | chords"
    assert isinstance(pack.NODE_CLASS_MAPPINGS["AudioWalkLoadStems"].IS_CHANGED(stems=listing), str)
    mix, frames, _, _ = run(pack, "AudioWalkAudioFeatures", audio=audio, fps="10", band_mode="improved",
                            max_frequency_level=11000.0, low_frequency_skip=16.0, frequency_band_growth_rate=1.01,
                            extra_detail=0.9, band_count=48)
    assert [s.label for s in mix.sections] == ["A", "B", "A", "B"]
    drums, drum_frames = run(pack, "AudioWalkStemFeatures", stems=stems, stem="drums", fps="10", band_count=48,
                             mix_features=mix)
    assert drum_frames == frames and drums.sections == mix.sections
    # linked to the mix, the stem follows the mix's frame rate whatever its own fps widget says
    _, drum_frames_30 = run(pack, "AudioWalkStemFeatures", stems=stems, stem="drums", fps="30", band_count=48,
                            mix_features=mix)
    assert drum_frames_30 == frames
    noise, = run(pack, "AudioWalkBandNoiseWalk", features=drums, seed=1, mode="improved", truncation=0.7,
                 smoothing_factor=0.1, iterations=1, chain_order="lowest_correlation")
    classes, = run(pack, "AudioWalkClassSchedule", features=mix, labels="teapot | bubble", mode="sections",
                   beats_per_switch=4, crossfade_frames=5)
    assert noise.noise.shape[0] == classes.weights.shape[0] == frames
    middle = [int(0.5 * (s.start_seconds + s.end_seconds) * 10) for s in mix.sections]
    assert [int(np.argmax(classes.weights[f])) for f in middle] == [0, 1, 0, 1]
    plot, text, tempo, beats_per_bar = run(pack, "AudioWalkMusicMap", features=mix, stems=stems)
    assert plot.shape[0] == 1 and plot.shape[3] == 3 and plot.shape[2] == 1200
    assert text.count("\n") == 3 and abs(tempo - 120) < 2 and beats_per_bar == 4
    stem_audio, = run(pack, "AudioWalkStemAudio", stems=stems, stem="bass")
    assert stem_audio["waveform"].shape[-1] == len(stem_files.mix)


def test_load_stems_names_the_missing_stem(pack, stem_files):
    audio, = run(pack, "AudioWalkLoadAudio", audio="mix.wav", start_seconds=0.0, duration_seconds=0.0)
    from audiowalk_core.errors import AudioWalkInputError

    with pytest.raises(AudioWalkInputError, match="stem vocals"):
        run(pack, "AudioWalkLoadStems", audio=audio, stems="drums = my song/drums.wav\nvocals = vocals.wav")
    with pytest.raises(AudioWalkInputError, match="stem drums"):
        run(pack, "AudioWalkLoadStems", audio=audio, stems="drums = ../outside.wav")


def test_separate_stems_node_caches_per_song(pack, stem_files, comfy_home):
    audio, = run(pack, "AudioWalkLoadAudio", audio="mix.wav", start_seconds=0.0, duration_seconds=20.0)
    stems, names = run(pack, "AudioWalkSeparateStems", audio=audio, method="hpss")
    assert names == "percussive | harmonic" and stems.source == "hpss"
    again, _ = run(pack, "AudioWalkSeparateStems", audio=audio, method="hpss")
    assert again.source == "hpss (cached)"
    assert len(list((comfy_home / "cache" / "stems").iterdir())) == 1  # kept outside temp/: survives a restart
    drums, _ = run(pack, "AudioWalkStemFeatures", stems=again, stem="percussive", fps="10", band_count=16)
    assert drums.frame_count == 200


def test_separate_stems_node_with_htdemucs(pack, stem_files, comfy_home):
    """Separate Stems lists the HTDemucs models with their download marks and separates with a model file of the
    published class (small, random weights) from models/demucs; Stem Audio, Stem Features and Music Map take the
    stems, which are read from the cache's files."""
    from htdemucs_support import write_tiny_model

    node = pack.NODE_CLASS_MAPPINGS["AudioWalkSeparateStems"]
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["AudioWalkSeparateStems"] == "Separate Stems"
    choices, options = node.INPUT_TYPES()["required"]["method"]
    assert choices == ["hpss", "htdemucs (download, 84 MB)", "htdemucs_6s (download, 55 MB)"]
    assert options["default"] == "htdemucs (download, 84 MB)"
    assert node.INPUT_TYPES()["optional"]["allow_download"][1]["default"] is True
    (comfy_home / "models" / "demucs").mkdir()
    write_tiny_model(comfy_home / "models" / "demucs" / "tiny.safetensors")
    assert node.INPUT_TYPES()["required"]["method"][0][-1] == "tiny.safetensors"
    assert node.VALIDATE_INPUTS(method="htdemucs") is True and node.VALIDATE_INPUTS(method="hpss") is True
    assert "neither a published HTDemucs model" in node.VALIDATE_INPUTS(method="umxl")

    audio, = run(pack, "AudioWalkLoadAudio", audio="mix.wav", start_seconds=0.0, duration_seconds=4.0)
    stems, names = run(pack, "AudioWalkSeparateStems", audio=audio, method="tiny.safetensors", allow_download=False)
    assert names == "drums | bass" and stems.source == "tiny.safetensors"
    again, _ = run(pack, "AudioWalkSeparateStems", audio=audio, method="tiny.safetensors", allow_download=False)
    assert again.source == "tiny.safetensors (cached)"
    bass, = run(pack, "AudioWalkStemAudio", stems=again, stem="bass")
    assert tuple(bass["waveform"].shape) == (1, 1, 4 * stem_files.sample_rate)  # the mix is mono: mono stems
    drums, frames = run(pack, "AudioWalkStemFeatures", stems=again, stem="drums", fps="10", band_count=16)
    assert frames == 40 and drums.curves["rms"].shape == (40,)
    mix, *_ = run(pack, "AudioWalkAudioFeatures", audio=audio, fps="10", band_mode="improved",
                  max_frequency_level=11000.0, low_frequency_skip=16.0, frequency_band_growth_rate=1.01,
                  extra_detail=0.9, band_count=48)
    plot, *_ = run(pack, "AudioWalkMusicMap", features=mix, stems=again)
    assert plot.shape[0] == 1
