"""Scoring: every method scored the same way; known values for the oracle and the standard bicubic baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation.dataset import Pair, load_pairs
from oftsr_edge.evaluation.methods import bicubic_method, hr_reference
from oftsr_edge.evaluation.quality import Method, evaluate, score_image


def test_oracle_and_bicubic_on_photos(photos: Path) -> None:
    pairs = load_pairs(photos / "HR", 4, lr_dir=photos / "LR_bicubic" / "X4")
    by_name = {p.name: p for p in pairs}
    oracle = Method("oracle", "peer", lambda lr: by_name[_which(pairs, lr)].hr)
    res = evaluate(pairs, [bicubic_method(4), oracle, hr_reference()], 4, with_niqe=False)
    bic = res.summary("bicubic")
    # each image scored on its own, then averaged: the mean row equals the mean of the per-image rows
    per_image = [r.psnr_y for r in res.images if r.method == "bicubic"]
    assert len(per_image) == 5 and bic.psnr_y == pytest.approx(sum(per_image) / 5)
    assert 18.0 < bic.psnr_y < 35.0 and 0.4 < bic.ssim_y < 0.95  # x4 bicubic on photos: far from both ends
    assert res.summary("oracle").psnr_y is None and res.summary("oracle").ssim_y == pytest.approx(1.0)
    assert len(res.images) == 15 and res.to_dict()["summary"][0]["method"] == "bicubic"


@pytest.mark.opt_in("fulldata")
def test_oracle_and_bicubic_on_set5(full_data: Path) -> None:
    set5 = full_data / "val" / "Set5"
    pairs = load_pairs(set5 / "HR", 4, lr_dir=set5 / "LR_bicubic" / "X4")
    by_name = {p.name: p for p in pairs}
    oracle = Method("oracle", "peer", lambda lr: by_name[_which(pairs, lr)].hr)
    res = evaluate(pairs, [bicubic_method(4), oracle, hr_reference()], 4, with_niqe=False)
    bic = res.summary("bicubic")
    # Set5 ×4 bicubic is 28.42 dB PSNR-Y / 0.810 SSIM with MATLAB imresize; Pillow's a = −0.5 bicubic is within 0.1
    assert bic.psnr_y == pytest.approx(28.42, abs=0.1)
    assert bic.ssim_y == pytest.approx(0.810, abs=0.01)
    assert res.summary("oracle").psnr_y is None  # identical: infinite PSNR is not averaged
    assert res.summary("oracle").ssim_y == pytest.approx(1.0)
    assert len(res.images) == 15 and res.to_dict()["summary"][0]["method"] == "bicubic"


def _which(pairs: list[Pair], lr: np.ndarray) -> str:
    return next(p.name for p in pairs if p.lr is lr)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(OftsrError, match="does not match"):
        score_image(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 12, 3), np.uint8), 4)


def test_niqe_dash_for_small_images_and_gray_lpips() -> None:
    class Const:
        def distance(self, a: np.ndarray, b: np.ndarray) -> float:
            assert a.shape[2] == 3 and b.shape[2] == 3  # gray is expanded for LPIPS
            return 0.5

    hr = np.random.default_rng(0).integers(0, 256, (40, 40, 1), dtype=np.uint8)
    p, s, n, lp = score_image(hr, hr, 4, lpips_model=Const())
    assert p is None and s == pytest.approx(1.0) and n is None and lp == 0.5
