"""How much memory one upscale call needs, how much there is, and the tiling that fits (``--tile auto``).

Why: tiles cost time (a 1/8 overlap on 128² tiles covers 1.4–2.3× the image's pixels, and every call has a fixed
cost), so the runtime tiles only when the whole image does not fit the memory budget, and then with the geometry
that wastes the fewest pixels.

- **Memory model** (:class:`MemoryModel`): the peak working memory of one backend call is
  ``fixed + per_lr_pixel × batch × tile pixels`` (network activations plus its input and output tensors). The
  coefficients of the bundled models are measured on this project's CPU (``benchmarks/memory_model.py``, peak RSS
  in fresh processes) and kept here as data; a model without a measurement gets :data:`UNMEASURED`, a conservative
  guess. The runtime's own buffers (output image, blending band, pipelined batch buffers) are added analytically.
- **Budget** (:func:`default_budget`): :data:`SAFETY_FRACTION` of the memory that is free now — ``MemAvailable`` of
  ``/proc/meminfo`` (lowered to a cgroup's ``memory.max`` headroom) on a CPU, free VRAM (``cudaMemGetInfo``) on a
  GPU; the estimate itself is inflated by :data:`ESTIMATE_MARGIN`.
- **Plan** (:func:`plan_tiles`): one whole-image call when it fits; otherwise, for every (rows, columns) tile count,
  the smallest tile (a multiple of ``multiple_of``) that covers the image with the overlap, and of those that fit,
  the one that covers the fewest pixels (fewest calls on a tie). Pure: the budget is an argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from oftsr_edge.contract import ModelSpec
from oftsr_edge.runtime.device import memory as device_memory
from oftsr_edge.runtime.tiling.geometry import round_up

MIB = 1024 * 1024
#: Share of the free memory one call may use: the rest is for other programs, the OS cache and estimate errors.
SAFETY_FRACTION = 0.5
#: The measured envelope is inflated by this much before it is compared with the budget.
ESTIMATE_MARGIN = 1.25
#: LR overlap between automatic tiles (rounded up to ``multiple_of``): enough for invisible seams (≥ 45 dB vs the
#: whole image, tests/runtime/test_memory_plan.py), independent of the tile size because it is about context.
AUTO_OVERLAP = 16
#: Largest tile count per axis the planner considers (a 64 × 64 grid is already far below any sane budget).
_MAX_COUNT = 64


@dataclass(frozen=True)
class MemoryModel:
    """Peak working memory of one backend call: ``fixed_bytes + per_lr_pixel × (batch × LR tile pixels)``.

    ``per_lr_pixel`` includes the call's own tensors (LR input, noise, HR output: 12·(1 + 2s²) bytes per LR pixel)
    and the network's activations; ``source`` says how the numbers were obtained."""

    fixed_bytes: int
    per_lr_pixel: float
    source: str

    def call_bytes(self, lr_pixels: int) -> int:
        return int(self.fixed_bytes + self.per_lr_pixel * lr_pixels)


#: Measured on this project's 2-core CPU with ONNX Runtime 1.32 (benchmarks/memory_model.py): the upper envelope
#: of the working memory of whole-image calls from 64² to 768² LR pixels, minus the output image.
MEASURED: dict[tuple[str, str], MemoryModel] = {
    ("oftsr-small-x4", "fp32"): MemoryModel(
        fixed_bytes=23 * MIB,
        per_lr_pixel=1793.0,
        source="measured: ORT CPU 1.32, peak RSS of whole-image calls 64²–768² LR (benchmarks/memory_model.py)",
    ),
    ("oftsr-smfa-x4", "fp32"): MemoryModel(
        fixed_bytes=24 * MIB,  # the fit's intercept was ~0 (64²–512² LR); the other models' fixed part kept as margin
        per_lr_pixel=2957.0,
        source="measured: ORT CPU 1.32, peak RSS of whole-image calls 64²–512² LR (benchmarks/memory_model.py)",
    ),
    ("oftsr-real-x4", "fp32"): MemoryModel(
        fixed_bytes=80 * MIB,  # the fit of whole-image calls 64²–512² LR: 79.2 MiB + 1,797 B per LR pixel
        per_lr_pixel=2957.0,  # the fit's slope (1,797) let tiled runs exceed 512 and 1024 MiB budgets (`check`)
        source="measured: ORT CPU 1.32, whole-image fit raised to SMFANet+'s slope by the check (benchmarks/memory_model.py)",
    ),
    ("oftsr-flat48x8-x4", "fp32"): MemoryModel(
        fixed_bytes=24 * MIB,
        per_lr_pixel=1762.0,
        source="measured: ORT CPU 1.32, peak RSS of whole-image calls 64²–768² LR (benchmarks/memory_model.py)",
    ),
}


def unmeasured(spec: ModelSpec) -> MemoryModel:
    """A conservative guess for a model nobody measured: three times the call's own tensors plus 64 channels of
    fp32 activations at four LR resolutions' worth (a wide UNet), per LR pixel."""
    tensors = 12.0 * (1 + 2 * spec.scale * spec.scale)
    return MemoryModel(64 * MIB, 3.0 * tensors + 4 * 64 * 4.0, "unmeasured model: conservative default")


def memory_model(spec: ModelSpec) -> MemoryModel:
    """The measured model for ``spec`` (by name and precision), else :func:`unmeasured`."""
    return MEASURED.get((spec.name, spec.precision)) or unmeasured(spec)


@dataclass(frozen=True)
class TileChoice:
    """What :func:`plan_tiles` chose for one image: ``tile`` (rows, cols) in LR pixels, (0, 0) = whole image."""

    tile: tuple[int, int]
    overlap: int
    batch: int
    tiles: int  # backend tiles (calls × batch)
    covered_pixels: int  # LR pixels the network computes (padding and overlaps included)
    image_pixels: int
    peak_bytes: int  # estimated working memory of the call, margin included
    budget_bytes: int

    @property
    def whole(self) -> bool:
        return self.tile == (0, 0)

    @property
    def waste(self) -> float:
        """Extra pixels the network computes over the image's own, as a fraction (0.0 = none)."""
        return self.covered_pixels / self.image_pixels - 1.0

    def describe(self) -> str:
        if self.whole:
            what = "whole image"
        else:
            what = f"{self.tiles} tiles of {self.tile[0]}x{self.tile[1]} (overlap {self.overlap})"
        return (
            f"{what}: ~{self.peak_bytes / MIB:.0f} MiB of a {self.budget_bytes / MIB:.0f} MiB budget, "
            f"{100 * self.waste:.0f}% extra pixels"
        )


def estimate_bytes(
    spec: ModelSpec,
    image_hw: tuple[int, int],
    tile_hw: tuple[int, int],
    batch: int = 1,
    itemsize: int = 1,
    channels: int = 3,
    model: MemoryModel | None = None,
) -> int:
    """Estimated peak working memory (bytes, margin included) of upscaling an LR image of ``image_hw`` with tiles
    of ``tile_hw`` ((0, 0) = whole image): backend calls plus the runtime's buffers."""
    model = model or memory_model(spec)
    s, m = spec.scale, spec.multiple_of
    height, width = image_hw
    out_bytes = height * s * width * s * channels * itemsize
    if tile_hw == (0, 0) or (tile_hw[0] >= height and tile_hw[1] >= width):
        padded = round_up(height, m) * round_up(width, m)
        return int(ESTIMATE_MARGIN * (model.call_bytes(padded) + out_bytes))
    th, tw = tile_hw
    per_call = batch * th * tw
    band = 12 * th * s * round_up(width, m) * s  # float32 RGB rows of one tile row
    pipelined = 12 * (1 + 2 * s * s) * per_call  # a second input buffer and one output in flight
    padded_input = round_up(height, m) * round_up(width, m) * channels * itemsize
    total = model.call_bytes(per_call) + pipelined + band + out_bytes + padded_input
    return int(ESTIMATE_MARGIN * total)


def host_bytes(spec: ModelSpec, image_hw: tuple[int, int], itemsize: int = 1, channels: int = 3) -> int:
    """Host memory an image needs whatever the tiling (margin included): its input and its output array. On a GPU
    this, not the call's device memory, is what must fit in RAM."""
    s, m = spec.scale, spec.multiple_of
    height, width = image_hw
    image = round_up(height, m) * round_up(width, m) * channels * itemsize
    return int(ESTIMATE_MARGIN * (image + height * s * width * s * channels * itemsize))


def _axis_options(length: int, overlap: int, multiple_of: int) -> list[tuple[int, int]]:
    """(count, tile) pairs for one axis: for each tile count, the smallest tile edge that covers ``length``."""
    padded = round_up(length, multiple_of)
    options, seen = [], set()
    for count in range(1, _MAX_COUNT + 1):
        tile = round_up(math.ceil((padded + (count - 1) * overlap) / count), multiple_of)
        if count > 1 and tile <= overlap + multiple_of:
            break
        tile = min(tile, padded)
        if tile in seen:
            continue
        seen.add(tile)
        options.append((_covering_count(padded, tile, overlap, multiple_of), tile))
    return options


def _covering_count(padded: int, tile: int, overlap: int, multiple_of: int) -> int:
    from oftsr_edge.runtime.tiling.geometry import tile_starts

    return len(tile_starts(padded, tile, overlap, multiple_of))


def plan_tiles(
    image_hw: tuple[int, int],
    spec: ModelSpec,
    budget_bytes: int,
    *,
    batch: int = 1,
    overlap: int | None = None,
    itemsize: int = 1,
    channels: int = 3,
    model: MemoryModel | None = None,
) -> TileChoice:
    """The tiling of an LR image of ``image_hw`` (height, width) that fits ``budget_bytes``: the whole image when it
    fits, else the least-waste tile geometry (see the module docstring). When nothing fits, the smallest geometry
    the planner knows is returned: its ``peak_bytes`` exceeds the budget, which the caller can report."""
    height, width = image_hw
    m = spec.multiple_of
    ov = round_up(AUTO_OVERLAP if overlap is None else overlap, m)
    model = model or memory_model(spec)
    image_pixels = height * width

    def choice(tile: tuple[int, int], tiles: int, covered: int) -> TileChoice:
        peak = estimate_bytes(spec, image_hw, tile, batch, itemsize, channels, model)
        return TileChoice(tile, 0 if tile == (0, 0) else ov, batch, tiles, covered, image_pixels, peak, budget_bytes)

    whole = choice((0, 0), 1, round_up(height, m) * round_up(width, m))
    if whole.peak_bytes <= budget_bytes:
        return whole
    best: TileChoice | None = None
    smallest: TileChoice | None = None
    for rows, th in _axis_options(height, ov, m):
        for cols, tw in _axis_options(width, ov, m):
            if rows * cols == 1:
                continue
            option = choice((th, tw), rows * cols, rows * cols * th * tw)
            if smallest is None or option.peak_bytes < smallest.peak_bytes:
                smallest = option
            if option.peak_bytes > budget_bytes:
                continue
            key = (option.covered_pixels, option.tiles)
            if best is None or key < (best.covered_pixels, best.tiles):
                best = option
    return best or smallest or whole


def largest_square_tile(
    spec: ModelSpec, budget_bytes: int, batch: int = 1, limit: int = 2048, model: MemoryModel | None = None
) -> int:
    """The largest square LR tile edge (a multiple of ``multiple_of``, at most ``limit``) whose backend call with
    ``batch`` tiles fits ``budget_bytes`` (0 when not even the smallest does): for fixed-shape engines and presets."""
    model = model or memory_model(spec)
    m = spec.multiple_of
    s = spec.scale
    best = 0
    for edge in range(m, limit + 1, m):
        pipelined = 12 * (1 + 2 * s * s) * batch * edge * edge
        if ESTIMATE_MARGIN * (model.call_bytes(batch * edge * edge) + pipelined) > budget_bytes:
            break
        best = edge
    return best


# ---- how much memory there is ---------------------------------------------------------------------------------


FALLBACK_BUDGET = 1024 * MIB


def default_budget(on_gpu: bool = False, device: int = 0) -> int:
    """:data:`SAFETY_FRACTION` of the free memory of where the call runs (VRAM on a GPU, RAM otherwise; Jetson's
    shared memory reads as RAM and as VRAM alike), or :data:`FALLBACK_BUDGET` when it cannot be read."""
    free = device_memory.free_vram_bytes(device) if on_gpu else None
    if free is None:
        free = device_memory.available_ram_bytes()
    return FALLBACK_BUDGET if free is None else int(SAFETY_FRACTION * free)
