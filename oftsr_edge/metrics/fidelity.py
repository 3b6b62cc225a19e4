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


#: BT.601 Y weights for 8-bit-range RGB; they sum to 219, the span of Y's 16..235 range
Y_WEIGHTS = (65.481, 128.553, 24.966)


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """BT.601 luma in [16, 235] from an (H, W, 3) RGB image. An (H, W) or (H, W, 1) gray image is the RGB image of
    three equal channels, so its Y is 16 + 219·v/255: the standard SR protocol reads a gray file as colour
    (Set14's bridge), and comparing gray values on their full 0..255 range instead would score that image
    1.3 dB lower than every published table does."""
    x = to_float255(image)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 2:
        return 16.0 + x * (sum(Y_WEIGHTS) / 255.0)
    return 16.0 + (Y_WEIGHTS[0] * x[..., 0] + Y_WEIGHTS[1] * x[..., 1] + Y_WEIGHTS[2] * x[..., 2]) / 255.0


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


def _gaussian_1d(size: int, sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian; its outer product is MATLAB's ``fspecial('gaussian', size, sigma)``."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(image: np.ndarray, kernel_1d: np.ndarray) -> np.ndarray:
    """2-D 'valid' correlation with the separable kernel ``k ⊗ k`` (MATLAB ``filter2(w, x, 'valid')``)."""
    k = kernel_1d.size
    rows = sum(kernel_1d[i] * image[i : image.shape[0] - k + 1 + i] for i in range(k))
    return sum(kernel_1d[j] * rows[:, j : rows.shape[1] - k + 1 + j] for j in range(k))


def ssim(a: np.ndarray, b: np.ndarray, peak: float = 255.0, window: int = 11, sigma: float = 1.5) -> float:
    """SSIM of two same-shape 2-D arrays, as Wang et al.'s ``ssim_index.m`` computes it for SR papers.

    11×11 Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03, 'valid' filtering (no padding, no automatic
    downsampling), mean of the SSIM map. Separable filtering is exact because the 2-D window is an outer product.
    """
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    if a.ndim != 2:
        raise ValueError(f"ssim expects 2-D arrays (use ssim_y for colour images), got shape {a.shape}")
    if min(a.shape) < window:
        raise ValueError(f"image {a.shape} is smaller than the {window}×{window} SSIM window")
    x, y = a.astype(np.float64), b.astype(np.float64)
    g = _gaussian_1d(window, sigma)
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    var_x = _filter_valid(x * x, g) - mu_x * mu_x
    var_y = _filter_valid(y * y, g) - mu_y * mu_y
    cov = _filter_valid(x * y, g) - mu_x * mu_y
    num = (2.0 * mu_x * mu_y + c1) * (2.0 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return float(np.mean(num / den))


def ssim_y(sr: np.ndarray, hr: np.ndarray, border: int = 0) -> float:
    """SSIM on Y (BT.601, 0..255 scale, not rounded, as :func:`psnr_y`) with ``border`` pixels cropped."""
    return ssim(crop_border(rgb_to_y(sr), border), crop_border(rgb_to_y(hr), border))
