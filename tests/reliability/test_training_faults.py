"""Faults in training: a run killed midway resumes from its last checkpoint, a killed save's staging folder is
swept, an unreadable newest checkpoint falls back to the previous one with a warning, and a weights file named
on the command line is the file loaded."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import pytest

from oftsr_edge.fileio import TEMP_SUFFIX
from tests.helpers.cli import run_main
from tests.reliability.conftest import cli_process, dead_pid

pytest.importorskip("torch")


def _train(data: Path, run: Path, steps: int, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "-o", str(run), "--config", "tiny", "--steps", str(steps),
            "--batch-size", "1", "--crop", "32", "--warmup", "0", "--val-every", "0", "--ckpt-every", "1",
            "--accelerator", "cpu", "--threads", "1", "--quiet", *extra]  # fmt: skip


def _latest(run: Path) -> str | None:
    latest = run / "checkpoints" / "latest.txt"
    try:
        return latest.read_text().strip() or None
    except FileNotFoundError:
        return None


def _staging(run: Path) -> list[Path]:
    return sorted((run / "checkpoints").glob(f".*{TEMP_SUFFIX}"))


def test_training_killed_midway_resumes_from_its_last_checkpoint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, train_images: Path
) -> None:
    run = tmp_path / "run"
    proc = cli_process(*_train(train_images, run, 40))
    deadline = time.monotonic() + 1800
    while (_latest(run) or "") < "step_00000002":
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint within the timeout"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    killed_at = int(_latest(run).split("_")[1])
    assert killed_at < 40, "the run finished before it was killed: the test proved nothing"
    # a save killed between its staging folder and the rename leaves this behind
    (run / "checkpoints" / f".step_00000099.{dead_pid()}.abcd1234{TEMP_SUFFIX}").mkdir()
    result = run_main(capsys, *_train(train_images, run, killed_at + 2, "--resume"))
    assert result.code == 0, result.err
    assert _latest(run) == f"step_{killed_at + 2:08d}"
    assert _staging(run) == []


def _two_checkpoints(capsys: pytest.CaptureFixture[str], data: Path, run: Path) -> None:
    result = run_main(capsys, *_train(data, run, 2))
    assert result.code == 0, result.err
    assert _latest(run) == "step_00000002"


def test_an_unreadable_latest_checkpoint_falls_back_to_the_previous_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, train_images: Path
) -> None:
    run = tmp_path / "run"
    _two_checkpoints(capsys, train_images, run)
    weights = run / "checkpoints" / "step_00000002" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated, as by a full disk or a crash during a copy
    result = run_main(capsys, *_train(train_images, run, 3, "--resume"))
    assert result.code == 0, result.err
    notes = [line for line in result.err.splitlines() if "checkpoint" in line]
    assert len(notes) == 1 and notes[0].startswith("oftsr-edge: warning: cannot read checkpoint weights"), result.err
    assert "step_00000002" in notes[0] and "using the previous checkpoint" in notes[0] and "step_00000001" in notes[0]
    assert "Traceback" not in result.err
    assert _latest(run) == "step_00000003"


def test_a_weights_file_named_on_the_command_line_is_the_one_loaded(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, train_images: Path
) -> None:
    from oftsr_edge.fileio import sha256_file
    from oftsr_edge.train.checkpoint import load_checkpoint

    run = tmp_path / "run"
    _two_checkpoints(capsys, train_images, run)
    first = run / "checkpoints" / "step_00000001" / "weights.safetensors"
    chosen = run / "checkpoints" / "step_00000002" / "X.safetensors"
    shutil.copy(first, chosen)  # dir/X.safetensors holds step 1; dir/weights.safetensors holds step 2
    loaded = load_checkpoint(chosen)
    assert loaded.step == 1 and loaded.weights_path == chosen
    assert sha256_file(loaded.weights_path) == sha256_file(first)
    assert load_checkpoint(chosen.parent).step == 2
