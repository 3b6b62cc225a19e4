"""What the accuracy gate compares: LR tiles (real or synthetic), the contract's feeds at several t, and the PSNR /
NaN verdict per candidate. Split from the runners (`polygraphy_check.py`) so each file has one job. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

import numpy as np

from oftsr_edge.errors import OftsrError

Feed = Dict[str, np.ndarray]


def psnr_unit(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two same-shape arrays in [0, 1] (inf when identical, nan when either is non-finite)."""
    if a.shape != b.shape:
        raise OftsrError(f"output shapes differ: {a.shape} vs {b.shape}")
    diff = a.astype(np.float64) - b.astype(np.float64)
    if not np.isfinite(diff).all():
        return math.nan
    mse = float(np.mean(diff * diff))
    return math.inf if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def lr_tiles_from(images: str | Path, tile: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` (3, tile, tile) tiles cut from the photos in ``images`` (used as LR input as they are), with the
    export side's calibration-tile cutter (:func:`oftsr_edge.export.calibration.load_tiles`: seeded positions,
    reflect padding for small images), so check and INT8 calibration see the same kind of data."""
    from oftsr_edge.export.calibration import load_tiles

    if not Path(images).is_dir():
        raise OftsrError(f"{images}: no such image folder")
    return list(load_tiles(images, tile, count=count, seed=seed))


def synthetic_tiles(tile: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """Smooth gradients with edges and mild texture, for when no photos are given (a weaker gate)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:tile, 0:tile].astype(np.float32) / max(tile - 1, 1)
    tiles = []
    for _ in range(count):
        base = [np.clip(a * xx + b * yy + c * (xx > d), 0, 1) for a, b, c, d in rng.uniform(0, 0.7, (3, 4))]
        image = np.stack(base) + 0.03 * rng.standard_normal((3, tile, tile)).astype(np.float32)
        tiles.append(np.clip(image, 0.0, 1.0).astype(np.float32))
    return tiles


def make_feeds(
    tiles: Sequence[np.ndarray], t_values: Sequence[float], scale: int, seed: int = 0
) -> list[Feed]:
    """One feed per (t, tile) with N = 1 and seeded noise (the calibration feeds' layout), identical for every
    backend, so each tile's PSNR is seen on its own."""
    from oftsr_edge.export.calibration import model_feeds

    return model_feeds(np.stack(tiles).astype(np.float32), scale, tuple(t_values), batch=1, seed=seed)


@dataclass(frozen=True)
class Comparison:
    """One candidate against the reference over all feeds."""

    candidate: str
    reference: str
    psnr_by_t: dict[float, float]  # worst PSNR at each t
    mean_psnr: float
    nonfinite: int  # NaN/Inf values in the candidate's outputs
    reference_nonfinite: int
    min_psnr_gate: float

    @property
    def min_psnr(self) -> float:
        values = list(self.psnr_by_t.values())
        return math.nan if any(math.isnan(v) for v in values) else min(values)

    @property
    def passed(self) -> bool:
        worst = self.min_psnr
        return (
            self.nonfinite == 0
            and self.reference_nonfinite == 0
            and not math.isnan(worst)
            and (worst >= self.min_psnr_gate)
        )

    def line(self) -> str:
        per_t = ", ".join(f"t={t:g}: {_db(v)}" for t, v in self.psnr_by_t.items())
        extra = f"; {self.nonfinite} non-finite values" if self.nonfinite else ""
        if self.reference_nonfinite:
            extra += f"; reference has {self.reference_nonfinite} non-finite values"
        verdict = "PASS" if self.passed else "FAIL"
        return f"{verdict}  {self.candidate} vs {self.reference}: worst {_db(self.min_psnr)} ({per_t}){extra}"


def _db(value: float) -> str:
    return "identical" if math.isinf(value) else ("nan" if math.isnan(value) else f"{value:.2f} dB")


def compare_outputs(
    candidate: str,
    reference: str,
    cand_outputs: Sequence[np.ndarray],
    ref_outputs: Sequence[np.ndarray],
    t_per_feed: Sequence[float],
    min_psnr: float,
) -> Comparison:
    """The gate for one candidate: worst PSNR per t, mean PSNR, non-finite counts."""
    if not len(cand_outputs) == len(ref_outputs) == len(t_per_feed):
        raise OftsrError("candidate and reference ran a different number of feeds")
    by_t: dict[float, float] = {}
    finite = []
    for cand, ref, t in zip(cand_outputs, ref_outputs, t_per_feed):
        value = psnr_unit(cand, ref)
        old = by_t.get(t, math.inf)
        by_t[t] = math.nan if math.isnan(value) or math.isnan(old) else min(old, value)
        if math.isfinite(value):
            finite.append(value)
    return Comparison(
        candidate=candidate,
        reference=reference,
        psnr_by_t=by_t,
        mean_psnr=float(np.mean(finite)) if finite else math.nan,
        nonfinite=int(sum(np.size(o) - np.count_nonzero(np.isfinite(o)) for o in cand_outputs)),
        reference_nonfinite=int(sum(np.size(o) - np.count_nonzero(np.isfinite(o)) for o in ref_outputs)),
        min_psnr_gate=min_psnr,
    )


@dataclass(frozen=True)
class CheckResult:
    """All comparisons of one ``check`` run; ``passed`` only when every one passes."""

    comparisons: tuple[Comparison, ...]
    min_psnr: float
    tiles: int
    tile: int
    t_values: tuple[float, ...]
    source: str  # where the tiles came from
    runner: str  # "polygraphy" or "onnxruntime"

    @property
    def passed(self) -> bool:
        return bool(self.comparisons) and all(c.passed for c in self.comparisons)

    def lines(self) -> list[str]:
        head = (
            f"check: {self.tiles} LR tiles {self.tile}x{self.tile} from {self.source} x t in "
            f"{{{', '.join(f'{t:g}' for t in self.t_values)}}}, seeded noise; gate PSNR >= {self.min_psnr:g} dB "
            f"(hr, peak 1.0) and no NaN/Inf; runner {self.runner}"
        )
        return [head, *(f"  {c.line()}" for c in self.comparisons)]


# --- runners --------------------------------------------------------------------------------------------------------

#: (label, kind, path): kind "onnx" runs under ONNX Runtime on CPU, "trt" runs a TensorRT engine
