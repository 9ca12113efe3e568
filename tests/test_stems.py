"""Stems from the user's files: a minutes-long synthetic song of drums + bass + chords written as stem files; each
stem's onset curve follows its own instrument; lengths, sample rates, names and unreadable files checked."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from audiowalk_core.analysis import compute_features
from audiowalk_core.audio import AudioClip
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.stems import load_stems, parse_stem_list, stem_features
from audiowalk_tools.synthetic_songs import synthesize_song

FPS = 30


@pytest.fixture(scope="module")
def stem_song(tmp_path_factory):
    """Drums on the beats, bass on the off-beats, chords a quarter beat after each bar's start; 128 s."""
    song = synthesize_song((("B", 16),) * 4, meter=4, bpm=120.0, bass_every_beat=True, bass_offset_beats=0.5,
                           chord_offset_beats=0.25)
    folder = tmp_path_factory.mktemp("stems")
    for name, samples in song.stems.items():
        soundfile.write(folder / f"{name}.wav", samples, song.sample_rate)
    soundfile.write(folder / "mix.wav", song.mix, song.sample_rate)
    return song, folder


def mix_clip(song):
    return AudioClip(song.mix[None].copy(), song.sample_rate)


def exclusive(times: np.ndarray, others: list[np.ndarray], gap: float = 0.06) -> np.ndarray:
    """Event times of one instrument with no other instrument's event within ``gap`` seconds."""
    every = np.sort(np.concatenate(others))
    keep = [t for t in times if np.min(np.abs(every - t)) > gap]
    return np.asarray(keep)


def onset_at(curve: np.ndarray, times: np.ndarray) -> float:
    frames = np.floor(times * FPS).astype(int)
    return float(np.mean([curve[max(f - 1, 0):f + 3].max() for f in frames]))


def test_each_stems_onset_curve_follows_its_own_instrument(stem_song):
    song, folder = stem_song
    assert song.seconds > 120
    files = {name: folder / f"{name}.wav" for name in ("drums", "bass", "chords")}
    stems = load_stems(mix_clip(song), files)
    assert stems.names == ("drums", "bass", "chords") and stems.notes == ()
    mix = compute_features(mix_clip(song), FPS)
    events = {name: exclusive(song.onsets[name], [song.onsets[o] for o in files if o != name]) for name in files}
    assert all(len(times) > 50 for times in events.values())
    for name in files:
        features = stem_features(stems, name, FPS, mix_features=mix)
        assert features.clock == mix.clock
        onset = features.curves["onset"]
        own = onset_at(onset, events[name])
        for other in files:
            if other != name:
                assert own > 3 * onset_at(onset, events[other]), (name, other, own, onset_at(onset, events[other]))
        # the stem moves on the mix's bars and sections
        assert np.array_equal(features.downbeat_frames, mix.downbeat_frames) and features.sections == mix.sections
    # the mix hears all three
    assert all(onset_at(mix.curves["onset"], events[name]) > 0.2 for name in files)


def test_a_stem_at_another_sample_rate_is_resampled_with_a_note(stem_song, tmp_path):
    song, folder = stem_song
    from audiowalk_core.stems import resample

    soundfile.write(tmp_path / "bass44.wav", resample(song.stems["bass"][None], 22050, 44100)[0], 44100)
    stems = load_stems(mix_clip(song), {"drums": folder / "drums.wav", "bass": tmp_path / "bass44.wav"})
    assert any("bass" in note and "44100" in note for note in stems.notes)
    bass = stems.clip("bass")
    assert bass.sample_rate == 22050 and bass.num_samples == len(song.mix)
    original = song.stems["bass"]
    assert np.abs(bass.samples[0, 1000:-1000] - original[1000:-1000]).max() < 0.01


def test_stem_length_name_and_file_errors_name_the_stem(stem_song, tmp_path):
    song, folder = stem_song
    soundfile.write(tmp_path / "short.wav", song.stems["bass"][:-song.sample_rate // 2], song.sample_rate)
    with pytest.raises(AudioWalkInputError, match="stem bass: lasts"):
        load_stems(mix_clip(song), {"drums": folder / "drums.wav", "bass": tmp_path / "short.wav"})
    # within one frame (at 24 fps) of the mix: padded with a note
    soundfile.write(tmp_path / "nearly.wav", song.stems["bass"][:-100], song.sample_rate)
    stems = load_stems(mix_clip(song), {"bass": tmp_path / "nearly.wav"})
    assert stems.clip("bass").num_samples == len(song.mix) and "100 samples of silence" in stems.notes[0]
    (tmp_path / "notes.wav").write_text("not audio at all\n")
    with pytest.raises(AudioWalkInputError, match="stem vocals:.*text"):
        load_stems(mix_clip(song), {"drums": folder / "drums.wav", "vocals": tmp_path / "notes.wav"})
    with pytest.raises(AudioWalkInputError, match="stem vocals:.*does not exist"):
        load_stems(mix_clip(song), {"vocals": tmp_path / "missing.wav"})
    with pytest.raises(AudioWalkInputError, match="no stem named 'keys'"):
        load_stems(mix_clip(song), {"bass": folder / "bass.wav"}).clip("keys")


def test_stem_lists_are_parsed_with_clear_errors():
    assert parse_stem_list("drums = d.wav\n# comment\n\nlead-vocals=v.flac") == {"drums": "d.wav",
                                                                                 "lead-vocals": "v.flac"}
    for text, message in (("", "no stems"), ("drums d.wav", "no '='"), ("drums = a.wav\nDrums = b.wav", "twice"),
                          ("my drums = a.wav", "not a plain name"), ("drums =", "no file")):
        with pytest.raises(AudioWalkInputError, match=message):
            parse_stem_list(text)
