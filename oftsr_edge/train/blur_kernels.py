"""Random blur kernels for the ``realesrgan`` degradation (docs/degradations.md has the table and the sources).

Real photos are blurred by optics, motion, resampling and ringing filters, not by one Gaussian. The kernel families
here are those of Real-ESRGAN's training configuration (Wang et al. 2021, §3.1): isotropic and anisotropic Gaussians,
their generalised (exponent β) and plateau-shaped variants, and the 2-D sinc ("circular low-pass") filter that makes
the ringing and overshoot of sharpened or JPEG-resized images. All kernels are odd-sized, normalised to sum 1, and a
pure function of the numpy generator passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import j1

KERNEL_SIZES = tuple(range(7, 22, 2))  # 7, 9, …, 21: the sizes Real-ESRGAN draws from
FAMILIES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")


@dataclass(frozen=True)
class KernelRanges:
    """How one degradation order draws its blur kernel (Real-ESRGAN's ``kernel_prob``, ``sinc_prob``, … options)."""

    sigma: tuple[float, float]
    family_probs: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)  # in the order of FAMILIES
    sinc_prob: float = 0.1
    beta_generalized: tuple[float, float] = (0.5, 4.0)
    beta_plateau: tuple[float, float] = (1.0, 2.0)


def _offsets(size: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(size, dtype=np.float64) - size // 2
    xx, yy = np.meshgrid(r, r)
    return xx, yy


def mahalanobis_sq(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """dᵀΣ⁻¹d on the kernel grid, Σ = R(θ) diag(σx², σy²) R(θ)ᵀ: the shape shared by all Gaussian-like families."""
    xx, yy = _offsets(size)
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * xx + s * yy, -s * xx + c * yy
    return (u / sigma_x) ** 2 + (v / sigma_y) ** 2


def _normalised(k: np.ndarray) -> np.ndarray:
    return (k / k.sum()).astype(np.float32)


def gaussian(size: int, sigma_x: float, sigma_y: float, theta: float, beta: float = 1.0) -> np.ndarray:
    """exp(−½ (dᵀΣ⁻¹d)^β): β = 1 the Gaussian, β < 1 heavier tails, β > 1 a flatter top (generalised Gaussian)."""
    return _normalised(np.exp(-0.5 * mahalanobis_sq(size, sigma_x, sigma_y, theta) ** beta))


def plateau(size: int, sigma_x: float, sigma_y: float, theta: float, beta: float) -> np.ndarray:
    """1 / (1 + (dᵀΣ⁻¹d)^β): a flat centre with slowly decaying tails (defocus-like)."""
    return _normalised(1.0 / (1.0 + mahalanobis_sq(size, sigma_x, sigma_y, theta) ** beta))


def circular_lowpass(size: int, cutoff: float) -> np.ndarray:
    """The ideal 2-D low-pass filter with cutoff ω_c (rad/pixel) cut to ``size``: ω_c·J1(ω_c r) / (2π r).

    Its value at r = 0 is the limit ω_c² / (4π). Truncation makes the ringing that sharpened and resized photos show.
    """
    xx, yy = _offsets(size)
    r = np.hypot(xx, yy)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = cutoff * j1(cutoff * r) / (2.0 * math.pi * r)
    k[size // 2, size // 2] = cutoff**2 / (4.0 * math.pi)
    return _normalised(k)


def _draw_beta(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Half below 1, half above: a uniform draw over [0.5, 4] would almost never give tails heavier than Gaussian."""
    if lo < 1.0 and rng.random() < 0.5:
        return float(rng.uniform(lo, 1.0))
    return float(rng.uniform(max(lo, 1.0), hi))


def random_sinc(rng: np.random.Generator, size: int | None = None, final: bool = False) -> np.ndarray:
    """A sinc kernel; small kernels keep ω_c ≥ π/3, large ones reach π/5 (except the final filter: always ≥ π/3)."""
    size = int(rng.choice(KERNEL_SIZES)) if size is None else size
    low = math.pi / 3 if (final or size < 13) else math.pi / 5
    return circular_lowpass(size, float(rng.uniform(low, math.pi)))


def random_kernel(rng: np.random.Generator, ranges: KernelRanges) -> np.ndarray:
    """One kernel of one order: a sinc with ``sinc_prob``, else a family drawn by ``family_probs``."""
    size = int(rng.choice(KERNEL_SIZES))
    if rng.random() < ranges.sinc_prob:
        return random_sinc(rng, size)
    family = FAMILIES[int(rng.choice(len(FAMILIES), p=np.asarray(ranges.family_probs) / sum(ranges.family_probs)))]
    sigma_x = float(rng.uniform(*ranges.sigma))
    if family.endswith("iso") and not family.endswith("aniso"):
        sigma_y, theta = sigma_x, 0.0
    else:
        sigma_y, theta = float(rng.uniform(*ranges.sigma)), float(rng.uniform(-math.pi, math.pi))
    if family.startswith("generalized"):
        return gaussian(size, sigma_x, sigma_y, theta, _draw_beta(rng, *ranges.beta_generalized))
    if family.startswith("plateau"):
        return plateau(size, sigma_x, sigma_y, theta, _draw_beta(rng, *ranges.beta_plateau))
    return gaussian(size, sigma_x, sigma_y, theta)
