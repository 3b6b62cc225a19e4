"""16-bit colour PNG read/write with numpy + zlib, because Pillow cannot hold 16-bit RGB(A) or gray+alpha images.

Pillow opens a 48/64-bit PNG as 8-bit RGB(A), silently dropping precision; a 16-bit photo must stay 16-bit through
the upscaler. Only what PNG needs is here: chunk walking with CRC checks, the five scanline filters (reconstructed
along anti-diagonals, so numpy does the work even for the Paeth and Average filters, which depend on the pixel to
the left), non-interlaced images, and a writer that stores rows unfiltered. 16-bit gray and every 8-bit PNG go
through Pillow as usual.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from oftsr_edge.errors import OftsrError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel
_TYPE_FOR_CHANNELS = {1: 0, 2: 4, 3: 2, 4: 6}


def png_header(path: Path) -> tuple[int, int] | None:
    """(bit depth, colour type) from a PNG's IHDR, or None if the file is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or not head.startswith(SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def needs_png16(path: Path) -> bool:
    """True for a 16-bit PNG that Pillow would truncate to 8 bits (colour, or gray with alpha)."""
    header = png_header(path)
    return header is not None and header[0] == 16 and header[1] in (2, 4, 6)


def _chunks(data: bytes, source: str) -> list[tuple[bytes, bytes]]:
    out, pos = [], len(SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise OftsrError(f"{source}: truncated PNG")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise OftsrError(f"{source}: truncated PNG")
        if struct.unpack(">I", crc)[0] != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise OftsrError(f"{source}: corrupt PNG (bad CRC in {kind.decode('latin-1')} chunk)")
        out.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            return out
    raise OftsrError(f"{source}: truncated PNG (no IEND chunk)")


def _unfilter(raw: np.ndarray, height: int, width: int, bpp: int) -> np.ndarray:
    """Undo the per-row PNG filters; returns (height, width·bpp) uint8.

    A pixel depends on its left, upper and upper-left neighbours only, so all pixels on one anti-diagonal
    (row + column = const) can be reconstructed at once.
    """
    kinds = raw[:, 0].astype(np.int32)
    if (kinds > 4).any():
        raise OftsrError("corrupt PNG (unknown scanline filter)")
    filt = raw[:, 1:].reshape(height, width, bpp).astype(np.int32)
    if not (kinds >= 3).any():  # None/Sub/Up rows: one vectorised pass per row
        out = np.zeros((height + 1, width, bpp), dtype=np.int32)
        for r in range(height):
            row = filt[r]
            if kinds[r] == 1:
                row = np.cumsum(row, axis=0)
            elif kinds[r] == 2:
                row = row + out[r]
            out[r + 1] = row & 0xFF
        return out[1:].reshape(height, width * bpp).astype(np.uint8)
    rec = np.zeros((height + 1, width + 1, bpp), dtype=np.int32)  # row 0 / column 0: the zero border
    for d in range(height + width - 1):
        r = np.arange(max(0, d - width + 1), min(height, d + 1))
        x = d - r
        a, b, c = rec[r + 1, x], rec[r, x + 1], rec[r, x]
        k = kinds[r][:, None]
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        pred = np.select([k == 1, k == 2, k == 3, k == 4], [a, b, (a + b) >> 1, paeth], 0)
        rec[r + 1, x + 1] = (filt[r, x] + pred) & 0xFF
    return rec[1:, 1:].reshape(height, width * bpp).astype(np.uint8)


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR, without reading further: what a decompression-bomb check needs."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or not head.startswith(SIGNATURE):
        raise OftsrError(f"{path}: not a PNG file")
    return struct.unpack(">II", head[16:24])


def read_png16(path: Path) -> tuple[np.ndarray, bytes | None]:
    """Decode a non-interlaced 16-bit PNG into (H, W[, C]) uint16, plus its raw eXIf payload (if any).

    The image data is never inflated past what the header declares (callers check the declared size first)."""
    source = str(path)
    data = Path(path).read_bytes()
    if not data.startswith(SIGNATURE):
        raise OftsrError(f"{source}: not a PNG file")
    chunks = _chunks(data, source)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise OftsrError(f"{source}: corrupt PNG (no IHDR)")
    width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if depth != 16 or ctype not in _CHANNELS:
        raise OftsrError(f"{source}: not a 16-bit gray/RGB PNG (depth {depth}, colour type {ctype})")
    if interlace:
        raise OftsrError(f"{source}: interlaced 16-bit PNG is not supported; re-save it without interlacing")
    if width == 0 or height == 0:
        raise OftsrError(f"{source}: PNG has zero size")
    channels = _CHANNELS[ctype]
    bpp = 2 * channels
    stride = 1 + width * bpp
    try:  # never inflate more than the header declares: a small file must not expand without bound
        raw = zlib.decompressobj().decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"),
                                              stride * height)  # fmt: skip
    except zlib.error as exc:
        raise OftsrError(f"{source}: corrupt PNG image data ({exc})") from None
    except MemoryError:
        raise OftsrError(f"{source}: not enough memory for a {width}x{height} 16-bit image") from None
    if len(raw) < stride * height:
        raise OftsrError(f"{source}: truncated PNG image data")
    rows = np.frombuffer(raw, dtype=np.uint8, count=stride * height).reshape(height, stride)
    pixels = _unfilter(rows, height, width, bpp).view(">u2").astype(np.uint16)
    exif = next((body for kind, body in chunks if kind == b"eXIf"), None)
    shape = (height, width) if channels == 1 else (height, width, channels)
    pixels = pixels.reshape(shape)
    key = next((body for kind, body in chunks if kind == b"tRNS"), None)
    if ctype == 2 and key is not None and len(key) == 6:  # a colour key: that RGB value is transparent
        opaque = (pixels != np.array(struct.unpack(">HHH", key), np.uint16)).any(axis=2)
        pixels = np.concatenate([pixels, np.where(opaque, 65535, 0).astype(np.uint16)[..., None]], axis=2)
    _icc_note(next((body for kind, body in chunks if kind == b"iCCP"), None), source)
    return pixels, exif


def _icc_note(iccp: bytes | None, source: str) -> None:
    """A 16-bit PNG with a non-sRGB ICC profile keeps its values (only 8-bit images are converted, see
    :mod:`oftsr_edge.runtime.io.colour`): say so in one line instead of shifting its colours silently."""
    if not iccp or b"\0" not in iccp:
        return
    from oftsr_edge.runtime.io import colour

    try:
        profile = zlib.decompress(iccp.split(b"\0", 1)[1][1:])
    except zlib.error:
        return
    colour.warn_unconverted(profile, source)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def write_png16(f: BinaryIO, pixels: np.ndarray, level: int = 6, exif: bytes | None = None) -> None:
    """Encode (H, W) or (H, W, C) uint16 as a 16-bit PNG into the open binary file ``f`` (with an ``eXIf`` chunk
    before the image data when ``exif`` is given, where Pillow reads it without decoding pixels)."""
    if pixels.dtype != np.uint16:
        raise TypeError(f"write_png16 needs uint16 pixels, got {pixels.dtype}")
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    rows = np.ascontiguousarray(pixels, dtype=">u2").reshape(height, width * channels).view(np.uint8)
    raw = np.zeros(
        (height, 1 + rows.shape[1]), dtype=np.uint8
    )  # filter byte 0 ("None") in front of every row
    raw[:, 1:] = rows
    f.write(SIGNATURE)
    f.write(
        _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, _TYPE_FOR_CHANNELS[channels], 0, 0, 0))
    )
    if exif:
        f.write(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    f.write(_chunk(b"IDAT", zlib.compress(raw.tobytes(), level)))
    f.write(_chunk(b"IEND", b""))
