"""``--tile auto``: the memory plan (pure), reading the free memory, and invisible seams at every chosen geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.contract import ModelSpec
from oftsr_edge.runtime.device import memory
from oftsr_edge.runtime.tiling import memory_plan
from oftsr_edge.runtime.tiling.geometry import tile_starts
from oftsr_edge.runtime.tiling.memory_plan import MIB, MemoryModel, TileChoice, estimate_bytes, plan_tiles

SPEC = ModelSpec(
    name="oftsr-test-x4", scale=4, sigma_p=0.2, multiple_of=4, default_t=0.5, precision="fp32", opset=18,
    tile=128, degradation="bicubic", checkpoint_sha256="0" * 64,
)  # fmt: skip
MODEL = MemoryModel(fixed_bytes=20 * MIB, per_lr_pixel=2000.0, source="test")
PHOTO = Path(__file__).resolve().parents[1] / "data" / "photos" / "HR" / "kodim08.png"  # 256 × 192


def _covers(length: int, tile: int, overlap: int, m: int) -> bool:
    starts = tile_starts(-(-length // m) * m, tile, overlap, m)
    return starts[0] == 0 and starts[-1] + tile >= length and all(
        b - a <= tile - overlap for a, b in zip(starts, starts[1:])
    )


def test_an_image_that_fits_is_one_whole_call() -> None:
    choice = plan_tiles((192, 256), SPEC, 10_000 * MIB, model=MODEL)
    assert choice.whole and choice.tiles == 1 and choice.overlap == 0 and choice.waste == 0.0
    assert choice.peak_bytes == estimate_bytes(SPEC, (192, 256), (0, 0), model=MODEL) <= choice.budget_bytes


@pytest.mark.parametrize("budget_mib", [200, 300, 600, 1200])
@pytest.mark.parametrize("size", [(1000, 1500), (3000, 700), (517, 2049)])
def test_a_large_image_gets_the_least_waste_tiling_that_fits(size: tuple[int, int], budget_mib: int) -> None:
    budget = budget_mib * MIB
    choice = plan_tiles(size, SPEC, budget, model=MODEL)
    assert not choice.whole and choice.tiles > 1
    assert choice.peak_bytes <= budget
    th, tw = choice.tile
    assert th % 4 == 0 and tw % 4 == 0 and choice.overlap == 16
    assert _covers(size[0], th, 16, 4) and _covers(size[1], tw, 16, 4)
    # no square tile that fits wastes fewer pixels (the plan also considers non-square ones)
    for edge in range(32, 2048, 4):
        if estimate_bytes(SPEC, size, (edge, edge), model=MODEL) > budget:
            break
        rows = len(tile_starts(-(-size[0] // 4) * 4, min(edge, size[0] + 3 & ~3), 16, 4))
        cols = len(tile_starts(-(-size[1] // 4) * 4, min(edge, size[1] + 3 & ~3), 16, 4))
        covered = rows * min(edge, size[0] + 3 & ~3) * cols * min(edge, size[1] + 3 & ~3)
        assert choice.covered_pixels <= covered


def test_a_smaller_budget_never_gets_bigger_tiles() -> None:
    areas = []
    for budget_mib in (800, 400, 200, 100, 60):
        choice = plan_tiles((2000, 2000), SPEC, budget_mib * MIB, model=MODEL)
        areas.append(choice.tile[0] * choice.tile[1])
    assert areas == sorted(areas, reverse=True) and areas[0] > areas[-1]


def test_when_nothing_fits_the_smallest_plan_says_so() -> None:
    choice = plan_tiles((4000, 4000), SPEC, 1 * MIB, model=MODEL)
    assert choice.peak_bytes > choice.budget_bytes and not choice.whole
    assert "MiB budget" in choice.describe()


def test_unmeasured_models_get_a_conservative_model() -> None:
    measured = memory_plan.memory_model(ModelSpec(**{**SPEC.__dict__, "name": "oftsr-small-x4"}))
    guess = memory_plan.memory_model(SPEC)
    assert guess.source.startswith("unmeasured") and guess.per_lr_pixel > measured.per_lr_pixel


def test_largest_square_tile_grows_with_the_budget() -> None:
    edges = [memory_plan.largest_square_tile(SPEC, b * MIB, model=MODEL) for b in (50, 200, 800)]
    assert edges == sorted(edges) and edges[0] > 0 and all(e % 4 == 0 for e in edges)
    assert memory_plan.largest_square_tile(SPEC, 1, model=MODEL) == 0
    assert memory_plan.largest_square_tile(SPEC, 800 * MIB, batch=4, model=MODEL) < edges[-1]


def test_free_memory_is_read_from_meminfo_and_the_cgroup(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text("MemTotal: 8000000 kB\nMemAvailable:    4000000 kB\n")
    assert memory.available_ram_bytes(tmp_path) == 4000000 * 1024
    cgroup = tmp_path / "sys" / "fs" / "cgroup"
    cgroup.mkdir(parents=True)
    (cgroup / "memory.max").write_text("1073741824\n")
    (cgroup / "memory.current").write_text("73741824\n")
    assert memory.available_ram_bytes(tmp_path) == 1_000_000_000  # the container's headroom is smaller
    (cgroup / "memory.max").write_text("max\n")
    assert memory.available_ram_bytes(tmp_path) == 4000000 * 1024


def test_the_default_budget_is_a_share_of_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "available_ram_bytes", lambda root=None: 1000 * MIB)
    monkeypatch.setattr(memory, "free_vram_bytes", lambda device=0: 300 * MIB)
    assert memory_plan.default_budget() == int(memory_plan.SAFETY_FRACTION * 1000 * MIB)
    assert memory_plan.default_budget(on_gpu=True) == int(memory_plan.SAFETY_FRACTION * 300 * MIB)
    monkeypatch.setattr(memory, "available_ram_bytes", lambda root=None: None)
    assert memory_plan.default_budget() == memory_plan.FALLBACK_BUDGET


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


#: Tiled vs whole-image PSNR each bundled model must keep. Models whose blocks are all local are seam-free by
#: construction (≥ 45 dB: rounding only); SMFANet's non-local branch uses each channel's variance over its whole
#: input, so a tile's statistics differ a little from the image's (docs/architecture.md §4): measured 42.9–48.6 dB
#: over tiles of 48–128 LR px with 16 or 32 px overlap on this photo.
SEAM_PSNR = {"oftsr-flat48x8-x4": 45.0, "oftsr-smfa-x4": 42.0}


@pytest.fixture(scope="module", params=sorted(SEAM_PSNR))
def bundled(request):
    """A 256×192 photo (a Kodak crop shipped with the tests) through a bundled model, whole image."""
    from oftsr_edge import Upscaler, read_image

    lr = read_image(PHOTO)
    with Upscaler(request.param, tile=0) as up:
        whole = up.upscale(lr, t=0.5, seed=3)
    return request.param, lr, whole


@pytest.mark.parametrize("grid", [(1, 2), (2, 2), (3, 3), (4, 5)])
def test_seams_stay_invisible_at_every_geometry_the_plan_chooses(bundled, grid: tuple[int, int]) -> None:
    """Each model with budgets that force ~2 to ~20 tiles: tiled vs whole image at least its SEAM_PSNR."""
    from oftsr_edge import Upscaler

    name, lr, whole = bundled
    with Upscaler(name, tile=0) as probe:
        spec = probe.spec
    m = spec.multiple_of
    tile = tuple(-(-(n + (k - 1) * memory_plan.AUTO_OVERLAP) // k // m) * m + m for n, k in zip(lr.shape[:2], grid))
    budget = estimate_bytes(spec, lr.shape[:2], tile)  # exactly what a tile of about that size needs
    with Upscaler(name, memory_budget=budget) as up:
        choice: TileChoice = up.tiling.plan(*lr.shape[:2])
        tiled = up.upscale(lr, t=0.5, seed=3)
    assert choice.tiles > 1 and choice.peak_bytes <= choice.budget_bytes
    assert _psnr(tiled, whole) >= SEAM_PSNR[name], choice.describe()


def test_the_upscaler_runs_the_plan_it_reports(bundled) -> None:
    from oftsr_edge import Upscaler

    name, lr, _ = bundled
    with Upscaler(name, memory_budget=60 * MIB) as up:
        choice = up.tiling.plan(*lr.shape[:2])
        shapes = []
        run = up.backend.run
        up.tiling.tiler_for(choice).run = lambda a, n, t: shapes.append(a.shape) or run(a, n, t)
        up.upscale(lr, t=0.5, seed=0)
    assert not choice.whole and shapes and all(s[2:] == choice.tile for s in shapes)
    assert len(shapes) == choice.tiles
