"""How overlapping HR tiles become one image, in float32 and bounded memory.

Overlapping tiles are blended in HR space with separable raised-cosine weights, normalised to sum to one. The outer
quarter of each overlap gets (almost) no weight: those pixels were computed without context. Tiles arrive row by
row, so only one band of tile rows is kept in float32; HR rows are converted to the output dtype (gray as BT.601
luma) as soon as no later tile touches them, whatever the image size. A two-time model's intermediate state (the
few-step path, docs/architecture.md §3) is blended the same way into a float32 image, but copied ``raw``: it is an
offset from x0, not a picture, so it is never clipped.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from oftsr_edge.runtime.tiling.geometry import AxisPlan, TilePlan

#: Fraction of an overlap, at each tile edge, that is cropped rather than blended.
BLEND_MARGIN = 0.25
#: Full-scale value of each supported pixel dtype (uint8/uint16 are full-range, float32 is [0, 1]).
DTYPE_MAX = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.float32): 1.0}
_WEIGHT_FLOOR = 1e-6  # keeps every weight positive, so normalisation never divides by zero
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as Pillow's convert("L")
_CACHED_WEIGHTS = 8  # a tile row uses a handful of weight profiles; each cached array is a tile's size


def blend_ramp(length: int, margin: float = BLEND_MARGIN) -> np.ndarray:
    """Rising weights over an overlap of ``length`` pixels: ~0 for the first ``margin``, raised cosine, then ~1.

    ``ramp + ramp[::-1] == 1`` up to the floor, so two tiles crossing over one overlap sum to one.
    """
    u = (np.arange(length, dtype=np.float64) + 0.5) / length
    f = np.clip((u - margin) / (1.0 - 2.0 * margin), 0.0, 1.0)
    return _WEIGHT_FLOOR + (1.0 - _WEIGHT_FLOOR) * np.sin(0.5 * np.pi * f) ** 2


def axis_weights(axis: AxisPlan, scale: int, margin: float) -> list[np.ndarray]:
    """Per-tile HR weights along one axis, already divided by their sum over all tiles."""
    size = axis.tile * scale
    raw = []
    for i, start in enumerate(axis.starts):
        w = np.ones(size)
        if i > 0:
            n = (axis.starts[i - 1] + axis.tile - start) * scale
            w[:n] *= blend_ramp(n, margin)
        if i + 1 < len(axis.starts):
            n = (start + axis.tile - axis.starts[i + 1]) * scale
            w[size - n :] *= blend_ramp(n, margin)[::-1]
        raw.append(w)
    total = np.zeros(axis.padded * scale)
    for start, w in zip(axis.starts, raw):
        total[start * scale : start * scale + size] += w
    return [(w / total[s * scale : s * scale + size]).astype(np.float32) for s, w in zip(axis.starts, raw)]


def _dedupe(weights: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
    """Distinct weight profiles and, per tile, the index of its profile (interior tiles mostly share one)."""
    unique: dict[bytes, int] = {}
    ids = [unique.setdefault(w.tobytes(), len(unique)) for w in weights]
    first = {idx: w for idx, w in zip(ids, weights)}
    return [first[k] for k in range(len(unique))], ids


class Band:
    """The float32 HR rows that tiles still add to, for one image written into ``out`` (H·s, W·s, 1 or 3)."""

    def __init__(self, plan: TilePlan, scale: int, margin: float, out: np.ndarray, raw: bool = False) -> None:
        self.plan, self.scale, self.out, self.raw = plan, scale, out, raw
        self.wy, self.wy_id = _dedupe(axis_weights(plan.rows, scale, margin))
        self.wx, self.wx_id = _dedupe(axis_weights(plan.cols, scale, margin))
        self._weights: dict[tuple[int, int], np.ndarray] = {}
        self.acc = np.zeros((3, plan.tile_shape[0] * scale, out.shape[1]), dtype=np.float32)
        self.top = 0  # HR row of acc[:, 0]

    def add(self, hr: np.ndarray, i: int, j: int) -> None:
        """Add tile (i, j)'s weighted HR pixels (3, th·s, tw·s); finish the rows that no later tile touches."""
        s = self.scale
        top, left = self.plan.rows.starts[i] * s, self.plan.cols.starts[j] * s
        if top > self.top:
            self._advance(top)
        height, width = self.out.shape[:2]
        rows, cols = min(hr.shape[1], height - top), min(hr.shape[2], width - left)
        if rows <= 0 or cols <= 0:
            return
        tile = hr[:, :rows, :cols]
        weight = self._weight(i, j)[:rows, :cols]
        if tile.dtype == np.float32 and tile.flags.writeable:
            weighted = np.multiply(tile, weight, out=tile)  # the backend's output is ours to scribble on
        else:
            weighted = np.multiply(tile, weight, dtype=np.float32)
        r0 = top - self.top
        self.acc[:, r0 : r0 + rows, left : left + cols] += weighted

    def finish(self) -> None:
        """Convert every row still in the band: call once, after the last tile."""
        self._flush(self.top, self.out.shape[0])

    def _weight(self, i: int, j: int) -> np.ndarray:
        """The 2-D weight of tile (i, j); tiles with the same row and column profiles share one array."""
        key = (self.wy_id[i], self.wx_id[j])
        w = self._weights.get(key)
        if w is None:
            if len(self._weights) >= _CACHED_WEIGHTS:
                self._weights.pop(next(iter(self._weights)))
            w = self._weights[key] = np.outer(self.wy[key[0]], self.wx[key[1]])
        return w

    def _advance(self, top: int) -> None:
        """Move the band down to start at HR row ``top``: rows above it are final."""
        shift = top - self.top
        self._flush(self.top, min(top, self.out.shape[0]))
        band = self.acc.shape[1]
        if shift < band:
            self.acc[:, : band - shift] = self.acc[:, shift:]
            self.acc[:, band - shift :] = 0.0
        else:
            self.acc[:] = 0.0
        self.top = top

    def _flush(self, start: int, stop: int) -> None:
        """Convert finished HR rows ``[start, stop)`` of the band into the output array (in place: the band rows
        are discarded afterwards)."""
        if stop <= start:
            return
        to_output(self.acc[:, start - self.top : stop - self.top], self.out[start:stop], self.raw)


#: Rows × columns above which :func:`to_output` splits its work over two threads (numpy releases the GIL).
_PARALLEL_PIXELS = 256 * 1024


def to_output(block: np.ndarray, dest: np.ndarray, raw: bool = False) -> None:
    """Convert float32 RGB rows ``block`` (3, h, w) in [0, 1] into ``dest`` (h, w, 1 or 3) of its dtype, in place
    (``block`` is scribbled on): gray as BT.601 luma, integers scaled to full range, clipped and rounded. ``raw``:
    a float32 (h, w, 3) ``dest`` takes the values as they are (a two-time model's state)."""
    if raw:
        dest[...] = block.transpose(1, 2, 0)
        return
    rows = block.shape[1]
    if rows * block.shape[2] < _PARALLEL_PIXELS or rows < 2:
        _to_output(block, dest)
        return
    half = rows // 2
    job = _pool().submit(_to_output, block[:, half:], dest[half:])
    _to_output(block[:, :half], dest[:half])
    job.result()


def _to_output(block: np.ndarray, dest: np.ndarray) -> None:
    if dest.shape[2] == 1:
        block = np.tensordot(_LUMA, block, axes=1)[None]
    peak = DTYPE_MAX[dest.dtype]
    if peak != 1.0:
        block *= np.float32(peak)
    np.clip(block, 0.0, peak, out=block)
    if peak != 1.0:
        np.rint(block, out=block)
    dest[...] = block.transpose(1, 2, 0)


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(1, thread_name_prefix="oftsr-convert")
