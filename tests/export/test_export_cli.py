"""``oftsr-edge export``: files and numbers on success; one line, exit 2 and an untouched folder on bad input."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from oftsr_edge.cli import main  # noqa: E402
from oftsr_edge.contract import INPUT_LR, read_spec  # noqa: E402


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    """Run ``oftsr-edge`` in-process like the console script: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def _error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("oftsr-edge: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def strong_student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny student whose zero-initialised output layers are perturbed: its velocity is large, which makes the
    FP16/INT8 gates meaningful whatever the shared fixture's training did."""
    import torch

    from oftsr_edge.train.checkpoint import checkpoint_config, save_checkpoint
    from oftsr_edge.train.model import CONFIGS, OFTSRUNet

    torch.manual_seed(1)
    net = OFTSRUNet(CONFIGS["tiny"], 4)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    config = checkpoint_config("student", CONFIGS["tiny"], 4, 0.2, "strong/x4")
    run_dir = tmp_path_factory.mktemp("strong")
    save_checkpoint(run_dir, config, 1, net, net)
    return run_dir


@pytest.fixture(scope="module")
def full_export(strong_student: Path, train_images: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("cli") / "models"
    result = run_cli("export", strong_student, "-o", out, "--precision", "fp32,fp16,int8", "--opset", "17",
                     "--tile", "32", "--calib", train_images, "--calib-tiles", "4")  # fmt: skip
    return out, result


def test_export_writes_three_verified_variants(full_export, strong_student: Path) -> None:
    out, (code, stdout, stderr) = full_export
    print(stdout)
    assert code == 0, stderr
    run = strong_student.name  # the model is named after its run folder, not the checkpoint's "strong/x4"
    assert sorted(p.name for p in out.iterdir()) == [f"{run}_fp16.onnx", f"{run}_fp32.onnx", f"{run}_int8.onnx"]
    for precision in ("fp32", "fp16", "int8"):
        spec = read_spec(out / f"{run}_{precision}.onnx", expect_precision=precision)
        assert spec.name == run and spec.tile == 32 and spec.opset == 17


def test_export_prints_its_measurements(full_export) -> None:
    _, (_, stdout, _) = full_export
    errors = [float(v) for v in re.findall(r"t=[\d.]+: ([\d.e+-]+)$", stdout, flags=re.M)]
    assert len(errors) == 6 and max(errors) <= 1e-4
    fp16 = [float(v) for v in re.findall(r"([\d.]+) dB", stdout.split("fp16 vs fp32")[1].splitlines()[0])]
    int8 = [float(v) for v in re.findall(r"([\d.]+) dB", stdout.split("int8 vs fp32")[1].splitlines()[0])]
    assert len(fp16) == 3 and min(fp16) >= 40.0
    assert len(int8) == 3 and min(int8) >= 30.0
    assert re.search(r"ORT-CPU 1×3×32×32: fp32 [\d.]+ ms, int8 [\d.]+ ms", stdout)


def test_variants_can_be_derived_from_an_fp32_export(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    code, stdout, stderr = run_cli("export", tiny_onnx_fp32, "-o", tmp_path, "--precision", "fp16")
    assert code == 0, stderr
    (written,) = list(tmp_path.iterdir())
    assert read_spec(written, expect_precision="fp16").tile == 32


def test_failed_gate_leaves_the_output_folder_untouched(
    tiny_onnx_fp32: Path, train_images: Path, tmp_path: Path
) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    code, _, stderr = run_cli("export", tiny_onnx_fp32, "-o", tmp_path, "--precision", "fp32,int8", "--calib",
                              train_images, "--calib-tiles", "2", "--int8-min-psnr", "1000")  # fmt: skip
    assert code == 2 and "dB from fp32" in _error_line(stderr)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]  # no staging folder, no fp32 file


def _teacher(tmp_path: Path) -> Path:
    from oftsr_edge.train.checkpoint import checkpoint_config, save_checkpoint
    from oftsr_edge.train.model import CONFIGS, OFTSRUNet

    net = OFTSRUNet(CONFIGS["tiny"], 4)
    config = checkpoint_config("teacher", CONFIGS["tiny"], 4, 0.2, "tiny-teacher")
    save_checkpoint(tmp_path / "teacher", config, 1, net, net)
    return tmp_path / "teacher"


def _contract_breaker(tiny_onnx_fp32: Path, tmp_path: Path) -> Path:
    model = onnx.load(str(tiny_onnx_fp32))
    model.graph.input[0].name = "image"
    for node in model.graph.node:
        node.input[:] = ["image" if i == INPUT_LR else i for i in node.input]
    onnx.save(model, str(tmp_path / "bad.onnx"))
    return tmp_path / "bad.onnx"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("teacher", "teacher checkpoint"),
        ("missing checkpoint", "checkpoint not found"),
        ("bad onnx", "do not match the oftsr-edge contract"),
        ("unknown precision", "Invalid value for '--precision': 'fp8' is not one of"),
        ("int8 without calib", "needs --calib"),
        ("missing calib", "calibration folder not found"),
        ("bad opset", "--opset 12"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    case: str, message: str, tmp_path: Path, tiny_onnx_fp32: Path, tiny_student_dir: Path
) -> None:
    out = tmp_path / "out"
    args = {
        "teacher": [_teacher(tmp_path)],
        "missing checkpoint": [tmp_path / "nope"],
        "bad onnx": [_contract_breaker(tiny_onnx_fp32, tmp_path), "--precision", "fp16"],
        "unknown precision": [tiny_student_dir, "--precision", "fp32,fp8"],
        "int8 without calib": [tiny_student_dir, "--precision", "int8"],
        "missing calib": [tiny_student_dir, "--precision", "int8", "--calib", tmp_path / "none"],
        "bad opset": [tiny_student_dir, "--opset", "12"],
    }[case]
    code, _, stderr = run_cli("export", *args, "-o", out)
    assert code == 2
    assert message in _error_line(stderr)
    assert not out.exists()


def test_trt_flag_without_tensorrt_is_a_one_line_note(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here: --trt would build engines")
    code, _, stderr = run_cli("export", tiny_onnx_fp32, "-o", tmp_path, "--precision", "fp32", "--trt")
    assert code == 0
    notes = [line for line in stderr.splitlines() if "--trt skipped" in line]
    assert len(notes) == 1 and "tensorrt" in notes[0]
    assert [p.suffix for p in tmp_path.iterdir()] == [".onnx"]


def test_command_module_imports_without_torch_or_onnx() -> None:
    code = ("import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None; "
            "import oftsr_edge.export.commands")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_export_names_the_model_after_its_run_never_a_bundled_model(strong_student: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers.cli import assert_one_line_error, run_main

    base = ["--precision", "fp32", "--tile", "32", "--opset", "17"]
    assert_one_line_error(run_main(capsys, "export", str(strong_student), "-o", str(tmp_path / "a"), "--name",
                                   "oftsr-real-x4", *base), "'oftsr-real-x4' is a bundled model's name")
    clash = tmp_path / "oftsr-small-x4"
    shutil.copytree(strong_student, clash)
    assert_one_line_error(run_main(capsys, "export", str(clash), "-o", str(tmp_path / "b"), *base),
                          "the run folder's name")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    proc = run_main(capsys, "export", str(strong_student), "-o", str(tmp_path / "c"), "--name", "my-photos-x4", *base)
    assert proc.code == 0, proc.err
    model = tmp_path / "c" / "my-photos-x4_fp32.onnx"
    proc = run_main(capsys, "models", str(model))
    assert proc.code == 0 and proc.out.splitlines()[0].startswith("my-photos-x4 (")
    assert "bundled      no" in proc.out and "precision    fp32" in proc.out
