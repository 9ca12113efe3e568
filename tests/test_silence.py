"""A wholly silent song is valid: the noise walk stands still (a still video unless the class schedule moves), and
a warning the user sees (CLI, Audio Features node)."""
import logging

import av
import numpy as np
import pytest
from support import save_tiny_biggan, write_wav

from audiowalk_core.analysis import compute_features
from audiowalk_core.audio import AudioClip
from audiowalk_tools import cli


def test_digital_silence_is_a_warning_not_an_error():
    silent = compute_features(AudioClip(np.zeros((2, 22050 * 2), np.float32), 22050), 10)
    assert len(silent.warnings) == 1
    assert silent.warnings[0] == ("audio: all 2.00 s are digital silence (every sample is 0): the noise walk "
                                  "stands still, only the class schedule changes the picture")
    assert silent.slice_frames(5, 5).warnings == silent.warnings
    whisper = 1e-7 * np.random.default_rng(0).standard_normal((1, 22050 * 2)).astype(np.float32)
    whisper_warnings = compute_features(AudioClip(whisper, 22050), 10).warnings  # normalised curves: it moves
    assert not any("silence" in warning for warning in whisper_warnings)  # (it has no beats: music map warns)


def test_render_of_a_silent_song_warns_and_with_chroma_classes_gives_a_still_video(tmp_path, capsys):
    song = write_wav(tmp_path / "silence.wav", np.zeros((2, 22050 * 2), np.float32), 22050)
    out = tmp_path / "still.mp4"
    code = cli.main(["render", str(song), "-o", str(out), "--models-dir", str(save_tiny_biggan(tmp_path)),
                     "--fps", "8", "--batch-size", "8", "--class-mode", "chroma"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "WARNING: audio: all 2.00 s are digital silence (every sample is 0): the noise walk stands still" in err
    with av.open(str(out)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)]).astype(np.int16)
    assert len(frames) == 16 and frames.std() > 1.0  # a picture ...
    assert np.abs(frames - frames[0]).mean() < 0.1  # ... that stands still (0.016 seen; 0.67 with interpolate)


def test_features_command_and_node_pass_the_warning_on(tmp_path, capsys, caplog, pack):
    song = write_wav(tmp_path / "silence.wav", np.zeros(22050, np.float32), 22050)
    assert cli.main(["features", str(song), "--fps", "10"]) == 0
    assert "audiowalk features: warning: audio: all 1.00 s are digital silence" in capsys.readouterr().err
    node = pack.NODE_CLASS_MAPPINGS["AudioWalkAudioFeatures"]()
    audio = {"waveform": np.zeros((1, 1, 22050), np.float32), "sample_rate": 22050}
    with caplog.at_level(logging.WARNING, logger="audiowalk"):
        node.analyse(audio, 10.0, "improved", 11000.0, 16.0, 1.01, 0.9, 16)
    assert "Audio Features: audio: all 1.00 s are digital silence" in caplog.text
