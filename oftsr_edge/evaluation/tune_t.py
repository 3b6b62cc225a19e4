"""Choose the knob t on a validation set for a stated objective: a coarse grid, then golden-section refinement.

Each evaluation runs the model over the whole set at one t, so the search spends few of them: ``grid`` evenly
spaced points over [0, 1], then golden-section search inside the bracket around the best grid point. The objective
is minimised:

- ``psnr``: −PSNR-Y (the fidelity end; usually t → 0),
- ``niqe``: NIQE (the most natural-looking output),
- ``value``: |metric(t) − X| — "give me the t whose ``metric`` is X" (e.g. PSNR 27 dB: a stated fidelity budget).

The search assumes the objective is unimodal inside the final bracket; every evaluated point is reported, so a
user can see when it was not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict

from oftsr_edge.errors import OftsrError

TARGETS = ("psnr", "niqe", "value")
METRICS = ("psnr_y", "ssim_y", "niqe", "lpips")
_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0

#: evaluate(t) -> metrics of the whole validation set at t, e.g. {"psnr_y": 28.1, "niqe": 5.3}
Evaluator = Callable[[float], Dict[str, float]]


@dataclass(frozen=True)
class Objective:
    """What "best" means: a target and, for ``value``, the metric and the value to hit."""

    target: str
    metric: str = "psnr_y"
    value: float | None = None

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise OftsrError(f"--target must be one of {', '.join(TARGETS)}, got {self.target!r}")
        if self.target == "value" and self.value is None:
            raise OftsrError("--target value needs --value X (and --metric, default psnr)")
        if self.metric not in METRICS:
            raise OftsrError(f"--metric must be one of {', '.join(METRICS)}, got {self.metric!r}")

    @property
    def needed_metric(self) -> str:
        return {"psnr": "psnr_y", "niqe": "niqe"}.get(self.target, self.metric)

    def describe(self) -> str:
        if self.target == "psnr":
            return "maximise PSNR-Y"
        if self.target == "niqe":
            return "minimise NIQE"
        return f"{self.metric} closest to {self.value:g}"

    @property
    def column(self) -> str:
        """The heading of the objective's column in the printed table (its value in its own sign)."""
        if self.target == "value":
            return f"|{self.metric} - {self.value:g}|"
        return {"psnr": "PSNR-Y (max)", "niqe": "NIQE (min)"}[self.target]

    def shown(self, loss: float) -> float:
        """The objective as a reader expects it: PSNR positive (the search minimises its negative)."""
        return -loss if self.target == "psnr" else loss

    def loss(self, metrics: dict[str, float]) -> float:
        """The number minimised; NaN/missing metrics count as +inf so they are never chosen."""
        value = metrics.get(self.needed_metric)
        if value is None or not math.isfinite(value):
            return math.inf
        if self.target == "psnr":
            return -value
        if self.target == "niqe":
            return value
        return abs(value - float(self.value))


@dataclass
class TuneResult:
    t: float
    loss: float
    metrics: dict[str, float]
    objective: Objective
    history: list[tuple[float, float, dict[str, float]]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "t": self.t,
            "objective": self.objective.describe(),
            "loss": self.loss,
            "metrics": self.metrics,
            "evaluations": [
                {"t": t, "loss": loss, **m} for t, loss, m in sorted(self.history, key=lambda h: h[0])
            ],
        }


def tune_t(
    evaluate: Evaluator, objective: Objective, grid: int = 5, refine: int = 4, decimals: int = 3
) -> TuneResult:
    """Best t in [0, 1] for ``objective`` after ``grid`` coarse points and ``refine`` golden-section steps.

    t values are rounded to ``decimals`` (a knob finer than 0.001 means nothing to a user), and each distinct t is
    evaluated once.
    """
    if grid < 2:
        raise OftsrError(f"--grid must be at least 2, got {grid}")
    if refine < 0:
        raise OftsrError(f"refine steps must be ≥ 0, got {refine}")
    seen: dict[float, tuple[float, dict[str, float]]] = {}

    def loss_at(t: float) -> float:
        t = round(min(1.0, max(0.0, t)), decimals)
        if t not in seen:
            metrics = dict(evaluate(t))
            seen[t] = (objective.loss(metrics), metrics)
        return seen[t][0]

    points = [round(i / (grid - 1), decimals) for i in range(grid)]
    losses = [loss_at(t) for t in points]
    best = min(range(grid), key=lambda i: (losses[i], points[i]))
    lo, hi = points[max(0, best - 1)], points[min(grid - 1, best + 1)]
    # golden-section search on [lo, hi]
    c, d = hi - _INV_PHI * (hi - lo), lo + _INV_PHI * (hi - lo)
    for _ in range(refine):
        if loss_at(c) <= loss_at(d):
            hi, d = d, c
            c = hi - _INV_PHI * (hi - lo)
        else:
            lo, c = c, d
            d = lo + _INV_PHI * (hi - lo)
    t_best = min(seen, key=lambda t: (seen[t][0], t))
    loss, metrics = seen[t_best]
    if not math.isfinite(loss):
        raise OftsrError(
            f"no t gave a finite {objective.needed_metric} (is the metric available for these images?)"
        )
    history = [(t, v[0], v[1]) for t, v in seen.items()]
    return TuneResult(t_best, loss, metrics, objective, history)
