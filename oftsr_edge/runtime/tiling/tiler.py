"""The tile runner: cut an LR image into the planned tiles, draw their noise, batch them into backend calls and
hand the HR tiles to the blending band (the RealESRGANer idea, in bounded memory).

The noise of a tile comes from :class:`~oftsr_edge.runtime.noise.NoiseField`, a function of (seed, HR position),
so overlapping tiles see the same noise and the output does not depend on the tiling (up to the blend).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.noise import NOISE_BLOCK, NoiseCache, NoiseField
from oftsr_edge.runtime.tiling.blending import BLEND_MARGIN, DTYPE_MAX, Band, to_output
from oftsr_edge.runtime.tiling.geometry import TilePlan, plan_axis

#: ``run(lr, noise, t) -> hr`` on float32 NCHW arrays: a backend's ``run`` or any function with that contract.
RunFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
#: ``progress(done_tiles, total_tiles)``, called after each tile is blended in.
ProgressFn = Callable[[int, int], None]


class NonFiniteOutputError(OftsrError):
    """The backend returned NaN or Inf (typically an fp16/int8 overflow); the caller may retry in fp32."""


class Tiler:
    """Runs ``run`` over fixed-size overlapping tiles of an LR image and blends them into the HR image.

    The tiler trusts its arguments (the :class:`~oftsr_edge.runtime.upscaler.Upscaler` checks them): ``tile`` (an
    edge, or (rows, cols)) and ``overlap`` are multiples of ``multiple_of`` with ``overlap < tile``; ``tile`` = 0
    processes the (padded) image in one call. ``fixed_shape`` pads images smaller than a tile up to the tile (one shape for static engines);
    without it a small image is padded only to ``multiple_of``. ``batch`` (≥ 1) tiles go into one ``run`` call.
    ``pipeline`` prepares the next batch and blends the previous one on two worker threads while ``run`` works;
    ``run`` must then return a fresh array each call, and ``progress`` is called from the blending thread.
    ``check_finite`` raises :class:`NonFiniteOutputError` on NaN/Inf output (for fp16/int8 models).
    ``noise_cache`` keeps a one-call image's noise for the next image of that size and seed.

    An image that is one tile skips the blending band: the HR result is converted straight into ``out`` (the
    same float32 operations as the band's, so the output is bit-identical) and its noise is drawn on two threads.
    """

    def __init__(
        self,
        run: RunFn,
        scale: int,
        multiple_of: int = 1,
        tile: int | tuple[int, int] = 0,
        overlap: int = 0,
        batch: int = 1,
        fixed_shape: bool = True,
        check_finite: bool = False,
        pipeline: bool = True,
        margin: float = BLEND_MARGIN,
        noise_block: int = NOISE_BLOCK,
        noise_cache: NoiseCache | None = None,
    ) -> None:
        self.run = run
        self.scale = int(scale)
        self.multiple_of = max(1, int(multiple_of))
        rows, cols = (tile, tile) if isinstance(tile, (int, np.integer)) else tile
        self.tile_hw = (int(rows), int(cols))
        self.tile = self.tile_hw[0] if rows == cols else self.tile_hw  # an int for square tiles (0 = whole)
        self.overlap = int(overlap) if any(self.tile_hw) else 0
        self.batch = int(batch)
        self.fixed_shape = fixed_shape
        self.check_finite = check_finite
        self.pipeline = pipeline
        self.margin = margin
        self.noise_block = noise_block
        self.noise_cache = noise_cache

    def plan(self, height: int, width: int) -> TilePlan:
        """The tile grid this tiler uses for an LR image of ``height × width``."""
        return TilePlan(*(
            plan_axis(length, tile, self.overlap, self.multiple_of, self.fixed_shape)
            for length, tile in zip((height, width), self.tile_hw)
        ))  # fmt: skip

    def upscale(
        self,
        image: np.ndarray,
        t: float,
        seed: int = 0,
        progress: ProgressFn | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Upscale a non-empty ``image`` (H, W, C) with C = 3 (RGB) or 1 (gray: fed as RGB, returned as BT.601
        luma), dtype uint8/uint16 (read as full-range) or float32 ([0, 1]).

        Returns (H·s, W·s, C) in the input's dtype, written into ``out`` when given (a view of that shape and
        dtype, e.g. the colour channels of an RGBA result).
        """
        height, width, channels = image.shape
        if out is None:
            out = np.empty((height * self.scale, width * self.scale, channels), dtype=image.dtype)
        plan = self.plan(height, width)
        pad = ((0, plan.rows.padded - height), (0, plan.cols.padded - width), (0, 0))
        padded = np.pad(image, pad, mode="reflect") if any(p[1] for p in pad) else image
        if plan.count == 1:
            self._single(padded, plan, float(t), seed, progress, out)
            return out
        band = Band(plan, self.scale, self.margin, out)
        _Run(self, plan, padded, band, float(t), NoiseField(seed, self.noise_block), progress).execute()
        return out


    def _single(
        self, image: np.ndarray, plan: TilePlan, t: float, seed: int, progress: ProgressFn | None, out: np.ndarray
    ) -> None:
        """One backend call for the whole (padded) image, converted straight into ``out``."""
        s = self.scale
        th, tw = plan.tile_shape
        lr = np.empty((1, 3, th, tw), dtype=np.float32)
        np.multiply(image[:th, :tw].transpose(2, 0, 1), np.float32(1.0 / DTYPE_MAX[image.dtype]), out=lr[0],
                    casting="unsafe")  # fmt: skip
        if image.dtype == np.float32:  # float images may stray outside the model's [0, 1] input range
            np.clip(lr, 0.0, 1.0, out=lr)
        if self.noise_cache is not None:
            noise = self.noise_cache.get(seed, th * s, tw * s, self.noise_block)
        else:
            noise = np.empty((1, 3, th * s, tw * s), dtype=np.float32)
            NoiseField(seed, self.noise_block).fill_parallel(noise[0], 0, 0)
        hr = self.run(lr, noise, np.full((1,), t, dtype=np.float32))
        _check_output(hr, (1, 3, th * s, tw * s), self.check_finite)
        block = hr[0] if hr[0].flags.writeable else hr[0].copy()  # the backend's output is ours to scribble on
        height, width = out.shape[:2]
        to_output(block[:, :height, :width], out)
        if progress is not None:
            progress(1, 1)


class _Batch:
    """Input buffers of one backend call; two of them alternate when the run is pipelined."""

    def __init__(self, n: int, th: int, tw: int, scale: int, t: float) -> None:
        self.lr = np.empty((n, 3, th, tw), dtype=np.float32)
        self.nz = np.empty((n, 3, th * scale, tw * scale), dtype=np.float32)
        self.t = np.full((n,), t, dtype=np.float32)


class _Run:
    """State of one ``Tiler.upscale`` call: tile groups, batch buffers, the blending band and the noise cache.

    Pipelined, one worker thread prepares group g+1 (LR tile, noise) and another blends group g-1 while the
    backend runs group g (onnxruntime, TensorRT and numpy release the GIL); each worker works through its groups in
    order, so the noise cache and the band see the same sequence as a sequential run.
    """

    def __init__(
        self,
        tiler: Tiler,
        plan: TilePlan,
        image: np.ndarray,
        band: Band,
        t: float,
        noise: NoiseField,
        progress: ProgressFn | None,
    ) -> None:
        self.tiler, self.plan, self.image, self.band = tiler, plan, image, band
        self.in_scale = np.float32(1.0 / DTYPE_MAX[image.dtype])
        self.noise, self.progress = noise, progress
        th, tw = plan.tile_shape
        tiles = [(i, j) for i in range(len(plan.rows.starts)) for j in range(len(plan.cols.starts))]
        n = min(tiler.batch, len(tiles))
        self.groups = [tiles[k : k + n] for k in range(0, len(tiles), n)]
        self.pipelined = tiler.pipeline and len(self.groups) > 1
        self.buffers = [_Batch(n, th, tw, tiler.scale, t) for _ in range(2 if self.pipelined else 1)]
        self.done = 0

    def execute(self) -> None:
        if self.pipelined:
            self._execute_pipelined()
        else:
            batch = self.buffers[0]
            for g in range(len(self.groups)):
                self._prepare_group(g, batch)
                self._blend_group(g, self._call(g, batch))
        self.band.finish()
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
            self.band.add(hr[k], i, j)
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.plan.count)

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
        _check_output(hr, (n, *self.buffers[0].nz.shape[1:]), self.tiler.check_finite)


def _check_output(hr: np.ndarray, expected: tuple[int, ...], check_finite: bool) -> None:
    """The backend's answer, not the caller's input, is checked: a wrong shape or NaN/Inf is caught here."""
    if getattr(hr, "shape", None) != expected:
        raise OftsrError(f"backend returned shape {getattr(hr, 'shape', None)}, expected {expected}")
    if check_finite and not np.isfinite(hr).all():
        raise NonFiniteOutputError("the model produced NaN/Inf values (reduced-precision overflow?)")
