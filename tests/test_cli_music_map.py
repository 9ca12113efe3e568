"""audiowalk features SONG --json OUT.json --stem NAME=FILE ...: the headless music map contract."""
import json

import numpy as np
import pytest
import soundfile

from audiowalk_core.meter import f_measure
from audiowalk_tools.cli import main
from audiowalk_tools.synthetic_songs import synthesize_song


@pytest.fixture(scope="module")
def song_files(tmp_path_factory):
    song = synthesize_song((("A", 8), ("B", 8), ("A", 8), ("B", 8)), bpm=(120, 100))
    folder = tmp_path_factory.mktemp("cli_song")
    soundfile.write(folder / "mix.flac", song.mix, song.sample_rate)
    for name, samples in song.stems.items():
        soundfile.write(folder / f"{name}.wav", samples, song.sample_rate)
    return song, folder


def test_features_json_has_the_music_map_and_each_stems_curves(song_files, tmp_path, capsys):
    song, folder = song_files
    out = tmp_path / "map" / "song.json"
    picture = tmp_path / "map.png"
    code = main(["features", str(folder / "mix.flac"), "--fps", "29.97", "--json", str(out),
                 "--stem", f"drums={folder / 'drums.wav'}", "--stem", f"bass={folder / 'bass.wav'}",
                 "--music-map", str(picture)])
    assert code == 0, capsys.readouterr().err
    document = json.loads(out.read_text())
    assert document["fps"] == "30000/1001"
    frames = document["frame_count"]
    assert frames == round(song.seconds * 30000 / 1001)
    assert abs(document["tempo_bpm"] - 110) < 12 and document["meter"] == 4
    assert f_measure(song.beats_seconds, document["beats_seconds"]) > 0.95
    assert f_measure(song.downbeats_seconds, document["downbeats_seconds"]) > 0.9
    assert [s["label"] for s in document["sections"]] == ["A", "B", "A", "B"]
    assert set(document["sections"][0]) == {"start_seconds", "end_seconds", "label"}
    assert sorted(document["stems"]) == ["bass", "drums"]
    for stem in document["stems"].values():
        assert len(stem["rms"]) == len(stem["onset"]) == frames
        assert 0.0 <= min(stem["onset"]) and max(stem["onset"]) <= 1.0
    drums, bass = (np.asarray(document["stems"][n]["onset"]) for n in ("drums", "bass"))
    assert not np.allclose(drums, bass)
    assert picture.stat().st_size > 10_000
    assert sorted(p.name for p in out.parent.iterdir()) == ["song.json"]  # no temporary left


def test_separate_and_bad_stems_fail_before_any_analysis(song_files, tmp_path, capsys):
    song, folder = song_files
    out = tmp_path / "song.json"
    assert main(["features", str(folder / "mix.flac"), "--separate", "htdemucs_ft", "--json", str(out)]) == 2
    err = capsys.readouterr()
    assert "--separate: 'htdemucs_ft' is neither a published HTDemucs model" in err.err and not out.exists()
    assert "frames at" not in err.out
    assert main(["features", str(folder / "mix.flac"), "--stem", f"vocals={tmp_path / 'none.wav'}",
                 "--json", str(out)]) == 2
    err = capsys.readouterr()
    assert "stem vocals" in err.err and "frames at" not in err.out and not out.exists()
    assert main(["features", str(folder / "mix.flac"), "--stem", "drums"]) == 2


def test_separate_writes_the_dsp_stems_and_the_second_run_uses_the_cache(song_files, tmp_path, monkeypatch, capsys):
    song, folder = song_files
    monkeypatch.setenv("AUDIOWALK_HOME", str(tmp_path))
    out = tmp_path / "song.json"
    arguments = ["features", str(folder / "mix.flac"), "--fps", "10", "--separate", "hpss", "--json", str(out),
                 "--duration-seconds", "40"]
    assert main(arguments) == 0
    first = capsys.readouterr().err
    assert "stems: percussive, harmonic (hpss)" in first and "block" in first
    document = json.loads(out.read_text())
    assert sorted(document["stems"]) == ["harmonic", "percussive"]
    assert len(document["stems"]["percussive"]["onset"]) == document["frame_count"] == 400
    assert main(arguments) == 0
    second = capsys.readouterr().err
    assert "(hpss (cached))" in second and "block" not in second
    assert len(list((tmp_path / "cache" / "stems").iterdir())) == 1


def test_separate_with_htdemucs_streams_the_stems_into_the_cache(song_files, tmp_path, monkeypatch, capsys):
    """--separate with an HTDemucs model file (a small random network of the published class) in the models
    folder; the published htdemucs offline without its weights says what to put where, before any separation."""
    from htdemucs_support import write_tiny_model

    song, folder = song_files
    monkeypatch.setenv("AUDIOWALK_HOME", str(tmp_path))
    out = tmp_path / "song.json"
    arguments = ["features", str(folder / "mix.flac"), "--fps", "10", "--json", str(out), "--duration-seconds", "6"]
    assert main(arguments + ["--separate", "--no-model-download"]) == 2  # --separate alone: htdemucs
    err = capsys.readouterr().err
    assert "htdemucs is not in" in err and str(tmp_path / "models" / "demucs" / "955717e8.safetensors") in err
    assert not out.exists()
    (tmp_path / "models" / "demucs").mkdir(parents=True)
    write_tiny_model(tmp_path / "models" / "demucs" / "tiny.safetensors")
    assert main(arguments + ["--separate", "tiny.safetensors"]) == 0
    first = capsys.readouterr().err
    assert "stems: drums, bass (tiny.safetensors)" in first and "block 16/16" in first  # 6 s in 0.375 s steps
    document = json.loads(out.read_text())
    assert sorted(document["stems"]) == ["bass", "drums"] and len(document["stems"]["bass"]["rms"]) == 60
    assert main(arguments + ["--separate", "tiny.safetensors"]) == 0
    assert "(tiny.safetensors (cached))" in capsys.readouterr().err
