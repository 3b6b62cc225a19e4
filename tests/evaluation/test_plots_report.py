"""Plots and reports: crop grid without matplotlib, text fallback, atomic writes, JSON without inf/NaN."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation import plots
from oftsr_edge.evaluation.quality import EvalResult, ImageScore, MethodSummary
from oftsr_edge.evaluation.report import eval_csv, eval_markdown, write_json, write_text_atomic


def _summaries() -> list[MethodSummary]:
    rows = [
        MethodSummary(f"m t={t}", "student", t, "", 1, 25 - 2 * t, 0.8, 6 - t, None, 0.1) for t in (0, 0.5, 1)
    ]
    return [MethodSummary("bicubic", "baseline", None, "", 1, 24.0, 0.7, 7.0, None, 0.001), *rows]


def test_crop_grid_and_pick_crop(tmp_path: Path) -> None:
    hr = np.zeros((64, 64, 3), np.uint8)
    hr[40:, 40:] = np.random.default_rng(0).integers(0, 256, (24, 24, 3))
    y, x, size = plots.pick_crop(hr, 16)
    assert size == 16 and y >= 32 and x >= 32
    out = plots.crop_grid([("a", hr), ("b", hr[..., :1])], (y, x, size), tmp_path / "g.png", zoom=2)
    with Image.open(out) as im:
        assert im.size == (2 * 32 + 4, 32 + 16)


def test_sweep_text_and_plot(tmp_path: Path) -> None:
    text = plots.t_sweep_text(_summaries())
    assert text.count("\n") == 4 and "0.50" in text
    png = plots.plot_t_sweep(_summaries(), tmp_path / "t.png")
    if plots.have_matplotlib():
        assert png is not None and png.is_file()
    else:
        assert png is None


def test_reports(tmp_path: Path) -> None:
    res = EvalResult(4, _summaries(), [ImageScore("bicubic", "x", None, 0.7, None, None, 0.001)], ["a note"])
    md = eval_markdown(res)
    assert "| bicubic | — | 24.00 | 0.7000 | 7.000 | — |" in md and "- a note" in md
    csv_text = eval_csv(res)
    assert csv_text.splitlines()[1] == "bicubic,baseline,,x,,0.7,,,,0.001"  # lpips, dists empty
    path = write_json(tmp_path / "r.json", {"v": math.inf, "n": [math.nan, 1.0]})
    assert json.loads(path.read_text()) == {"v": None, "n": [None, 1.0]}
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(OftsrError, match="folder"):
        write_text_atomic(tmp_path, "x")
