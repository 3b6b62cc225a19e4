"""Validation pairs: matched LR, bicubic-made LR with modcrop, grayscale HR, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation.dataset import bicubic_down, load_pairs


def test_given_lr_matches_names_and_crops_hr(photos: Path) -> None:
    pairs = load_pairs(photos / "HR", 4, lr_dir=photos / "LR_bicubic" / "X4")
    assert [p.name for p in pairs] == ["kodim01", "kodim05", "kodim08", "kodim13", "kodim15"]
    for p in pairs:
        assert p.hr.shape == (p.lr.shape[0] * 4, p.lr.shape[1] * 4, 3) and p.hr.dtype == np.uint8


def test_bicubic_degrade_crops_to_multiple_then_downsamples(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (37, 50, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    (pair,) = load_pairs(tmp_path, 4)
    assert pair.hr.shape == (36, 48, 3) and pair.lr.shape == (9, 12, 3)
    expect = np.asarray(Image.fromarray(rgb[:36, :48]).resize((12, 9), Image.BICUBIC))
    assert np.array_equal(pair.lr, expect)
    assert np.array_equal(bicubic_down(rgb[:36, :48], 4), expect)


def test_grayscale_hr_stays_gray(tmp_path: Path) -> None:
    gray = np.random.default_rng(1).integers(0, 256, (32, 32), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "g.png")
    lr_dir = tmp_path / "lr"
    lr_dir.mkdir()
    Image.fromarray(np.repeat(gray[::4, ::4, None], 3, axis=2)).save(
        lr_dir / "g.png"
    )  # RGB file, gray content
    (made,) = load_pairs(tmp_path, 4)
    (given,) = load_pairs(tmp_path, 4, lr_dir=lr_dir)
    assert made.gray and made.lr.shape == (8, 8, 1)
    assert given.gray and given.lr.shape == (8, 8, 1)


def test_errors_are_one_line(tmp_path: Path, photos: Path) -> None:
    with pytest.raises(OftsrError, match="not a folder"):
        load_pairs(tmp_path / "missing", 4)
    with pytest.raises(OftsrError, match="no images"):
        load_pairs(tmp_path, 4)
    with pytest.raises(OftsrError, match="does not match LR"):
        load_pairs(photos / "HR", 8, lr_dir=photos / "LR_bicubic" / "X4")
    with pytest.raises(OftsrError, match="no LR image"):
        load_pairs(photos / "HR", 4, lr_dir=tmp_path)
    with pytest.raises(OftsrError, match="degradation"):
        load_pairs(photos / "HR", 4, degrade="jpeg")


def test_lr_of_another_scale_is_refused_naming_the_first_pair_but_modcrop_is_allowed(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    hr_dir, lr_dir = tmp_path / "hr", tmp_path / "lr"
    hr_dir.mkdir(), lr_dir.mkdir()
    for name, hr_size, lr_size in (("a", (67, 65), (16, 16)), ("b", (64, 64), (8, 8)), ("c", (64, 64), (8, 8))):
        Image.fromarray(rng.integers(0, 256, (*hr_size, 3), dtype=np.uint8)).save(hr_dir / f"{name}.png")
        Image.fromarray(rng.integers(0, 256, (*lr_size, 3), dtype=np.uint8)).save(lr_dir / f"{name}.png")
    with pytest.raises(OftsrError, match=r"^b\.png: HR 64×64 does not match LR b\.png 8×8 at ×4 \(HR must be 32×32, "
                       r"up to 3 px more per side\)"):
        load_pairs(hr_dir, 4, lr_dir=lr_dir)
    (pair,) = load_pairs(hr_dir, 4, lr_dir=lr_dir, limit=1)  # 67×65 → 64×64: the usual crop to a multiple
    assert pair.hr.shape == (64, 64, 3)
    Image.fromarray(rng.integers(0, 256, (68, 64, 3), dtype=np.uint8)).save(hr_dir / "a.png")  # 4 px over
    with pytest.raises(OftsrError, match="a.png: HR 64×68 does not match"):
        load_pairs(hr_dir, 4, lr_dir=lr_dir, limit=1)
