"""The Beat This! backend of the music map: meter and sections on given neural beats, the whole Audio Features
step with a random-weight checkpoint, where the checkpoint is looked for and downloaded (a local server), the
errors without it, the setting in the node, the CLI and the node's model list."""
from __future__ import annotations

import functools
import http.server
import logging
import threading

import numpy as np
import pytest
import torch

from audiowalk_core.analysis import compute_features
from audiowalk_core.audio import AudioClip
from audiowalk_core.beat_tracking import check_tracker_choice, load_beat_tracker, tracker_choices
from audiowalk_core.beat_tracking.config import BeatThisConfig
from audiowalk_core.beat_tracking.network import BeatThisNetwork
from audiowalk_core.beat_tracking.spectrogram import log_mel_spectrogram
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.music_map import analyse_music_map, meter_from_downbeats
from audiowalk_core.settings import BEAT_TRACKERS, FEATURES_NODE, node_inputs, setting
from audiowalk_tools.synthetic_songs import synthesize_song

TINY = BeatThisConfig(transformer_dim=32, n_layers=1)
FAST = BeatThisConfig(transformer_dim=32, n_layers=1, partial_transformers=False)  # for the plumbing: seconds
SMALL = BeatThisConfig(transformer_dim=128)


def music_map_on(song, beats, downbeats):
    """The music map of ``song`` from its STFT tables (as Audio Features computes them) on given beats."""
    from audiowalk_core import analysis

    rate = song.sample_rate
    n_fft, _ = analysis._stft_size(rate)
    tables = analysis._StftTables(song.mix, rate, analysis.improved_band_edges(rate, n_fft, 48))
    low_hz = analysis._log_band_matrix(rate, n_fft)[0] * rate / n_fft
    return analyse_music_map(tables.log_bands, tables.chroma, tables.frame_times(), n_fft / rate, low_hz,
                             song.seconds, beats=(beats, downbeats))


def on_neural_grid(seconds):
    return np.round(np.asarray(seconds) * 50.0) / 50.0  # Beat This! times fall on its 50 frames/s


@pytest.mark.parametrize("meter", [3, 4])
def test_neural_beats_give_the_meter_of_their_downbeats_and_sections_snap_to_them(meter):
    song = synthesize_song((("A", 16), ("B", 16), ("A", 16), ("B", 16)), meter=meter, bpm=120.0)
    beats, downbeats = on_neural_grid(song.beats_seconds), on_neural_grid(song.downbeats_seconds)
    music = music_map_on(song, beats, downbeats)
    assert music.meter == meter and music.tempo_bpm == pytest.approx(120.0, abs=1.0)
    assert np.array_equal(music.beat_seconds, beats) and np.array_equal(music.downbeat_seconds, downbeats)
    assert [s.label for s in music.sections] == ["A", "B", "A", "B"]
    beat_period = 0.5
    for section, (start, _, _) in zip(music.sections[1:], song.sections[1:]):
        assert section.start_seconds in set(downbeats)  # snapped to a downbeat of the tracker
        assert abs(section.start_seconds - start) <= beat_period
    # other downbeats (the bar's second beat): the meter stays, the boundaries move onto those downbeats
    shifted = beats[1::meter]
    moved = music_map_on(song, beats, shifted)
    assert moved.meter == meter
    assert all(section.start_seconds in set(shifted) for section in moved.sections[1:])


def test_too_few_neural_beats_give_no_bars_one_section_and_a_warning():
    song = synthesize_song((("A", 2),), meter=4, bpm=120.0)
    music = music_map_on(song, np.array([1.0]), np.zeros(0))
    assert music.meter == 0 and len(music.downbeat_seconds) == 0 and len(music.sections) == 1
    assert any("under two" in warning for warning in music.warnings)
    no_downbeats = music_map_on(song, on_neural_grid(song.beats_seconds), np.zeros(0))
    assert no_downbeats.meter == 0 and len(no_downbeats.sections) == 1
    assert any("no downbeats" in warning for warning in no_downbeats.warnings)
    assert meter_from_downbeats(np.arange(10.0), np.array([2.0])) == 0


def random_checkpoint(path, config=TINY, seed=0, song=None, sample_rate=22050):
    """A Lightning-layout checkpoint of a random network; with ``song`` the head's biases are set so that one
    frame in five of that song has a beat logit above 0 and one in ten a downbeat logit."""
    from audiowalk_core.beat_tracking.inference import frame_logits

    torch.manual_seed(seed)
    network = BeatThisNetwork(config).eval()
    if song is not None:
        spect = log_mel_spectrogram(lambda first, stop: song[first:stop], len(song), sample_rate)
        beat, downbeat = frame_logits(network, spect)
        with torch.no_grad():
            bias = network.task_heads.beat_downbeat_lin.bias
            beat_shift, downbeat_shift = np.quantile(beat, 0.8), np.quantile(downbeat, 0.9)
            bias[1] -= float(downbeat_shift)
            bias[0] -= float(beat_shift - downbeat_shift)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {"model." + k: v for k, v in network.state_dict().items()},
                "hyper_parameters": config.to_dict()}, path)
    return path


def test_audio_features_with_the_neural_tracker_use_its_beats_once(tmp_path):
    from support import clicks

    samples, _ = clicks(120.0, 40.0)  # two chunks
    random_checkpoint(tmp_path / "models" / "final0.ckpt", FAST, song=samples)
    tracker = load_beat_tracker("beat_this", [tmp_path / "models"], allow_download=False, device="cpu")
    assert load_beat_tracker("beat_this", [tmp_path / "models"], device="cpu") is tracker  # one shared copy
    clip = AudioClip(samples[None], 22050)
    progress = []
    features = compute_features(clip, 10, beat_tracker="beat_this", beat_model=tracker,
                                on_progress=lambda done, total: progress.append((done, total)))
    expected = tracker.beats_of(clip.mono_reader(), clip.num_samples, clip.sample_rate)
    assert len(expected.beat_seconds) > 10 and len(expected.downbeat_seconds) > 2
    assert np.array_equal(features.beat_seconds, expected.beat_seconds)
    assert np.array_equal(features.downbeat_seconds, expected.downbeat_seconds)
    assert features.meter == meter_from_downbeats(expected.beat_seconds, expected.downbeat_seconds)
    assert np.array_equal(features.beat_frames, np.unique(features.clock.frame_at_seconds(expected.beat_seconds)))
    assert progress[-1] == (5, 5) and progress[0] == (0, 5)
    assert features.sections[0].start_seconds == 0.0 and features.sections[-1].end_seconds == pytest.approx(40.0)


def test_without_weights_the_error_names_the_file_and_folder_before_any_analysis(tmp_path, monkeypatch):
    import socket

    with socket.socket() as sock:  # a port nothing listens on: the download fails at once
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("AUDIOWALK_BEAT_THIS_URL_BASE", closed)
    monkeypatch.setenv("AUDIOWALK_HOME", str(tmp_path))
    clip = AudioClip(np.zeros((1, 22050 * 5), np.float32), 22050)
    progress = []
    with pytest.raises(AudioWalkInputError) as error:
        compute_features(clip, 10, beat_tracker="beat_this", on_progress=lambda *a: progress.append(a))
    text = str(error.value)
    assert text.startswith("beat_tracker: beat_this needs final0.ckpt") and "could not be downloaded" in text
    assert f"the file final0.ckpt (about 81 MB, from {closed}/final0.ckpt) in {tmp_path / 'models' / 'beat_this'}" in text
    assert progress == []  # stopped before the first stage
    with pytest.raises(AudioWalkInputError, match="allow_download is off; expected the file small0.ckpt"):
        check_tracker_choice("beat_this_small (download, 8 MB)", [tmp_path], allow_download=False)
    with pytest.raises(AudioWalkInputError, match="beat_tracker: 'madmom' is not a beat tracker; expected one of "
                                                  "dsp, beat_this, beat_this_small"):
        check_tracker_choice("madmom", [tmp_path])
    with pytest.raises(AudioWalkInputError, match="beat_tracker: 'x' is unknown"):
        compute_features(clip, 10, beat_tracker="x")


@pytest.fixture
def file_server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_missing_checkpoint_is_downloaded_then_loaded_and_a_short_one_leaves_nothing(tmp_path, file_server):
    root, url = file_server
    random_checkpoint(root / "small0.ckpt", SMALL)
    progress = []
    tracker = load_beat_tracker("beat_this_small (download, 8 MB)", [tmp_path / "models"], device="cpu",
                                url_base=url, on_progress=lambda done, total: progress.append((done, total)))
    size = (root / "small0.ckpt").stat().st_size
    assert (tmp_path / "models" / "small0.ckpt").stat().st_size == size and progress[-1] == (size, size)
    assert tracker.name == "small0" and tracker.network.config == SMALL
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["small0.ckpt"]  # no temporary left
    random_checkpoint(root / "final0.ckpt", TINY)  # far fewer bytes than the final model's tensors
    with pytest.raises(AudioWalkInputError, match=r"final0.ckpt has \d+ bytes, fewer than the 81012\d+ bytes"):
        load_beat_tracker("beat_this", [tmp_path / "other"], device="cpu", url_base=url)
    assert not (tmp_path / "other").exists() or list((tmp_path / "other").iterdir()) == []


def test_the_setting_reaches_the_node_and_both_commands():
    from audiowalk_tools.cli import build_parser

    declared = setting("beat_tracker")
    assert declared.node == FEATURES_NODE and declared.default == "dsp" and declared.choices == BEAT_TRACKERS
    choices, options = node_inputs(FEATURES_NODE)["beat_tracker"]
    assert choices == list(BEAT_TRACKERS) and "models/beat_this" in options["tooltip"]
    parser = build_parser()
    for command in (["features", "song.wav"], ["render", "song.wav", "-o", "out.mp4"]):
        assert parser.parse_args(command + ["--beat-tracker", "beat_this"]).beat_tracker == "beat_this"
        assert parser.parse_args(command).beat_tracker is None  # the preset's (default) value stands
    with pytest.raises(SystemExit):
        parser.parse_args(["features", "song.wav", "--beat-tracker", "madmom"])


def test_audio_features_node_marks_downloads_validates_and_runs_the_tracker_once(pack, comfy_home, caplog):
    from support import clicks

    node = pack.nodes.audio_nodes.AudioWalkAudioFeatures
    folder = comfy_home / "models" / "beat_this"
    optional = node.INPUT_TYPES()["optional"]  # optional: prompts saved before it existed still validate
    assert optional["beat_tracker"][0] == ["dsp", "beat_this (download, 81 MB)", "beat_this_small (download, 8 MB)"]
    assert node.INPUT_TYPES()["optional"]["allow_download"][1]["default"] is True
    assert "allow_download is off" in node.VALIDATE_INPUTS("beat_this_small (download, 8 MB)", False)
    assert node.VALIDATE_INPUTS("beat_this_small (download, 8 MB)", True) is True
    assert "not a beat tracker" in node.VALIDATE_INPUTS("madmom")
    samples, _ = clicks(120.0, 12.0)
    random_checkpoint(folder / "beat_this-small0.ckpt", FAST, song=samples)  # the beat_this package's cache name
    assert node.INPUT_TYPES()["optional"]["beat_tracker"][0][2] == "beat_this_small"
    assert tracker_choices(BEAT_TRACKERS, [folder])[1] == "beat_this (download, 81 MB)"
    audio = {"waveform": torch.from_numpy(samples)[None, None], "sample_rate": 22050}
    with caplog.at_level(logging.INFO, logger="audiowalk"):
        features, frames, fps, plot = node().analyse(audio, fps="10", beat_tracker="beat_this_small (download, 8 MB)",
                                                     allow_download=False)
    assert frames == 120 and fps == 10.0 and plot.shape[-1] == 3 and len(features.beat_seconds) > 3
    assert sum("Beat This! small0" in record.getMessage() for record in caplog.records) == 1
