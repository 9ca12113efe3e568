"""Our Beat This! without its weights: the real architecture with random weights (shapes, the published sizes),
strict and safe checkpoint reading, the log-mel front end against librosa, resampling by blocks, chunked
inference, and the minimal post-processing on logits with known answers."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from audiowalk_core.beat_tracking import PUBLISHED, read_checkpoint
from audiowalk_core.beat_tracking.config import BeatThisConfig
from audiowalk_core.beat_tracking.inference import (NO_LOGIT, beats_from_logits, chunk_of, chunk_starts,
                                                    frame_logits, merge_adjacent, peak_frames)
from audiowalk_core.beat_tracking.network import BeatThisNetwork, parameter_count, state_dict_shapes
from audiowalk_core.beat_tracking.spectrogram import (ResampledReader, frame_count, log_mel_spectrogram,
                                                      mel_filterbank)
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.music_map import meter_from_downbeats

TINY = BeatThisConfig(transformer_dim=32, n_layers=1)  # the real layers, narrow: fast on a CPU
NARROW = BeatThisConfig(spect_dim=32, transformer_dim=32, n_layers=1)  # 32 mel bands in: for the chunking tests


def random_network(config=TINY, seed=0) -> BeatThisNetwork:
    torch.manual_seed(seed)
    network = BeatThisNetwork(config)
    with torch.no_grad():  # batch norms with statistics of their own, as a trained network has
        for module in network.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.normal_(0.0, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return network.eval()


def save_lightning_checkpoint(path, network, config=TINY, **extra):
    """The layout of the published files: the LightningModule's state dict (network under "model.") and its
    hyper-parameters, plus plain entries."""
    hyper = {**config.to_dict(), "fps": 50, "lr": 0.0008, "dropout": {"frontend": 0.1, "transformer": 0.2}}
    torch.save({"state_dict": {"model." + key: value for key, value in network.state_dict().items()},
                "hyper_parameters": hyper, "datamodule_hyper_parameters": {"batch_size": 8},
                "pytorch-lightning_version": "2.4.0", **extra}, path)
    return path


@pytest.fixture(scope="module")
def full_network():
    return random_network(BeatThisConfig())


def test_the_published_configs_have_the_published_sizes(full_network):
    small = BeatThisConfig(transformer_dim=128)
    assert parameter_count(full_network) == 20_251_712
    assert parameter_count(BeatThisNetwork(small)) == 2_099_960
    for published in PUBLISHED.values():
        shapes = state_dict_shapes(published.config)
        assert len(shapes) == 166
        tensor_bytes = sum(4 * int(np.prod(shape)) for shape in shapes.values()) - 8 * 13  # 13 int64 counters
        # the file: its tensors and about 45.7 KB of pickle framing
        assert 40_000 < published.size_bytes - tensor_bytes < 50_000, (published.name, tensor_bytes)


def test_the_full_network_maps_frames_to_beat_and_downbeat_logits(full_network):
    network = full_network
    spect = torch.randn(2, 40, 128)
    with torch.no_grad():
        beat, downbeat = network(spect)
        assert beat.shape == downbeat.shape == (2, 40) and beat.dtype == torch.float32
        assert torch.isfinite(beat).all() and beat.std() > 0
        # the sum head: the beat logit is the head's beat output plus its downbeat output
        network.task_heads.sum_head = False
        plain_beat, plain_downbeat = network(spect)
        network.task_heads.sum_head = True
    assert torch.allclose(beat, plain_beat + plain_downbeat, atol=1e-6) and torch.equal(downbeat, plain_downbeat)


def test_a_lightning_checkpoint_loads_strictly_and_wrong_ones_name_the_key(tmp_path):
    network = random_network()
    config, state = read_checkpoint(save_lightning_checkpoint(tmp_path / "good.ckpt", network))
    assert config == TINY
    assert all(torch.equal(state[key], value) for key, value in network.state_dict().items())

    broken = dict(network.state_dict())
    del broken["frontend.linear.weight"]
    torch.save({"state_dict": {"model." + k: v for k, v in broken.items()}, "hyper_parameters": TINY.to_dict()},
               tmp_path / "missing.ckpt")
    with pytest.raises(AudioWalkInputError, match=r"beat_tracker: .*1 missing keys \(e.g. frontend.linear.weight\)"):
        read_checkpoint(tmp_path / "missing.ckpt")
    extra = dict(network.state_dict(), **{"frontend.surplus": torch.zeros(3)})
    torch.save({"state_dict": extra, "hyper_parameters": TINY.to_dict()}, tmp_path / "extra.ckpt")
    with pytest.raises(AudioWalkInputError, match="unexpected key.*frontend.surplus"):
        read_checkpoint(tmp_path / "extra.ckpt")
    wide = random_network(BeatThisConfig(transformer_dim=64, n_layers=1))  # saved as if it were TINY
    torch.save({"state_dict": wide.state_dict(), "hyper_parameters": TINY.to_dict()}, tmp_path / "shape.ckpt")
    with pytest.raises(AudioWalkInputError, match=r"wrong shape \(e.g. frontend.linear.weight: file \(64, 1024\), "
                                                  r"model \(32, 1024\)"):
        read_checkpoint(tmp_path / "shape.ckpt")
    torch.save({"weights": {}}, tmp_path / "foreign.ckpt")
    with pytest.raises(AudioWalkInputError, match="holds no 'state_dict'"):
        read_checkpoint(tmp_path / "foreign.ckpt")
    torch.save({"state_dict": {}, "hyper_parameters": {"transformer_dim": 100}}, tmp_path / "odd.ckpt")
    with pytest.raises(AudioWalkInputError, match="describe no Beat This! network"):
        read_checkpoint(tmp_path / "odd.ckpt")
    (tmp_path / "truncated.ckpt").write_bytes((tmp_path / "good.ckpt").read_bytes()[:5000])
    with pytest.raises(AudioWalkInputError, match="cannot be read as a weights-only checkpoint"):
        read_checkpoint(tmp_path / "truncated.ckpt")


class _MakesAFolder:
    """Pickles as a call of os.mkdir: what a malicious checkpoint could run on a full unpickling."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.mkdir, (self.path,)


def test_a_checkpoint_whose_pickle_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    save_lightning_checkpoint(tmp_path / "evil.ckpt", random_network(), callbacks=_MakesAFolder(marker))
    with pytest.raises(AudioWalkInputError, match="nothing in it was run"):
        read_checkpoint(tmp_path / "evil.ckpt")
    assert not marker.exists()


def test_mel_filterbank_and_log_mel_spectrogram_equal_librosa():
    librosa = pytest.importorskip("librosa")
    ours = mel_filterbank()
    theirs = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=128, fmin=30.0, fmax=11000.0, htk=False, norm=None)
    assert ours.shape == (513, 128) and np.abs(ours - theirs.T).max() < 1e-7
    assert ours.min() == 0.0 and ours.max() <= 1.0 and np.all(ours.max(axis=0) > 0.5)  # unnormalised triangles
    rng = np.random.default_rng(2)
    signal = (0.3 * np.sin(2 * np.pi * 440 * np.arange(5 * 22050) / 22050)
              + 0.1 * rng.standard_normal(5 * 22050)).astype(np.float32)
    spect = log_mel_spectrogram(lambda first, stop: signal[first:stop], len(signal), 22050, block_frames=37)
    magnitude = np.abs(librosa.stft(signal, n_fft=1024, hop_length=441, window="hann", center=True,
                                    pad_mode="reflect")) / np.sqrt(1024)
    reference = np.log1p(1000.0 * (theirs @ magnitude)).T
    assert spect.shape == reference.shape == (frame_count(len(signal), 22050), 128) == (251, 128)
    assert np.abs(spect - reference).max() < 1e-4


@pytest.mark.parametrize("sample_rate", [44100, 48000, 16000])
def test_resampling_by_blocks_equals_the_whole_signal_and_keeps_the_band_the_model_hears(sample_rate):
    from scipy.signal import resample_poly

    rng = np.random.default_rng(0)
    signal = rng.standard_normal(sample_rate * 3).astype(np.float32)
    reader = ResampledReader(lambda first, stop: signal[first:stop], len(signal), sample_rate)
    whole = resample_poly(signal, reader.up, reader.down, window=reader.taps)[:reader.length]
    parts = np.concatenate([reader(first, min(first + 4999, reader.length))
                            for first in range(0, reader.length, 4999)])
    assert len(parts) == reader.length == int(np.ceil(len(signal) * 22050 / sample_rate))
    assert np.abs(parts - whole).max() < 1e-5
    if sample_rate > 22050:  # pass band flat, aliasing band gone (soxr HQ's response)
        t = np.arange(sample_rate * 2) / sample_rate
        for hz, low, high in ((5000.0, -0.01, 0.01), (10900.0, -80.0, -40.0), (11200.0, -400.0, -100.0)):
            tone = np.sin(2 * np.pi * hz * t).astype(np.float32)
            out = ResampledReader(lambda a, b: tone[a:b], len(tone), sample_rate)(0, 2 * 22050)[5000:-5000]
            gain_db = 20 * np.log10(np.sqrt(2) * out.std() + 1e-30)
            assert low <= gain_db <= high, (hz, gain_db)


def test_minimal_postprocessing_finds_beats_and_downbeats_of_known_logits():
    frames = 50 * 30  # 30 s at 50 frames/s
    beat = np.full(frames, -5.0, np.float32)
    downbeat = np.full(frames, -5.0, np.float32)
    peaks = np.arange(10, frames - 5, 25)  # 120 BPM
    for index, peak in enumerate(peaks):
        beat[peak - 2:peak + 3] = [0.5, 2.0, 4.0, 2.0, 0.5]
        if index % 4 == 0:  # 4/4; each downbeat peak one frame late: it moves to its beat
            downbeat[peak - 1:peak + 4] = [0.5, 2.0, 4.0, 2.0, 0.5]
    beats, downbeats = beats_from_logits(beat, downbeat)
    assert np.allclose(beats, peaks / 50.0) and np.allclose(np.diff(beats), 0.5)
    assert np.allclose(downbeats, peaks[::4] / 50.0) and set(downbeats) <= set(beats)
    assert meter_from_downbeats(beats, downbeats) == 4
    assert meter_from_downbeats(beats, beats[1::3]) == 3
    # a weaker maximum within 3 frames is no peak; logits below 0 are none; a flat top is one peak at its middle
    logits = np.full(40, -1.0, np.float32)
    logits[[5, 8]] = [3.0, 2.0]
    logits[20] = -0.5
    logits[30:32] = 1.0
    assert list(peak_frames(logits)) == [5.0, 30.5]
    # runs are merged by a running mean: 10, 11 -> 10.5; 12 is 1.5 from it and starts a new run
    assert list(merge_adjacent([10, 11, 12, 20, 21])) == [10.5, 12.0, 20.5]
    assert beats_from_logits(np.full(10, -1.0), np.full(10, -1.0))[0].size == 0


def test_chunked_inference_equals_the_whole_where_the_network_sees_only_neighbouring_frames():
    """Without attention (no transformer layers, no partial transformers) a frame's logits depend on +-4 frames
    (four 3-wide convolutions in time): the 1500-frame chunks with their 6-frame borders must give exactly the
    logits of one pass over the whole song, away from the song's two ends (there the chunks see zero spectrogram
    frames where the whole pass sees the convolutions' zero padding)."""
    network = random_network(BeatThisConfig(spect_dim=32, transformer_dim=32, n_layers=0, partial_transformers=False))
    spect = np.random.default_rng(1).standard_normal((4000, 32)).astype(np.float32)
    beat, downbeat = frame_logits(network, spect)
    with torch.no_grad():
        whole_beat, whole_downbeat = (out[0].numpy() for out in network(torch.from_numpy(spect)[None]))
    inner = slice(5, len(spect) - 5)
    assert np.abs(beat[inner] - whole_beat[inner]).max() < 1e-4
    assert np.abs(downbeat[inner] - whole_downbeat[inner]).max() < 1e-4
    batched = frame_logits(network, spect, chunks_per_batch=3)
    assert np.abs(batched[0] - beat).max() < 1e-5 and np.abs(batched[1] - downbeat).max() < 1e-5


@pytest.mark.parametrize("frames", [70, 140, 310])
def test_chunks_follow_the_published_split_and_the_earlier_chunk_wins(frames):
    """A naive reference of the published split and join (chunk by chunk, zero padding, later chunks written
    first so that the earlier one wins) on the real layers, with 150-frame chunks (the published 1500 scaled
    down for speed; the same code path): equal logits, every frame covered."""
    network = random_network(NARROW)
    spect = np.random.default_rng(frames).standard_normal((frames, 32)).astype(np.float32)
    chunk, border = 150, 6
    starts = list(range(-border, frames - border, chunk - 2 * border))
    if frames > chunk - 2 * border:
        starts[-1] = frames - (chunk - border)
    assert list(chunk_starts(frames, chunk, border)) == starts
    assert list(chunk_starts(3100)) == [-6, 1482, 1606]  # the published size: the last chunk moved back
    expected = np.full(frames, NO_LOGIT, np.float32)
    for start in reversed(starts):
        piece = spect[max(start, 0):min(start + chunk, frames)]
        piece = np.concatenate([np.zeros((max(0, -start), 32), np.float32), piece,
                                np.zeros((max(0, min(border, start + chunk - frames)), 32), np.float32)])
        assert np.array_equal(piece, chunk_of(spect, start, chunk, border))
        with torch.no_grad():
            logits = network(torch.from_numpy(piece)[None])[0][0].numpy()[border:-border]
        stop = min(start + chunk - border, frames)
        expected[start + border:stop] = logits[:stop - start - border]
    beat, _ = frame_logits(network, spect, chunk=chunk, border=border)
    assert np.all(expected > NO_LOGIT) and np.abs(beat - expected).max() < 1e-4


def test_the_network_runs_when_built_and_run_in_inference_mode_as_comfyui_does():
    """ComfyUI runs nodes (and may load models) under torch.inference_mode: its tensors keep no version counter.
    the network runs there, twice alike, and gives another network's logits after loading its weights."""
    with torch.inference_mode():
        network = random_network(NARROW)
        spect = torch.randn(1, 60, 32)
        first = network(spect)[0]
        again = network(spect)[0]
        assert torch.equal(first, again)
        other = random_network(NARROW, seed=1)
        network.load_state_dict(other.state_dict())
        assert torch.allclose(network(spect)[0], other(spect)[0], atol=1e-6)
