"""Separating with HTDemucs (a small network of the published class, random weights, as a model file in a models
folder): the streaming, block-wise separation equals the naive whole-song one in memory; mono and resampled mixes;
the cache (a second run runs the network zero times, counted by neural.MODEL_CALLS); a cancel mid-song leaves no
entry; bad input (unknown model, a broken weights file, no weights offline) is refused before any separation; the
download of a published model from a local server."""
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from audiowalk_core.audio import AudioClip
from audiowalk_core.audio_file import SoundFileSamples
from audiowalk_core.errors import AudioWalkCancelled, AudioWalkInputError
from audiowalk_core.separation import separate_stems
from audiowalk_core.separation.htdemucs.runtime import load_shared_htdemucs
from audiowalk_core.separation.htdemucs.store import model_choices
from audiowalk_core.separation.neural import MODEL_CALLS
from audiowalk_core.separation.resample import rate_ratio
from htdemucs_support import noise_mix, reference_module, tiny_config, write_tiny_model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    write_tiny_model(folder / "tiny.safetensors", seed=7)
    return folder


def _separate(mix, models, cache, **options):
    return separate_stems(mix, "tiny.safetensors", cache, model_dirs=[models], **options)


def _reference(models, samples: np.ndarray, shifts=0, seed=0) -> np.ndarray:
    handle = load_shared_htdemucs("tiny.safetensors", [models])
    config = handle.config
    stereo = np.repeat(samples, 2, axis=0) if samples.shape[0] == 1 else samples
    return reference_module().separate_in_memory(handle.runner(), stereo, config.segment_samples, 2,
                                                 config.samplerate, shifts=shifts, seed=seed)


@pytest.mark.parametrize("channels, shifts", [(2, 0), (1, 0), (2, 2)])
def test_block_wise_separation_equals_the_whole_song_in_memory(models, tmp_path, channels, shifts):
    mix = AudioClip(noise_mix(3.3, 8000, channels), 8000)  # 9 segments of 0.5 s (overlap 1/4), a short last one
    stems = _separate(mix, models, tmp_path, shifts=shifts, seed=11)
    assert stems.names == ("drums", "bass") and stems.source == "tiny.safetensors"
    expected = _reference(models, mix.samples, shifts=shifts, seed=11)
    for index, name in enumerate(stems.names):
        clip = stems.clip(name)
        assert isinstance(clip.samples, SoundFileSamples)  # read from disk in blocks, never held
        assert clip.samples.shape == (channels, mix.num_samples) and clip.sample_rate == 8000
        ours = np.asarray(clip.samples)
        wanted = expected[index].mean(axis=0, keepdims=True) if channels == 1 else expected[index]
        assert np.abs(ours - wanted).max() < 2e-6, name  # float rounding and 24-bit FLAC


def test_a_mix_at_another_rate_is_separated_at_the_models_rate_and_brought_back(models, tmp_path):
    from scipy.signal import resample_poly

    mix = AudioClip(noise_mix(2.0, 12000), 12000)
    stems = _separate(mix, models, tmp_path)
    up, down = rate_ratio(12000, 8000)
    at_model_rate = resample_poly(mix.samples.astype(np.float64), up, down, axis=1).astype(np.float32)
    expected = _reference(models, at_model_rate)
    for index, name in enumerate(stems.names):
        back = resample_poly(expected[index].astype(np.float64), down, up, axis=1)[:, :mix.num_samples]
        ours = np.asarray(stems.clip(name).samples)
        assert ours.shape == mix.samples.shape and np.abs(ours - back).max() < 2e-6, name


def test_the_second_run_does_not_separate_and_a_cancel_leaves_no_entry(models, tmp_path):
    mix = AudioClip(noise_mix(2.5, 8000), 8000)
    before = MODEL_CALLS.value
    progress = []
    first = _separate(mix, models, tmp_path, song_digest="song-1", on_progress=lambda d, t: progress.append((d, t)))
    runs = MODEL_CALLS.value - before
    assert runs == 7 and progress[0] == (0, 7) and progress[-1] == (7, 7)
    entries = [p.name for p in tmp_path.iterdir()]
    assert len(entries) == 1 and not entries[0].startswith(".")
    second = _separate(mix, models, tmp_path, song_digest="song-1")
    assert second.source == "tiny.safetensors (cached)" and MODEL_CALLS.value - before == runs  # no network call
    assert np.array_equal(np.asarray(first.clip("bass").samples), np.asarray(second.clip("bass").samples))
    other = _separate(mix, models, tmp_path, song_digest="song-1", overlap=0.5)  # other settings: separated again
    assert other.source == "tiny.safetensors" and MODEL_CALLS.value - before > runs

    def cancel(done, total):
        if done == 4:
            raise AudioWalkCancelled("stopped by the user")

    calls = MODEL_CALLS.value
    with pytest.raises(AudioWalkCancelled):
        _separate(mix, models, tmp_path, song_digest="song-2", on_progress=cancel)
    assert MODEL_CALLS.value - calls == 4
    assert len([p for p in tmp_path.iterdir()]) == 2  # song-1's two entries; nothing of song-2, no temporary
    assert all(not p.name.startswith(".") for p in tmp_path.iterdir())


def test_without_a_cache_folder_the_stems_live_in_a_temporary_folder_until_freed(models):
    import gc

    stems = separate_stems(AudioClip(noise_mix(1.0, 8000), 8000), "tiny.safetensors", model_dirs=[models])
    folder = stems.clip("drums").samples.path.parent
    assert folder.is_dir() and np.asarray(stems.clip("drums").samples).shape == (2, 8000)
    del stems
    gc.collect()
    assert not folder.exists()


def test_bad_input_is_refused_before_any_separation(models, tmp_path, monkeypatch):
    mix = AudioClip(noise_mix(2.0, 8000), 8000)
    before = MODEL_CALLS.value
    with pytest.raises(AudioWalkInputError, match="method: 'htdemucs_ft' is neither a published HTDemucs model"):
        separate_stems(mix, "htdemucs_ft", tmp_path / "cache", model_dirs=[models])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "cut.safetensors").write_bytes((models / "tiny.safetensors").read_bytes()[:3000])
    with pytest.raises(AudioWalkInputError, match="cut.safetensors is not a readable .safetensors"):
        separate_stems(mix, "cut.safetensors", tmp_path / "cache", model_dirs=[broken])
    write_tiny_model(broken / "other.safetensors", channels=12)
    data = (broken / "other.safetensors").read_bytes()
    (broken / "mismatched.safetensors").write_bytes(data.replace(b'\\"channels\\": 12', b'\\"channels\\": 16'))
    with pytest.raises(AudioWalkInputError, match="mismatched.safetensors does not match the HTDemucs architecture"):
        separate_stems(mix, "mismatched.safetensors", tmp_path / "cache", model_dirs=[broken])
    empty = tmp_path / "empty"
    with pytest.raises(AudioWalkInputError) as error:
        separate_stems(mix, "htdemucs", tmp_path / "cache", model_dirs=[empty], allow_download=False)
    message = str(error.value)
    assert "htdemucs is not in" in message and "downloads are off" in message
    assert str(empty / "955717e8.safetensors") in message and "huggingface.co/adefossez/HTDemucs" in message
    monkeypatch.setenv("AUDIOWALK_DEMUCS_URL_BASE", "http://127.0.0.1:9")  # offline: nothing listens there
    with pytest.raises(AudioWalkInputError, match="could not be downloaded") as error:
        separate_stems(mix, "htdemucs (download, 84 MB)", tmp_path / "cache", model_dirs=[empty], allow_download=True)
    assert str(empty / "955717e8.safetensors") in str(error.value)
    with pytest.raises(AudioWalkInputError, match="overlap"):
        _separate(mix, models, tmp_path / "cache", overlap=0.95)
    assert MODEL_CALLS.value == before
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _ShortAnswer(_Quiet):
    def do_GET(self):  # announces the whole file, sends half
        data = (self.directory + "/955717e8.safetensors")
        body = open(data, "rb").read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2])


def _serve(folder, handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_a_published_model_is_downloaded_checked_and_renamed(tmp_path):
    import torch

    from audiowalk_core.separation.htdemucs.config import PUBLISHED_CONFIGS
    from audiowalk_core.separation.htdemucs.model import build_htdemucs
    from audiowalk_core.separation.htdemucs.weights import save_demucs_safetensors

    served = tmp_path / "server"
    network = build_htdemucs(PUBLISHED_CONFIGS["htdemucs"], seed=3)
    save_demucs_safetensors(network, network.config, served / "955717e8.safetensors", dtype=torch.float16)
    models = tmp_path / "models"
    assert model_choices([models]) == ["htdemucs (download, 84 MB)", "htdemucs_6s (download, 55 MB)"]
    server, url = _serve(served, _ShortAnswer)
    try:
        with pytest.raises(AudioWalkInputError, match="could not be downloaded|stopped at"):
            load_shared_htdemucs("htdemucs (download, 84 MB)", [models], allow_download=True, url_base=url)
    finally:
        server.shutdown()
    assert not models.exists() or not any(models.iterdir())  # nothing half-written left
    server, url = _serve(served, _Quiet)
    progress = []
    try:
        handle = load_shared_htdemucs("htdemucs (download, 84 MB)", [models], allow_download=True, url_base=url,
                                      on_progress=lambda done, total: progress.append((done, total)))
    finally:
        server.shutdown()
    assert [p.name for p in models.iterdir()] == ["955717e8.safetensors"]
    assert progress[-1][0] == progress[-1][1] == (served / "955717e8.safetensors").stat().st_size
    assert handle.identity == "htdemucs:955717e8" and handle.sources == ("drums", "bass", "other", "vocals")
    assert torch.equal(handle.model.state_dict()["decoder.3.conv_tr.bias"],
                       network.state_dict()["decoder.3.conv_tr.bias"].half().float())
    assert model_choices([models])[:2] == ["htdemucs", "htdemucs_6s (download, 55 MB)"]
    assert load_shared_htdemucs("htdemucs", [models]) is handle  # one shared copy


def test_model_choices_list_your_own_files(tmp_path):
    write_tiny_model(tmp_path / "mine.safetensors")
    (tmp_path / "notes.txt").write_text("not a model")
    assert model_choices([tmp_path]) == ["htdemucs (download, 84 MB)", "htdemucs_6s (download, 55 MB)",
                                         "mine.safetensors"]
    assert tiny_config().sources == ("drums", "bass")
