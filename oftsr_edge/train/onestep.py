"""One-step OFTSR inference (Eq. 13) as one module: the PyTorch reference that the ONNX export traces.

``OneStepSR(lr, noise, t) -> hr`` follows the contract of docs/architecture.md §3: ``lr`` in [0, 1] at LR size, ``noise`` standard
normal at HR size, ``t`` of shape (N,), ``hr`` in [0, 1] clamped. Everything happens in pixel-unshuffled layout, so
the only HR-size work is unshuffling the noise, the residual add, the clamp and one final pixel shuffle.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from oftsr_edge.train.bicubic import BicubicUpsampler
from oftsr_edge.train.model import OFTSRUNet, as_batch_t


class OneStepSR(nn.Module):
    """hr = clamp(x0 + v_φ(concat(x0, x_lr), t)) with x0 = sqrt(1 − σp²)·x_lr + σp·ε, in [0, 1] I/O."""

    def __init__(self, student: OFTSRUNet, sigma_p: float) -> None:
        super().__init__()
        self.student = student
        self.scale = student.scale
        self.sigma_p = float(sigma_p)
        self.lr_weight = math.sqrt(1.0 - self.sigma_p**2)
        self.upsampler = BicubicUpsampler(self.scale)

    def forward(self, lr: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        s = self.scale
        x_lr_u = self.upsampler(lr * 2.0 - 1.0)
        x0_u = self.lr_weight * x_lr_u + self.sigma_p * F.pixel_unshuffle(noise, s)
        hr_u = x0_u + self.student.velocity_unshuffled(x0_u, x_lr_u, t)
        return F.pixel_shuffle(torch.clamp(hr_u * 0.5 + 0.5, 0.0, 1.0), s)


@torch.no_grad()
def upscale_reference(
    model: OneStepSR, lr: torch.Tensor, t: float | torch.Tensor, seed: int | None = 0, noise: torch.Tensor | None = None
) -> torch.Tensor:
    """Reference one-step upscale of ``lr`` (N, 3, h, w) in [0, 1]; noise from a seeded torch generator if not given."""
    n, c, h, w = lr.shape
    if noise is None:
        gen = torch.Generator().manual_seed(seed if seed is not None else 0)
        noise = torch.randn(n, c, h * model.scale, w * model.scale, generator=gen)
    return model(lr, noise.to(lr), as_batch_t(t, lr))
