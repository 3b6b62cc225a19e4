"""A matrix/TRC ICC profile built from its numbers (no profile file needs to ship with the tests): Adobe RGB
(1998)'s primaries adapted to D50, as in Adobe's own profile, and a pure gamma curve."""

from __future__ import annotations

import struct

import numpy as np

# D50-adapted colorants (columns of the RGB → XYZ(D50) matrix)
ADOBE_RGB = ((0.60974, 0.31111, 0.01947), (0.20528, 0.62567, 0.06087), (0.14919, 0.06322, 0.74457))
SRGB = ((0.43607, 0.22249, 0.01392), (0.38515, 0.71687, 0.09708), (0.14307, 0.06061, 0.71410))
ADOBE_GAMMA = 563 / 256  # 2.19921875, as the profile stores it (u8Fixed8)
D50 = (0.9642, 1.0, 0.8249)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(values: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in values)


def _desc(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return (b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text + b"\0" * 8 + b"\0\0\0" + b"\0" * 67)


def matrix_profile(name: str = "Adobe RGB (test)", colorants=ADOBE_RGB, gamma: float = ADOBE_GAMMA) -> bytes:
    """An ICC v2 RGB display profile with these colorants and gamma."""
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    tags = [(b"desc", _desc(name)), (b"wtpt", _xyz(D50)), (b"rXYZ", _xyz(colorants[0])),
            (b"gXYZ", _xyz(colorants[1])), (b"bXYZ", _xyz(colorants[2])), (b"rTRC", curve), (b"gTRC", curve),
            (b"bTRC", curve), (b"cprt", b"text\0\0\0\0no copyright, test data\0")]  # fmt: skip
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
              + b"".join(_s15(v) for v in D50) + b"\0" * 48)  # fmt: skip
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def adobe_to_srgb(rgb8: np.ndarray) -> np.ndarray:
    """Adobe RGB 8-bit values → sRGB 8-bit values, computed independently of LittleCMS (matrices + curves,
    out-of-gamut clipped)."""
    linear = (rgb8.astype(np.float64) / 255.0) ** ADOBE_GAMMA
    xyz = linear @ np.array(ADOBE_RGB)
    srgb_linear = np.clip(xyz @ np.linalg.inv(np.array(SRGB)), 0.0, 1.0)
    encoded = np.where(srgb_linear <= 0.0031308, 12.92 * srgb_linear, 1.055 * srgb_linear ** (1 / 2.4) - 0.055)
    return np.rint(encoded * 255.0)
