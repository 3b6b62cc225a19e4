"""NIQE against MATLAB's published value for baboon, plus the pieces MATLAB defines (imresize, AGGD search)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from oftsr_edge.metrics import niqe as niqe_mod
from oftsr_edge.metrics.niqe import matlab_resize, matlab_resize_matrix, niqe, niqe_y, pristine_params

# BasicSR's basicsr/metrics/niqe.py docstring: "MATLAB R2021a result for tests/data/baboon.png: 5.72957338"
# (official niqe_release code on the Y channel). Its baboon.png is the 500×480 Set14 baboon; our copy is the
# Set14 HR file from the full data folder (not byte-identical as a PNG, so pixels could in principle differ slightly).
# Set14 cannot ship with the repository: this test is opt-in (OFTSR_DATA=DIR, see tests/conftest.py).
MATLAB_BABOON = 5.72957338


@pytest.mark.opt_in("fulldata")
def test_baboon_matches_matlab(full_data) -> None:
    path = full_data / "val" / "Set14" / "HR" / "baboon.png"
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape == (480, 500, 3)
    assert niqe(img) == pytest.approx(MATLAB_BABOON, abs=1e-2)


def test_params_are_the_shipped_pristine_model() -> None:
    mu, cov, window = pristine_params()
    assert mu.shape == (36,) and cov.shape == (36, 36) and window.shape == (7, 7)
    assert np.allclose(cov, cov.T) and window.sum() == pytest.approx(1.0)


def test_matlab_resize_half_known_weights() -> None:
    """imresize(·, 0.5) with antialiasing: an 8-tap stretched cubic; rows sum to 1; mirrored at the edges."""
    m = matlab_resize_matrix(16, 0.5)
    assert m.shape == (8, 16)
    assert np.allclose(m.sum(axis=1), 1.0)
    # an interior output sits at input position 2i − 0.5 (1-based): weights symmetric about it
    row = m[4]
    centre = 2 * 5 - 0.5 - 1  # 0-based
    taps = np.nonzero(row)[0]
    assert np.allclose(row[taps], row[taps][::-1]) and taps.mean() == pytest.approx(centre)
    # weights equal 0.5·cubic(0.5·d) normalised; cubic(0.25)=0.890625·…: check the two central taps directly
    d = np.abs(taps - centre)
    expect = 0.5 * niqe_mod._cubic(0.5 * d)
    assert np.allclose(row[taps], expect / expect.sum())
    flat = np.full((10, 12), 7.0)
    assert np.allclose(matlab_resize(flat, 0.5), 7.0)


def test_nearest_index_equals_full_scan() -> None:
    _, r_grid, *_ = niqe_mod._aggd_table()
    values = np.random.default_rng(0).uniform(0.0, 0.8, 500)
    full = np.argmin((r_grid[None, :] - values[:, None]) ** 2, axis=1)
    assert np.array_equal(niqe_mod._nearest_index(r_grid, values), full)


def test_aggd_fit_recovers_gaussian_shape() -> None:
    """A Gaussian sample is an AGGD with α = 2 and β_l = β_r = σ·√2."""
    x = np.random.default_rng(1).normal(0, 3.0, (1, 200_000))
    alpha, left, right, _ = niqe_mod._aggd_fit(x)
    assert alpha[0] == pytest.approx(2.0, abs=0.03)
    assert left[0] == pytest.approx(3.0 * math.sqrt(2), rel=0.02) and right[0] == pytest.approx(
        3.0 * math.sqrt(2), rel=0.02
    )


def test_blur_scores_worse_than_sharp(photos) -> None:
    img = Image.open(photos / "HR" / "kodim08.png").convert("RGB")  # 256 × 192
    sharp = niqe(np.asarray(img))
    w, h = img.size
    blurry = niqe(np.asarray(img.resize((w // 4, h // 4), Image.BICUBIC).resize((w, h), Image.BICUBIC)))
    assert blurry > sharp + 1.0


def test_small_and_flat_images() -> None:
    with pytest.raises(ValueError, match="96"):
        niqe(np.zeros((95, 200, 3), np.uint8))
    assert math.isnan(niqe_y(np.full((96, 96), 50.0)))
