"""The train/sample/distill commands end to end, DDP with torchrun, and clean errors for bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli import assert_one_line_error, run_main

REPO = Path(__file__).resolve().parents[2]




TINY = ["--config", "tiny", "--batch-size", "2", "--crop", "32", "--warmup", "1", "--val-every", "0",
        "--threads", "1", "--quiet"]


def test_teacher_sample_distill_round_trip(tmp_path: Path, train_images: Path, photos: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    teacher = tmp_path / "teacher"
    proc = run_main(capsys, "train", "--data", str(train_images), "--output", str(teacher), "--steps", "2",
                   "--ckpt-every", "2", "--exclude", "kodim01.png", *TINY)
    assert proc.code == 0, proc.err
    assert "1 excluded" in proc.out
    out = tmp_path / "hr.png"
    lr = photos / "LR_bicubic" / "X4" / "kodim13.png"  # 32 × 32
    proc = run_main(capsys, "sample", "--checkpoint", str(teacher), "--input", str(lr), "--output", str(out),
                   "--solver", "midpoint", "--solver-steps", "3")
    assert proc.code == 0, proc.err
    assert "NFE 6" in proc.out
    from PIL import Image

    with Image.open(out) as im:
        assert im.size == (128, 128)
    proc = run_main(capsys, "sample", "--checkpoint", str(teacher), "--input", str(lr), "--output", str(out),
                   "--solver", "rk45", "--rtol", "1e-2")
    assert proc.code == 0 and "NFE" in proc.out, proc.err
    student = tmp_path / "student"
    proc = run_main(capsys, "distill", "--teacher", str(teacher), "--data", str(train_images), "--output", str(student),
                   "--steps", "2", "--ckpt-every", "2",
                   *[a for a in TINY if a not in ("--config", "tiny")])
    assert proc.code == 0, proc.err
    assert "1 excluded" in proc.out  # the teacher's held-out image stays out of distillation too
    import json

    assert json.loads((student / "config.json").read_text())["exclude"] == ["kodim01.png"]
    # a student is the wrong kind for `sample`, and a teacher the wrong kind for `distill --teacher`
    assert_one_line_error(run_main(capsys, "sample", "--checkpoint", str(student), "--input", str(lr), "--output",
                                  str(tmp_path / "x.png")), "student checkpoint, but a teacher")
    assert_one_line_error(run_main(capsys, "distill", "--teacher", str(student), "--data", str(train_images), "--output",
                                  str(tmp_path / "s2")), "student checkpoint, but a teacher")


@pytest.mark.parametrize("problem", ["missing", "empty", "resume"])
def test_bad_training_input_is_one_line(tmp_path: Path, problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    if problem != "missing":
        data.mkdir()
    extra = ["--resume"] if problem == "resume" else []
    if problem == "resume":
        (data / "notes.txt").write_text("not an image")
        from PIL import Image

        Image.new("RGB", (64, 64), (10, 20, 30)).save(data / "flat.png")
    proc = run_main(capsys, "train", "--data", str(data), "--output", str(tmp_path / "run"), "--steps", "1", *TINY,
                   *extra)
    needle = {"missing": "data folder not found", "empty": "no images", "resume": "nothing to resume"}[problem]
    assert_one_line_error(proc, needle)


def test_wrong_scale_checkpoint_is_rejected(tiny_student_dir: Path) -> None:
    from oftsr_edge.errors import OftsrError
    from oftsr_edge.train.checkpoint import load_checkpoint

    with pytest.raises(OftsrError, match="x4 checkpoint, but x2"):
        load_checkpoint(tiny_student_dir, kind="student", scale=2)


def test_not_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    fake = tmp_path / "weights.safetensors"
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(fake))
    assert_one_line_error(run_main(capsys, "sample", "--checkpoint", str(fake), "--input", "x.png", "--output", "y.png"),
                          "not an oftsr-edge checkpoint")


def test_train_commands_name_the_missing_extra(tmp_path: Path) -> None:
    """Without torch (simulated by blocking its import) --help still works and train says which extra to install."""
    code = "import sys; sys.modules['torch'] = None; from oftsr_edge.cli import main; main(sys.argv[1:])"
    base = [sys.executable, "-c", code]
    help_proc = subprocess.run([*base, "--help"], capture_output=True, text=True, cwd=REPO)
    assert help_proc.returncode == 0 and "train" in help_proc.stdout
    proc = subprocess.run([*base, "train", "--data", str(tmp_path), "--output", str(tmp_path / "r")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "pip install 'oftsr-edge[train]'" in proc.stderr


@pytest.mark.slow
def test_two_process_gloo_ddp_writes_one_checkpoint(tmp_path: Path, train_images: Path) -> None:
    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun not on PATH")
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([torchrun, "--standalone", "--nproc_per_node=2", "-m", "oftsr_edge.cli", "train",
                           "--data", str(train_images), "--output", str(out), "--steps", "3",
                           "--ckpt-every", "3", "--accelerator", "cpu", *TINY],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "world size 2" in proc.stdout
    checkpoints = sorted((out / "checkpoints").glob("step_*"))
    assert [p.name for p in checkpoints] == ["step_00000003"]
