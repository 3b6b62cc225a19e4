"""The fast PNG writer: lossless for every layout and depth, at every level, with ISA-L or zlib, note included."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oftsr_edge.runtime.io import encode, image_io
from oftsr_edge.runtime.io.encode import up_filtered, write_png

LAYOUTS = [(np.uint8, ()), (np.uint8, (2,)), (np.uint8, (3,)), (np.uint8, (4,)), (np.uint16, ()), (np.uint16, (3,)),
           (np.uint16, (4,))]  # fmt: skip


def _pixels(dtype: type, extra: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    peak = np.iinfo(dtype).max
    smooth = np.linspace(0, peak, 37 * 23).reshape(37, 23)
    image = np.broadcast_to(smooth.reshape(37, 23, *([1] * len(extra))), (37, 23, *extra)).copy()
    image += rng.integers(0, peak // 8, image.shape)  # texture, and wrap-around in the Up filter
    return np.clip(image, 0, peak).astype(dtype)


@pytest.mark.parametrize("dtype,extra", LAYOUTS)
@pytest.mark.parametrize("level", [0, 1, 3, 6, 9])
def test_every_layout_round_trips_exactly(tmp_path: Path, dtype: type, extra: tuple[int, ...], level: int) -> None:
    pixels = _pixels(dtype, extra)
    path = tmp_path / "x.png"
    image_io.write_image(path, pixels, png_compression=level)
    back = image_io.read_image(path)
    assert back.dtype == pixels.dtype and np.array_equal(back, pixels)


def test_zlib_is_used_without_isal_and_gives_the_same_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = _pixels(np.uint8, (3,))
    with_isal = io.BytesIO()
    write_png(with_isal, pixels, 1)
    monkeypatch.setattr(encode, "_ISAL", None)
    assert encode.deflator(1) == "zlib"
    plain = io.BytesIO()
    write_png(plain, pixels, 1)
    for data in (with_isal, plain):
        data.seek(0)
        assert np.array_equal(np.asarray(Image.open(data)), pixels)


def test_levels_above_3_always_use_zlib() -> None:
    assert encode.deflator(4) == encode.deflator(9) == "zlib"


def test_up_filter_is_the_difference_to_the_row_above() -> None:
    pixels = np.array([[[10, 20, 30]], [[5, 25, 30]]], dtype=np.uint8)  # 2 rows, 1 RGB pixel
    rows = up_filtered(pixels)
    assert rows[:, 0].tolist() == [2, 2]
    assert rows[0, 1:].tolist() == [10, 20, 30] and rows[1, 1:].tolist() == [251, 5, 0]  # 5 - 10 wraps to 251


def test_the_note_is_stored_and_read_back_without_decoding(tmp_path: Path) -> None:
    path = tmp_path / "n.png"
    image_io.write_image(path, _pixels(np.uint8, (3,)), note="oftsr-edge settings {}")
    assert image_io.read_note(path) == "oftsr-edge settings {}"


def test_bad_levels_and_dtypes_are_refused() -> None:
    with pytest.raises(ValueError, match="0-9"):
        write_png(io.BytesIO(), _pixels(np.uint8, ()), 10)
    with pytest.raises(TypeError):
        write_png(io.BytesIO(), np.zeros((2, 2), np.float32), 1)


def test_jpeg_and_webp_quality_changes_the_file(tmp_path: Path) -> None:
    pixels = _pixels(np.uint8, (3,))
    for ext in ("jpg", "webp"):
        low, high = tmp_path / f"low.{ext}", tmp_path / f"high.{ext}"
        image_io.write_image(low, pixels, quality=20)
        image_io.write_image(high, pixels, quality=95)
        assert low.stat().st_size < high.stat().st_size


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_image_layout_matches_what_read_image_returns(tmp_path: Path, orientation: int) -> None:
    cases = {
        "rgb.png": Image.fromarray(_pixels(np.uint8, (3,))),
        "la.png": Image.fromarray(_pixels(np.uint8, (2,)), "LA"),
        "gray.jpg": Image.fromarray(_pixels(np.uint8, ())),
        "pal.png": Image.fromarray(_pixels(np.uint8, (3,))).convert("P"),
    }
    for name, image in cases.items():
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(tmp_path / name, exif=exif.tobytes())
    image_io.write_image(tmp_path / "deep.png", _pixels(np.uint16, (3,)))
    for path in tmp_path.iterdir():
        pixels = image_io.read_image(path)
        height, width, itemsize, channels = image_io.image_layout(path)
        expected = (*pixels.shape[:2], pixels.dtype.itemsize, 1 if pixels.ndim == 2 else pixels.shape[2])
        assert (height, width, itemsize, channels) == expected, path.name
