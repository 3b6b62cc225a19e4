"""Noise is a pure function of (seed, HR position), drawn block by block from Philox keyed by the block."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from oftsr_edge.runtime.tiling.noise import NOISE_BLOCK, NoiseField, quantile_table


def test_block_matches_its_definition() -> None:
    """The documented recipe: Philox(key=[seed, by·2³² + bx]).random_raw → 16-bit codes → normal quantiles."""
    field = NoiseField(seed=7)
    block = field.draw_block(3, 5)
    raw = np.random.Philox(key=np.array([7, (3 << 32) | 5], dtype=np.uint64)).random_raw(
        3 * NOISE_BLOCK**2 // 4
    )
    codes = np.stack([(raw >> np.uint64(16 * k)) & np.uint64(0xFFFF) for k in range(4)], axis=1).reshape(-1)
    table = np.array([NormalDist().inv_cdf((k + 0.5) / 65536) for k in codes[:100]], dtype=np.float32)
    assert block.shape == (3, NOISE_BLOCK, NOISE_BLOCK) and block.dtype == np.float32
    np.testing.assert_array_equal(block.reshape(-1)[:100], table)


def test_region_does_not_depend_on_how_it_is_cut() -> None:
    field = NoiseField(seed=1)
    whole = field.region(5, 9, 150, 210)
    pieces = np.concatenate(
        [
            np.concatenate([field.region(5 + y, 9 + x, 50, 70) for x in (0, 70, 140)], axis=2)
            for y in (0, 50, 100)
        ],
        axis=1,
    )
    np.testing.assert_array_equal(whole, pieces)
    np.testing.assert_array_equal(NoiseField(seed=1).region(60, 70, 10, 10), whole[:, 55:65, 61:71])


def test_seed_changes_noise_and_statistics_are_standard_normal() -> None:
    a, b = NoiseField(0).region(0, 0, 256, 256), NoiseField(1).region(0, 0, 256, 256)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, NoiseField(0).region(0, 0, 256, 256))
    assert abs(float(a.mean())) < 0.01 and abs(float(a.std()) - 1.0) < 0.01
    assert abs(float(np.corrcoef(a[0].ravel(), a[1].ravel())[0, 1])) < 0.01  # channels independent


def test_quantile_table_is_symmetric_and_unit_variance() -> None:
    table = quantile_table()
    assert table.shape == (65536,) and table[0] == -table[-1]
    assert abs(float(table.astype(np.float64).var()) - 1.0) < 1e-4


def test_cache_keeps_only_what_later_tiles_need() -> None:
    field = NoiseField(0)
    out = np.empty((3, 100, 100), dtype=np.float32)
    field.fill(out, 0, 0)
    assert field.cached_blocks == 0  # nothing asked to be kept
    field.fill(out, 0, 0, keep_rows_from=80, keep_cols_from=90)
    assert field.cached_blocks == 3  # all 64-blocks but the top-left one reach row 80 or column 90
    field.release_cols_before(64, keep_rows_from=200)  # drops block (1, 0): left of column 64
    assert field.cached_blocks == 2
    field.release_rows_before(128)
    assert field.cached_blocks == 0
