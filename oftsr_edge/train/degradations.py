"""On-the-fly LR synthesis from HR crops, selectable by name.

- ``bicubic``: antialiased bicubic downsampling (the classic SR degradation), optional Gaussian noise σn, 8-bit
  quantisation (real LR images are 8-bit).
- ``realesrgan``: Real-ESRGAN's second-order degradation (Wang et al. 2021) with its x4plus training ranges: twice
  (blur from six kernel families or a sinc → random resize → Gaussian or Poisson noise → JPEG), then resize to the
  LR size with the final sinc filter and a last JPEG in random order. docs/degradations.md lists every range beside
  Real-ESRGAN's configuration and the few deliberate differences.
- ``realesrgan-mix``: ``realesrgan`` for three images in four, clean ``bicubic`` for the fourth, so a real-photo model
  keeps clean inputs sharp.

All randomness comes from the numpy generator passed in, so a batch is a pure function of the step seed.
Inputs and outputs are float32 tensors (B, 3, H, W) in [0, 1]. Downsampling here may be antialiased: it is the
degradation, not the model's upsample (which is always ``BicubicUpsampler``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from oftsr_edge.errors import OftsrError
from oftsr_edge.train.blur_kernels import KernelRanges, random_kernel, random_sinc


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
    """One order of the second-order degradation; the values are Real-ESRGAN's x4plus training configuration
    (docs/degradations.md compares them line by line)."""

    blur_prob: float
    kernel: KernelRanges
    resize_probs: tuple[float, float, float]  # up, down, keep
    resize_range: tuple[float, float]
    gaussian_noise_prob: float
    noise_sigma: tuple[float, float]  # in 8-bit units
    poisson_scale: tuple[float, float]
    gray_noise_prob: float
    jpeg_range: tuple[int, int]


FIRST_ORDER = StageRanges(1.0, KernelRanges((0.2, 3.0)), (0.2, 0.7, 0.1), (0.15, 1.5), 0.5, (1, 30), (0.05, 3.0), 0.4,
                          (30, 95))
SECOND_ORDER = StageRanges(0.8, KernelRanges((0.2, 1.5)), (0.3, 0.4, 0.3), (0.3, 1.2), 0.5, (1, 25), (0.05, 2.5), 0.4,
                           (30, 95))
FINAL_SINC_PROB = 0.8
RESIZE_MODES = ("area", "bilinear", "bicubic")


def blur(x: torch.Tensor, kernel: np.ndarray) -> torch.Tensor:
    """Depthwise convolution, reflect-padded (replicate when the image is smaller than the kernel's half-width)."""
    k = torch.from_numpy(kernel)[None, None].repeat(x.shape[1], 1, 1, 1)
    pad = kernel.shape[0] // 2
    mode = "reflect" if pad < min(x.shape[-2:]) else "replicate"
    return F.conv2d(F.pad(x, (pad, pad, pad, pad), mode=mode), k, groups=x.shape[1])


def resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """Plain ``F.interpolate`` without antialiasing, as Real-ESRGAN resizes: the aliasing is part of the damage."""
    return F.interpolate(x, size=size, mode=mode, **({} if mode == "area" else {"align_corners": False}))


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


def _jpeg_quality(rng: np.random.Generator, ranges: StageRanges) -> int:
    return int(rng.integers(ranges.jpeg_range[0], ranges.jpeg_range[1] + 1))


def _stage(x: torch.Tensor, rng: np.random.Generator, ranges: StageRanges, base_size: tuple[int, int]) -> torch.Tensor:
    """Blur → random resize (relative to ``base_size``) → Gaussian or Poisson noise → JPEG."""
    if rng.random() < ranges.blur_prob:
        x = blur(x, random_kernel(rng, ranges.kernel))
    kind = rng.choice(3, p=ranges.resize_probs)
    factor = rng.uniform(1.0, ranges.resize_range[1]) if kind == 0 else (
        rng.uniform(ranges.resize_range[0], 1.0) if kind == 1 else 1.0)
    if factor != 1.0:
        size = (max(4, int(base_size[0] * factor)), max(4, int(base_size[1] * factor)))
        x = resize(x, size, str(rng.choice(RESIZE_MODES)))
    return jpeg(add_noise(x, rng, ranges), _jpeg_quality(rng, ranges))


def _final(x: torch.Tensor, rng: np.random.Generator, lr_size: tuple[int, int]) -> torch.Tensor:
    """Resize to the LR size + the final sinc filter, and JPEG, in either order (Real-ESRGAN draws the order 50/50)."""
    sinc = random_sinc(rng, final=True) if rng.random() < FINAL_SINC_PROB else None

    def resize_and_sinc(y: torch.Tensor) -> torch.Tensor:
        y = resize(y, lr_size, str(rng.choice(RESIZE_MODES)))
        return y if sinc is None else blur(y, sinc)

    if rng.random() < 0.5:
        return jpeg(resize_and_sinc(x).clamp(0, 1), _jpeg_quality(rng, SECOND_ORDER))
    return resize_and_sinc(jpeg(x, _jpeg_quality(rng, SECOND_ORDER)))


def degrade_realesrgan(hr: torch.Tensor, scale: int, rng: np.random.Generator, noise_sigma: float = 0.0) -> torch.Tensor:
    """Second-order degradation, image by image; the result has exactly the LR size (H/s, W/s).

    The first order resizes relative to the HR size, the second relative to the LR size (as Real-ESRGAN does), so the
    second order's noise and JPEG blocks land at LR scale, where real photos carry them.
    """
    del noise_sigma  # the stages draw their own noise levels
    lr_size = (hr.shape[-2] // scale, hr.shape[-1] // scale)
    out = []
    for i in range(hr.shape[0]):
        x = _stage(hr[i : i + 1], rng, FIRST_ORDER, tuple(hr.shape[-2:]))
        x = _stage(x, rng, SECOND_ORDER, lr_size)
        out.append(_final(x, rng, lr_size))
    return quantize_8bit(torch.cat(out))


# A quarter of clean inputs: measured on oftsr-real-x4 v1 (realesrgan only), clean Set5 at t = 0 fell 1.3 dB below
# bicubic because the model reads every input as blurred and noisy (docs/models/oftsr-real-x4.md).
MIX_CLEAN_FRACTION = 0.25


def degrade_realesrgan_mix(hr: torch.Tensor, scale: int, rng: np.random.Generator,
                           noise_sigma: float = 0.0) -> torch.Tensor:
    """``realesrgan`` for most images, the clean ``bicubic`` one for a ``MIX_CLEAN_FRACTION`` share, image by image.

    Why: users feed a real-photo model clean images too; it must tell a clean input from a degraded one instead of
    restoring degradations that are not there (which costs sharpness and PSNR on clean photos).
    """
    del noise_sigma  # both branches draw their own (the bicubic share is noiseless)
    out = []
    for i in range(hr.shape[0]):
        one = hr[i : i + 1]
        if rng.random() < MIX_CLEAN_FRACTION:
            out.append(degrade_bicubic(one, scale, rng))
        else:
            out.append(degrade_realesrgan(one, scale, rng))
    return torch.cat(out)


Degradation = Callable[[torch.Tensor, int, np.random.Generator, float], torch.Tensor]
DEGRADATIONS: dict[str, Degradation] = {"bicubic": degrade_bicubic, "realesrgan": degrade_realesrgan,
                                        "realesrgan-mix": degrade_realesrgan_mix}


def get_degradation(name: str) -> Degradation:
    try:
        return DEGRADATIONS[name]
    except KeyError:
        raise OftsrError(f"unknown degradation {name!r}; choose from {', '.join(DEGRADATIONS)}") from None
