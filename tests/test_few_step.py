"""The K-step schedule (oftsr_edge/few_step.py) on an ODE whose mean velocity is known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oftsr_edge.errors import OftsrError
from oftsr_edge.few_step import Step, check_steps, run_schedule, schedule

LAM = 0.9


def mean_velocity(x: np.ndarray, r: float, s: float) -> np.ndarray:
    """Exact average velocity of dx/dt = λ·x over [r, s] (λ·x at r = s)."""
    h = s - r
    return LAM * x if h == 0 else x * math.expm1(LAM * h) / h


def test_schedule_grid() -> None:
    assert schedule(0.8, 1) == (Step(0.0, 0.8, last=True),)
    steps = schedule(0.8, 4)
    assert [s.r for s in steps] == pytest.approx([0.0, 0.2, 0.4, 0.6])
    assert [s.s for s in steps] == pytest.approx([0.2, 0.4, 0.6, 0.8]) and steps[-1].s == 0.8  # ends exactly at t
    assert [s.last for s in steps] == [False, False, False, True]
    assert [s.advance for s in steps] == pytest.approx([0.2, 0.2, 0.2, 0.4])  # the last one jumps to 1
    assert schedule(1.0, 2)[-1] == Step(0.5, 1.0, last=True)
    assert schedule(0.0, 4) == (Step(0.0, 0.0, last=True),)  # t = 0: one call, whatever K


def test_one_step_is_the_one_step_map() -> None:
    x0 = np.array([1.0, -2.0])
    assert np.allclose(run_schedule(mean_velocity, x0, 0.6, 1), x0 + mean_velocity(x0, 0.0, 0.6))


@pytest.mark.parametrize("k", [1, 2, 4, 7])
def test_exact_mean_velocities_reach_the_ode_solution_at_t1(k: int) -> None:
    x0 = np.array([0.5, 2.0])
    assert np.allclose(run_schedule(mean_velocity, x0, 1.0, k), x0 * math.exp(LAM))


@pytest.mark.parametrize("k", [2, 4])
def test_below_one_the_last_step_jumps_with_its_mean_velocity(k: int) -> None:
    # with exact mean velocities the chain is exact up to t_{K−1}; the last call jumps from there to 1 with the mean
    # velocity over [t_{K−1}, t]
    x0, t = np.array([1.0]), 0.5
    prev = (k - 1) * t / k
    x_prev = x0 * math.exp(LAM * prev)
    expected = x_prev + (1 - prev) * mean_velocity(x_prev, prev, t)
    assert np.allclose(run_schedule(mean_velocity, x0, t, k), expected)
    # t = 0: the fidelity end, one call at (0, 0)
    calls = []
    run_schedule(lambda x, r, s: calls.append((r, s)) or x, x0, 0.0, k)
    assert calls == [(0.0, 0.0)]


def test_bad_steps_and_one_step_models() -> None:
    for bad in (0, -1, 65, 1.5, True):
        with pytest.raises(OftsrError, match="steps must be an integer"):
            check_steps(bad, two_time=True)
    with pytest.raises(OftsrError, match="one-step OFTSR student: it runs 1 step only"):
        check_steps(2, two_time=False, model="M.onnx")
    check_steps(1, two_time=False)
    with pytest.raises(OftsrError, match=r"t must be in \[0, 1\]"):
        schedule(1.5, 2)
