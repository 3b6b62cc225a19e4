"""Property tests (hypothesis): the tiler's geometry for any size, tile, overlap, multiple and scale, and the image
decoder on mutated files (the only exception that may come out is our one error type)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.io import image_io
from oftsr_edge.runtime.tiling.blending import BLEND_MARGIN, axis_weights
from oftsr_edge.runtime.tiling.geometry import plan_axis
from oftsr_edge.runtime.tiling.tiler import Tiler

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def geometries(draw: st.DrawFn) -> tuple[int, int, int, int, int, bool]:
    """(length, tile, overlap, multiple_of, scale, fixed_shape): tile 0 (whole) or a valid tiling of the runtime."""
    multiple = draw(st.sampled_from([1, 2, 4, 8]))
    scale = draw(st.sampled_from([2, 3, 4]))
    length = draw(st.integers(1, 300))
    if draw(st.booleans()):
        return length, 0, 0, multiple, scale, draw(st.booleans())
    units = draw(st.integers(max(2, -(-8 // multiple)), 24))
    overlap_units = draw(st.integers(0, units - 1))
    return length, units * multiple, overlap_units * multiple, multiple, scale, draw(st.booleans())


@FAST
@given(geometries())
def test_tiles_cover_the_axis_on_the_grid_and_weights_sum_to_one(geometry: tuple) -> None:
    length, tile, overlap, multiple, scale, fixed = geometry
    axis = plan_axis(length, tile, overlap, multiple, fixed)
    assert axis.padded >= length and axis.padded % multiple == 0
    assert all(s % multiple == 0 and 0 <= s and s + axis.tile <= axis.padded for s in axis.starts)
    covered = np.zeros(axis.padded, bool)
    for start in axis.starts:
        covered[start : start + axis.tile] = True
    assert covered.all()
    for a, b in zip(axis.starts, axis.starts[1:]):
        assert a < b and a + axis.tile - b >= min(overlap, axis.tile)
    total = np.zeros(axis.padded * scale)
    for start, weight in zip(axis.starts, axis_weights(axis, scale, BLEND_MARGIN)):
        assert weight.shape == (axis.tile * scale,) and (weight >= 0).all()
        total[start * scale : (start + axis.tile) * scale] += weight
    np.testing.assert_allclose(total, 1.0, atol=1e-5)


def _nearest(scale: int):  # a local "network": each HR pixel depends only on its LR pixel
    return lambda lr, noise, t: lr.repeat(scale, axis=2).repeat(scale, axis=3)


@FAST
@given(
    st.integers(1, 70), st.integers(1, 70), st.sampled_from([1, 2, 4]), st.sampled_from([2, 4]),
    st.integers(0, 3), st.integers(0, 3), st.booleans(),
)  # fmt: skip
def test_tiled_output_has_the_exact_shape_and_every_pixel(
    height: int, width: int, multiple: int, scale: int, tile_units: int, overlap_units: int, fixed: bool
) -> None:
    """With a local network every tile agrees, so blending with weights that sum to one must give exactly the
    whole-image result: any uncovered or double-counted pixel would show."""
    tile = 0 if tile_units == 0 else max(8, 2 * multiple) + 4 * multiple * (tile_units - 1)
    overlap = min(overlap_units * multiple, max(tile - multiple, 0))
    rng = np.random.default_rng(height * 1000 + width)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    tiler = Tiler(_nearest(scale), scale, multiple, tile=tile, overlap=overlap, batch=2, fixed_shape=fixed)
    out = tiler.upscale(image, 0.5, seed=1)
    assert out.shape == (height * scale, width * scale, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, image.repeat(scale, axis=0).repeat(scale, axis=1))


def _valid_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (10, 13, 3), dtype=np.uint8))
    files = {}
    for ext, fmt in (("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP"), ("tif", "TIFF"), ("bmp", "BMP")):
        buffer = io.BytesIO()
        rgb.save(buffer, format=fmt)
        files[ext] = buffer.getvalue()
    buffer = io.BytesIO()
    image_io.encode.write_png(buffer, rng.integers(0, 65536, (10, 13, 3), dtype=np.uint16), 1)
    files["16.png"] = buffer.getvalue()
    return files


VALID = _valid_files()


@st.composite
def mutated_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid file of some format with bytes flipped, cut, repeated or inserted: what a flaky card reader,
    an interrupted copy or a fuzzer hands the runtime."""
    ext = draw(st.sampled_from(sorted(VALID)))
    data = bytearray(VALID[ext])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "repeat"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            data = data[:at]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            data += data[at : at + draw(st.integers(1, 64))]
    return ext, bytes(data)


@pytest.fixture
def small_pixel_limit():
    """Mutated headers may declare any size: a low limit keeps every decode small (and exercises the guard)."""
    before = image_io.max_pixels()
    image_io.set_max_pixels(200_000)
    yield
    image_io.set_max_pixels(before)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(mutated_files())
def test_mutated_files_raise_only_our_error(small_pixel_limit: None, tmp_path: Path, mutated: tuple) -> None:
    ext, data = mutated
    path = tmp_path / f"m.{ext.split('.')[-1]}"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's own notes on odd files are not errors
        try:
            pixels = image_io.read_image(path)
            layout = image_io.image_layout(path)
        except OftsrError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
            return
    assert pixels.dtype in (np.uint8, np.uint16) and pixels.size > 0
    assert layout[:2] == pixels.shape[:2]
