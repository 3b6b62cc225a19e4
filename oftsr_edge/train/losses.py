"""The OFTSR training objectives, one function per equation (numbers as in the paper and docs/architecture.md §5).

Networks are passed as callables ``net(x, x_lr, t)`` so the tests can use tiny closed-form "networks" and check
every term by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from oftsr_edge.train.solvers import rk_step

Net = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def noisy_start(x_lr: torch.Tensor, noise: torch.Tensor, sigma_p: float) -> torch.Tensor:
    """x0 = sqrt(1 − σp²)·x_lr + σp·ε: the noise-augmented start of the flow."""
    return math.sqrt(1.0 - sigma_p**2) * x_lr + sigma_p * noise


def _bcast(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1, *([1] * (like.dim() - 1)))


def flow_matching_loss(v_theta: Net, x1: torch.Tensor, x0: torch.Tensor, x_lr: torch.Tensor,
                       t: torch.Tensor) -> torch.Tensor:
    """Eq. 5 with ℓ1: E‖v_θ(concat(x_t, x_lr), t) − (x1 − x0)‖₁ with x_t = (1 − t)·x0 + t·x1."""
    tb = _bcast(t, x1)
    x_t = (1 - tb) * x0 + tb * x1
    return (v_theta(x_t, x_lr, t) - (x1 - x0)).abs().mean()


@dataclass
class DistillLosses:
    total: torch.Tensor
    distill: torch.Tensor
    align: torch.Tensor
    bc: torch.Tensor


def distillation_losses(
    v_phi: Net,
    v_theta: Net,
    x0: torch.Tensor,
    x_lr: torch.Tensor,
    t: torch.Tensor,
    dt: float = 0.05,
    teacher_step: str = "midpoint",
    lambda_align: float = 0.01,
    lambda_bc: float = 0.1,
    v0_target: torch.Tensor | None = None,
) -> DistillLosses:
    """Algorithm 1's loss at student times ``t`` (N,), with s = t + dt:

    - x_t = x0 + t·v_φ(x0, t)                                  (the student's state at t)
    - Eq. 9  ‖v_φ(x0, s) − SG[v_φ(x0, t) + (dt/s)·(v_θ^step(x_t, t) − v_φ(x0, t))]‖²
      (the student's state at s must be the teacher's ODE step from x_t: x0 + s·v = x_t + dt·v_θ^step)
    - Eq. 10 ‖(1 − t)·(v_φ(x0, t) − v_θ(x_t, t))‖²             (align the student with the teacher's velocity)
    - Eq. 11 ‖v_φ(x0, 0) − v_θ(x0, 0)‖²                         (boundary condition at t = 0)

    ``v0_target`` replaces Eq. 11's v_θ(x0, 0) when given: a fidelity teacher's image minus x0, so the student's
    t = 0 end learns that image while its t > 0 states still follow the flow teacher.

    The teacher is frozen and evaluated without gradient (its outputs are targets); gradients reach the student
    through v_φ(x0, s) in Eq. 9, v_φ(x0, t) in Eq. 10 and v_φ(x0, 0) in Eq. 11. Squared norms are means.
    """
    s = t + dt
    tb, sb = _bcast(t, x0), _bcast(s, x0)
    n = x0.shape[0]
    # one batched student call for the three times (t, s, 0): the same maths, one forward, DDP-friendly
    v_all = v_phi(torch.cat([x0, x0, x0]), torch.cat([x_lr, x_lr, x_lr]), torch.cat([t, s, torch.zeros_like(t)]))
    v_t, v_s, v_0 = v_all[:n], v_all[n : 2 * n], v_all[2 * n :]
    with torch.no_grad():
        x_t = x0 + tb * v_t
        v_step, v_teacher_t = rk_step(lambda x, tt: v_theta(x, x_lr, tt), x_t, t, dt, teacher_step)
        target = v_t + (dt / sb) * (v_step - v_t)
        v_teacher_0 = v_theta(x0, x_lr, torch.zeros_like(t)) if v0_target is None else v0_target
    l_distill = ((v_s - target) ** 2).mean()
    l_align = (((1 - tb) * (v_t - v_teacher_t)) ** 2).mean()
    l_bc = ((v_0 - v_teacher_0) ** 2).mean()
    total = l_distill + lambda_align * l_align + lambda_bc * l_bc
    return DistillLosses(total, l_distill, l_align, l_bc)
