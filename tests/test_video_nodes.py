"""Save Video node edge cases (the main node paths are driven in test_nodes_pipeline.py)."""
import audiowalk_core
import pytest
import torch


def save(pack, **inputs):
    node = pack.NODE_CLASS_MAPPINGS["AudioWalkSaveVideo"]()
    return node.save(**inputs)


def test_a_frame_count_that_disagrees_with_the_chunk_or_the_clock_is_refused(pack, comfy_home):
    from fractions import Fraction

    from audiowalk_core.chunks import plan_chunk
    from audiowalk_core.clock import FrameClock
    from audiowalk_core.features import AudioFeatures

    clock = FrameClock(Fraction(30000, 1001), 48000, 100)
    chunk = plan_chunk(100, 40, 1, clock, "abc")
    with pytest.raises(audiowalk_core.AudioWalkInputError, match=r"images: 39 frames for chunk 2 of 3: frames 40-79 "
                                                                 r"of 100 \(40 frames\)"):
        save(pack, images=torch.rand(39, 16, 16, 3), filename_prefix="c", crf=23, chunk=chunk)
    features = AudioFeatures(clock=clock, curves={})
    with pytest.raises(audiowalk_core.AudioWalkInputError, match="images: 99 frames, but the song has 100 frames"):
        save(pack, images=torch.rand(99, 16, 16, 3), filename_prefix="c", crf=23, features=features)
    assert list((comfy_home / "output").iterdir()) == []


def test_the_features_clock_gives_the_exact_frame_rate(pack, comfy_home):
    import av
    from fractions import Fraction

    from audiowalk_core.clock import FrameClock
    from audiowalk_core.features import AudioFeatures

    features = AudioFeatures(clock=FrameClock(Fraction(30000, 1001), 48000, 12), curves={})
    result = save(pack, images=torch.rand(12, 16, 16, 3), filename_prefix="ntsc", crf=23, features=features)
    with av.open(result["result"][0]) as container:
        assert container.streams.video[0].average_rate == Fraction(30000, 1001)


@pytest.mark.parametrize("prefix", ["../out", "/abs/video", "a\\b", "", "AudioWalk/.."])
def test_bad_prefixes_are_refused_when_the_prompt_is_validated(pack, comfy_home, prefix):
    verdict = pack.NODE_CLASS_MAPPINGS["AudioWalkSaveVideo"].VALIDATE_INPUTS(filename_prefix=prefix)
    assert isinstance(verdict, str) and verdict.startswith("filename_prefix")
    assert pack.NODE_CLASS_MAPPINGS["AudioWalkSaveVideo"].VALIDATE_INPUTS(filename_prefix="AudioWalk/ok") is True


def test_keyframes_resized_by_img2img_are_interpolated_at_their_size(pack):
    nodes = pack.NODE_CLASS_MAPPINGS
    images = torch.rand(9, 20, 28, 3)
    keyframes, plan = nodes["AudioWalkSelectKeyframes"]().select(images, 3, "every_n")
    assert keyframes.shape == (3, 20, 28, 3)
    (frames,) = nodes["AudioWalkInterpolateFrames"]().interpolate(torch.rand(3, 16, 24, 3), plan)
    assert frames.shape == (9, 16, 24, 3)


def test_prompt_and_workflow_are_embedded_where_the_frontend_reads_them(pack, comfy_home):
    """Like ComfyUI's savers: "prompt" and each extra_pnginfo key ("workflow") as mp4 tags, in a moov box at the
    start of the file (the frontend parses only the first 64 MiB of a dropped video); chunk joins too."""
    import json

    import av

    from audiowalk_core.chunks import plan_chunk
    from audiowalk_core.clock import FrameClock

    prompt = {"1": {"class_type": "AudioWalkSaveVideo", "inputs": {"filename_prefix": "meta"}}}
    workflow = {"nodes": [{"id": 1, "type": "AudioWalkSaveVideo"}], "links": []}
    whole = save(pack, images=torch.rand(8, 16, 16, 3), filename_prefix="meta", crf=23, fps="8", prompt=prompt,
                 extra_pnginfo={"workflow": workflow})["result"][0]
    clock = FrameClock(8, 48000, 16)
    for index in (0, 1):
        joined = save(pack, images=torch.rand(8, 16, 16, 3), filename_prefix="meta_chunks", crf=23,
                      chunk=plan_chunk(16, 8, index, clock, "r"), prompt=prompt,
                      extra_pnginfo={"workflow": workflow})["result"][0]
    for path in (whole, joined):
        with av.open(path) as container:
            assert json.loads(container.metadata["prompt"]) == prompt
            assert json.loads(container.metadata["workflow"]) == workflow
        data = open(path, "rb").read()
        assert data.find(b"moov") < data.find(b"mdat")
