"""NIQE, the no-reference naturalness score used as the realism proxy along the fidelity–realism knob t.

Lower is more natural. This follows the official MATLAB release (Mittal, Soundararajan & Bovik, "Making a
'Completely Blind' Image Quality Analyzer", IEEE SPL 2013) step by step, because NIQE numbers are only comparable
with published ones when every detail matches:

- the image is the BT.601 Y channel rounded to integers (MATLAB ``rgb2ycbcr`` on uint8), cropped to whole 96×96
  blocks (no overlap);
- MSCN coefficients ``(I − μ)/(σ + 1)`` with the 7×7 Gaussian window of the pristine model, replicate padding;
- per block 18 features: an asymmetric generalized Gaussian (AGGD) fit of the coefficients and of their products
  with the four circularly shifted neighbours; at two scales, the second after MATLAB ``imresize(·, 0.5)`` (bicubic
  with antialiasing, written out below);
- the Mahalanobis-like distance between the fitted Gaussian of the blocks (NaN-aware) and the pristine model.

The pristine parameters ship as ``niqe_pris_params.npz`` (BasicSR's copy of MATLAB's ``modelparameters.mat``,
Apache-2.0; see ``NIQE_PARAMS_LICENSE.txt``). Only numpy is used, so the base install can compute it.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import numpy as np

from oftsr_edge.metrics.fidelity import crop_border, rgb_to_y

BLOCK = 96
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


@lru_cache(maxsize=1)
def pristine_params() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu 36, cov 36×36, gaussian window 7×7) of the pristine model shipped with the package."""
    ref = resources.files("oftsr_edge.metrics").joinpath("niqe_pris_params.npz")
    with resources.as_file(ref) as path, np.load(path) as data:
        return (
            np.asarray(data["mu_pris_param"], np.float64).reshape(-1),
            np.asarray(data["cov_pris_param"], np.float64),
            np.asarray(data["gaussian_window"], np.float64),
        )


@lru_cache(maxsize=1)
def _aggd_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MATLAB's search grid α = 0.2:0.001:10 with r(α) = Γ(2/α)²/(Γ(1/α)Γ(3/α)) and the gammas reused later."""
    alpha = 0.2 + 0.001 * np.arange(9801)
    g1 = np.array([math.gamma(1.0 / a) for a in alpha])
    g2 = np.array([math.gamma(2.0 / a) for a in alpha])
    g3 = np.array([math.gamma(3.0 / a) for a in alpha])
    return alpha, g2 * g2 / (g1 * g3), g1, g2, g3


def _nearest_index(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the table entry nearest to each value (first one on a tie), as MATLAB's ``min((r − v).^2)``.

    r(α) increases monotonically on the grid, so a binary search replaces scanning 9,801 entries per fit.
    """
    hi = np.clip(np.searchsorted(table, values), 1, table.size - 1)
    lo = hi - 1
    take_hi = np.abs(table[hi] - values) < np.abs(values - table[lo])
    return np.where(take_hi, hi, lo)


def _aggd_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Moment-matching AGGD fit of each row of ``x``: (α, β_left, β_right, Γ(2/α)/Γ(1/α)); NaN where a side is empty."""
    alpha_grid, r_grid, g1, g2, g3 = _aggd_table()
    with np.errstate(invalid="ignore", divide="ignore"):
        neg, pos = x < 0, x > 0
        left = np.sqrt(np.sum(np.where(neg, x * x, 0.0), axis=1) / np.sum(neg, axis=1))
        right = np.sqrt(np.sum(np.where(pos, x * x, 0.0), axis=1) / np.sum(pos, axis=1))
        gamma_hat = left / right
        r_hat = np.mean(np.abs(x), axis=1) ** 2 / np.mean(x * x, axis=1)
        r_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
        idx = _nearest_index(r_grid, np.nan_to_num(r_norm, nan=0.0))
        ratio = np.sqrt(g1[idx] / g3[idx])
        return alpha_grid[idx], left * ratio, right * ratio, g2[idx] / g1[idx]


def _block_features(mscn: np.ndarray, block: int) -> np.ndarray:
    """18 features for each ``block``×``block`` tile of the MSCN image: (n_blocks, 18)."""
    nh, nw = mscn.shape[0] // block, mscn.shape[1] // block
    tiles = mscn[: nh * block, : nw * block].reshape(nh, block, nw, block).transpose(0, 2, 1, 3)
    tiles = tiles.reshape(nh * nw, block, block)
    flat = tiles.reshape(len(tiles), -1)
    alpha, left, right, _ = _aggd_fit(flat)
    feats = [alpha, (left + right) / 2.0]
    for shift in _SHIFTS:
        prod = (tiles * np.roll(tiles, shift, axis=(1, 2))).reshape(len(tiles), -1)
        alpha, left, right, g21 = _aggd_fit(prod)
        feats += [alpha, (right - left) * g21, left, right]
    return np.stack(feats, axis=1)


def _filter_replicate(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Same-size correlation with edge replication (MATLAB ``imfilter(·, w, 'replicate')``)."""
    kh, kw = window.shape
    padded = np.pad(image, ((kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2)), mode="edge")
    h, w = image.shape
    out = np.zeros_like(image)
    for i in range(kh):
        for j in range(kw):
            out += window[i, j] * padded[i : i + h, j : j + w]
    return out


def _mscn(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    mu = _filter_replicate(image, window)
    sigma = np.sqrt(np.abs(_filter_replicate(image * image, window) - mu * mu))
    return (image - mu) / (sigma + 1.0)


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic with a = −0.5, MATLAB ``imresize``'s kernel."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    inner = 1.5 * ax3 - 2.5 * ax2 + 1.0
    outer = -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    return np.where(ax <= 1, inner, np.where(ax <= 2, outer, 0.0))


def matlab_resize_matrix(in_len: int, scale: float) -> np.ndarray:
    """(out, in) weights of MATLAB ``imresize`` along one axis: bicubic, antialiased when shrinking, symmetric edges.

    Output sample i (1-based) sits at u = i/scale + (1 − 1/scale)/2; when shrinking the kernel is stretched by
    1/scale and scaled by ``scale``; each row of weights is normalised; indices beyond the edge mirror back.
    """
    out_len = int(math.ceil(in_len * scale))
    kernel_width = 4.0 / scale if scale < 1 else 4.0
    u = np.arange(1, out_len + 1, dtype=np.float64) / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    dist = u[:, None] - idx
    weights = scale * _cubic(scale * dist) if scale < 1 else _cubic(dist)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    src = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
    matrix = np.zeros((out_len, in_len))
    np.add.at(matrix, (np.repeat(np.arange(out_len), taps), src.reshape(-1)), weights.reshape(-1))
    return matrix


def matlab_resize(image: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB ``imresize(image, scale)`` (bicubic, antialiased) of a 2-D float array, without rounding."""
    rows = matlab_resize_matrix(image.shape[0], scale)
    cols = matlab_resize_matrix(image.shape[1], scale)
    return rows @ image @ cols.T


def niqe_y(y: np.ndarray) -> float:
    """NIQE of a 2-D luma array on the 0..255 scale (already rounded if MATLAB parity matters).

    Raises ``ValueError`` when the image holds no whole 96×96 block; returns NaN when too few blocks have
    finite features to fit a covariance (e.g. a flat image).
    """
    if y.ndim != 2:
        raise ValueError(f"niqe_y expects a 2-D luma array, got shape {y.shape}")
    h, w = (y.shape[0] // BLOCK) * BLOCK, (y.shape[1] // BLOCK) * BLOCK
    if h == 0 or w == 0:
        raise ValueError(
            f"NIQE needs an image of at least {BLOCK}×{BLOCK} pixels, got {y.shape[1]}×{y.shape[0]}"
        )
    mu_pris, cov_pris, window = pristine_params()
    image = y[:h, :w].astype(np.float64)
    scale1 = _block_features(_mscn(image, window), BLOCK)
    half = matlab_resize(image / 255.0, 0.5) * 255.0
    scale2 = _block_features(_mscn(half, window), BLOCK // 2)
    feats = np.concatenate([scale1, scale2], axis=1)
    finite = feats[np.all(np.isfinite(feats), axis=1)]
    if len(finite) < 2:
        return float("nan")
    with np.errstate(invalid="ignore"):
        mu_dist = np.nanmean(np.where(np.isfinite(feats), feats, np.nan), axis=0)
    cov_dist = np.cov(finite, rowvar=False)
    diff = mu_pris - mu_dist
    quality = diff @ np.linalg.pinv((cov_pris + cov_dist) / 2.0) @ diff
    return float(np.sqrt(quality))


def niqe(image: np.ndarray, border: int = 0) -> float:
    """NIQE of an RGB (H, W, 3) or gray image (uint8, uint16 or float in [0, 1]); ``border`` pixels are cropped.

    The luma is rounded to integers first, as MATLAB's ``rgb2ycbcr`` does on uint8 images (half away from zero).
    """
    y = np.floor(rgb_to_y(image) + 0.5)
    return niqe_y(crop_border(y, border))
