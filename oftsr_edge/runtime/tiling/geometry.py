"""Where tiles go, in LR pixels: tile starts, per-axis padding, the tile grid of one image.

Tiles are cut with a fixed size and overlap. Tile starts are multiples of the model's ``multiple_of`` (so every tile
sees the same stride-2 grid as the whole image) and spread evenly, the last one flush with the border, so all tiles
have one shape (a TensorRT profile's opt shape). The image is reflect-padded at the bottom/right to a multiple of
``multiple_of`` (and up to the tile for small images when the backend wants one fixed shape), so padding never moves
a real pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def round_up(value: int, multiple: int) -> int:
    """``value`` rounded up to a multiple of ``multiple``: tiles and overlaps must keep the model's stride grid."""
    return -(-value // multiple) * multiple


def default_overlap(tile: int, multiple_of: int) -> int:
    """LR overlap used when none is given: an eighth of the tile, at least 8 pixels (and a multiple_of)."""
    if tile <= 0:
        return 0
    overlap = max(8, tile // 8)
    return min(round_up(overlap, multiple_of), max(0, tile - multiple_of))


def profile_tile(tile: int | None, model_tile: int, multiple_of: int) -> int:
    """The LR tile edge a TensorRT profile is built for: the tile the tiler will cut (``tile``, or the model's
    recommended tile when ``tile`` is None or 0 = whole image), rounded up to ``multiple_of``."""
    return round_up(tile or model_tile, multiple_of)


def tile_starts(length: int, tile: int, overlap: int, multiple: int) -> list[int]:
    """Starts of equal tiles covering ``[0, length)``: multiples of ``multiple``, evenly spread, last one flush.

    ``length``, ``tile`` and ``overlap`` must be multiples of ``multiple``; then every overlap is ≥ ``overlap``.
    """
    if length <= tile:
        return [0]
    count = 1 + math.ceil((length - tile) / (tile - overlap))
    units = (length - tile) // multiple
    return [(i * units // (count - 1)) * multiple for i in range(count)]


@dataclass(frozen=True)
class AxisPlan:
    """How one axis (rows or columns) is padded and cut, in LR pixels."""

    length: int
    padded: int
    tile: int
    starts: tuple[int, ...]


@dataclass(frozen=True)
class TilePlan:
    """The tile grid for one image: row and column plans; tiles are visited row by row."""

    rows: AxisPlan
    cols: AxisPlan

    @property
    def count(self) -> int:
        return len(self.rows.starts) * len(self.cols.starts)

    @property
    def tile_shape(self) -> tuple[int, int]:
        return self.rows.tile, self.cols.tile


def plan_axis(length: int, tile: int, overlap: int, multiple_of: int, fixed_shape: bool) -> AxisPlan:
    """Pad ``length`` to ``multiple_of`` (and up to ``tile`` when ``fixed_shape``) and cut it; ``tile`` 0 = one
    tile over the whole padded axis. ``tile`` and ``overlap`` must already be multiples of ``multiple_of``."""
    padded = round_up(length, multiple_of)
    if not tile:
        return AxisPlan(length, padded, padded, (0,))
    if fixed_shape:
        padded = max(padded, tile)
    tile = min(tile, padded)
    return AxisPlan(length, padded, tile, tuple(tile_starts(padded, tile, overlap, multiple_of)))
