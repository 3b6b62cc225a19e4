"""ODE solvers for the teacher's flow dx/dt = v(x, t) from t = 0 (x0) to t = 1 (the HR estimate).

Plain functions in the k-diffusion manner: each takes a velocity function ``v(x, t: float)`` and a start state, and
returns the end state and the number of velocity evaluations (NFE) it spent. Fixed-step solvers are written out;
adaptive RK45 is SciPy's Dormand–Prince ``solve_ivp`` (a well-kept implementation beats a hand-rolled one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

VelocityFn = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass
class SampleResult:
    x: torch.Tensor
    nfe: int


def sample_euler(v: VelocityFn, x: torch.Tensor, steps: int, t0: float = 0.0, t1: float = 1.0) -> SampleResult:
    """x_{k+1} = x_k + h·v(x_k, t_k). Euler-1 from x0 is the teacher's one-step estimate at t = 0."""
    h = (t1 - t0) / steps
    for k in range(steps):
        x = x + h * v(x, t0 + k * h)
    return SampleResult(x, steps)


def sample_midpoint(v: VelocityFn, x: torch.Tensor, steps: int, t0: float = 0.0, t1: float = 1.0) -> SampleResult:
    """Explicit midpoint (RK2): x_{k+1} = x_k + h·v(x_k + h/2·v(x_k, t_k), t_k + h/2). Two NFE per step."""
    h = (t1 - t0) / steps
    for k in range(steps):
        t = t0 + k * h
        x_mid = x + 0.5 * h * v(x, t)
        x = x + h * v(x_mid, t + 0.5 * h)
    return SampleResult(x, 2 * steps)


def sample_heun(v: VelocityFn, x: torch.Tensor, steps: int, t0: float = 0.0, t1: float = 1.0) -> SampleResult:
    """Heun (trapezoidal RK2): average the slopes at both ends of the step. Two NFE per step."""
    h = (t1 - t0) / steps
    for k in range(steps):
        t = t0 + k * h
        d1 = v(x, t)
        d2 = v(x + h * d1, t + h)
        x = x + 0.5 * h * (d1 + d2)
    return SampleResult(x, 2 * steps)


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


FIXED_STEP_SOLVERS: dict[str, Callable[..., SampleResult]] = {
    "euler": sample_euler,
    "midpoint": sample_midpoint,
    "heun": sample_heun,
}
SOLVER_NAMES = (*FIXED_STEP_SOLVERS, "rk45")


def integrate(v: VelocityFn, x0: torch.Tensor, solver: str, steps: int = 10, rtol: float = 1e-3,
              t1: float = 1.0) -> SampleResult:
    """Integrate from t = 0 to ``t1`` with the named solver (``steps`` for fixed-step ones, ``rtol`` for rk45)."""
    if solver == "rk45":
        return sample_rk45(v, x0, rtol=rtol, atol=rtol, t1=t1)
    if solver not in FIXED_STEP_SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose from {', '.join(SOLVER_NAMES)}")
    return FIXED_STEP_SOLVERS[solver](v, x0, steps, t1=t1)
