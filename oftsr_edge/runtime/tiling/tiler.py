"""The tile runner: cut an LR image into the planned tiles, draw their noise, batch them into backend calls and
hand the HR tiles to the blending band (the RealESRGANer idea, in bounded memory).

The noise of a tile comes from :class:`~oftsr_edge.runtime.tiling.noise.NoiseField`, a function of (seed, HR position),
so overlapping tiles see the same noise and the output does not depend on the tiling (up to the blend).

A two-time (MeanFlow) model with K > 1 solver steps runs the K calls of :func:`oftsr_edge.few_step.schedule` as K
full tiled passes: each pass blends its tiles' ``next_state`` into one whole-image float32 state, exactly as the
last pass blends ``hr`` into the output, and the next pass cuts its tiles' ``state`` from that image. So a tile's
state at step k is the blended whole-image state, never its own tile's, and the output stays seam-free and
tile-independent (docs/architecture.md §3, §6).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.few_step import GraphStep, Step, schedule
from oftsr_edge.runtime.tiling.blending import BLEND_MARGIN, DTYPE_MAX, Band, to_output
from oftsr_edge.runtime.tiling.geometry import TilePlan, plan_axis
from oftsr_edge.runtime.tiling.noise import NOISE_BLOCK, NoiseCache, NoiseField

#: ``run(lr, noise, t) -> hr`` on float32 NCHW arrays and one float ``t``: a backend's ``run`` or any function with
#: that contract.
RunFn = Callable[[np.ndarray, np.ndarray, float], np.ndarray]
#: ``progress(done_tiles, total_tiles)``, called after each tile is blended in (K passes count K × the tiles).
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class _StepFeed:
    """What one pass of the few-step path adds to a plain pass: the whole-image state (padded HR, (H, W, 3)
    float32) its tiles are cut from, the state's time ``r``, and which output the pass keeps."""

    state: np.ndarray
    r: float
    keep_state: bool  # True: blend next_state into the next state image; False (the last call): hr into the output


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
    ``steps`` > 1 runs a two-time model's few-step path through ``run_step`` (see the module docstring); the
    caller has checked that the model is one.

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
        run_step: GraphStep | None = None,
        steps: int = 1,
    ) -> None:
        self.run = run
        self.run_step = run_step
        self.steps = int(steps)
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
        calls = schedule(float(t), self.steps) if self.steps > 1 else ()
        if len(calls) > 1:
            self._chain(padded, plan, calls, seed, progress, out)
        else:  # one step (K = 1, or t = 0 where every interval is empty): the one-step map
            self._pass(padded, plan, float(t), seed, progress, out, None)
        return out

    def _pass(self, image: np.ndarray, plan: TilePlan, t: float, seed: int, progress: ProgressFn | None,
              out: np.ndarray, feed: _StepFeed | None) -> None:  # fmt: skip
        """One tiled pass over the (padded) image into ``out``: the output image, or the next state image."""
        if plan.count == 1:
            self._single(image, plan, t, seed, progress, out, feed)
            return
        raw = feed is not None and feed.keep_state
        band = Band(plan, self.scale, self.margin, out, raw=raw)
        _Run(self, plan, image, band, t, NoiseField(seed, self.noise_block), progress, feed).execute()

    def _chain(self, image: np.ndarray, plan: TilePlan, calls: tuple[Step, ...], seed: int,
               progress: ProgressFn | None, out: np.ndarray) -> None:  # fmt: skip
        """The few-step path: one pass per call, the state carried between passes as a whole padded-HR image."""
        s = self.scale
        shape = (plan.rows.padded * s, plan.cols.padded * s, 3)
        state, spare = np.zeros(shape, np.float32), np.empty(shape, np.float32)  # x_0 − x0 = 0
        for k, call in enumerate(calls):
            report = None if progress is None else _offset_progress(progress, k, len(calls))
            target = out if call.last else spare
            self._pass(image, plan, call.s, seed, report, target, _StepFeed(state, call.r, not call.last))
            state, spare = spare, state

    def _single(self, image: np.ndarray, plan: TilePlan, t: float, seed: int, progress: ProgressFn | None,
                out: np.ndarray, feed: _StepFeed | None = None) -> None:  # fmt: skip
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
        if feed is None:
            hr = self.run(lr, noise, t)
        else:  # the state image is exactly this one tile's HR size
            hr = self._step(lr, noise, np.full((1,), t, np.float32), feed.state.transpose(2, 0, 1)[None], feed)
        _check_output(hr, (1, 3, th * s, tw * s), self.check_finite)
        block = hr[0] if hr[0].flags.writeable else hr[0].copy()  # the backend's output is ours to scribble on
        height, width = out.shape[:2]
        to_output(block[:, :height, :width], out, feed is not None and feed.keep_state)
        if progress is not None:
            progress(1, 1)

    def _step(
        self, lr: np.ndarray, noise: np.ndarray, t: np.ndarray, state: np.ndarray, feed: _StepFeed
    ) -> np.ndarray:
        """One call of the two-time graph from ``state`` at ``feed.r``; the output this pass keeps."""
        hr, next_state = self.run_step(lr, noise, t, state, np.full(t.shape, feed.r, dtype=np.float32))
        return next_state if feed.keep_state else hr


def _offset_progress(progress: ProgressFn, k: int, passes: int) -> ProgressFn:
    """Pass ``k`` of ``passes`` reported as one run over passes × its tiles."""
    return lambda done, total: progress(k * total + done, passes * total)


class _Batch:
    """Input buffers of one backend call; two of them alternate when the run is pipelined."""

    def __init__(self, n: int, th: int, tw: int, scale: int, t: float, two_time: bool = False) -> None:
        self.lr = np.empty((n, 3, th, tw), dtype=np.float32)
        self.nz = np.empty((n, 3, th * scale, tw * scale), dtype=np.float32)
        self.t = t
        # a two-time step feeds t and r as (N,) arrays; its whole-image state is cut into ``state``
        self.step_t = np.full((n,), t, dtype=np.float32) if two_time else None
        self.state = np.empty_like(self.nz) if two_time else None


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
        feed: _StepFeed | None = None,
    ) -> None:
        self.tiler, self.plan, self.image, self.band, self.feed = tiler, plan, image, band, feed
        self.in_scale = np.float32(1.0 / DTYPE_MAX[image.dtype])
        self.noise, self.progress = noise, progress
        th, tw = plan.tile_shape
        tiles = [(i, j) for i in range(len(plan.rows.starts)) for j in range(len(plan.cols.starts))]
        n = min(tiler.batch, len(tiles))
        self.groups = [tiles[k : k + n] for k in range(0, len(tiles), n)]
        self.pipelined = tiler.pipeline and len(self.groups) > 1
        self.buffers = [
            _Batch(n, th, tw, tiler.scale, t, feed is not None) for _ in range(2 if self.pipelined else 1)
        ]
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
        with ThreadPoolExecutor(1, thread_name_prefix="oftsr-tile-prep") as prep, \
                ThreadPoolExecutor(1, thread_name_prefix="oftsr-tile-blend") as blend:  # fmt: skip
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
        if self.feed is None:
            hr = self.tiler.run(batch.lr[:n], batch.nz[:n], batch.t)
        else:
            hr = self.tiler._step(batch.lr[:n], batch.nz[:n], batch.step_t[:n], batch.state[:n], self.feed)
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
        if self.feed is not None:
            batch.state[k] = self.feed.state[y * s : (y + th) * s, x * s : (x + tw) * s].transpose(2, 0, 1)

    def _check(self, hr: np.ndarray, n: int) -> None:
        _check_output(hr, (n, *self.buffers[0].nz.shape[1:]), self.tiler.check_finite)


def _check_output(hr: np.ndarray, expected: tuple[int, ...], check_finite: bool) -> None:
    """The backend's answer, not the caller's input, is checked: a wrong shape or NaN/Inf is caught here."""
    if getattr(hr, "shape", None) != expected:
        raise OftsrError(f"backend returned shape {getattr(hr, 'shape', None)}, expected {expected}")
    if check_finite and not np.isfinite(hr).all():
        raise NonFiniteOutputError("the model produced NaN/Inf values (reduced-precision overflow?)")
