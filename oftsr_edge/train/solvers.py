"""ODE solvers for the teacher's flow dx/dt = v(x, t) from t = 0 (x0) to t = 1 (the HR estimate).

Plain functions in the k-diffusion manner: each takes a velocity function ``v(x, t: float)`` and a start state, and
returns the end state and the number of velocity evaluations (NFE) it spent. Fixed-step solvers repeat `rk_step`, the
same step the distillation loss gives the teacher (one RK definition for both); adaptive RK45 is SciPy's Dormand–Prince ``solve_ivp`` (a well-kept implementation beats a hand-rolled one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

VelocityFn = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass
class SampleResult:
    x: torch.Tensor
    nfe: int


RK_METHODS = ("euler", "midpoint", "heun", "ralston")


def rk_step(v: Callable[[torch.Tensor, Any], torch.Tensor], x: torch.Tensor, t: Any, h: float,
            method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One explicit Runge–Kutta step of size ``h`` from (x, t): returns ``(slope, k1)``.

    x + h·slope is the step's end state; k1 = v(x, t) is the first stage, which the distillation loss reuses (Eq. 10).
    ``t`` may be a float (the samplers) or a per-sample tensor (the distillation loss): only ``t + c·h`` is formed.
    - euler: slope = k1 (1 NFE)
    - midpoint: slope = v(x + h/2·k1, t + h/2) (2 NFE, the paper's default teacher step)
    - heun: slope = (k1 + v(x + h·k1, t + h)) / 2 (2 NFE)
    - ralston: slope = k1/4 + 3/4·v(x + 2h/3·k1, t + 2h/3) (2 NFE, the minimum-error RK2)
    """
    k1 = v(x, t)
    if method == "euler":
        return k1, k1
    if method == "midpoint":
        return v(x + 0.5 * h * k1, t + 0.5 * h), k1
    if method == "heun":
        return 0.5 * (k1 + v(x + h * k1, t + h)), k1
    if method == "ralston":
        return 0.25 * k1 + 0.75 * v(x + (2.0 / 3.0) * h * k1, t + (2.0 / 3.0) * h), k1
    raise ValueError(f"unknown RK method {method!r}; choose from {', '.join(RK_METHODS)}")


def nfe_per_step(method: str) -> int:
    return 1 if method == "euler" else 2


def sample_fixed(v: VelocityFn, x: torch.Tensor, steps: int, method: str, t0: float = 0.0,
                 t1: float = 1.0) -> SampleResult:
    """``steps`` equal RK steps of ``method`` from t0 to t1. Euler-1 from x0 is the teacher's one-step estimate."""
    h = (t1 - t0) / steps
    for k in range(steps):
        slope, _ = rk_step(v, x, t0 + k * h, h, method)
        x = x + h * slope
    return SampleResult(x, nfe_per_step(method) * steps)


def sample_rk45(
    v: VelocityFn, x: torch.Tensor, rtol: float = 1e-3, atol: float = 1e-3, t0: float = 0.0, t1: float = 1.0
) -> SampleResult:
    """Adaptive Dormand–Prince RK45 via SciPy; the NFE is what the step-size control needed for ``rtol``/``atol``."""
    from scipy.integrate import solve_ivp

    shape, dtype, device = x.shape, x.dtype, x.device

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        xt = torch.from_numpy(y.astype(np.float32)).reshape(shape).to(device=device, dtype=dtype)
        return v(xt, float(t)).detach().float().cpu().numpy().reshape(-1).astype(np.float64)

    sol = solve_ivp(rhs, (t0, t1), x.detach().float().cpu().numpy().reshape(-1).astype(np.float64),
                    method="RK45", rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"RK45 failed: {sol.message}")
    end = torch.from_numpy(sol.y[:, -1].astype(np.float32)).reshape(shape).to(device=device, dtype=dtype)
    return SampleResult(end, int(sol.nfev))


def one_step_estimate(v: VelocityFn, x_t: torch.Tensor, t: float) -> torch.Tensor:
    """x1ᵗ = x_t + (1 − t)·v(x_t, t): jump to t = 1 from any state on the path (OFTSR Fig. 6)."""
    return x_t + (1.0 - t) * v(x_t, t)


SOLVER_NAMES = (*RK_METHODS, "rk45")


def integrate(v: VelocityFn, x0: torch.Tensor, solver: str, steps: int = 10, rtol: float = 1e-3,
              t1: float = 1.0) -> SampleResult:
    """Integrate from t = 0 to ``t1`` with the named solver (``steps`` for fixed-step ones, ``rtol`` for rk45)."""
    if solver == "rk45":
        return sample_rk45(v, x0, rtol=rtol, atol=rtol, t1=t1)
    if solver not in RK_METHODS:
        raise ValueError(f"unknown solver {solver!r}; choose from {', '.join(SOLVER_NAMES)}")
    return sample_fixed(v, x0, steps, solver, t1=t1)
