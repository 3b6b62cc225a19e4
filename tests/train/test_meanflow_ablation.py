"""benchmarks/meanflow_ablation.py on tiny configs for a few steps: every arm trains, is scored and tabled."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from tests.metrics.test_lpips import _weights_dir

REPO = Path(__file__).resolve().parents[2]


def _load_script():  # noqa: ANN202 - the module
    spec = importlib.util.spec_from_file_location("meanflow_ablation", REPO / "benchmarks" / "meanflow_ablation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_ablation_runs_on_a_tiny_config(tmp_path: Path, tiny_student_dir: Path, train_images: Path,
                                            photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = _load_script()
    weights = _weights_dir()
    lpips = ["--lpips-weights", str(weights)] if weights else ["--lambda-lpips", "0"]
    common = ["--teacher", str(tiny_student_dir.parent / "teacher"), "--data", str(train_images), "--val",
              str(photos), "--out", str(tmp_path / "abl"), "--steps", "2", "--batch-size", "2", "--crop", "32",
              "--ks", "1,2", "--t", "0,1", "--no-niqe", "--limit", "2", "--threads", "1", *lpips]
    results = script.main([*common, "--no-speed"])
    by = {(r["arm"], r["k"], r["t"]): r for r in results}
    assert {arm for arm, _, _ in by} == set(script.ARMS)
    assert {k for arm, k, _ in by if arm.startswith("oftsr")} == {1}  # one-step students: K = 1 only
    assert {k for arm, k, _ in by if arm.startswith("meanflow")} == {1, 2}
    assert all(r["steps"] == 2 and math.isfinite(r["psnr_y"]) and 0 < r["ssim_y"] <= 1 for r in results)
    assert ("lpips" in results[0]) == bool(weights)
    # t = 0 is one call whatever K: the K = 1 and K = 2 rows agree there, and differ at t = 1
    assert by[("meanflow", 1, 0.0)]["psnr_y"] == by[("meanflow", 2, 0.0)]["psnr_y"]
    assert by[("meanflow", 1, 1.0)]["psnr_y"] != by[("meanflow", 2, 1.0)]["psnr_y"]
    assert "| meanflow+fluxsr | 2 | photos | 1 |" in capsys.readouterr().out
    # re-score one finished arm with the speed column (ONNX Runtime, K calls per tile)
    again = script.main([*common, "--eval-only", "--only", "meanflow", "--opset", "17"])
    speed = {r["k"]: r["s_per_mp"] for r in again}
    assert speed[2] == pytest.approx(2 * speed[1], rel=0.01) and speed[1] > 0
    assert [r["psnr_y"] for r in again] == [by[("meanflow", r["k"], r["t"])]["psnr_y"] for r in again]
    with pytest.raises(SystemExit):
        script.main([*common, "--only", "nope"])
