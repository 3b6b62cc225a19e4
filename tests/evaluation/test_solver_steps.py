"""``--solver-steps`` in eval, tune-t and bench: one meaning (K calls of a MeanFlow student's few-step path), the
rows say K, and bench's per-tile time is the K chained calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.evaluation.methods import open_upscaler
from oftsr_edge.few_step import run_graph
from tests.helpers.cli import assert_one_line_error, run_main


def test_eval_and_tune_t_run_k_steps(tiny_meanflow_onnx: Path, photos: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    common = ("--model", str(tiny_meanflow_onnx), "--hr", str(photos / "HR"), "--lr",
              str(photos / "LR_bicubic" / "X4"), "--limit", "1", "--solver-steps", "3")  # fmt: skip
    proc = run_main(capsys, "eval", *common, "--t", "0.5", "--peers", "none", "--no-niqe", "--json",
                    str(tmp_path / "e.json"))  # fmt: skip
    assert proc.code == 0, proc.err
    assert "| oftsr-tiny-x4-meanflow K=3 t=0.5 |" in proc.out and "3 steps, ort-cpu, fp32" in proc.out
    assert json.loads((tmp_path / "e.json").read_text())["solver_steps"] == 3
    proc = run_main(capsys, "tune-t", *common, "--target", "psnr", "--grid", "2", "--refine", "0")
    assert proc.code == 0, proc.err
    assert "3 steps, ort-cpu, fp32" in proc.out
    assert_one_line_error(run_main(capsys, "eval", *common[:-1], "0"), "solver_steps must be an integer ≥ 1")


def test_bench_times_the_chain(tiny_meanflow_onnx: Path, capsys: pytest.CaptureFixture[str]) -> None:
    opened = open_upscaler(tiny_meanflow_onnx, backend="ort-cpu", tile=16, solver_steps=2)
    with opened.upscaler as up:
        rng = np.random.default_rng(0)
        lr = rng.random((2, 3, 16, 16), dtype=np.float32)
        noise = rng.standard_normal((2, 3, 64, 64), dtype=np.float32)
        chained = run_graph(up.backend.run_step, lr, noise, 0.5, 2)
        np.testing.assert_array_equal(opened.run_tiles(lr, noise, 0.5), chained)
        assert np.abs(chained - up.backend.run(lr, noise, 0.5)).max() > 1e-4  # two calls, not the one-step map
    proc = run_main(capsys, "bench", "--model", str(tiny_meanflow_onnx), "--backend", "ort-cpu", "--tile", "16",
                    "--image-size", "64x64", "--runs", "1", "--warmup-runs", "0", "--peers", "none",
                    "--solver-steps", "2")  # fmt: skip
    assert proc.code == 0, proc.err
    assert "mf_fp32.onnx, t=0.5, 2 steps" in proc.out
