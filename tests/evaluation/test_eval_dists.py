"""``eval --dists-weights``: the DISTS column, CSV and JSON fields when given (flag or $OFTSR_DISTS_WEIGHTS), the note
when not, a one-line error for missing weights, and — with the real weights — the column equals the metric."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oftsr_edge.cli import main


def _eval(
    model: Path, photos: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    args = [
        "eval",
        "--model",
        str(model),
        "--hr",
        str(photos / "HR"),
        "--lr",
        str(photos / "LR_bicubic" / "X4"),
    ]
    args += ["--t", "0.5", "--peers", "none", "--no-niqe", "--limit", "1", *extra]
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


class _FakeDists:
    source = "fake DISTS"

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return 0.25


def test_no_dists_weights_no_column_and_a_note(
    tiny_onnx_fp32: Path, photos: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OFTSR_DISTS_WEIGHTS", raising=False)
    code, out, err = _eval(tiny_onnx_fp32, photos, [], capsys)
    assert code == 0, err
    assert (
        "DISTS ↓" not in out and "DISTS omitted: no --dists-weights given" in out and "DISTS-pytorch" in out
    )


@pytest.mark.parametrize("from_env", [False, True])
def test_dists_column_csv_and_json(
    from_env: bool,
    tiny_onnx_fp32: Path,
    photos: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
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
    outputs = ["--csv", str(tmp_path / "e.csv"), "--json", str(tmp_path / "e.json")]
    code, out, err = _eval(tiny_onnx_fp32, photos, flags + outputs, capsys)
    assert code == 0, err
    assert given == [parts]
    assert "| DISTS ↓ |" in out and "| 0.2500 |" in out and "DISTS from fake DISTS" in out
    rows = list(csv.DictReader((tmp_path / "e.csv").open()))
    assert rows and all(r["dists"] == "0.25" for r in rows)
    data = json.loads((tmp_path / "e.json").read_text())
    assert [s["dists"] for s in data["summary"]] == [0.25, 0.25]
    assert all(i["dists"] == 0.25 for i in data["images"])


def test_missing_dists_weights_is_one_line(
    tiny_onnx_fp32: Path,
    photos: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OFTSR_DISTS_WEIGHTS", raising=False)
    code, _, err = _eval(tiny_onnx_fp32, photos, ["--dists-weights", str(tmp_path)], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("oftsr-edge: error:")
    assert "pip download --no-deps DISTS-pytorch==0.1" in lines[0]


@pytest.mark.opt_in("dists-weights")
def test_real_dists_column_is_the_metric(
    tiny_onnx_fp32: Path,
    photos: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.metrics.test_dists import real_model, weight_paths

    flags = [a for p in weight_paths() for a in ("--dists-weights", str(p))]
    monkeypatch.delenv("OFTSR_DISTS_WEIGHTS", raising=False)  # the flags alone
    code, _, err = _eval(tiny_onnx_fp32, photos, [*flags, "--json", str(tmp_path / "e.json")], capsys)
    assert code == 0, err
    row = next(i for i in json.loads((tmp_path / "e.json").read_text())["images"] if i["method"] == "bicubic")
    name = f"{row['image']}.png"
    hr = np.asarray(Image.open(photos / "HR" / name).convert("RGB"))
    lr = Image.open(photos / "LR_bicubic" / "X4" / name).convert("RGB")
    bicubic = np.asarray(lr.resize((lr.width * 4, lr.height * 4), Image.BICUBIC))
    assert bicubic.shape == hr.shape and row["dists"] == pytest.approx(
        real_model().distance(bicubic, hr), abs=1e-6
    )
