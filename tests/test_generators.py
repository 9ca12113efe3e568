"""The generator seam: any handle renders any fitting WalkLatents through one call, and WalkLatents carries no
BigGAN assumption (conditioning width, per-frame extras)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from audiowalk_core.clock import FrameClock
from audiowalk_core.errors import AudioWalkInputError
from audiowalk_core.generators import GeneratorHandle, biggan, check_latents_fit, generate_frames
from audiowalk_core.latents import WalkLatents

TINY = biggan.tiny_config()


def latents(frames: int, noise_width: int = 128, columns: int = 1000, **fields) -> WalkLatents:
    rng = np.random.default_rng(3)
    noise = (rng.standard_normal((frames, noise_width)) * 0.4).astype(np.float32)
    weights = rng.dirichlet(np.full(columns, 0.1), size=frames).astype(np.float32) if columns else \
        np.zeros((frames, 0), np.float32)
    return WalkLatents(noise, weights, 0.4, 3, FrameClock(Fraction(24), 44100, frames), **fields)


@pytest.fixture(scope="module")
def handle():
    return biggan.handle_from_weights(biggan.random_biggan_weights(TINY, 2), TINY, dtype="float32", device="cpu")


def test_a_biggan_handle_is_a_generator_handle_and_the_seam_dispatches_to_it(handle):
    assert isinstance(handle, GeneratorHandle)
    assert (handle.kind, handle.resolution, handle.noise_dim, handle.condition_dim) == ("biggan", 32, 128, 1000)
    walk = latents(5)
    through_seam = torch.cat(list(generate_frames(handle, walk, batch_size=2)))
    direct = torch.cat(list(handle.generate_frames(walk, batch_size=5)))
    assert through_seam.shape == (5, 32, 32, 3) and through_seam.dtype == torch.float32
    assert torch.allclose(through_seam, direct, atol=1e-6)
    pixels = torch.cat(list(generate_frames(handle, walk, batch_size=2, output_format="uint8")))
    assert pixels.dtype == torch.uint8 and pixels.shape == (5, 32, 32, 3)
    assert handle.generation_bytes(4) == 4 * handle.generation_bytes(1) > 0


def test_latents_made_for_another_generator_are_refused_before_any_work(handle):
    for walk, words in ((latents(3, noise_width=512), "noise \\[N, 512\\] with 1000 conditioning columns"),
                        (latents(3, columns=10, condition_count=10), "noise \\[N, 128\\] with 10 conditioning")):
        with pytest.raises(AudioWalkInputError, match=f"^latents: {words}.*do not fit the biggan generator"):
            check_latents_fit(handle, walk)
        with pytest.raises(AudioWalkInputError, match="^latents: "):
            generate_frames(handle, walk)
    with pytest.raises(AudioWalkInputError, match="^output_format: 'float32' is unknown"):
        generate_frames(handle, latents(2), output_format="float32")


def test_the_column_check_follows_condition_count():
    assert latents(4, columns=10, condition_count=10).class_weights.shape == (4, 10)
    unconditional = latents(4, columns=0, condition_count=0)
    assert unconditional.dense_class_weights().shape == (4, 0) and unconditional.class_columns()[0] == ()
    with pytest.raises(AudioWalkInputError, match="^latents: class weights with 1000 columns; expected 10 columns"):
        latents(4, columns=1000, condition_count=10)
    compact = latents(4, columns=2, condition_count=10, class_indices=(3, 7))
    dense = compact.dense_class_weights(1, 3)
    assert dense.shape == (2, 10) and np.array_equal(dense[:, [3, 7]], compact.class_weights[1:3])
    assert dense[:, [0, 1, 2, 4, 5, 6, 8, 9]].sum() == 0
    with pytest.raises(AudioWalkInputError, match="^latents: class indices .* reach past 10"):
        latents(4, columns=2, condition_count=10, class_indices=(3, 10))


def test_extras_are_sliced_and_taken_with_the_rows():
    frames = 9
    styles = np.arange(frames * 3 * 4, dtype=np.float32).reshape(frames, 3, 4)
    marks = np.arange(frames) * 10
    walk = latents(frames, extras={"styles": styles, "marks": marks})
    part = walk.slice_frames(2, 4)
    assert part.first_frame == 2 and part.frame_count == 4
    assert np.array_equal(part.extras["styles"], styles[2:6]) and np.array_equal(part.extras["marks"], marks[2:6])
    nested = part.slice_frames(1, 2)  # a slice of a slice: rows of the whole, absolute first frame
    assert nested.first_frame == 3 and np.array_equal(nested.extras["styles"], styles[3:5])
    taken = part.take_frames([5, 3])
    assert taken.first_frame == 5 and np.array_equal(taken.extras["marks"], [50, 30])
    assert np.array_equal(taken.noise, walk.noise[[5, 3]])
    assert latents(3).extras == {}
    with pytest.raises(AudioWalkInputError, match="^latents: extra 'styles' of shape \\(8, 3, 4\\) for 9 frames"):
        latents(frames, extras={"styles": styles[:8]})
