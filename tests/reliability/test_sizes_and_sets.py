"""Pairs and sets a user hands to ``eval`` and ``degrade``: an LR folder of another scale is refused before any
scoring instead of comparing a corner of each photo."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import assert_one_line_error, run_main
from tests.reliability.conftest import photo


def test_eval_with_an_x8_lr_folder_and_an_x4_model_names_the_first_mismatching_pair(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    for name in ("a", "b"):
        photo(tmp_path / "hr" / f"{name}.png", (64, 64))
        photo(tmp_path / "lr_x8" / f"{name}.png", (8, 8))
    result = run_main(capsys, "eval", "--model", str(model), "--hr", str(tmp_path / "hr"), "--lr",
                      str(tmp_path / "lr_x8"), "--no-niqe")
    assert_one_line_error(result, "a.png: HR 64×64 does not match LR a.png 8×8 at ×4")
    assert result.out == ""
