"""The nodes driven as ComfyUI drives them (through the pack imported like a custom node), on the demo song."""
import av
import numpy as np
import audiowalk_core
import pytest
import torch

from support import write_wav

from audiowalk_tools.demo import synthesize_demo_song


@pytest.fixture
def song(comfy_home, pack):
    clip = synthesize_demo_song(sample_rate=22050, duration_seconds=3.0)
    write_wav(comfy_home / "input" / "demo.wav", clip.samples, clip.sample_rate)
    return "demo.wav"


def nodes(pack):
    return pack.NODE_CLASS_MAPPINGS


def run(pack, node_id, **inputs):
    cls = nodes(pack)[node_id]
    return getattr(cls(), cls.FUNCTION)(**inputs)


def feature_inputs(**overrides):
    values = {"fps": "30", "band_mode": "improved", "max_frequency_level": 11000.0, "low_frequency_skip": 16.0,
              "frequency_band_growth_rate": 1.01, "extra_detail": 0.9, "band_count": 32}
    values.update(overrides)
    return values


def test_load_audio_lists_the_input_folder_and_loads_a_part(pack, song):
    spec = nodes(pack)["AudioWalkLoadAudio"].INPUT_TYPES()
    assert song in spec["required"]["audio"][0]
    (audio,) = run(pack, "AudioWalkLoadAudio", audio=song, start_seconds=1.0, duration_seconds=1.5)
    assert audio["sample_rate"] == 22050 and tuple(audio["waveform"].shape) == (1, 2, int(1.5 * 22050))
    assert nodes(pack)["AudioWalkLoadAudio"].VALIDATE_INPUTS(audio="missing.wav") != True  # noqa: E712


def test_load_audio_refuses_names_outside_the_input_folder(pack, song):
    with pytest.raises(audiowalk_core.AudioWalkInputError, match="audio"):
        run(pack, "AudioWalkLoadAudio", audio="../secret.wav", start_seconds=0.0, duration_seconds=0.0)


def test_features_accept_the_builtin_audio_dict_and_plot(pack):
    # what ComfyUI's own LoadAudio returns: waveform [1, channels, samples] float tensor
    clip = synthesize_demo_song(sample_rate=22050, duration_seconds=3.0)
    builtin = {"waveform": torch.from_numpy(clip.samples)[None], "sample_rate": 22050}
    features, frame_count, fps, plot = run(pack, "AudioWalkAudioFeatures", audio=builtin, **feature_inputs())
    assert frame_count == 90 and fps == 30.0 and features.frame_count == 90
    assert plot.dtype == torch.float32 and plot.ndim == 4 and plot.shape[-1] == 3 and 0 <= plot.min() <= plot.max() <= 1
    _, _, ntsc, _ = run(pack, "AudioWalkAudioFeatures", audio=builtin, **feature_inputs(fps="29.97"))
    assert abs(ntsc - 30000 / 1001) < 1e-9


def test_walk_nodes_make_latents_with_a_preview(pack, song):
    (audio,) = run(pack, "AudioWalkLoadAudio", audio=song, start_seconds=0.0, duration_seconds=0.0)
    features = run(pack, "AudioWalkAudioFeatures", audio=audio, **feature_inputs())[0]
    (noise,) = run(pack, "AudioWalkBandNoiseWalk", features=features, seed=7, mode="improved", truncation=0.7,
                   smoothing_factor=0.1, iterations=1, chain_order="lowest_correlation", pulse_strength=0.6,
                   motion_strength=0.5)
    (classes,) = run(pack, "AudioWalkClassSchedule", features=features, labels="teapot | bubble", mode="beats",
                     beats_per_switch=2, crossfade_frames=4)
    latents, preview, count = run(pack, "AudioWalkMakeLatents", noise=noise, classes=classes)
    assert count == 90 and latents.truncation == 0.7 and preview.shape[0] == 1  # the walk's one truncation
    (smoothed,) = run(pack, "AudioWalkSmoothLatents", latents=latents, method="gaussian", target="both",
                      attack_frames=1.0, release_frames=4.0, sigma_frames=3.0)
    assert smoothed.noise.shape == latents.noise.shape
    assert np.abs(np.diff(smoothed.noise, axis=0)).mean() < np.abs(np.diff(latents.noise, axis=0)).mean()
    with pytest.raises(audiowalk_core.AudioWalkInputError, match="labels"):
        run(pack, "AudioWalkClassSchedule", features=features, labels="teepott", mode="interpolate")


def test_save_video_numbers_files_and_refuses_escaping_prefixes(pack, comfy_home, song):
    (audio,) = run(pack, "AudioWalkLoadAudio", audio=song, start_seconds=0.0, duration_seconds=1.0)
    images = torch.rand(30, 24, 32, 3)
    first = run(pack, "AudioWalkSaveVideo", images=images, fps=30.0, filename_prefix="AudioWalk/test", crf=23,
                audio=audio)
    second = run(pack, "AudioWalkSaveVideo", images=images, fps=30.0, filename_prefix="AudioWalk/test", crf=23)
    assert first["ui"]["images"][0] == {"filename": "test_00001_.mp4", "subfolder": "AudioWalk", "type": "output"}
    assert first["ui"]["animated"] == [True]
    assert second["ui"]["images"][0]["filename"] == "test_00002_.mp4"
    with av.open(first["result"][0]) as container:
        assert container.streams.video[0].frames == 30 and len(container.streams.audio) == 1
    with pytest.raises(audiowalk_core.AudioWalkInputError, match="filename_prefix"):
        run(pack, "AudioWalkSaveVideo", images=images, fps=30.0, filename_prefix="../../outside", crf=23)


def test_save_video_joins_chunks_on_the_last_one(pack, comfy_home, song):
    """Render in Chunks + Save Video driven as ComfyUI's requeue drives them: chunk k's prompt, then k + 1's."""
    from audiowalk_core.chunks import prompt_for_chunk

    (audio,) = run(pack, "AudioWalkLoadAudio", audio=song, start_seconds=0.0, duration_seconds=0.0)
    features = run(pack, "AudioWalkAudioFeatures", audio=audio, **feature_inputs())[0]
    latents = run(pack, "AudioWalkMakeLatents", noise=run(pack, "AudioWalkBandNoiseWalk", features=features, seed=1,
                                                           mode="improved", truncation=0.7, smoothing_factor=0.1,
                                                           iterations=1, chain_order="none")[0],
                  classes=run(pack, "AudioWalkClassSchedule", features=features, labels="teapot", mode="interpolate")[0])[0]
    images = torch.rand(90, 16, 16, 3)
    prompt = {"5": {"class_type": "AudioWalkRenderChunks", "inputs": {"chunk_frames": 40, "render": "whole song",
                                                                       "chunk_index": 0}}}
    outputs, index = [], 0
    while True:
        part, chunk, start, count = run(pack, "AudioWalkRenderChunks", latents=latents, chunk_frames=40,
                                        render="whole song", chunk_index=index, prompt=prompt, unique_id="5")
        assert (start, count) == ((0, 40), (40, 40), (80, 10))[index] and part.frame_count == count
        outputs.append(run(pack, "AudioWalkSaveVideo", images=images[start:start + count], filename_prefix="long",
                           crf=23, audio=audio, chunk=chunk))
        if chunk.is_last:
            break
        index += 1
        prompt = prompt_for_chunk(prompt, "5", index, chunk.origin)
    assert [o["result"] for o in outputs[:2]] == [("",), ("",)]
    # a part adds no output (the Queue panel then shows no card for the chunk); the last one shows the mp4 only
    assert "ui" not in outputs[0] and "ui" not in outputs[1]
    assert outputs[2]["ui"] == {"images": [{"filename": "long_00001_.mp4", "subfolder": "", "type": "output"}],
                                "animated": [True]}
    final = outputs[2]["result"][0]
    with av.open(final) as container:
        assert container.streams.video[0].frames == 90
        assert container.streams.video[0].average_rate == 30
        audio_stream = container.streams.audio[0]
        assert abs(float(audio_stream.duration * audio_stream.time_base) - 3.0) < 1 / 30
    assert sorted(p.name for p in (comfy_home / "output").iterdir()) == ["long_00001_.mp4"]


def test_keyframe_nodes_on_beats(pack, song):
    (audio,) = run(pack, "AudioWalkLoadAudio", audio=song, start_seconds=0.0, duration_seconds=0.0)
    features = run(pack, "AudioWalkAudioFeatures", audio=audio, **feature_inputs())[0]
    images = torch.linspace(0, 1, 90).reshape(90, 1, 1, 1).expand(90, 4, 4, 3).contiguous()
    keyframes, plan = run(pack, "AudioWalkSelectKeyframes", images=images, interpolation_steps=3, mode="beats",
                          features=features)
    assert set(plan.indices) - {0, 89} <= set(features.beat_frames.tolist())
    assert len(plan.indices) >= 5 and keyframes.shape[0] == len(plan.indices)
    (frames,) = run(pack, "AudioWalkInterpolateFrames", keyframes=keyframes, keyframe_info=plan)
    assert torch.allclose(frames, images, atol=1e-6)  # a linear ramp is reproduced exactly from any keyframes


def test_the_bundled_demo_song_is_the_synthesised_one_and_load_audio_offers_it(pack, comfy_home):
    """The shipped templates run as opened: Load Audio lists and loads the pack's own copy of the demo song."""
    from audiowalk_core.audio import BUNDLED_DEMO_SONG, load_audio

    shipped = load_audio(BUNDLED_DEMO_SONG)
    expected = synthesize_demo_song()
    assert shipped.sample_rate == expected.sample_rate and shipped.samples.shape == expected.samples.shape
    assert np.abs(shipped.samples - expected.samples).max() <= 1.0 / 32767  # 16-bit FLAC of the same song
    node = nodes(pack)["AudioWalkLoadAudio"]
    assert BUNDLED_DEMO_SONG.name in node.INPUT_TYPES()["required"]["audio"][0]
    assert node.VALIDATE_INPUTS(audio=BUNDLED_DEMO_SONG.name) is True
    (audio,) = run(pack, "AudioWalkLoadAudio", audio=BUNDLED_DEMO_SONG.name, start_seconds=0.0, duration_seconds=1.0)
    assert tuple(audio["waveform"].shape) == (1, 2, 44100)
    # a missing song: ONE message that says to upload or pick a song
    verdict = node.VALIDATE_INPUTS(audio="my song.mp3")
    assert "upload" in verdict and "pick one" in verdict and "'my song.mp3'" in verdict
    import inspect

    assert list(inspect.signature(node.VALIDATE_INPUTS).parameters) == ["audio"]  # ComfyUI blames only `audio`


def test_the_shipped_workflow_and_audiowalk_render_compute_the_same_latents(pack, comfy_home):
    """One pipeline definition: the shipped BigGAN workflow's walk nodes, run with the widget values in its API
    file, give exactly the latents `audiowalk render` computes (audiowalk_core.pipeline) for the same song."""
    import json

    from audiowalk_core.audio import BUNDLED_DEMO_SONG, load_audio
    from audiowalk_core.pipeline import DEFAULT_PIPELINE, compute_song_features, make_walk_latents
    from support import REPO_ROOT

    from support import run_api_prompt

    prompt = json.loads((REPO_ROOT / "workflows" / "api" / "audiowalk_biggan.json").read_text())
    wanted = ("AudioWalkLoadAudio", "AudioWalkAudioFeatures", "AudioWalkBandNoiseWalk", "AudioWalkClassSchedule",
              "AudioWalkMakeLatents", "AudioWalkSmoothLatents")
    outputs = run_api_prompt(pack, prompt, only=wanted)  # in dependency order, as ComfyUI runs them
    smooth_id = next(i for i, n in prompt.items() if n["class_type"] == "AudioWalkSmoothLatents")
    from_workflow = outputs[smooth_id][0]
    song = load_audio(BUNDLED_DEMO_SONG)
    from_render = make_walk_latents(compute_song_features(song, DEFAULT_PIPELINE), DEFAULT_PIPELINE)
    assert from_workflow.frame_count == from_render.frame_count == 600
    assert np.array_equal(from_workflow.noise, from_render.noise)
    assert np.array_equal(from_workflow.dense_class_weights(), from_render.dense_class_weights())
    assert from_workflow.truncation == from_render.truncation == DEFAULT_PIPELINE.truncation


def test_is_changed_answers_are_json_the_frontend_can_parse(pack, comfy_home):
    """ComfyUI keeps IS_CHANGED results inside the prompt it serves from /queue and /history; the frontend parses
    those with JSON.parse, which refuses NaN (the usual "always run" idiom): every answer must be strict JSON and
    differ between calls where the node must run again."""
    import json

    calls = {"AudioWalkRenderChunks": {}, "AudioWalkLoadAudio": {"audio": "missing.wav"},
             "AudioWalkLoadStems": {"stems": "drums = missing.wav"}}
    with_is_changed = {name for name, cls in nodes(pack).items() if hasattr(cls, "IS_CHANGED")}
    assert with_is_changed == set(calls)  # a node that gains IS_CHANGED gets a case here
    for name, inputs in calls.items():
        first, second = (nodes(pack)[name].IS_CHANGED(**inputs) for _ in range(2))
        json.dumps(first, allow_nan=False)
        assert first != second, name  # a missing file or a chunk plan: run again every time
