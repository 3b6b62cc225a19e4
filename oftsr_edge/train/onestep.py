"""The PyTorch references of the exported graphs (docs/architecture.md §3), which the ONNX export traces.

``OneStepSR(lr, noise, t) -> hr`` (contract format 1, Eq. 13): ``lr`` in [0, 1] at LR size, ``noise`` standard normal
at HR size, ``t`` of shape (N,), ``hr`` in [0, 1] clamped. ``TwoTimeStepSR(lr, noise, t, state, r) -> (hr,
next_state)`` (format 2): one step r → t of a MeanFlow student from the state x_r = x0 + 2·state (state in [0, 1]
image units); :func:`upscale_few_step` chains it by :mod:`oftsr_edge.few_step`. Everything happens in
pixel-unshuffled layout, so the only HR-size work is unshuffling the noise (and state), the residual adds, the clamp
and the final pixel shuffles.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from oftsr_edge.train.model import OFTSRUNet, as_batch_t


class OneStepSR(nn.Module):
    """hr = clamp(x0 + v_φ(concat(x0, x_lr), t)) with x0 = sqrt(1 − σp²)·x_lr + σp·ε, in [0, 1] I/O."""

    two_time = False

    def __init__(self, student: OFTSRUNet, sigma_p: float) -> None:
        super().__init__()
        self.student = student
        self.scale = student.scale
        self.sigma_p = float(sigma_p)
        self.lr_weight = math.sqrt(1.0 - self.sigma_p**2)

    def forward(self, lr: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        s = self.scale
        x_lr_u = self.student.condition(lr * 2.0 - 1.0)
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


class TwoTimeStepSR(OneStepSR):
    """One step of a two-time student u_φ from x_r = x0 + 2·state at time r, with u = u_φ(x_r, r, t):

    - ``hr = clamp(x_r + (1 − r)·u)`` — the jump to 1 (at state 0, r = 0: x0 + u(x0, 0, t), the one-step map);
    - ``next_state = state + (t − r)·u / 2`` — x_t − x0 in [0, 1] image units, the next step's ``state``.
    """

    two_time = True

    def forward(self, lr: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, state: torch.Tensor,
                r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.scale
        x_lr_u = self.student.condition(lr * 2.0 - 1.0)
        state_u = F.pixel_unshuffle(state, s)
        x_r_u = self.lr_weight * x_lr_u + self.sigma_p * F.pixel_unshuffle(noise, s) + 2.0 * state_u
        u = self.student.velocity_unshuffled(x_r_u, x_lr_u, t, r)
        rb, tb = r.reshape(-1, 1, 1, 1), t.reshape(-1, 1, 1, 1)
        hr = torch.clamp((x_r_u + (1.0 - rb) * u) * 0.5 + 0.5, 0.0, 1.0)
        return F.pixel_shuffle(hr, s), F.pixel_shuffle(state_u + 0.5 * (tb - rb) * u, s)


@torch.no_grad()
def upscale_few_step(model: TwoTimeStepSR, lr: torch.Tensor, t: float, steps: int, seed: int | None = 0,
                     noise: torch.Tensor | None = None) -> torch.Tensor:
    """Reference K-step upscale (the schedule of :mod:`oftsr_edge.few_step`) of ``lr`` (N, 3, h, w) in [0, 1]."""
    from oftsr_edge.few_step import schedule

    n, c, h, w = lr.shape
    if noise is None:
        gen = torch.Generator().manual_seed(seed if seed is not None else 0)
        noise = torch.randn(n, c, h * model.scale, w * model.scale, generator=gen)
    noise = noise.to(lr)
    state = torch.zeros_like(noise)
    hr = noise
    for step in schedule(float(t), steps):
        hr, state = model(lr, noise, as_batch_t(step.s, lr), state, as_batch_t(step.r, lr))
    return hr
