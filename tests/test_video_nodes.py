"""Save Video node edge cases (the main node paths are driven in test_nodes_pipeline.py)."""
import audiowalk_core
import pytest
import torch


def save(pack, **inputs):
    node = pack.NODE_CLASS_MAPPINGS["AudioWalkSaveVideo"]()
    return node.save(**inputs)


def test_a_chunk_without_total_frames_is_refused(pack, comfy_home):
    with pytest.raises(audiowalk_core.AudioWalkInputError, match="total_frames"):
        save(pack, images=torch.rand(4, 16, 16, 3), fps=30.0, filename_prefix="c", crf=23, chunk_start_frame=8)
    assert list((comfy_home / "output").iterdir()) == []


def test_a_chunk_past_the_end_is_refused(pack, comfy_home):
    with pytest.raises(audiowalk_core.AudioWalkInputError, match="chunk_start_frame"):
        save(pack, images=torch.rand(4, 16, 16, 3), fps=30.0, filename_prefix="c", crf=23, chunk_start_frame=8,
             total_frames=10)


def test_keyframes_resized_by_img2img_are_interpolated_at_their_size(pack):
    nodes = pack.NODE_CLASS_MAPPINGS
    images = torch.rand(9, 20, 28, 3)
    keyframes, plan = nodes["AudioWalkSelectKeyframes"]().select(images, 3, "every_n")
    assert keyframes.shape == (3, 20, 28, 3)
    (frames,) = nodes["AudioWalkInterpolateFrames"]().interpolate(torch.rand(3, 16, 24, 3), plan)
    assert frames.shape == (9, 16, 24, 3)
