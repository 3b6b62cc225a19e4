"""Which tiling one image gets: the caller's fixed tile, an engine's profile tile, or ``auto`` (the memory plan).

Why a class of its own: with ``tile="auto"`` the tiling is decided per image (its size, the free memory now), so
the :class:`~oftsr_edge.runtime.upscaler.Upscaler` asks this policy for a plan and a
:class:`~oftsr_edge.runtime.tiling.tiler.Tiler` on every call instead of holding one tiler. Tilers are cheap and
kept per geometry; the noise cache is shared by all of them.

- explicit tile (``tile=N``, 0 = whole image): that tile, the given or default overlap, every image;
- ``auto`` on a backend that takes any shape (ONNX Runtime CPU/CUDA): :func:`~oftsr_edge.runtime.tiling.memory_plan.plan_tiles`
  against the budget (given, or :func:`~oftsr_edge.runtime.tiling.memory_plan.default_budget` read per image);
- ``auto`` on a fixed-shape backend (TensorRT engines): the profile's tile, as before.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import OptionError
from oftsr_edge.few_step import GraphStep
from oftsr_edge.runtime.backends.base import CPU, Device
from oftsr_edge.runtime.io import image_limits
from oftsr_edge.runtime.tiling import memory_plan
from oftsr_edge.runtime.tiling.geometry import default_overlap, round_up
from oftsr_edge.runtime.tiling.noise import NoiseCache
from oftsr_edge.runtime.tiling.tiler import RunFn, Tiler

AUTO = "auto"
#: An automatic tiling may compute at most 1 + this many times the image's pixels: beyond, the overlap dominates
#: every tile (``--overlap 200`` in an 8 MiB budget made 3906 tiles) and the run is refused instead.
MAX_WASTE = 3.0


class TilingPolicy:
    """The tiling rules of one open backend. ``tile``: an int (LR pixels, 0 = whole image) or :data:`AUTO`;
    ``fixed_tile``: the tile a fixed-shape backend needs (None = any shape); ``device``: the backend's, whose free
    memory (RAM or VRAM) an automatic tiling reads; ``budget``: bytes per call (None = read the free memory per
    image); ``steps`` (K) and ``run_step``: a two-time model's few-step path, which every
    tiler runs as K tiled passes."""

    def __init__(
        self,
        run: RunFn,
        spec: ModelSpec,
        tile: int | str,
        overlap: int | None,
        batch: int,
        fixed_tile: int | None,
        device: Device = CPU,
        budget: int | None = None,
        run_step: GraphStep | None = None,
        steps: int = 1,
    ) -> None:
        self.run, self.spec, self.batch = run, spec, batch
        self.run_step, self.steps = run_step, steps
        self.fixed_shape = fixed_tile is not None
        self.device, self.budget = device, budget
        self.check_finite = spec.precision != "fp32"
        m = spec.multiple_of
        self.auto = tile == AUTO and not self.fixed_shape
        edge = fixed_tile if tile == AUTO else int(tile)
        self.tile = round_up(edge or 0, m) if not self.auto else 0
        if self.auto:
            self.overlap = round_up(memory_plan.AUTO_OVERLAP if overlap is None else overlap, m)
        else:
            chosen = default_overlap(self.tile, m) if overlap is None else overlap
            self.overlap = round_up(chosen, m) if self.tile else 0
        self.noise_cache = NoiseCache()
        self._tilers: dict[tuple[tuple[int, int], int], Tiler] = {}
        self._streams: dict[tuple[int, int, int, int], Tiler] = {}

    def check_fits(
        self, source: object, target: str | Path | None, height: int, width: int, itemsize: int = 1,
        channels: int = 3,
    ) -> memory_plan.TileChoice:  # fmt: skip
        """Refuse an LR image of ``height × width`` whose output ``target``'s format cannot hold or that needs more
        memory than there is (one line naming ``source``, before anything is allocated); returns its tiling."""
        s = self.spec.scale
        if target is not None:
            image_limits.check_output_size(Path(target), height * s, width * s, channels, itemsize)
        what = f"{source} ({width}x{height} -> {width * s}x{height * s})"
        image_limits.check_memory(what, memory_plan.host_bytes(self.spec, (height, width), itemsize, channels))
        choice = self.plan(height, width, itemsize, channels)
        if not self.device.on_gpu:  # on the CPU the network's working memory is RAM too
            image_limits.check_memory(what, choice.peak_bytes)
        return choice

    def budget_now(self) -> int:
        if self.budget is not None:
            return self.budget
        return memory_plan.default_budget(self.device.on_gpu, self.device.index)

    def plan(self, height: int, width: int, itemsize: int = 1, channels: int = 3) -> memory_plan.TileChoice:
        """The tiling of an LR image of ``height × width`` (``itemsize``/``channels`` of the output array)."""
        state = self.state_bytes(height, width)
        if self.auto:
            budget = self.budget_now()
            choice = memory_plan.plan_tiles(
                (height, width), self.spec, max(1, budget - state), batch=self.batch, overlap=self.overlap,
                itemsize=itemsize, channels=channels,
            )  # fmt: skip
            if state:  # the K-step states cost the same whatever the tiling: they come off the budget first
                choice = dataclasses.replace(choice, peak_bytes=choice.peak_bytes + state, budget_bytes=budget)
            if not choice.whole and choice.waste > MAX_WASTE:
                raise OptionError(
                    f"LR {height}x{width}: within a {budget / memory_plan.MIB:,.0f} MiB memory budget the only tiling "
                    f"with overlap {self.overlap} is {choice.tiles} tiles computing {1 + choice.waste:.0f}x the "
                    "image's pixels; lower --overlap or raise --memory-budget"
                )
            if choice.peak_bytes > budget:
                warnings.warn(f"LR {height}x{width}: no tiling fits the memory budget; trying {choice.describe()}",
                              RuntimeWarning, stacklevel=3)  # fmt: skip
            return choice
        tiler = self.tiler((self.tile, self.tile), self.overlap)
        grid = tiler.plan(height, width)
        tile = (0, 0) if not self.tile else grid.tile_shape
        covered = grid.count * grid.tile_shape[0] * grid.tile_shape[1]
        budget = self.budget if self.budget is not None else 0
        peak = memory_plan.estimate_bytes(self.spec, (height, width), tile, self.batch, itemsize, channels) + state
        return memory_plan.TileChoice(tile, self.overlap, self.batch, grid.count, covered, height * width, peak, budget)

    def state_bytes(self, height: int, width: int) -> int:
        """The two whole-image float32 HR states a K > 1 few-step path keeps between its passes (0 for K = 1)."""
        if self.steps <= 1:
            return 0
        s, m = self.spec.scale, self.spec.multiple_of
        return 2 * 3 * 4 * round_up(height, m) * s * round_up(width, m) * s

    def tiler(self, tile: tuple[int, int], overlap: int) -> Tiler:
        """The tiler for one geometry (made once, then reused)."""
        key = (tile, overlap if any(tile) else 0)
        found = self._tilers.get(key)
        if found is None:
            if len(self._tilers) > 8:
                self._tilers.clear()
            found = self._tilers[key] = Tiler(
                self.run, self.spec.scale, self.spec.multiple_of, tile=tile, overlap=key[1], batch=self.batch,
                fixed_shape=self.fixed_shape, check_finite=self.check_finite, noise_cache=self.noise_cache,
                run_step=self.run_step, steps=self.steps,
            )  # fmt: skip
        return found

    def stream_tiler(self, height: int, width: int, itemsize: int = 1, channels: int = 3) -> Tiler:
        """The tiler of a stream of frames of this size: planned once (auto: from the free memory at its first
        frame), so the tiling, and with it every pixel of a still region, cannot change in the middle of a
        stream."""
        key = (height, width, itemsize, channels)
        found = self._streams.get(key)
        if found is None:
            if len(self._streams) > 8:
                self._streams.clear()
            found = self._streams[key] = self.tiler_for(self.plan(height, width, itemsize, channels))
        return found

    def tiler_for(self, choice: memory_plan.TileChoice) -> Tiler:
        if not self.auto:
            return self.tiler((self.tile, self.tile), self.overlap)
        return self.tiler(choice.tile, choice.overlap)
