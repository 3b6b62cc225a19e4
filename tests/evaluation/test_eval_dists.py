"""``eval --dists-weights``: the DISTS column, CSV and JSON fields when given (flag or $OFTSR_DISTS_WEIGHTS), the note
when not, a one-line error for missing weights, and — with the real weights — the column equals the metric."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.evaluation.test_commands import _run

Eval = Callable[[list[str]], tuple[int, str, str]]


@pytest.fixture
def run_eval(tiny_onnx_fp32: Path, photos: Path, capsys: pytest.CaptureFixture[str]) -> Eval:
    """``eval`` of the tiny model on one photo at t = 0.5 (bicubic + student rows), plus the given arguments."""
    base = ["eval", "--model", str(tiny_onnx_fp32), "--hr", str(photos / "HR")]
    base += [
        "--lr",
        str(photos / "LR_bicubic" / "X4"),
        "--t",
        "0.5",
        "--peers",
        "none",
        "--no-niqe",
        "--limit",
        "1",
    ]
    return lambda extra: _run([*base, *extra], capsys)


class _FakeDists:
    source = "fake DISTS"

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return 0.25


def test_no_dists_weights_no_column_and_a_note(run_eval: Eval) -> None:
    code, out, err = run_eval([])
    assert code == 0, err
    assert (
        "DISTS ↓" not in out and "DISTS omitted: no --dists-weights given" in out and "DISTS-pytorch" in out
    )


@pytest.mark.parametrize("from_env", [False, True])
def test_dists_column_csv_and_json(
    from_env: bool, run_eval: Eval, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import oftsr_edge.metrics.dists as dists

    given: list[list[Path]] = []
    monkeypatch.setattr(dists, "load_dists", lambda paths: given.append(list(paths)) or _FakeDists())
    parts = [tmp_path / "dists", tmp_path / "lpips"]
    if from_env:
        monkeypatch.setenv("OFTSR_DISTS_WEIGHTS", os.pathsep.join(map(str, parts)))
        flags = []
    else:
        flags = [a for p in parts for a in ("--dists-weights", str(p))]
    code, out, err = run_eval([*flags, "--csv", str(tmp_path / "e.csv"), "--json", str(tmp_path / "e.json")])
    assert code == 0, err
    assert given == [parts]
    assert "| DISTS ↓ |" in out and "| 0.2500 |" in out and "DISTS from fake DISTS" in out
    rows = list(csv.DictReader((tmp_path / "e.csv").open()))
    assert rows and all(r["dists"] == "0.25" for r in rows)
    data = json.loads((tmp_path / "e.json").read_text())
    assert [s["dists"] for s in data["summary"]] == [0.25, 0.25]
    assert all(i["dists"] == 0.25 for i in data["images"])


def test_missing_dists_weights_is_one_line(run_eval: Eval, tmp_path: Path) -> None:
    code, _, err = run_eval(["--dists-weights", str(tmp_path)])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("oftsr-edge: error:")
    assert "pip download --no-deps DISTS-pytorch==0.1" in lines[0]


@pytest.mark.opt_in("dists-weights")
def test_real_dists_column_is_the_metric(run_eval: Eval, photos: Path, tmp_path: Path) -> None:
    from tests.metrics.test_dists import real_model, weight_paths

    flags = [a for p in weight_paths() for a in ("--dists-weights", str(p))]
    code, _, err = run_eval([*flags, "--json", str(tmp_path / "e.json")])
    assert code == 0, err
    row = next(i for i in json.loads((tmp_path / "e.json").read_text())["images"] if i["method"] == "bicubic")
    name = f"{row['image']}.png"
    hr = np.asarray(Image.open(photos / "HR" / name).convert("RGB"))
    lr = Image.open(photos / "LR_bicubic" / "X4" / name).convert("RGB")
    bicubic = np.asarray(lr.resize((lr.width * 4, lr.height * 4), Image.BICUBIC))
    assert bicubic.shape == hr.shape and row["dists"] == pytest.approx(
        real_model().distance(bicubic, hr), abs=1e-6
    )
