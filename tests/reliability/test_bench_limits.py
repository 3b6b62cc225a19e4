"""``bench`` with sizes and tiles that do not fit: a tile larger than the image is clamped (and said), and what a
configuration would allocate is estimated first, so an impossible one is one line instead of the OOM killer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import assert_one_line_error, run_main


def _bench(capsys: pytest.CaptureFixture[str], model: Path, *args: str):
    return run_main(capsys, "bench", "--model", str(model), "--backend", "ort-cpu", "--peers", "none", "--runs", "1",
                    "--warmup-runs", "0", *args)  # fmt: skip


def test_a_tile_larger_than_the_image_is_clamped(capsys: pytest.CaptureFixture[str], model: Path) -> None:
    result = _bench(capsys, model, "--image-size", "64x64", "--tile", "5000")
    assert result.code == 0, result.err
    assert "tile 5000 is larger than the 16x16 LR image of 64x64: clamped to 16" in result.out + result.err
    assert "Traceback" not in result.err


def test_memory_is_estimated_before_allocating(capsys: pytest.CaptureFixture[str], model: Path) -> None:
    result = _bench(capsys, model, "--image-size", "400000x400000", "--tile", "0")
    assert result.code == 2
    assert_one_line_error(result, "bench: LR 100000x100000 with tile whole and batch 1 needs about")
    assert "GiB is free: use a smaller --image-size, --tile or --batch-size" in result.err
