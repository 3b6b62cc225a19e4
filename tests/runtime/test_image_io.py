"""Image files in and out: bit depth, gray/colour/alpha, EXIF orientation, odd modes, bad files, atomic writes."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.io.image_io import orient, read_image, write_image
from oftsr_edge.runtime.io.png16 import SIGNATURE, read_png16

RNG = np.random.default_rng(0)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def _filtered_png16(pixels: np.ndarray, filters: list[int], exif: bytes | None = None) -> bytes:
    """A 16-bit PNG whose rows use the given filter types (0–4), written the slow obvious way."""
    h, w, c = pixels.shape
    bpp = 2 * c
    rows = pixels.astype(">u2").reshape(h, w * c).view(np.uint8).astype(np.int64)
    out, prior = [], np.zeros(w * bpp, dtype=np.int64)
    for y in range(h):
        cur = rows[y]
        left = np.concatenate([np.zeros(bpp, np.int64), cur[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int64), prior[:-bpp]])
        p = left + prior - upleft
        pa, pb, pc = np.abs(p - left), np.abs(p - prior), np.abs(p - upleft)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prior, upleft))
        pred = [0, left, prior, (left + prior) // 2, paeth][filters[y]]
        out.append(bytes([filters[y]]) + ((cur - pred) & 0xFF).astype(np.uint8).tobytes())
        prior = cur
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    body = SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, 0))
    if exif is not None:
        body += _chunk(b"eXIf", exif)
    return body + _chunk(b"IDAT", zlib.compress(b"".join(out))) + _chunk(b"IEND", b"")


def _exif_with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()[6:]  # drop the "Exif\0\0" header, as PNG's eXIf chunk stores it


@pytest.mark.parametrize("channels", [3, 4, 2])
def test_16bit_png_round_trip_stays_16bit(tmp_path: Path, channels: int) -> None:
    pixels = RNG.integers(0, 65536, (9, 13, channels), dtype=np.uint16)
    path = write_image(tmp_path / "a.png", pixels)
    back = read_image(path)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, pixels)


def test_16bit_gray_png_round_trip(tmp_path: Path) -> None:
    pixels = RNG.integers(0, 65536, (9, 13), dtype=np.uint16)
    back = read_image(write_image(tmp_path / "g.png", pixels))
    assert back.dtype == np.uint16 and back.shape == (9, 13)
    np.testing.assert_array_equal(back, pixels)


def test_png16_decoder_undoes_every_filter(tmp_path: Path) -> None:
    pixels = RNG.integers(0, 65536, (10, 7, 3), dtype=np.uint16)
    for filters in ([0, 1, 2, 3, 4] * 2, [1] * 10, [4] * 10, [2, 3] * 5):
        path = tmp_path / "f.png"
        path.write_bytes(_filtered_png16(pixels, filters))
        np.testing.assert_array_equal(read_png16(path)[0], pixels)


@pytest.mark.parametrize(
    "mode,shape", [("L", (6, 8)), ("RGB", (6, 8, 3)), ("RGBA", (6, 8, 4)), ("LA", (6, 8, 2))]
)
def test_8bit_layouts_round_trip(tmp_path: Path, mode: str, shape: tuple[int, ...]) -> None:
    pixels = RNG.integers(0, 256, shape, dtype=np.uint8)
    back = read_image(write_image(tmp_path / "x.png", pixels))
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, pixels)


def test_odd_modes_are_converted(tmp_path: Path) -> None:
    rgb = Image.fromarray(RNG.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    rgb.quantize(16).save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (6, 8, 3)
    pal = rgb.quantize(16)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pt.png", transparency=0)
    assert read_image(tmp_path / "pt.png").shape == (6, 8, 4)
    rgb.convert("CMYK").save(tmp_path / "c.jpg")
    assert read_image(tmp_path / "c.jpg").shape == (6, 8, 3)
    rgb.convert("1").save(tmp_path / "b.png")
    one = read_image(tmp_path / "b.png")
    assert one.shape == (6, 8) and set(np.unique(one)) <= {0, 255}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    pixels = RNG.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(tmp_path / "o.png", exif=exif.tobytes())
    upright = read_image(tmp_path / "o.png")
    expected = np.asarray(image.transpose(_PIL_OPS[orientation])) if orientation in _PIL_OPS else pixels
    np.testing.assert_array_equal(upright, expected)
    np.testing.assert_array_equal(orient(pixels, orientation), expected)


def test_exif_orientation_of_16bit_png(tmp_path: Path) -> None:
    pixels = RNG.integers(0, 65536, (4, 6, 3), dtype=np.uint16)
    (tmp_path / "r.png").write_bytes(_filtered_png16(pixels, [0] * 4, exif=_exif_with_orientation(6)))
    np.testing.assert_array_equal(read_image(tmp_path / "r.png"), np.rot90(pixels, -1))


_PIL_OPS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def test_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    good = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good, "PNG")
    (tmp_path / "trunc.png").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "x.gif").write_bytes(good.getvalue())
    jpg = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(jpg, "JPEG")
    (tmp_path / "trunc.jpg").write_bytes(jpg.getvalue()[:300])
    png16 = _filtered_png16(RNG.integers(0, 65536, (8, 8, 3), dtype=np.uint16), [0] * 8)
    (tmp_path / "trunc16.png").write_bytes(png16[:-30])
    (tmp_path / "crc16.png").write_bytes(png16[:40] + bytes([png16[40] ^ 1]) + png16[41:])
    for name in ("trunc.png", "text.png", "x.gif", "trunc.jpg", "missing.png", "trunc16.png", "crc16.png"):
        with pytest.raises(OftsrError) as info:
            read_image(tmp_path / name)
        assert name in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(OftsrError):
        read_image(tmp_path)


def test_writes_are_atomic_and_leave_nothing_on_failure(tmp_path: Path) -> None:
    pixels = RNG.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    with pytest.raises(OftsrError):
        write_image(tmp_path / "out.xyz", pixels)
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(OftsrError):
        write_image(tmp_path / "blocker" / "out.png", pixels)
    with pytest.raises(OftsrError):
        write_image(tmp_path / "bad.png", np.zeros((4, 4, 5), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]
    path = write_image(tmp_path / "ok.png", pixels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "ok.png"]  # no temp file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_formats_without_16bit_or_alpha_get_what_they_can_hold(tmp_path: Path) -> None:
    rgba16 = RNG.integers(0, 65536, (6, 8, 4), dtype=np.uint16)
    with pytest.warns(RuntimeWarning, match="JPEG cannot hold transparency"):
        jpg = read_image(write_image(tmp_path / "a.jpg", rgba16))
    assert jpg.shape == (6, 8, 3) and jpg.dtype == np.uint8
    gray16 = RNG.integers(0, 65536, (6, 8), dtype=np.uint16)
    tif = read_image(write_image(tmp_path / "g.tif", gray16))
    np.testing.assert_array_equal(tif, gray16)
    webp = read_image(write_image(tmp_path / "w.webp", rgba16[..., :3]))
    assert webp.dtype == np.uint8 and webp.shape == (6, 8, 3)
