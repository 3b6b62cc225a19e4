"""The K-step schedule of a two-time (MeanFlow) student at inference (docs/architecture.md §5): pure, torch-free.

A two-time student u(x_r, r, s) gives the state at s from the state at r: x_s = x_r + (s − r)·u(x_r, r, s). To
upscale at knob t with K steps:

- times 0 = t_0 < t_1 < … < t_K = t, equally spaced (t_k = k·t/K);
- steps k = 0 … K−2 chain the states along the ODE: x_{t_{k+1}} = x_{t_k} + (t_{k+1} − t_k)·u(x_{t_k}, t_k, t_{k+1});
- the last step, from t_{K−1}, both reaches x_t and jumps on to 1 with the same average velocity — OFTSR's Fig. 6
  one-step estimate from x_t, x1ᵗ = x_t + (1 − t)·v(x_t, t), with v(x_t, t) estimated by u over [t_{K−1}, t]:
  hr = x_{t_{K−1}} + (1 − t_{K−1})·u(x_{t_{K−1}}, t_{K−1}, t).

So K steps cost K network calls; K = 1 is exactly the one-step map hr = x0 + u(x0, 0, t) that plays OFTSR's
v_φ(x0, t) role; at t = 1 the chain is the plain K-step MeanFlow solution x_1; at t = 0 every interval is empty and
one call suffices (hr = x0 + u(x0, 0, 0), the fidelity end), whatever K.

With the exported two-time graph (contract format_version 2, :mod:`oftsr_edge.contract`), one call at (r, s) =
(t_k, t_{k+1}) returns both ``next_state`` (the chained state, as an offset from x0) and ``hr`` (the jump to 1 from
x_{t_k} with u over [t_k, t_{k+1}]): a runtime feeds ``state`` = 0 at the first step, the previous ``next_state``
after it, and keeps the last step's ``hr``. :func:`run_graph` is that loop on whole arrays; the runtime's tiler runs
it as one tiled pass per call, the state blended between passes like the output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Tuple, TypeVar

import numpy as np

from oftsr_edge.errors import OftsrError

X = TypeVar("X")
#: ``run_step(lr, noise, t, state, r) -> (hr, next_state)``: one call of a format-2 graph on float32 arrays
GraphStep = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]
#: most network calls of one K-step upscale, and the largest ``default_steps`` model metadata may state
MAX_STEPS = 64


@dataclass(frozen=True)
class Step:
    """One network call: the state is at time ``r``, the student averages the velocity over [r, s]."""

    r: float
    s: float
    last: bool  # the call whose jump to 1 is the output; earlier calls advance the state to s

    @property
    def advance(self) -> float:
        """How far the state moves along u: s − r for a chaining step, 1 − r for the last (the jump to 1)."""
        return (1.0 - self.r) if self.last else (self.s - self.r)


def check_steps(steps: int, two_time: bool, model: str = "this model") -> None:
    """K must be an integer in [1, MAX_STEPS]; K > 1 needs a two-time student (a one-step OFTSR model has no r)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise OftsrError(f"steps must be an integer from 1 to {MAX_STEPS}, got {steps!r}")
    if steps > 1 and not two_time:
        raise OftsrError(f"{model} is a one-step OFTSR student: it runs 1 step only "
                         f"({steps} asked); a few-step path needs a MeanFlow student (distill --method meanflow)")


def schedule(t: float, steps: int) -> tuple[Step, ...]:
    """The K calls for knob ``t`` in [0, 1]: (t_k, t_{k+1}) on an even grid, the last one marked (one call at t = 0)."""
    check_steps(steps, two_time=True)
    if not 0.0 <= t <= 1.0:
        raise OftsrError(f"t must be in [0, 1], got {t}")
    if t == 0.0:
        return (Step(0.0, 0.0, last=True),)
    grid = [t * k / steps for k in range(steps)] + [float(t)]
    return tuple(Step(grid[k], grid[k + 1], last=k == steps - 1) for k in range(steps))


def run_schedule(u: Callable[[X, float, float], X], x0: X, t: float, steps: int) -> X:
    """hr for a student ``u(x, r, s)`` on any array type with + and scalar ×: the chain of :func:`schedule`."""
    x = x0
    for step in schedule(t, steps):
        x = x + step.advance * u(x, step.r, step.s)
    return x


def run_graph(run_step: GraphStep, lr: np.ndarray, noise: np.ndarray, t: float, steps: int) -> np.ndarray:
    """hr of the K-step path through a format-2 graph on whole arrays (no tiles): state 0 at r = 0, each call's
    ``next_state`` fed to the next, the last call's ``hr``."""
    n = lr.shape[0]
    state = np.zeros(noise.shape, np.float32)
    hr = state
    for step in schedule(t, steps):
        hr, state = run_step(lr, noise, np.full(n, step.s, np.float32), state, np.full(n, step.r, np.float32))
    return hr
