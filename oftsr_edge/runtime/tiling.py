"""Tiled one-step upscaling whose output does not depend on the tiling (DESIGN §3), in bounded memory.

One class, :class:`Tiler`, owns the whole path from an LR array to the HR array (the RealESRGANer idea):

* tiles are cut in LR space with a fixed size and overlap; tile starts are multiples of the model's ``multiple_of``
  (so every tile sees the same stride-2 grid as the whole image) and spread evenly, the last one flush with the border,
  so all tiles have one shape (a TensorRT profile's opt shape);
* the image is reflect-padded at the bottom/right to a multiple of ``multiple_of`` (and to the tile size for small
  images when the backend wants one fixed shape), so padding never moves a real pixel;
* the noise of a tile comes from :class:`~oftsr_edge.runtime.noise.NoiseField`: a function of (seed, HR position);
* overlapping tiles are blended in HR space with separable raised-cosine weights, normalised to sum to one, in
  float32. The outer quarter of each overlap gets (almost) no weight: those pixels were computed without context;
* tiles are processed row by row and HR rows are converted to the output dtype as soon as no later tile touches them,
  so memory is one band of tile rows in float32 plus the output image, whatever the image size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.noise import NOISE_BLOCK, NoiseField

#: ``run(lr, noise, t) -> hr`` on float32 NCHW arrays: a backend's ``run`` or any function with that contract.
RunFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
#: ``progress(done_tiles, total_tiles)``, called after each tile is blended in.
ProgressFn = Callable[[int, int], None]

#: Fraction of an overlap, at each tile edge, that is cropped rather than blended.
BLEND_MARGIN = 0.25
_WEIGHT_FLOOR = 1e-6  # keeps every weight positive, so normalisation never divides by zero
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as Pillow's convert("L")
_DTYPE_MAX = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.float32): 1.0}


class NonFiniteOutputError(OftsrError):
    """The backend returned NaN or Inf (typically an fp16/int8 overflow); the caller may retry in fp32."""


def tile_starts(length: int, tile: int, overlap: int, multiple: int) -> list[int]:
    """Starts of equal tiles covering ``[0, length)``: multiples of ``multiple``, evenly spread, last one flush.

    ``length``, ``tile`` and ``overlap`` must be multiples of ``multiple``; then every overlap is ≥ ``overlap``.
    """
    if length <= tile:
        return [0]
    count = 1 + math.ceil((length - tile) / (tile - overlap))
    units = (length - tile) // multiple
    return [(i * units // (count - 1)) * multiple for i in range(count)]


def blend_ramp(length: int, margin: float = BLEND_MARGIN) -> np.ndarray:
    """Rising weights over an overlap of ``length`` pixels: ~0 for the first ``margin``, raised cosine, then ~1.

    ``ramp + ramp[::-1] == 1`` up to the floor, so two tiles crossing over one overlap sum to one.
    """
    u = (np.arange(length, dtype=np.float64) + 0.5) / length
    f = np.clip((u - margin) / (1.0 - 2.0 * margin), 0.0, 1.0)
    return _WEIGHT_FLOOR + (1.0 - _WEIGHT_FLOOR) * np.sin(0.5 * np.pi * f) ** 2


@dataclass(frozen=True)
class AxisPlan:
    """How one axis (rows or columns) is padded and cut, in LR pixels."""

    length: int
    padded: int
    tile: int
    starts: tuple[int, ...]

    def hr_weights(self, scale: int, margin: float) -> list[np.ndarray]:
        """Per-tile HR weights along this axis, already divided by their sum over all tiles."""
        size = self.tile * scale
        raw = []
        for i, start in enumerate(self.starts):
            w = np.ones(size)
            if i > 0:
                n = (self.starts[i - 1] + self.tile - start) * scale
                w[:n] *= blend_ramp(n, margin)
            if i + 1 < len(self.starts):
                n = (start + self.tile - self.starts[i + 1]) * scale
                w[size - n :] *= blend_ramp(n, margin)[::-1]
            raw.append(w)
        total = np.zeros(self.padded * scale)
        for start, w in zip(self.starts, raw):
            total[start * scale : start * scale + size] += w
        return [
            (w / total[s * scale : s * scale + size]).astype(np.float32) for s, w in zip(self.starts, raw)
        ]


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


def _dedupe(weights: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
    """Distinct weight profiles and, per tile, the index of its profile (interior tiles mostly share one)."""
    unique: dict[bytes, int] = {}
    ids = [unique.setdefault(w.tobytes(), len(unique)) for w in weights]
    first = {idx: w for idx, w in zip(ids, weights)}
    return [first[k] for k in range(len(unique))], ids


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


class Tiler:
    """Runs ``run`` over fixed-size overlapping tiles of an LR image and blends them into the HR image.

    ``tile`` = 0 processes the (padded) image in one call. ``tile`` and ``overlap`` are rounded up to multiples of
    ``multiple_of``. ``fixed_shape`` pads images smaller than a tile up to the tile (one shape for static engines);
    without it a small image is padded only to ``multiple_of``. ``batch`` tiles go into one ``run`` call.
    ``pipeline`` prepares the next batch and blends the previous one on two worker threads while ``run`` works;
    ``run`` must then return a fresh array each call, and ``progress`` is called from the blending thread.
    ``check_finite`` raises :class:`NonFiniteOutputError` on NaN/Inf output (for fp16/int8 models).
    """

    def __init__(
        self,
        run: RunFn,
        scale: int,
        multiple_of: int = 1,
        tile: int = 0,
        overlap: int = 0,
        batch: int = 1,
        fixed_shape: bool = True,
        check_finite: bool = False,
        pipeline: bool = True,
        margin: float = BLEND_MARGIN,
        noise_block: int = NOISE_BLOCK,
    ) -> None:
        if tile < 0 or overlap < 0:
            raise OftsrError(f"tile and overlap must be ≥ 0, got tile {tile}, overlap {overlap}")
        if batch < 1:
            raise OftsrError(f"batch must be ≥ 1, got {batch}")
        if not 0.0 <= margin < 0.5:
            raise ValueError(f"blend margin must be in [0, 0.5), got {margin}")
        self.run = run
        self.scale = int(scale)
        self.multiple_of = max(1, int(multiple_of))
        self.tile = _round_up(tile, self.multiple_of)
        self.overlap = _round_up(overlap, self.multiple_of) if self.tile else 0
        if self.tile and self.overlap >= self.tile:
            raise OftsrError(f"overlap {self.overlap} must be smaller than the tile {self.tile} (LR pixels)")
        self.batch = batch
        self.fixed_shape = fixed_shape
        self.check_finite = check_finite
        self.pipeline = pipeline
        self.margin = margin
        self.noise_block = noise_block

    def _axis(self, length: int) -> AxisPlan:
        padded = _round_up(length, self.multiple_of)
        if not self.tile:
            return AxisPlan(length, padded, padded, (0,))
        if self.fixed_shape:
            padded = max(padded, self.tile)
        tile = min(self.tile, padded)
        return AxisPlan(
            length, padded, tile, tuple(tile_starts(padded, tile, self.overlap, self.multiple_of))
        )

    def plan(self, height: int, width: int) -> TilePlan:
        """The tile grid this tiler uses for an LR image of ``height × width``."""
        return TilePlan(self._axis(height), self._axis(width))

    def upscale(
        self,
        image: np.ndarray,
        t: float,
        seed: int | None = 0,
        out_dtype: np.dtype | None = None,
        progress: ProgressFn | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Upscale ``image`` (H, W, C) with C = 3 (RGB) or 1 (gray: fed as RGB, returned as BT.601 luma).

        uint8/uint16 are read as full-range, float32 as [0, 1]. Returns (H·s, W·s, C) in ``out_dtype`` (default:
        the input's dtype), written into ``out`` when given (any view of that shape, e.g. the colour channels of
        an RGBA result).
        """
        if image.ndim != 3 or image.shape[2] not in (1, 3):
            raise OftsrError(f"tiler expects an (H, W, 1) or (H, W, 3) array, got shape {image.shape}")
        if image.dtype not in _DTYPE_MAX:
            raise OftsrError(f"unsupported image dtype {image.dtype} (uint8, uint16 or float32)")
        height, width, channels = image.shape
        if height < 1 or width < 1:
            raise OftsrError(f"image is empty ({height}×{width})")
        shape = (height * self.scale, width * self.scale, channels)
        if out is None:
            out = np.empty(shape, dtype=np.dtype(out_dtype or image.dtype))
        elif out.shape != shape:
            raise ValueError(f"out has shape {out.shape}, expected {shape}")
        if out.dtype not in _DTYPE_MAX:
            raise OftsrError(f"unsupported output dtype {out.dtype}")
        plan = self.plan(height, width)
        pad = ((0, plan.rows.padded - height), (0, plan.cols.padded - width), (0, 0))
        padded = np.pad(image, pad, mode="reflect") if any(p[1] for p in pad) else image
        _Run(
            self,
            plan,
            padded,
            out,
            1.0 / _DTYPE_MAX[image.dtype],
            float(t),
            NoiseField(seed, self.noise_block),
            progress,
        ).execute()
        return out


class _Batch:
    """Input buffers of one backend call; two of them alternate when the run is pipelined."""

    def __init__(self, n: int, th: int, tw: int, scale: int, t: float) -> None:
        self.lr = np.empty((n, 3, th, tw), dtype=np.float32)
        self.nz = np.empty((n, 3, th * scale, tw * scale), dtype=np.float32)
        self.t = np.full((n,), t, dtype=np.float32)


class _Run:
    """State of one ``Tiler.upscale`` call: tile groups, batch buffers, the float32 band and the noise cache.

    Pipelined, one worker thread prepares group g+1 (LR tile, noise) and another blends group g-1 while the
    backend runs group g (onnxruntime, TensorRT and numpy release the GIL); each worker works through its groups in
    order, so the noise cache and the band see the same sequence as a sequential run.
    """

    def __init__(
        self,
        tiler: Tiler,
        plan: TilePlan,
        image: np.ndarray,
        out: np.ndarray,
        in_scale: float,
        t: float,
        noise: NoiseField,
        progress: ProgressFn | None,
    ) -> None:
        self.tiler, self.plan, self.image, self.out = tiler, plan, image, out
        self.in_scale, self.noise, self.progress = np.float32(in_scale), noise, progress
        s = tiler.scale
        th, tw = plan.tile_shape
        tiles = [(i, j) for i in range(len(plan.rows.starts)) for j in range(len(plan.cols.starts))]
        n = min(tiler.batch, len(tiles))
        self.groups = [tiles[k : k + n] for k in range(0, len(tiles), n)]
        self.pipelined = tiler.pipeline and len(self.groups) > 1
        self.buffers = [_Batch(n, th, tw, s, t) for _ in range(2 if self.pipelined else 1)]
        self.wy, self.wy_id = _dedupe(plan.rows.hr_weights(s, tiler.margin))
        self.wx, self.wx_id = _dedupe(plan.cols.hr_weights(s, tiler.margin))
        self._weights: dict[tuple[int, int], np.ndarray] = {}
        self.acc = np.zeros((3, th * s, out.shape[1]), dtype=np.float32)
        self.band_top = 0  # HR row of acc[:, 0]
        self.done = 0

    def execute(self) -> None:
        if self.pipelined:
            self._execute_pipelined()
        else:
            batch = self.buffers[0]
            for g in range(len(self.groups)):
                self._prepare_group(g, batch)
                self._blend_group(g, self._call(g, batch))
        self._flush(self.band_top, self.out.shape[0])
        self.noise.clear()

    def _execute_pipelined(self) -> None:
        with (
            ThreadPoolExecutor(1, thread_name_prefix="oftsr-tile-prep") as prep,
            ThreadPoolExecutor(1, thread_name_prefix="oftsr-tile-blend") as blend,
        ):
            ready = prep.submit(self._prepare_group, 0, self.buffers[0])
            blended = None
            for g in range(len(self.groups)):
                ready.result()
                if g + 1 < len(self.groups):
                    ready = prep.submit(self._prepare_group, g + 1, self.buffers[(g + 1) % 2])
                hr = self._call(g, self.buffers[g % 2])
                if blended is not None:
                    blended.result()
                blended = blend.submit(self._blend_group, g, hr)
            blended.result()

    def _prepare_group(self, g: int, batch: _Batch) -> None:
        for k, (i, j) in enumerate(self.groups[g]):
            self._prepare(batch, k, i, j)

    def _call(self, g: int, batch: _Batch) -> np.ndarray:
        n = len(self.groups[g])
        hr = self.tiler.run(batch.lr[:n], batch.nz[:n], batch.t[:n])
        self._check(hr, n)
        return hr

    def _blend_group(self, g: int, hr: np.ndarray) -> None:
        for k, (i, j) in enumerate(self.groups[g]):
            self._accumulate(hr[k], i, j)

    def _prepare(self, batch: _Batch, k: int, i: int, j: int) -> None:
        """Fill batch slot ``k`` with tile (i, j): LR pixels in [0, 1] (gray repeated to RGB) and its noise."""
        rows, cols, s = self.plan.rows, self.plan.cols, self.tiler.scale
        y, x = rows.starts[i], cols.starts[j]
        th, tw = self.plan.tile_shape
        src = self.image[y : y + th, x : x + tw].transpose(2, 0, 1)
        np.multiply(src, self.in_scale, out=batch.lr[k], casting="unsafe")
        if self.image.dtype == np.float32:  # float images may stray outside the model's [0, 1] input range
            np.clip(batch.lr[k], 0.0, 1.0, out=batch.lr[k])
        next_row = rows.starts[i + 1] * s if i + 1 < len(rows.starts) else None
        next_col = cols.starts[j + 1] * s if j + 1 < len(cols.starts) else None
        if j == 0:
            self.noise.release_rows_before(y * s)
        else:
            self.noise.release_cols_before(x * s, next_row)
        self.noise.fill(batch.nz[k], y * s, x * s, keep_rows_from=next_row, keep_cols_from=next_col)

    def _check(self, hr: np.ndarray, n: int) -> None:
        expected = (n, *self.buffers[0].nz.shape[1:])
        if getattr(hr, "shape", None) != expected:
            raise OftsrError(f"backend returned shape {getattr(hr, 'shape', None)}, expected {expected}")
        if self.tiler.check_finite and not np.isfinite(hr).all():
            raise NonFiniteOutputError("the model produced NaN/Inf values (reduced-precision overflow?)")

    def _weight(self, i: int, j: int) -> np.ndarray:
        """The 2-D weight of tile (i, j); tiles with the same row and column profiles share one array."""
        key = (self.wy_id[i], self.wx_id[j])
        w = self._weights.get(key)
        if w is None:
            if len(self._weights) >= 8:  # a tile row uses a handful of profiles; each array is a tile's size
                self._weights.pop(next(iter(self._weights)))
            w = self._weights[key] = np.outer(self.wy[key[0]], self.wx[key[1]])
        return w

    def _accumulate(self, hr: np.ndarray, i: int, j: int) -> None:
        """Add tile (i, j)'s weighted HR pixels to the band; finish the rows that no later tile touches."""
        s = self.tiler.scale
        top, left = self.plan.rows.starts[i] * s, self.plan.cols.starts[j] * s
        if top > self.band_top:
            self._advance(top)
        height, width = self.out.shape[:2]
        rows, cols = min(hr.shape[1], height - top), min(hr.shape[2], width - left)
        if rows <= 0 or cols <= 0:
            self._tick()
            return
        tile = hr[:, :rows, :cols]
        weight = self._weight(i, j)[:rows, :cols]
        if tile.dtype == np.float32 and tile.flags.writeable:
            weighted = np.multiply(tile, weight, out=tile)  # the backend's output is ours to scribble on
        else:
            weighted = np.multiply(tile, weight, dtype=np.float32)
        r0 = top - self.band_top
        self.acc[:, r0 : r0 + rows, left : left + cols] += weighted
        self._tick()

    def _tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.plan.count)

    def _advance(self, top: int) -> None:
        """Move the band down to start at HR row ``top``: rows above it are final."""
        shift = top - self.band_top
        self._flush(self.band_top, min(top, self.out.shape[0]))
        band = self.acc.shape[1]
        if shift < band:
            self.acc[:, : band - shift] = self.acc[:, shift:]
            self.acc[:, band - shift :] = 0.0
        else:
            self.acc[:] = 0.0
        self.band_top = top

    def _flush(self, start: int, stop: int) -> None:
        """Convert finished HR rows ``[start, stop)`` of the band into the output array (in place: the band rows
        are discarded afterwards)."""
        if stop <= start:
            return
        block = self.acc[:, start - self.band_top : stop - self.band_top]
        dest = self.out[start:stop]
        if dest.shape[2] == 1:
            block = np.tensordot(_LUMA, block, axes=1)[None]
        peak = _DTYPE_MAX[dest.dtype]
        if peak != 1.0:
            block *= np.float32(peak)
        np.clip(block, 0.0, peak, out=block)
        if peak != 1.0:
            np.rint(block, out=block)
        dest[...] = block.transpose(1, 2, 0)
