"""DSP stem separation (harmonic / percussive) block-wise, and its disk cache: the second run does not separate
again (measured), a cancelled separation leaves no entry."""
import numpy as np
import pytest

from audiowalk_core.audio import AudioClip
from audiowalk_core.errors import AudioWalkCancelled
from audiowalk_core.separation import separate_stems
from audiowalk_core.separation.hpss import hpss_separate
from audiowalk_tools.synthetic_songs import synthesize_song


@pytest.fixture(scope="module")
def song():
    return synthesize_song((("A", 8), ("C", 8), ("A", 8), ("C", 8), ("A", 8)), bpm=120.0)  # 84 s


def clip_of(song):
    stereo = np.stack([song.mix, 0.8 * song.mix]).astype(np.float32)
    return AudioClip(stereo, song.sample_rate)


def test_block_wise_equals_one_block_and_the_parts_sum_to_the_mix():
    short = synthesize_song((("A", 6),), bpm=120.0)
    clip = clip_of(short)
    whole = hpss_separate(clip, block_seconds=1000.0)
    blocks = hpss_separate(clip, block_seconds=1.3)
    for name in ("percussive", "harmonic"):
        assert np.abs(whole[name].samples - blocks[name].samples).max() < 1e-5, name
    summed = whole["percussive"].samples + whole["harmonic"].samples
    assert np.abs(summed - clip.samples)[:, 2048:-2048].max() < 1e-4


def test_percussive_stem_holds_the_drums(song):
    clip = clip_of(song)
    stems = hpss_separate(clip, block_seconds=20.0)

    def share(stem, reference):  # how much of ``reference`` the stem holds (projection, 1 = all of it)
        return float(np.dot(stem.samples[0], reference) / np.dot(reference, reference))

    percussive = {name: share(stems["percussive"], song.stems[name]) for name in ("drums", "bass", "chords")}
    harmonic = {name: share(stems["harmonic"], song.stems[name]) for name in ("drums", "bass", "chords")}
    # the tonal sine kick splits about evenly; the noise hats and snare go to the percussive stem
    assert percussive["drums"] > 0.4 and percussive["drums"] > 3 * max(percussive["bass"], percussive["chords"])
    assert harmonic["bass"] > 0.9 and harmonic["chords"] > 0.9


def test_the_second_run_reads_the_cache_and_a_cancelled_run_leaves_no_entry(song, tmp_path):
    import time

    clip = clip_of(song)
    calls = []
    start = time.perf_counter()
    first = separate_stems(clip, "hpss", tmp_path, song_digest="song-1", on_progress=lambda d, t: calls.append(d))
    first_seconds = time.perf_counter() - start
    assert first.source == "hpss" and len(calls) > 1
    entries = [p for p in tmp_path.iterdir()]
    assert len(entries) == 1 and not entries[0].name.startswith(".")
    stamp = entries[0].stat().st_mtime_ns
    calls.clear()
    start = time.perf_counter()
    second = separate_stems(clip, "hpss", tmp_path, song_digest="song-1", on_progress=lambda d, t: calls.append(d))
    second_seconds = time.perf_counter() - start
    assert second.source == "hpss (cached)" and calls == []  # no block was separated
    assert second_seconds < first_seconds / 2, (first_seconds, second_seconds)
    assert entries[0].stat().st_mtime_ns == stamp
    for name in first.names:
        assert np.abs(first.clip(name).samples - second.clip(name).samples).max() < 1e-5  # 24-bit FLAC

    def cancel(done, total):
        if done == 2:
            raise AudioWalkCancelled("stopped by the user")

    with pytest.raises(AudioWalkCancelled):
        separate_stems(clip, "hpss", tmp_path, song_digest="song-2", on_progress=cancel, block_seconds=10.0)
    assert [p.name for p in tmp_path.iterdir()] == [entries[0].name]  # nothing of song-2, no temporary


def test_a_damaged_cache_entry_is_separated_again(song, tmp_path):
    """A truncated stem file in the cache is a miss (the entry is replaced), never soundfile's own error."""
    clip = clip_of(song)
    first = separate_stems(clip, "hpss", tmp_path, song_digest="song-d")
    [entry] = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    stem_file = entry / f"{first.names[0]}.flac"
    stem_file.write_bytes(stem_file.read_bytes()[:200])  # cut short
    again = separate_stems(clip, "hpss", tmp_path, song_digest="song-d")
    assert again.source == "hpss"  # separated again, not read
    assert np.abs(first.clip(first.names[0]).samples - again.clip(first.names[0]).samples).max() < 1e-5
    assert separate_stems(clip, "hpss", tmp_path, song_digest="song-d").source == "hpss (cached)"  # replaced whole
