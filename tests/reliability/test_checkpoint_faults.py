"""Checkpoints under faults a user meets: a disk that fills during a save, a checkpoint whose tensors disagree
with its own config, a ``latest.txt`` that points out of the run folder, and a config no network can have. Each is
one line and a non-zero exit; the checkpoints already saved stay as they were and nothing half-written is left."""

from __future__ import annotations

import json
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from oftsr_edge.contract import METADATA_KEY  # checkpoints carry their config under the same key
from tests.helpers.cli import assert_one_line_error, run_main

torch = pytest.importorskip("torch")
from safetensors.torch import load_file, save_file  # noqa: E402 - after the torch skip


def _train(data: Path, run: Path, steps: int, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "-o", str(run), "--config", "tiny", "--steps", str(steps),
            "--batch-size", "1", "--crop", "32", "--warmup", "0", "--ema", "0", "--val-every", "0", "--ckpt-every", "1",
            "--accelerator", "cpu", "--threads", "1", "--quiet", *extra]  # fmt: skip


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, train_images: Path) -> Path:
    """A run folder holding one complete checkpoint, step 1."""
    folder = tmp_path / "run"
    result = run_main(capsys, *_train(train_images, folder, 1))
    assert result.code == 0, result.err
    return folder


@contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """What a nearly full disk does to a write (``ulimit -f``: EFBIG past ``limit`` bytes), in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("fails_at", ["weights.safetensors", "trainer_state.pt"])
def test_a_disk_that_fills_during_a_save_is_one_line_and_keeps_the_earlier_checkpoint(
    capsys: pytest.CaptureFixture[str], run: Path, train_images: Path, fails_at: str
) -> None:
    step1 = run / "checkpoints" / "step_00000001"
    weights, state = (step1 / "weights.safetensors").stat().st_size, (step1 / "trainer_state.pt").stat().st_size
    assert weights < state, "the trainer state must be the larger file for the second case to fail there"
    limit = weights // 2 if fails_at == "weights.safetensors" else weights + (state - weights) // 2
    before = _listing(run / "checkpoints")
    with _file_size_limit(limit):
        result = run_main(capsys, *_train(train_images, run, 2, "--resume"))
    assert_one_line_error(result, f"cannot save checkpoint {run / 'checkpoints' / 'step_00000002'}: disk full")
    assert "unexpected pos" not in result.err
    assert _listing(run / "checkpoints") == before  # no staging folder, no step 2, latest.txt unchanged
    assert (run / "checkpoints" / "latest.txt").read_text() == "step_00000001\n"
    assert run_main(capsys, *_train(train_images, run, 2, "--resume")).code == 0  # the run goes on once there is room


def test_resume_with_tensors_that_disagree_with_their_config_is_one_line(
    capsys: pytest.CaptureFixture[str], run: Path, train_images: Path
) -> None:
    weights = run / "checkpoints" / "step_00000001" / "weights.safetensors"
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(weights))
    tensors["model.conv_in.weight"] = torch.zeros(16, 96, 3, 3)  # 8 output channels in the tiny config
    save_file(tensors, str(weights), metadata=metadata)
    result = run_main(capsys, *_train(train_images, run, 2, "--resume"))
    assert_one_line_error(result, "tensor model.conv_in.weight has shape [16, 96, 3, 3], but its config (tiny x4) "
                                  "needs [8, 96, 3, 3]")


@pytest.mark.parametrize("target", ["../../elsewhere/checkpoints/step_00000001", "/tmp/step_00000001"])
def test_a_latest_txt_pointing_out_of_the_run_folder_is_refused(
    capsys: pytest.CaptureFixture[str], run: Path, train_images: Path, target: str
) -> None:
    (run / "checkpoints" / "latest.txt").write_text(target + "\n")
    result = run_main(capsys, *_train(train_images, run, 2, "--resume"))
    assert_one_line_error(result, "not a step_N checkpoint of this run folder")


def test_a_config_no_network_can_have_is_one_line_before_any_allocation(
    capsys: pytest.CaptureFixture[str], run: Path, tmp_path: Path
) -> None:
    weights = run / "checkpoints" / "step_00000001" / "weights.safetensors"
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as handle:
        meta = json.loads(handle.metadata()[METADATA_KEY])
    meta["model"]["channels"] = [200000, 400000]
    save_file(load_file(str(weights)), str(weights), metadata={METADATA_KEY: json.dumps(meta)})
    image = tmp_path / "lr.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(image)
    result = run_main(capsys, "sample", "--checkpoint", str(weights), "--input", str(image), "-o",
                      str(tmp_path / "hr.png"))
    assert_one_line_error(result, "model config out of range: channels [200000, 400000] (each 1-4096)")
