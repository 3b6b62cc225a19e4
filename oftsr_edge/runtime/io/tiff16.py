"""16-bit colour TIFF writing with numpy + zlib, because Pillow cannot hold 16-bit RGB(A) or gray+alpha images.

A 16-bit photo asked for as ``.tif`` must stay 16-bit (TIFF is the format people keep 16-bit work in); Pillow would
write it as 8 bits. This writes one baseline little-endian TIFF: one strip, chunky samples, Adobe Deflate
compression (code 8, what libtiff, Photoshop and GIMP read), the sRGB ICC profile, and the note as the
ImageDescription tag. 16-bit gray goes through Pillow; 16-bit gray + alpha is written as 8 bits by Pillow, because
Pillow (and so ``oftsr-edge`` itself) cannot open a 16-bit gray + alpha TIFF at all. Pillow reads 16-bit colour
TIFFs as 8 bits, so the full depth of these files is for other programs.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

_SHORT, _LONG, _ASCII, _UNDEFINED = 3, 4, 2, 7
_PHOTOMETRIC = {3: 2, 4: 2}  # channels -> RGB (with alpha)


def write_tiff16(f: BinaryIO, pixels: np.ndarray, icc: bytes | None = None, note: str | None = None,
                 level: int = 6) -> None:
    """Encode (H, W, C) uint16, C = 3 (RGB) or 4 (RGBA), as a 16-bit TIFF into ``f``."""
    if pixels.dtype != np.uint16 or pixels.ndim != 3 or pixels.shape[2] not in _PHOTOMETRIC:
        raise TypeError(f"write_tiff16 needs (H, W, 3-4) uint16 pixels, got {pixels.shape} {pixels.dtype}")
    height, width, channels = pixels.shape
    strip = zlib.compress(np.ascontiguousarray(pixels, dtype="<u2").tobytes(), level)
    extras = []  # (tag, type, count, payload bytes) stored after the IFD
    bits = struct.pack("<" + "H" * channels, *([16] * channels))
    tags: list[tuple[int, int, int, bytes]] = [
        (256, _LONG, 1, struct.pack("<I", width)),
        (257, _LONG, 1, struct.pack("<I", height)),
        (258, _SHORT, channels, bits),
        (259, _SHORT, 1, struct.pack("<H", 8)),  # Adobe Deflate
        (262, _SHORT, 1, struct.pack("<H", _PHOTOMETRIC[channels])),
    ]
    if note is not None:
        tags.append((270, _ASCII, len(note) + 1, note.encode("ascii", "replace") + b"\0"))
    tags += [
        (273, _LONG, 1, b""),  # StripOffsets: filled in below
        (277, _SHORT, 1, struct.pack("<H", channels)),
        (278, _LONG, 1, struct.pack("<I", height)),
        (279, _LONG, 1, struct.pack("<I", len(strip))),
        (284, _SHORT, 1, struct.pack("<H", 1)),  # chunky
    ]
    if channels == 4:
        tags.append((338, _SHORT, 1, struct.pack("<H", 2)))  # ExtraSamples: unassociated alpha
    if icc:
        tags.append((34675, _UNDEFINED, len(icc), icc))
    ifd_size = 2 + 12 * len(tags) + 4
    offset = 8 + ifd_size
    entries = []
    for tag, kind, count, payload in tags:
        if tag == 273:
            entries.append((tag, kind, count, None))
            continue
        if len(payload) <= 4:
            entries.append((tag, kind, count, payload.ljust(4, b"\0")))
        else:
            offset += offset % 2  # word-aligned values
            entries.append((tag, kind, count, struct.pack("<I", offset)))
            extras.append((offset, payload))
            offset += len(payload)
    offset += offset % 2
    strip_offset = offset
    out = bytearray(b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(entries)))
    for tag, kind, count, value in entries:
        out += struct.pack("<HHI", tag, kind, count) + (value if value is not None else struct.pack("<I", strip_offset))
    out += struct.pack("<I", 0)  # no next IFD
    for at, payload in extras:
        out += b"\0" * (at - len(out)) + payload
    out += b"\0" * (strip_offset - len(out))
    f.write(bytes(out))
    f.write(strip)
