"""On-the-fly LR synthesis from HR crops, selectable by name.

- ``bicubic``: antialiased bicubic downsampling (the classic SR degradation), optional Gaussian noise σn, 8-bit
  quantisation (real LR images are 8-bit).
- ``realesrgan``: a second-order degradation in the spirit of Real-ESRGAN (Wang et al. 2021): twice (blur → random
  resize → Gaussian or Poisson noise → JPEG), then a resize to the LR size and a final JPEG. Parameter ranges follow
  the paper's; the sinc filter is left out.

All randomness comes from the numpy generator passed in, so a batch is a pure function of the step seed.
Inputs and outputs are float32 tensors (B, 3, H, W) in [0, 1]. Downsampling here may be antialiased: it is the
degradation, not the model's upsample (which is always ``BicubicUpsampler``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from oftsr_edge.errors import OftsrError


def quantize_8bit(x: torch.Tensor) -> torch.Tensor:
    return torch.round(x.clamp(0, 1) * 255.0) / 255.0


def bicubic_down(hr: torch.Tensor, scale: int) -> torch.Tensor:
    h, w = hr.shape[-2] // scale, hr.shape[-1] // scale
    return F.interpolate(hr, size=(h, w), mode="bicubic", align_corners=False, antialias=True)


def degrade_bicubic(hr: torch.Tensor, scale: int, rng: np.random.Generator, noise_sigma: float = 0.0) -> torch.Tensor:
    """Bicubic (antialiased) ×1/s, + N(0, σn²) noise in [0, 1] units when ``noise_sigma`` > 0, 8-bit quantised."""
    lr = bicubic_down(hr, scale)
    if noise_sigma > 0:
        lr = lr + torch.from_numpy(rng.standard_normal(lr.shape).astype(np.float32)) * noise_sigma
    return quantize_8bit(lr)


# ---------------------------------------------------------------------------------------------- Real-ESRGAN style


@dataclass(frozen=True)
class StageRanges:
    """Ranges for one order of the Real-ESRGAN degradation (paper Tab./code defaults, first vs second order)."""

    blur_prob: float
    blur_sigma: tuple[float, float]
    resize_probs: tuple[float, float, float]  # up, down, keep
    resize_range: tuple[float, float]
    gaussian_noise_prob: float
    noise_sigma: tuple[float, float]  # in 8-bit units
    poisson_scale: tuple[float, float]
    gray_noise_prob: float
    jpeg_range: tuple[int, int]


FIRST_ORDER = StageRanges(1.0, (0.2, 3.0), (0.2, 0.7, 0.1), (0.15, 1.5), 0.5, (1, 30), (0.05, 3.0), 0.4, (30, 95))
SECOND_ORDER = StageRanges(0.8, (0.2, 1.5), (0.3, 0.4, 0.3), (0.3, 1.2), 0.5, (1, 25), (0.05, 2.5), 0.4, (30, 95))
RESIZE_MODES = ("area", "bilinear", "bicubic")


def gaussian_kernel(rng: np.random.Generator, sigma_range: tuple[float, float]) -> np.ndarray:
    """A random isotropic or anisotropic (rotated) Gaussian blur kernel, odd size 7..21, normalised."""
    size = int(rng.choice(np.arange(7, 22, 2)))
    sx = rng.uniform(*sigma_range)
    sy = sx if rng.random() < 0.5 else rng.uniform(*sigma_range)
    theta = rng.uniform(-math.pi, math.pi)
    r = np.arange(size) - size // 2
    xx, yy = np.meshgrid(r, r)
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * xx + s * yy, -s * xx + c * yy
    k = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
    return (k / k.sum()).astype(np.float32)


def blur(x: torch.Tensor, kernel: np.ndarray) -> torch.Tensor:
    k = torch.from_numpy(kernel)[None, None].repeat(x.shape[1], 1, 1, 1)
    pad = kernel.shape[0] // 2
    return F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="reflect"), k, groups=x.shape[1])


def resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    kwargs = {} if mode == "area" else {"align_corners": False, "antialias": True}
    return F.interpolate(x, size=size, mode=mode, **kwargs)


def add_noise(x: torch.Tensor, rng: np.random.Generator, ranges: StageRanges) -> torch.Tensor:
    gray = rng.random() < ranges.gray_noise_prob
    shape = (1, 1, *x.shape[-2:]) if gray else (1, *x.shape[-3:])
    if rng.random() < ranges.gaussian_noise_prob:
        sigma = rng.uniform(*ranges.noise_sigma) / 255.0
        noise = rng.standard_normal(shape) * sigma
    else:
        scale = rng.uniform(*ranges.poisson_scale)
        base = x.mean(dim=1, keepdim=True) if gray else x
        vals = 256.0  # photon counts per unit intensity: one count per 8-bit level
        counts = np.clip(base.numpy(), 0, 1) * vals
        noise = (rng.poisson(counts) - counts) / vals * scale
    return (x + torch.from_numpy(noise.astype(np.float32))).clamp(0, 1)


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Round-trip one (1, 3, H, W) image through Pillow's JPEG encoder."""
    arr = (x[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        out = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(out).permute(2, 0, 1)[None].contiguous()


def _stage(x: torch.Tensor, rng: np.random.Generator, ranges: StageRanges, base_size: tuple[int, int]) -> torch.Tensor:
    if rng.random() < ranges.blur_prob:
        x = blur(x, gaussian_kernel(rng, ranges.blur_sigma))
    kind = rng.choice(3, p=ranges.resize_probs)
    factor = rng.uniform(1.0, ranges.resize_range[1]) if kind == 0 else (
        rng.uniform(ranges.resize_range[0], 1.0) if kind == 1 else 1.0)
    if factor != 1.0:
        size = (max(4, int(base_size[0] * factor)), max(4, int(base_size[1] * factor)))
        x = resize(x, size, str(rng.choice(RESIZE_MODES)))
    x = add_noise(x, rng, ranges)
    return jpeg(x, int(rng.integers(ranges.jpeg_range[0], ranges.jpeg_range[1] + 1)))


def degrade_realesrgan(hr: torch.Tensor, scale: int, rng: np.random.Generator, noise_sigma: float = 0.0) -> torch.Tensor:
    """Second-order degradation, image by image; the result has exactly the LR size (H/s, W/s)."""
    del noise_sigma  # the stages draw their own noise levels
    lr_size = (hr.shape[-2] // scale, hr.shape[-1] // scale)
    out = []
    for i in range(hr.shape[0]):
        x = hr[i : i + 1]
        x = _stage(x, rng, FIRST_ORDER, tuple(hr.shape[-2:]))
        x = _stage(x, rng, SECOND_ORDER, tuple(hr.shape[-2:]))
        x = resize(x, lr_size, str(rng.choice(RESIZE_MODES)))
        x = jpeg(x, int(rng.integers(*SECOND_ORDER.jpeg_range)))
        out.append(x)
    return quantize_8bit(torch.cat(out))


Degradation = Callable[[torch.Tensor, int, np.random.Generator, float], torch.Tensor]
DEGRADATIONS: dict[str, Degradation] = {"bicubic": degrade_bicubic, "realesrgan": degrade_realesrgan}


def get_degradation(name: str) -> Degradation:
    try:
        return DEGRADATIONS[name]
    except KeyError:
        raise OftsrError(f"unknown degradation {name!r}; choose from {', '.join(DEGRADATIONS)}") from None
