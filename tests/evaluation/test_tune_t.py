"""tune-t finds the known best t on toy objectives, and refuses bad ones in one line."""

from __future__ import annotations

import math

import pytest

from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation.tune_t import Objective, tune_t


def _toy(t: float) -> dict[str, float]:
    """PSNR peaks at t = 0.37; NIQE is lowest at t = 0.8; SSIM falls linearly."""
    return {"psnr_y": 30.0 - 40.0 * (t - 0.37) ** 2, "niqe": 3.0 + (t - 0.8) ** 2, "ssim_y": 0.9 - 0.2 * t}


def test_best_psnr() -> None:
    result = tune_t(_toy, Objective("psnr"), grid=5, refine=8)
    assert result.t == pytest.approx(0.37, abs=0.01)
    assert result.metrics["psnr_y"] == pytest.approx(30.0, abs=0.01)


def test_best_niqe() -> None:
    assert tune_t(_toy, Objective("niqe"), grid=5, refine=8).t == pytest.approx(0.8, abs=0.01)


def test_hit_a_value() -> None:
    result = tune_t(_toy, Objective("value", "ssim_y", 0.8), grid=5, refine=10)
    assert result.t == pytest.approx(0.5, abs=0.01)
    assert result.loss == pytest.approx(0.0, abs=0.002)


def test_monotone_objective_picks_the_end() -> None:
    assert tune_t(lambda t: {"psnr_y": 30 - 5 * t}, Objective("psnr"), grid=3, refine=3).t == 0.0


def test_each_t_evaluated_once_and_history_reported() -> None:
    seen: list[float] = []

    def ev(t: float) -> dict[str, float]:
        seen.append(t)
        return _toy(t)

    result = tune_t(ev, Objective("psnr"), grid=5, refine=4)
    assert len(seen) == len(set(seen)) == len(result.history)
    assert result.to_dict()["evaluations"][0]["t"] == 0.0


def test_non_finite_metrics_never_win() -> None:
    def ev(t: float) -> dict[str, float]:
        return {"niqe": math.nan if t < 0.5 else 10 - t}

    assert tune_t(ev, Objective("niqe"), grid=5, refine=2).t == 1.0
    with pytest.raises(OftsrError, match="finite"):
        tune_t(lambda t: {"niqe": math.nan}, Objective("niqe"), grid=3, refine=0)


def test_bad_objectives_are_one_line_errors() -> None:
    with pytest.raises(OftsrError, match="--value"):
        Objective("value", "psnr_y")
    with pytest.raises(OftsrError, match="--target"):
        Objective("sharpness")
    with pytest.raises(OftsrError, match="--grid"):
        tune_t(_toy, Objective("psnr"), grid=1)
