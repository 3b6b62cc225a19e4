"""Colour of image files: ICC profiles converted to sRGB on reading, outputs tagged sRGB, tRNS colour keys kept as
alpha, 32-bit integer images scaled by a stated rule, 16-bit kept in TIFF, and dropped transparency said aloud."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.io import png16
from oftsr_edge.runtime.io.image_io import read_image, write_image
from tests.helpers.icc import adobe_to_srgb, matrix_profile

RNG = np.random.default_rng(7)


def _adobe_pixels() -> np.ndarray:
    pixels = RNG.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    pixels[0, :3] = [(0, 255, 0), (128, 128, 128), (200, 30, 60)]  # saturated green: the largest shift
    return pixels


@pytest.mark.parametrize(("suffix", "options"), [(".png", {}), (".jpg", {"quality": 100, "subsampling": 0}),
                                                 (".tif", {}), (".webp", {"lossless": True})])
def test_an_adobe_rgb_photo_is_converted_to_srgb(tmp_path: Path, suffix: str, options: dict) -> None:
    pixels = _adobe_pixels()
    path = tmp_path / f"adobe{suffix}"
    Image.fromarray(pixels).save(path, icc_profile=matrix_profile(), **options)
    stored = np.asarray(Image.open(path).convert("RGB")).astype(int)  # what the file holds (JPEG: after its loss)
    got = read_image(path).astype(int)
    expected = adobe_to_srgb(stored)  # computed without LittleCMS
    assert np.abs(got - expected).max() <= 2
    assert np.abs(stored - expected).max() > 40  # the conversion is not a no-op: dropping the profile would show


def test_alpha_and_gray_keep_their_layout_through_the_conversion(tmp_path: Path) -> None:
    rgba = np.dstack([_adobe_pixels(), RNG.integers(0, 256, (12, 16), dtype=np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "a.png", icc_profile=matrix_profile())
    got = read_image(tmp_path / "a.png")
    assert got.shape == (12, 16, 4)
    np.testing.assert_array_equal(got[..., 3], rgba[..., 3])
    assert np.abs(got[..., :3].astype(int) - adobe_to_srgb(rgba[..., :3])).max() <= 2


def test_srgb_and_untagged_images_are_read_as_they_are(tmp_path: Path) -> None:
    pixels = _adobe_pixels()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(pixels).save(tmp_path / "s.png", icc_profile=srgb)
    Image.fromarray(pixels).save(tmp_path / "u.png")
    np.testing.assert_array_equal(read_image(tmp_path / "s.png"), pixels)
    np.testing.assert_array_equal(read_image(tmp_path / "u.png"), pixels)


def test_a_16_bit_png_with_a_profile_keeps_its_values_and_says_its_colours_are_not_converted(tmp_path: Path) -> None:
    pixels = RNG.integers(0, 65536, (4, 5, 3), dtype=np.uint16)
    path = write_image(tmp_path / "deep.png", pixels)
    data = path.read_bytes()
    body = b"Adobe\0\0" + zlib.compress(matrix_profile())
    chunk = struct.pack(">I", len(body)) + b"iCCP" + body + struct.pack(">I", zlib.crc32(b"iCCP" + body))
    path.write_bytes(data[:33] + chunk + data[33:])  # right after IHDR
    with pytest.warns(RuntimeWarning, match=r"deep.png: a 16-bit image with a non-sRGB ICC profile \(Adobe RGB "
                                            r"\(test\)\): its colours are not converted"):
        got = read_image(path)
    np.testing.assert_array_equal(got, pixels)


def test_outputs_are_tagged_srgb(tmp_path: Path) -> None:
    pixels = _adobe_pixels()
    with Image.open(write_image(tmp_path / "o.png", pixels)) as png:
        assert "srgb" in png.info  # the sRGB chunk
    for suffix in (".jpg", ".webp", ".tif"):
        with Image.open(write_image(tmp_path / f"o{suffix}", pixels)) as image:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
            assert "sRGB" in ImageCms.getProfileDescription(profile), suffix
    deep = write_image(tmp_path / "d.png", RNG.integers(0, 65536, (4, 5, 3), dtype=np.uint16))
    assert b"sRGB" in deep.read_bytes()[:64]


def test_trns_colour_keys_become_alpha(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    rgb[2, 3] = (9, 8, 7)
    Image.fromarray(rgb).save(tmp_path / "rgb.png", transparency=(9, 8, 7))
    got = read_image(tmp_path / "rgb.png")
    assert got.shape == (6, 7, 4) and got[2, 3, 3] == 0 and (got[..., 3] == 0).sum() == (rgb == (9, 8, 7)).all(2).sum()
    np.testing.assert_array_equal(got[..., :3], rgb)
    gray = RNG.integers(10, 256, (6, 7), dtype=np.uint8)
    gray[1, 1] = 5
    Image.fromarray(gray).save(tmp_path / "gray.png", transparency=5)
    got = read_image(tmp_path / "gray.png")
    assert got.shape == (6, 7, 2) and got[1, 1, 1] == 0 and (got[..., 1] == 255).sum() == 41


def test_a_16_bit_rgb_trns_key_becomes_alpha(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 65536, (5, 6, 3), dtype=np.uint16)
    rgb[4, 5] = (1000, 2000, 3000)
    path = write_image(tmp_path / "k.png", rgb)
    data = path.read_bytes()
    body = struct.pack(">HHH", 1000, 2000, 3000)
    chunk = struct.pack(">I", 6) + b"tRNS" + body + struct.pack(">I", zlib.crc32(b"tRNS" + body))
    path.write_bytes(data[:33] + chunk + data[33:])
    assert png16.needs_png16(path)
    got = read_image(path)
    assert got.shape == (5, 6, 4) and got.dtype == np.uint16 and got[4, 5, 3] == 0 and (got[..., 3] == 65535).sum() == 29


@pytest.mark.parametrize(("high", "dtype", "white"), [(255, np.uint8, 255), (1000, np.uint16, 65535)])
def test_a_32_bit_integer_tiff_is_scaled_by_its_value_range(tmp_path: Path, high: int, dtype: type,
                                                             white: int) -> None:
    values = np.linspace(0, high, 64).astype(np.int32).reshape(8, 8)
    Image.fromarray(values, "I").save(tmp_path / "i.tif")
    got = read_image(tmp_path / "i.tif")
    assert got.dtype == dtype  # 0–255 stays 8-bit bright, not 0–255 of 65535 (near black)
    np.testing.assert_array_equal(got, values)


def test_a_32_bit_integer_image_out_of_range_is_one_line(tmp_path: Path) -> None:
    for name, values in (("neg.tif", np.full((4, 4), -3, np.int32)), ("big.tif", np.full((4, 4), 70000, np.int32))):
        Image.fromarray(values, "I").save(tmp_path / name)
        with pytest.raises(OftsrError, match=name):
            read_image(tmp_path / name)


def _tiff_samples(path: Path) -> tuple[tuple[int, ...], np.ndarray]:
    """(BitsPerSample, decoded samples) of a single-strip deflate TIFF, read from its tags (not by Pillow's
    decoder, which would give 8 bits)."""
    with Image.open(path) as image:
        tags = image.tag_v2
        bits, (offset,), (count,) = tuple(tags[258]), tags[273], tags[279]
        width, height, channels = image.size[0], image.size[1], tags[277]
    raw = zlib.decompress(path.read_bytes()[offset : offset + count])
    return bits, np.frombuffer(raw, "<u2").reshape(height, width, channels)


@pytest.mark.parametrize("channels", [3, 4])
def test_16_bit_colour_tiff_is_written_16_bit(tmp_path: Path, channels: int) -> None:
    pixels = RNG.integers(0, 65536, (5, 7, channels), dtype=np.uint16)
    path = write_image(tmp_path / "deep.tif", pixels, note="made by a test")
    bits, samples = _tiff_samples(path)
    assert bits == (16,) * channels
    np.testing.assert_array_equal(samples, pixels)
    with Image.open(path) as image:
        assert image.tag_v2[270] == "made by a test" and "icc_profile" in image.info


def test_transparency_dropped_by_jpeg_is_said_in_one_warning(tmp_path: Path) -> None:
    rgba = RNG.integers(0, 256, (4, 4, 4), dtype=np.uint8)
    with pytest.warns(RuntimeWarning, match=r"a.jpg: JPEG cannot hold transparency; the alpha channel is dropped"):
        write_image(tmp_path / "a.jpg", rgba)
    rgba[..., 3] = 255  # opaque alpha: nothing is lost, nothing to say
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_image(tmp_path / "b.jpg", rgba)
