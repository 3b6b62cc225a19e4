"""PSNR/SSIM-Y against independent computations and known values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oftsr_edge.metrics.fidelity import psnr, psnr_y, rgb_to_y, ssim, ssim_y


def _rng_image(seed: int, shape: tuple[int, ...] = (40, 52, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _ssim_direct(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM written the slow, obvious way: a full 11×11 window at every valid position."""
    x = np.arange(11) - 5.0
    g = np.exp(-(x**2) / (2 * 1.5**2))
    w = np.outer(g, g)
    w /= w.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for i in range(a.shape[0] - 10):
        for j in range(a.shape[1] - 10):
            pa, pb = a[i : i + 11, j : j + 11], b[i : i + 11, j : j + 11]
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb = (w * pa * pa).sum() - ma**2, (w * pb * pb).sum() - mb**2
            cov = (w * pa * pb).sum() - ma * mb
            vals.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(vals))


def test_identical_images() -> None:
    img = _rng_image(0)
    assert psnr_y(img, img, border=4) == math.inf
    assert ssim_y(img, img, border=4) == pytest.approx(1.0, abs=1e-12)


def test_constant_offset_psnr_is_known() -> None:
    """A constant offset of d on every RGB channel moves Y by d·(65.481+128.553+24.966)/255 exactly."""
    img = np.full((32, 32, 3), 100, np.uint8)
    off = img + np.uint8(5)
    dy = 5 * (65.481 + 128.553 + 24.966) / 255.0
    assert psnr_y(off, img) == pytest.approx(10 * math.log10(255**2 / dy**2), abs=1e-9)


def test_constant_offset_ssim_luminance_term_only() -> None:
    """For a flat image and a flat offset copy, SSIM reduces to its luminance term (2μaμb + C1)/(μa² + μb² + C1)."""
    a = np.full((20, 20), 100.0)
    b = a + 10.0
    c1 = (0.01 * 255) ** 2
    assert ssim(a, b) == pytest.approx((2 * 100 * 110 + c1) / (100**2 + 110**2 + c1), abs=1e-12)


def test_ssim_matches_direct_window_sum() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 255, (24, 30))
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255)
    assert ssim(a, b) == pytest.approx(_ssim_direct(a, b), abs=1e-10)


def test_psnr_y_matches_independent_formula() -> None:
    a, b = _rng_image(2), _rng_image(3)
    ya = 16 + (65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]) / 255.0
    yb = 16 + (65.481 * b[..., 0] + 128.553 * b[..., 1] + 24.966 * b[..., 2]) / 255.0
    mse = np.mean((ya[4:-4, 4:-4] - yb[4:-4, 4:-4]) ** 2)
    assert psnr_y(a, b, border=4) == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-9)
    assert psnr(ya, yb) == pytest.approx(10 * np.log10(255**2 / np.mean((ya - yb) ** 2)), abs=1e-9)


def test_grayscale_inputs() -> None:
    gray = _rng_image(4, (30, 30))
    rgb = np.repeat(gray[..., None], 3, axis=2)
    assert ssim_y(gray, gray) == pytest.approx(1.0)
    # a gray picture is measured as the colour picture of three equal channels (the SR protocol reads gray
    # files as colour): Y = 16 + 219/255·v whether it comes as (H, W), (H, W, 1) or (H, W, 3)
    assert rgb_to_y(rgb) == pytest.approx(16 + gray * 219.0 / 255.0)
    assert np.allclose(rgb_to_y(gray), rgb_to_y(rgb)) and np.allclose(rgb_to_y(gray[..., None]), rgb_to_y(rgb))
    other = _rng_image(5, (30, 30))
    assert psnr_y(gray, other, border=2) == pytest.approx(
        psnr_y(rgb, np.repeat(other[..., None], 3, axis=2), border=2))
    assert ssim_y(gray, other) == pytest.approx(ssim_y(rgb, np.repeat(other[..., None], 3, axis=2)))


def test_ssim_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        ssim(np.zeros((5, 5)), np.zeros((5, 5)))
    with pytest.raises(ValueError):
        ssim(np.zeros((20, 20)), np.zeros((20, 21)))
