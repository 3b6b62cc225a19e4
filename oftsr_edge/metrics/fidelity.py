"""Full-reference fidelity metrics on the Y channel, the standard SR protocol.

Y is ITU-R BT.601 luma of 8-bit-range RGB (16..235), as MATLAB's ``rgb2ycbcr`` and every SR paper's tables use;
``scale`` pixels are cropped from each border before comparing, because bicubic and networks both guess there.
"""

from __future__ import annotations

import numpy as np


def to_float255(image: np.ndarray) -> np.ndarray:
    """uint8/uint16/float-in-[0,1] image → float64 in [0, 255]."""
    if image.dtype == np.uint8:
        return image.astype(np.float64)
    if image.dtype == np.uint16:
        return image.astype(np.float64) * (255.0 / 65535.0)
    return image.astype(np.float64) * 255.0


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """BT.601 luma in [16, 235] from an (H, W, 3) RGB image; an (H, W) or (H, W, 1) gray image is returned as is."""
    x = to_float255(image)
    if x.ndim == 2:
        return x
    if x.shape[-1] == 1:
        return x[..., 0]
    return 16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0


def crop_border(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border > 0 else image


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB between two same-shape float arrays on a 0..``peak`` scale (inf when identical)."""
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)


def psnr_y(sr: np.ndarray, hr: np.ndarray, border: int = 0) -> float:
    """PSNR on Y with ``border`` pixels cropped (pass the SR scale)."""
    return psnr(crop_border(rgb_to_y(sr), border), crop_border(rgb_to_y(hr), border))
