"""MeanFlow distillation (docs/architecture.md §5): a two-time student u_φ(x_r, r, s) learns the teacher's average
velocity over [r, s], so that x_s = x_r + (s − r)·u_φ(x_r, r, s) along the teacher's probability-flow ODE.

Differentiating (s − r)·u(x_r, r, s) = ∫_r^s v_θ(x_τ, τ) dτ by r (x_r moving along the ODE, s fixed) gives the
MeanFlow identity in our time convention (x0 at 0, HR at 1):

    u(x_r, r, s) = v_θ(x_r, r) + (s − r)·du/dr,    du/dr = v_θ(x_r, r)·∂u/∂x + ∂u/∂r,

the total derivative along the trajectory: one forward-mode JVP through the student with tangents (v_θ, 1, 0) for
(x, r, s). The right-hand side is the stop-gradient target; v_θ is the frozen teacher's velocity (distillation
from the teacher, not from data). The JVP runs without autograd (the target is detached anyway: nothing of it is
kept for the backward pass) and on the bare network; the loss then takes one ordinary forward of u, which is what
DistributedDataParallel needs (it cannot run under a forward-mode transform). OFTSR App. B.2 calls this the backward form (derivative by the start time); OFTSR's
own Eq. 9 is a discretised forward form (derivative by the end time, r = 0).

Training states: x_r = (1 − r)·x0 + r·x1, a draw from the time-r marginal of the teacher's flow (rectified flow keeps
the interpolant's marginals), exact at r = 0 where x_r = x0 — the state every inference starts from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

#: u(x, x_lr, s, r): the two-time student, called like the model (end time first, start time as the keyword's place)
TwoTimeNet = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
Net = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

#: the (r, s) distribution: shares of one-step pairs (r = 0), of instantaneous pairs (r = s), the rest general r < s
R_ZERO_SHARE = 0.5
R_EQUALS_S_SHARE = 0.25


def _bcast(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1, *([1] * (like.dim() - 1)))


def sample_times(n: int, generator: torch.Generator, r_zero: float = R_ZERO_SHARE,
                 r_equals_s: float = R_EQUALS_S_SHARE) -> tuple[torch.Tensor, torch.Tensor]:
    """(r, s) pairs for one batch, drawn from a three-part mixture:

    - share ``r_zero``: r = 0, s ~ U[0, 1] — the one-step map u(x0, 0, t) that the ``t`` knob runs on (every
      inference starts there, and a 1-step upscale uses nothing else);
    - share ``r_equals_s``: r = s ~ U[0, 1] — the instantaneous velocity u(x, r, r) = v_θ(x, r) (the JVP term
      vanishes): the boundary condition of the identity, and the velocity the Fig. 6 jump from x_t relies on;
    - the rest: r < s, the order statistics of two U[0, 1] draws — the intervals a K-step chain (K ≥ 2) takes.
    """
    if not (0.0 <= r_zero and 0.0 <= r_equals_s and r_zero + r_equals_s <= 1.0):
        raise ValueError(f"(r, s) shares must be non-negative and sum to at most 1, got {r_zero}, {r_equals_s}")
    kind = torch.rand(n, generator=generator)
    a, b = torch.rand(n, generator=generator), torch.rand(n, generator=generator)
    lo, hi = torch.minimum(a, b), torch.maximum(a, b)
    r = torch.where(kind < r_zero, torch.zeros_like(a), torch.where(kind < r_zero + r_equals_s, a, lo))
    s = torch.where(kind < r_zero, a, torch.where(kind < r_zero + r_equals_s, a, hi))
    return r, s


@dataclass
class MeanFlowLosses:
    total: torch.Tensor
    u: torch.Tensor  # the student's u(x_r, r, s), with its graph to the weights
    target: torch.Tensor  # the stop-gradient target


@torch.no_grad()
def meanflow_target(u_phi: TwoTimeNet, v_theta: Net, x_r: torch.Tensor, x_lr: torch.Tensor, r: torch.Tensor,
                    s: torch.Tensor) -> torch.Tensor:
    """SG[v_θ(x_r, r) + (s − r)·du/dr] at states ``x_r``: one JVP through the student with tangents (v_θ, 1, 0)."""
    v = v_theta(x_r, x_lr, r)
    _, du_dr = torch.func.jvp(lambda x, rr, ss: u_phi(x, x_lr, ss, rr), (x_r, r, s),
                              (v, torch.ones_like(r), torch.zeros_like(s)))
    return v + _bcast(s - r, x_r) * du_dr


def meanflow_loss(u_phi: TwoTimeNet, v_theta: Net, x0: torch.Tensor, x1: torch.Tensor, x_lr: torch.Tensor,
                  r: torch.Tensor, s: torch.Tensor, jvp_net: TwoTimeNet | None = None) -> MeanFlowLosses:
    """‖u_φ(x_r, r, s) − SG[v_θ(x_r, r) + (s − r)·du/dr]‖² (mean) at x_r = (1 − r)·x0 + r·x1.

    ``jvp_net`` is the same student unwrapped (no DistributedDataParallel) for the JVP; default ``u_phi``.
    """
    rb = _bcast(r, x0)
    x_r = (1 - rb) * x0 + rb * x1
    target = meanflow_target(jvp_net or u_phi, v_theta, x_r, x_lr, r, s)
    u = u_phi(x_r, x_lr, s, r)
    return MeanFlowLosses(((u - target) ** 2).mean(), u, target)
