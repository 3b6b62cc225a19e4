"""Export of a tiny MeanFlow (two-time) student to contract format 2: ONNX Runtime loads it, matches PyTorch on every
output, its first step is the one-step map, and the K-step chain through ONNX Runtime equals the PyTorch reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from oftsr_edge import contract  # noqa: E402
from oftsr_edge.contract import read_spec  # noqa: E402
from oftsr_edge.errors import OftsrError  # noqa: E402
from oftsr_edge.few_step import schedule  # noqa: E402
from tests.helpers.cli import assert_one_line_error, run_main  # noqa: E402


@pytest.fixture(scope="module")
def meanflow_student(tiny_meanflow_dir: Path) -> Path:
    """A tiny two-time student: the shared tiny teacher distilled 6 MeanFlow steps (tests/conftest.py)."""
    return tiny_meanflow_dir


@pytest.fixture(scope="module")
def meanflow_onnx(tiny_meanflow_onnx: Path) -> Path:
    """Its format-2 export (tile 32, default 2 steps)."""
    return tiny_meanflow_onnx


def test_the_export_carries_the_two_time_contract(meanflow_onnx: Path) -> None:
    spec = read_spec(meanflow_onnx, allow_two_time=True)
    assert spec.two_time and spec.method == "meanflow" and spec.default_steps == 2
    assert spec.name == "oftsr-tiny-x4-meanflow"
    assert read_spec(meanflow_onnx, via="onnxruntime", allow_two_time=True) == spec
    with pytest.raises(OftsrError, match="two-time MeanFlow student"):  # one-step readers get one clear line
        read_spec(meanflow_onnx)


def test_onnxruntime_matches_pytorch_on_every_output(meanflow_onnx: Path, meanflow_student: Path) -> None:
    from oftsr_edge.export.verify import verify_against_torch

    deviations = verify_against_torch(meanflow_onnx, meanflow_student)
    assert len(deviations) == 6 and max(d.max_abs for d in deviations) < 1e-4


def test_first_step_is_the_one_step_map_and_the_chain_matches_pytorch(meanflow_onnx: Path,
                                                                      meanflow_student: Path) -> None:
    from oftsr_edge.export.onnx_export import load_student
    from oftsr_edge.export.verify import ort_session
    from oftsr_edge.train.onestep import OneStepSR, upscale_few_step

    model, ckpt = load_student(meanflow_student)
    spec = read_spec(meanflow_onnx, allow_two_time=True)
    session = ort_session(meanflow_onnx)
    rng = np.random.default_rng(0)
    lr = rng.random((1, 3, 16, 12), dtype=np.float32)
    noise = rng.standard_normal((1, 3, 64, 48), dtype=np.float32)
    one_step = OneStepSR(ckpt.build_model("ema"), ckpt.sigma_p).eval()
    with torch.no_grad():
        expected = one_step(torch.from_numpy(lr), torch.from_numpy(noise), torch.tensor([0.7])).numpy()
    hr, next_state = session.run(list(spec.output_names), contract.first_step_feeds(spec, lr, noise, [0.7]))
    assert np.abs(hr - expected).max() < 1e-4  # K = 1: hr = x0 + u(x0, 0, t)
    for t, k in ((0.6, 2), (1.0, 3)):
        state = np.zeros_like(noise)
        for step in schedule(t, k):
            hr, state = session.run(list(spec.output_names), contract.feeds(lr, noise, [step.s], state, [step.r]))
        reference = upscale_few_step(model, torch.from_numpy(lr), t, k, noise=torch.from_numpy(noise)).numpy()
        assert np.abs(hr - reference).max() < 1e-4
        assert 0.0 <= hr.min() and hr.max() <= 1.0


def test_export_command_for_a_meanflow_student(tmp_path: Path, meanflow_student: Path, tiny_student_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    proc = run_main(capsys, "export", str(meanflow_student), "--output", str(tmp_path / "out"), "--precision",
                    "fp32", "--tile", "32", "--default-steps", "4")
    assert proc.code == 0, proc.err
    assert "two-time, default 4 step(s)" in proc.out
    (written,) = (tmp_path / "out").glob("*_fp32.onnx")  # named after the run folder (export --name)
    assert read_spec(written, allow_two_time=True).default_steps == 4
    assert_one_line_error(run_main(capsys, "export", str(tiny_student_dir), "--output", str(tmp_path / "o3"),
                                   "--precision", "fp32", "--tile", "32", "--default-steps", "2"),
                          "one-step OFTSR student: it runs 1 step only")
    assert not (tmp_path / "o3").exists()


def test_fp16_and_int8_of_a_meanflow_student(tmp_path: Path, meanflow_onnx: Path, photos: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Both variants keep format 2 with float32 I/O, keep the two-time time path and the next_state tail in
    float32, pass the export gates on the one-step map and the 2-step chain, and run the few-step path."""
    import onnx

    from oftsr_edge.export.fp16 import full_precision_nodes, input_dependencies
    from oftsr_edge.runtime.io.image_io import read_image
    from oftsr_edge.runtime.upscaler import Upscaler

    proc = run_main(capsys, "export", str(meanflow_onnx), "--output", str(tmp_path / "out"), "--precision",
                    "fp32,fp16,int8", "--calib", str(photos / "HR"), "--calib-tiles", "2")
    assert proc.code == 0, proc.err
    assert "fp16 vs fp32, 4 32² real tiles" in proc.out and "(K = 1 and 2)" in proc.out
    model = onnx.load(str(meanflow_onnx))
    keep, deps = set(full_precision_nodes(model)), input_dependencies(model)
    time_path = {name for name, d in deps.items() if d and d <= {contract.INPUT_T, contract.INPUT_R}}
    assert {name for name, d in deps.items() if d == {contract.INPUT_T, contract.INPUT_R}} and time_path <= keep
    producers = {out: node.name for node in model.graph.node for out in node.output}
    assert producers[contract.OUTPUT_STATE] in keep and producers[contract.OUTPUT_HR] in keep
    photo = read_image(photos / "LR_bicubic" / "X4" / "kodim08.png")
    with Upscaler(meanflow_onnx, tile=0, solver_steps=2) as up:
        reference = up.upscale(photo, t=0.7, seed=1).astype(np.float64)
    for precision, floor in (("fp16", 40.0), ("int8", 30.0)):
        path = tmp_path / "out" / f"oftsr-tiny-x4-meanflow_{precision}.onnx"
        spec = read_spec(path, allow_two_time=True, expect_precision=precision)
        assert spec.two_time and spec.default_steps == 2
        with Upscaler(path, tile=0, solver_steps=2) as up:
            mse = np.mean((up.upscale(photo, t=0.7, seed=1) - reference) ** 2)
        assert 10 * np.log10(255.0**2 / mse) >= floor, precision
