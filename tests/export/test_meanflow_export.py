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
def meanflow_student(tmp_path_factory: pytest.TempPathFactory, tiny_student_dir: Path, train_images: Path) -> Path:
    """A tiny two-time student: the shared tiny teacher distilled 6 MeanFlow steps (seconds)."""
    from oftsr_edge.train.distill import build_distill_trainer
    from oftsr_edge.train.trainer import TrainSettings

    out = tmp_path_factory.mktemp("meanflow") / "student"
    settings = TrainSettings(steps=6, batch_size=2, crop_size=32, lr=5e-4, warmup=1, val_every=0, ckpt_every=6)
    build_distill_trainer(tiny_student_dir.parent / "teacher", train_images, out, settings=settings, quiet=True,
                          method="meanflow").fit()
    return out


@pytest.fixture(scope="module")
def meanflow_onnx(tmp_path_factory: pytest.TempPathFactory, meanflow_student: Path) -> Path:
    from oftsr_edge.export.onnx_export import export_onnx

    out = tmp_path_factory.mktemp("meanflow_onnx") / "mf_fp32.onnx"
    return export_onnx(meanflow_student, out, opset=18, tile=32, default_steps=2)


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
    written = tmp_path / "out" / "oftsr-tiny-x4-meanflow_fp32.onnx"
    assert read_spec(written, allow_two_time=True).default_steps == 4
    assert_one_line_error(run_main(capsys, "export", str(meanflow_student), "--output", str(tmp_path / "o2"),
                                   "--tile", "32"), "exports at fp32 only")
    assert_one_line_error(run_main(capsys, "export", str(tiny_student_dir), "--output", str(tmp_path / "o3"),
                                   "--precision", "fp32", "--tile", "32", "--default-steps", "2"),
                          "one-step OFTSR student: it runs 1 step only")
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()
