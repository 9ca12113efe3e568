"""The seed preset is the notebook end to end: from tests/data/seed_reference/song.wav to the latents it hands
BigGAN (the notebook's own figures, its bank injected), its class schedule over ceil(seconds x 30) frames, no
smoothing, and the whole song under the shorter video in ``audiowalk render --preset seed``."""
import json
import math
from pathlib import Path

import av
import numpy as np
import pytest

from audiowalk_core.audio import load_audio
from audiowalk_core.classes import parse_labels
from audiowalk_core.pipeline import compute_song_features, make_walk_latents
from audiowalk_core.settings import PRESET_RENDER_OPTIONS, PRESETS, SMOOTHING_METHODS, preset

SEED_REFERENCE = Path(__file__).resolve().parent / "data" / "seed_reference"


def reference():
    info = json.loads((SEED_REFERENCE / "reference.json").read_text())
    return info, {name: np.load(SEED_REFERENCE / f"{name}.npy") for name in ("bank", "bands", "noise")}


def notebook_class_vectors(labels: str, seconds: float, frames: int) -> np.ndarray:
    """The notebook's step 8, written as its cell does it: one-hot label vectors, linspace per pair over
    ``ceil(seconds * 30) // (labels - 1)`` frames (endpoints included), stopping when the band frames run out."""
    indices = parse_labels(labels)
    one_hot = np.zeros((len(indices), 1000), np.float32)
    one_hot[np.arange(len(indices)), indices] = 1.0
    per_pair = int(math.ceil(seconds * 30)) // (len(indices) - 1)
    rows = []
    for class_from, class_to in zip(one_hot[:-1], one_hot[1:]):
        for interpolation in np.linspace(class_from, class_to, per_pair):
            if len(rows) >= frames:
                break
            rows.append(interpolation)
    return np.array(rows)


@pytest.fixture(scope="module")
def preset_latents():
    info, ref = reference()
    settings = preset("seed")
    song = load_audio(SEED_REFERENCE / "song.wav")
    features = compute_song_features(song, settings)
    return info, ref, song, features, make_walk_latents(features, settings, bank=ref["bank"])


def test_the_preset_holds_the_reference_parameters():
    info, _ = reference()
    settings = preset("seed")
    for name in ("truncation", "extra_detail", "max_frequency_level", "low_frequency_skip",
                 "frequency_band_growth_rate", "smoothing_factor", "iterations", "labels"):
        assert getattr(settings, name) == info[name], name
    assert settings.fps == str(info["fps"])
    assert (settings.band_mode, settings.walk_mode, settings.class_mode, settings.smoothing_method) == \
        ("seed", "seed", "seed", "none")
    assert "none" in SMOOTHING_METHODS and set(PRESETS) >= {"default", "seed"}
    assert PRESET_RENDER_OPTIONS["seed"] == {"model": "biggan-deep-512", "output_mapping": "per_frame_minmax",
                                             "keep_whole_song": True}  # the notebook's model, frames and music


def test_the_preset_hands_biggan_the_notebooks_latents(preset_latents):
    info, ref, song, features, latents = preset_latents
    assert latents.frame_count == info["frames"] == 120  # the notebook's count: about a second short of the song
    np.testing.assert_allclose(features.curves["bands"], ref["bands"], rtol=0, atol=1e-4)
    # no smoothing on top: the noise BigGAN receives is the notebook's z_t, frame for frame
    np.testing.assert_allclose(latents.noise, ref["noise"], rtol=0, atol=1e-4)
    assert np.all(latents.noise[info["silent_frames"]] == 0.0)
    assert latents.truncation == info["truncation"]
    # the class vectors over the notebook's frame count: ceil(5 s x 30) = 150 frames, 75 per pair, not 120 / 2
    seconds = song.num_samples / song.sample_rate
    assert int(math.ceil(seconds * 30)) == info["video_frame_count_ceil"] == 150
    expected = notebook_class_vectors(info["labels"], seconds, latents.frame_count)
    np.testing.assert_allclose(latents.dense_class_weights(), expected, rtol=0, atol=1e-6)
    assert expected[74, parse_labels("bubble")[0]] == 1.0  # the first pair ends on frame 74, not 59


def test_the_preset_walk_draws_its_bank_from_the_seed(preset_latents):
    """Without an injected bank the preset is the notebook's walk on a bank drawn from the seed (repeatable)."""
    from audiowalk_core.walk import noise_bank, seed_noise_walk

    info, ref, song, features, _ = preset_latents
    settings = preset("seed").replace(seed=5)
    latents = make_walk_latents(features, settings)
    bank = noise_bank(info["bands"], info["truncation"], np.random.default_rng(5))
    expected = seed_noise_walk(features.curves["bands"], bank=bank, smoothing_factor=info["smoothing_factor"],
                               iterations=info["iterations"])
    assert np.array_equal(latents.noise, expected)


def test_render_preset_seed_keeps_the_whole_song_under_the_shorter_video(tmp_path, capsys):
    from audiowalk_tools import cli

    from audiowalk_core.generators.biggan import random_biggan_weights, save_biggan_safetensors, tiny_config

    models = tmp_path / "models"
    models.mkdir()
    config = tiny_config()  # a tiny random model under the name the preset asks for
    save_biggan_safetensors(random_biggan_weights(config, 0), config, models / "biggan-deep-512.safetensors")
    out = tmp_path / "seed.mp4"
    assert cli.main(["render", str(SEED_REFERENCE / "song.wav"), "-o", str(out), "--preset", "seed",
                     "--models-dir", str(models), "--batch-size", "40"]) == 0, capsys.readouterr().err
    with av.open(str(out)) as container:
        pictures = [f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])]
    frames = len(pictures)
    # the notebook's per-frame min-max: every frame (silent ones aside) spans the whole range (codec noise aside)
    assert all(p.min() < 30 and p.max() > 225 for p in pictures[:50])
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        audio_seconds = sum(f.samples for f in container.decode(stream)) / stream.rate
    assert frames == 120  # 4.0 s of video at 30 fps
    assert abs(audio_seconds - 5.0) < 1 / 30 + 0.03  # the whole 5 s song (AAC priming aside), as the notebook's


def test_the_seed_widget_set_in_the_biggan_template_is_the_notebook_end_to_end(pack, comfy_home):
    """docs/presets.md's widget set (settings.preset_widgets("seed")) applied to the shipped BigGAN workflow, run
    node by node in chunks as ComfyUI runs it: the latents BigGAN receives are the preset's (the notebook's walk,
    no smoothing), the video has the notebook's 120 frames and the whole 5 s song plays under it."""
    import shutil

    from support import REPO_ROOT, run_api_prompt

    from audiowalk_core.generators.biggan import random_biggan_weights, save_biggan_safetensors, tiny_config
    from audiowalk_core.settings import preset_widgets
    from audiowalk_tools.workflow_tools import apply_preset, nodes_of_type

    shutil.copy(SEED_REFERENCE / "song.wav", comfy_home / "input" / "seed_song.wav")
    config = tiny_config()
    (comfy_home / "models" / "biggan").mkdir()
    save_biggan_safetensors(random_biggan_weights(config, 0), config,
                            comfy_home / "models" / "biggan" / "biggan-deep-512.safetensors")
    prompt = json.loads((REPO_ROOT / "workflows" / "api" / "audiowalk_biggan.json").read_text())
    prompt = apply_preset(prompt, "seed")
    [loader] = nodes_of_type(prompt, "AudioWalkLoadAudio")
    [chunker] = nodes_of_type(prompt, "AudioWalkRenderChunks")
    [smoother] = nodes_of_type(prompt, "AudioWalkSmoothLatents")
    [saver] = nodes_of_type(prompt, "AudioWalkSaveVideo")
    prompt[loader]["inputs"]["audio"] = "seed_song.wav"
    prompt[chunker]["inputs"]["chunk_frames"] = 40
    for node in prompt.values():  # every widget the preset names holds its value
        for widget, value in preset_widgets("seed").get(node["class_type"], {}).items():
            assert node["inputs"][widget] == value, (node["class_type"], widget)
    outputs = run_api_prompt(pack, prompt, chunker)
    latents = outputs[smoother][0]
    settings = preset("seed")
    expected = make_walk_latents(compute_song_features(load_audio(SEED_REFERENCE / "song.wav"), settings), settings)
    assert latents.frame_count == 120
    assert np.array_equal(latents.noise, expected.noise)
    assert np.array_equal(latents.dense_class_weights(), expected.dense_class_weights())
    final = outputs[saver][0]
    with av.open(final) as container:
        assert container.streams.video[0].frames == 120
        stream = container.streams.audio[0]
        audio_seconds = sum(f.samples for f in container.decode(stream)) / stream.rate
    assert abs(audio_seconds - 5.0) < 1 / 30 + 0.03  # the whole song, not cut to the 4 s video


def test_save_music_video_cuts_the_music_to_the_video_unless_told_to_keep_the_whole_song(pack, comfy_home):
    import torch

    node = pack.NODE_CLASS_MAPPINGS["AudioWalkSaveVideo"]()
    song = {"waveform": torch.zeros(1, 1, 22050 * 3) + 0.1, "sample_rate": 22050}
    lengths = {}
    for music_length in ("video", "whole song"):
        path = node.save(images=torch.rand(30, 16, 16, 3), filename_prefix=f"m_{music_length[0]}", crf=23,
                         audio=song, fps="30", music_length=music_length)["result"][0]
        with av.open(path) as container:
            stream = container.streams.audio[0]
            lengths[music_length] = sum(f.samples for f in container.decode(stream)) / stream.rate
    assert abs(lengths["video"] - 1.0) < 1 / 30 + 0.03 and abs(lengths["whole song"] - 3.0) < 1 / 30 + 0.03
    with pytest.raises(Exception, match="music_length"):
        node.save(images=torch.rand(2, 16, 16, 3), filename_prefix="bad", crf=23, fps="30", music_length="half")
