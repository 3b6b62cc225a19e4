"""The solvers integrate dx/dt = A·x + t (analytic solution known) and report their NFE."""

from __future__ import annotations

import math

import pytest
import torch

from oftsr_edge.train.solvers import integrate, one_step_estimate

A = -0.7


def v(x: torch.Tensor, t: float) -> torch.Tensor:
    return A * x + t


def exact(x0: float, t: float) -> float:
    return (x0 + 1 / A**2) * math.exp(A * t) - t / A - 1 / A**2


@pytest.mark.parametrize(("solver", "steps", "nfe", "tol"), [
    ("euler", 100, 100, 5e-3),
    ("midpoint", 20, 40, 5e-4),
    ("heun", 20, 40, 5e-4),
    ("ralston", 20, 40, 5e-4),
])
def test_fixed_step_solvers(solver: str, steps: int, nfe: int, tol: float) -> None:
    result = integrate(v, torch.ones(4, dtype=torch.float64), solver, steps=steps)
    assert result.nfe == nfe
    assert abs(result.x[0].item() - exact(1.0, 1.0)) < tol


def test_second_order_solvers_converge_quadratically() -> None:
    err = [abs(integrate(v, torch.ones(1, dtype=torch.float64), "midpoint", steps=n).x.item() - exact(1, 1))
           for n in (10, 20)]
    assert 3.5 < err[0] / err[1] < 4.5


def test_rk45_is_adaptive_and_accurate() -> None:
    loose = integrate(v, torch.ones(3), "rk45", rtol=1e-2)
    tight = integrate(v, torch.ones(3), "rk45", rtol=1e-6)
    assert tight.nfe > loose.nfe >= 6
    assert abs(tight.x[0].item() - exact(1.0, 1.0)) < 1e-5


def test_one_step_estimate_is_exact_on_a_straight_path() -> None:
    # rectified flow with constant velocity: x_t = x0 + t·c, estimate from any t lands on x1 = x0 + c
    c = torch.tensor([0.3, -1.2])
    x0 = torch.tensor([1.0, 2.0])
    for t in (0.0, 0.4, 0.9):
        assert torch.allclose(one_step_estimate(lambda x, _t: c, x0 + t * c, t), x0 + c)


def test_partial_integration_stops_at_t1() -> None:
    result = integrate(v, torch.ones(1, dtype=torch.float64), "midpoint", steps=40, t1=0.5)
    assert abs(result.x.item() - exact(1.0, 0.5)) < 1e-5
