"""The tiler on numpy stand-ins for a model: geometry, exact blending, noise placement, dtypes, bounded memory.

The tiler trusts its arguments; their checks are the Upscaler's (tests/runtime/test_upscaler.py)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from oftsr_edge.runtime.tiling.blending import blend_ramp
from oftsr_edge.runtime.tiling.geometry import default_overlap, profile_tile, round_up, tile_starts
from oftsr_edge.runtime.tiling.noise import NoiseField
from oftsr_edge.runtime.tiling.tiler import NonFiniteOutputError, Tiler

S = 4


def pointwise(lr: np.ndarray, noise: np.ndarray, t: float) -> np.ndarray:
    """A 'model' whose HR pixel depends only on its own LR pixel, noise and t: tiling must not change it at all."""
    up = lr.repeat(S, axis=2).repeat(S, axis=3)
    return np.clip(0.8 * up + 0.05 * noise + np.float32(0.1 * t), 0.0, 1.0)


def blurry(lr: np.ndarray, noise: np.ndarray, t: float) -> np.ndarray:
    """A 'model' with a 5×5 LR receptive field and zero padding, like a small conv net: tile borders differ."""
    padded = np.pad(lr, ((0, 0), (0, 0), (2, 2), (2, 2)))
    h, w = lr.shape[2:]
    box = sum(padded[:, :, dy : dy + h, dx : dx + w] for dy in range(5) for dx in range(5)) / 25.0
    return pointwise(0.5 * lr + 0.5 * box, noise, t)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


@pytest.fixture(scope="module")
def lr_image() -> np.ndarray:
    rng = np.random.default_rng(0)
    smooth = np.cumsum(np.cumsum(rng.normal(size=(37, 53, 3)), axis=0), axis=1)
    return ((smooth - smooth.min()) / np.ptp(smooth)).astype(np.float32)


def test_tile_starts_cover_evenly_with_enough_overlap() -> None:
    for length in range(32, 300, 14):
        for tile, overlap, multiple in ((32, 8, 4), (48, 16, 8), (16, 0, 2), (24, 4, 2)):
            if length % multiple:
                continue
            starts = tile_starts(length, tile, overlap, multiple)
            assert starts[0] == 0 and starts[-1] == max(0, length - tile)
            assert all(s % multiple == 0 for s in starts)
            assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))
            assert all(b > a for a, b in zip(starts, starts[1:]))


def test_default_overlap_and_profile_tile_keep_the_stride_grid() -> None:
    assert round_up(13, 4) == 16 and round_up(16, 4) == 16 and round_up(0, 8) == 0
    assert default_overlap(0, 8) == 0
    assert default_overlap(64, 8) == 8  # an eighth of the tile, at least 8
    assert default_overlap(256, 8) == 32
    assert default_overlap(132, 8) == 16  # 132 // 8 = 16, already a multiple of 8
    assert default_overlap(100, 8) == 16  # 100 // 8 = 12, rounded up to 16
    assert default_overlap(16, 16) == 0  # never the whole tile
    assert profile_tile(None, 128, 8) == 128 and profile_tile(0, 128, 8) == 128  # whole image: the model's tile
    assert profile_tile(100, 128, 8) == 104  # the tile the tiler will cut


def test_blend_ramps_cross_to_one() -> None:
    ramp = blend_ramp(40)
    np.testing.assert_allclose(ramp + ramp[::-1], 1.0, atol=1e-5)
    assert ramp[:10].max() < 1e-5 and ramp[-10:].min() > 1 - 1e-5  # outer quarters are cropped, not blended
    assert np.all(np.diff(ramp) >= 0)


@pytest.mark.parametrize("tile,overlap,batch", [(8, 4, 1), (16, 4, 3), (16, 8, 2), (12, 0, 1), (32, 8, 4)])
@pytest.mark.parametrize("pipeline", [False, True])
def test_tiled_equals_whole_for_a_pointwise_model(lr_image, tile, overlap, batch, pipeline) -> None:
    whole = Tiler(pointwise, S, 4, tile=0).upscale(lr_image, 0.3, seed=5)
    tiled = Tiler(pointwise, S, 4, tile=tile, overlap=overlap, batch=batch, pipeline=pipeline).upscale(
        lr_image, 0.3, seed=5
    )
    assert tiled.shape == (37 * S, 53 * S, 3) and tiled.dtype == np.float32
    np.testing.assert_allclose(tiled, whole, atol=2e-6)


@pytest.mark.parametrize("tile,overlap", [(16, 8), (24, 8), (32, 16)])
def test_blending_hides_tile_borders_of_a_model_with_context(lr_image, tile, overlap) -> None:
    whole = Tiler(blurry, S, 4, tile=0).upscale(lr_image, 0.3, seed=5)
    tiled = Tiler(blurry, S, 4, tile=tile, overlap=overlap).upscale(lr_image, 0.3, seed=5)
    assert psnr(tiled, whole) >= 45.0


def test_backend_sees_fixed_tiles_and_position_keyed_noise(lr_image) -> None:
    calls = []

    def spy(lr, noise, t):
        calls.append((lr.copy(), noise.copy(), t))
        return pointwise(lr, noise, t)

    tiler = Tiler(spy, S, 4, tile=16, overlap=4, batch=2, pipeline=False)
    tiler.upscale(lr_image, 0.7, seed=11)
    plan = tiler.plan(37, 53)
    tiles = [(y, x) for y in plan.rows.starts for x in plan.cols.starts]
    assert [c[0].shape[0] for c in calls] == [2] * (len(tiles) // 2) + [1] * (len(tiles) % 2)
    assert all(c[0].shape[2:] == (16, 16) and c[1].shape[2:] == (64, 64) for c in calls)
    assert all(c[2] == 0.7 and isinstance(c[2], float) for c in calls)  # the knob itself, one float per call
    noises = np.concatenate([c[1] for c in calls])
    field = NoiseField(11)
    for (y, x), noise in zip(tiles, noises):
        np.testing.assert_array_equal(noise, field.region(y * S, x * S, 64, 64))


def test_small_images_are_padded_to_the_tile_or_only_to_multiple_of() -> None:
    shapes = []

    def spy(lr, noise, t):
        shapes.append(lr.shape)
        return pointwise(lr, noise, t)

    image = np.random.default_rng(1).random((5, 7, 3)).astype(np.float32)
    out = Tiler(spy, S, 4, tile=16, overlap=4, fixed_shape=True).upscale(image, 0.5)
    assert shapes == [(1, 3, 16, 16)] and out.shape == (20, 28, 3)
    shapes.clear()
    out2 = Tiler(spy, S, 4, tile=16, overlap=4, fixed_shape=False).upscale(image, 0.5)
    assert shapes == [(1, 3, 8, 8)]
    np.testing.assert_allclose(out, out2, atol=2e-6)  # padding never moves a real pixel


def test_progress_is_reported_per_tile(lr_image) -> None:
    seen = []
    tiler = Tiler(pointwise, S, 4, tile=16, overlap=4, batch=3)
    tiler.upscale(lr_image, 0.5, progress=lambda done, total: seen.append((done, total)))
    count = tiler.plan(37, 53).count
    assert seen == [(k, count) for k in range(1, count + 1)]


@pytest.mark.parametrize("dtype,peak", [(np.uint8, 255), (np.uint16, 65535)])
def test_integer_dtypes_round_trip(lr_image, dtype, peak) -> None:
    as_int = np.rint(lr_image * peak).astype(dtype)
    out = Tiler(pointwise, S, 4, tile=16, overlap=4).upscale(as_int, 0.5, seed=2)
    ref = Tiler(pointwise, S, 4, tile=16, overlap=4).upscale(as_int.astype(np.float32) / peak, 0.5, seed=2)
    assert out.dtype == dtype
    assert np.abs(out.astype(np.float64) / peak - ref).max() <= 0.5 / peak + 1e-6


def test_gray_goes_in_as_rgb_and_comes_back_as_luma(lr_image) -> None:
    gray = lr_image[..., :1]
    out = Tiler(pointwise, S, 4, tile=16, overlap=4).upscale(gray, 0.5, seed=3)
    rgb = Tiler(pointwise, S, 4, tile=16, overlap=4).upscale(np.repeat(gray, 3, axis=2), 0.5, seed=3)
    assert out.shape == (37 * S, 53 * S, 1)
    np.testing.assert_allclose(
        out[..., 0], rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32), atol=1e-5
    )


def test_non_finite_output_is_caught_only_when_asked() -> None:
    def broken(lr, noise, t):
        out = pointwise(lr, noise, t)
        out[0, 0, 0, 0] = np.nan
        return out

    image = np.zeros((8, 8, 3), dtype=np.float32)
    with pytest.raises(NonFiniteOutputError):
        Tiler(broken, S, 4, tile=8, check_finite=True).upscale(image, 0.5)
    Tiler(broken, S, 4, tile=8, check_finite=False).upscale(image, 0.5)


def test_memory_is_one_band_plus_the_output() -> None:
    """A tall image: whole-image float32 buffers would be 16 MB; the band is 3·64·128·4 B = 96 KiB."""
    image = np.zeros((1024, 32, 3), dtype=np.uint8)
    tiler = Tiler(pointwise, S, 4, tile=16, overlap=4, pipeline=False)
    tracemalloc.start()
    out = tiler.upscale(image, 0.5)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < out.nbytes + 4 * 2**20, (
        f"peak {peak / 2**20:.1f} MiB for a {out.nbytes / 2**20:.1f} MiB output"
    )
