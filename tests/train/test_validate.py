"""Validation pairs come from the LR folder of the run's own degradation, never silently from another one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oftsr_edge.errors import OftsrError
from oftsr_edge.train.validate import load_val_pairs


def _write(path: Path, value: int, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)


@pytest.fixture
def val_folder(tmp_path: Path) -> Path:
    _write(tmp_path / "HR" / "a.png", 200, 32)
    _write(tmp_path / "LR_bicubic" / "X4" / "a.png", 10, 8)
    _write(tmp_path / "LR_realesrgan" / "X4" / "a.png", 90, 8)
    return tmp_path


@pytest.mark.parametrize(("degradation", "value"), [("bicubic", 10), ("realesrgan", 90)])
def test_lr_images_follow_the_degradation(val_folder: Path, degradation: str, value: int) -> None:
    (pair,) = load_val_pairs(val_folder, 4, degradation=degradation)
    assert pair.lr.shape == (8, 8, 3) and int(pair.lr[0, 0, 0]) == value
    assert pair.hr.shape == (32, 32, 3)


def test_a_missing_lr_folder_of_the_degradation_is_an_error(val_folder: Path) -> None:
    import shutil

    shutil.rmtree(val_folder / "LR_realesrgan")
    with pytest.raises(OftsrError, match="no LR_realesrgan/X4/ folder.*oftsr-edge degrade"):
        load_val_pairs(val_folder, 4, degradation="realesrgan")


def test_lr_of_another_scale_is_refused_not_cropped_to_a_corner(tmp_path: Path) -> None:
    _write(tmp_path / "HR" / "a.png", 0, 64)
    _write(tmp_path / "LR_bicubic" / "X4" / "a.png", 0, 8)  # an x8 set in the x4 folder
    with pytest.raises(OftsrError, match="a.png: HR 64×64 does not match LR a.png 8×8 at ×4"):
        load_val_pairs(tmp_path, 4)
