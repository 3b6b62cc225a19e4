"""Score upscalers on a validation set: PSNR/SSIM-Y (fidelity), NIQE (realism proxy), LPIPS and DISTS (when their
weights are given).

Every method — our student at each t, the bicubic baseline, the teacher, a peer — is just a function
``lr uint8 → sr uint8``; this module times it and scores its output the same way for all. Fidelity metrics crop
``scale`` pixels at each border (the SR protocol); NIQE is computed on the cropped output too; LPIPS and DISTS on the
whole image. Averages are means of the per-image values (PSNR in dB, as every SR table does).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation.dataset import Pair
from oftsr_edge.metrics.fidelity import psnr_y, ssim_y
from oftsr_edge.metrics.niqe import niqe

UpscaleFn = Callable[[np.ndarray], np.ndarray]
#: called with (method, pair, sr) after each output, e.g. to keep crops for the comparison grid
OutputHook = Callable[["Method", Pair, np.ndarray], None]


@dataclass
class Method:
    """A row of the results table. ``upscale`` None means "score the HR itself" (the NIQE reference row)."""

    label: str
    kind: str  # "student", "baseline", "teacher", "peer" or "reference"
    upscale: UpscaleFn | None
    t: float | None = None
    note: str = ""


@dataclass
class ImageScore:
    method: str
    image: str
    psnr_y: float | None
    ssim_y: float | None
    niqe: float | None
    lpips: float | None
    seconds: float | None
    dists: float | None = None


@dataclass
class MethodSummary:
    method: str
    kind: str
    t: float | None
    note: str
    images: int
    psnr_y: float | None
    ssim_y: float | None
    niqe: float | None
    lpips: float | None
    seconds: float | None
    dists: float | None = None


@dataclass
class EvalResult:
    scale: int
    summaries: list[MethodSummary]
    images: list[ImageScore]
    notes: list[str] = field(default_factory=list)

    def summary(self, label: str) -> MethodSummary:
        for s in self.summaries:
            if s.method == label:
                return s
        raise KeyError(label)

    def to_dict(self) -> dict:
        return {
            "scale": self.scale,
            "summary": [asdict(s) for s in self.summaries],
            "images": [asdict(i) for i in self.images],
            "notes": self.notes,
        }


def _niqe_or_none(image: np.ndarray, border: int) -> float | None:
    """NIQE, or None when the cropped image holds no 96×96 block (or is flat): the table shows a dash."""
    try:
        value = niqe(image, border=border)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def score_image(
    sr: np.ndarray, hr: np.ndarray, scale: int, lpips_model: object | None = None, with_niqe: bool = True
) -> tuple[float | None, float | None, float | None, float | None]:
    """(PSNR-Y, SSIM-Y, NIQE, LPIPS) of one output; a shape mismatch is an error, not a silent crop."""
    if sr.shape != hr.shape:
        raise OftsrError(f"output shape {sr.shape} does not match HR {hr.shape}")
    p = psnr_y(sr, hr, border=scale)
    s = ssim_y(sr, hr, border=scale) if min(hr.shape[:2]) - 2 * scale >= 11 else None
    n = _niqe_or_none(sr, scale) if with_niqe else None
    return (None if math.isinf(p) else p), s, n, perceptual(lpips_model, sr, hr)


def perceptual(model: object | None, sr: np.ndarray, hr: np.ndarray) -> float | None:
    """``model.distance`` (LPIPS, DISTS) on the whole image, gray expanded to RGB; None without a model."""
    if model is None:
        return None
    rgb = (lambda x: np.repeat(x, 3, axis=2)) if sr.shape[2] == 1 else (lambda x: x)
    return model.distance(rgb(sr), rgb(hr))


def evaluate(
    pairs: list[Pair],
    methods: list[Method],
    scale: int,
    lpips_model: object | None = None,
    with_niqe: bool = True,
    on_output: OutputHook | None = None,
    progress: Callable[[str], None] | None = None,
    dists_model: object | None = None,
) -> EvalResult:
    """Run every method on every pair, timing each call and scoring each output."""
    images: list[ImageScore] = []
    summaries: list[MethodSummary] = []
    for method in methods:
        rows = []
        if progress:
            progress(f"{method.label} ({len(pairs)} images)")
        for pair in pairs:
            if method.upscale is None:
                n = _niqe_or_none(pair.hr, scale) if with_niqe else None
                rows.append(ImageScore(method.label, pair.name, None, None, n, None, None))
                continue
            start = time.perf_counter()
            sr = method.upscale(pair.lr)
            seconds = time.perf_counter() - start
            if on_output:
                on_output(method, pair, sr)
            p, s, n, lp = score_image(sr, pair.hr, scale, lpips_model, with_niqe)
            ds = perceptual(dists_model, sr, pair.hr)
            rows.append(ImageScore(method.label, pair.name, p, s, n, lp, seconds, ds))
        images += rows
        summaries.append(
            MethodSummary(
                method.label,
                method.kind,
                method.t,
                method.note,
                len(rows),
                _mean([r.psnr_y for r in rows]),
                _mean([r.ssim_y for r in rows]),
                _mean([r.niqe for r in rows]),
                _mean([r.lpips for r in rows]),
                _mean([r.seconds for r in rows]),
                _mean([r.dists for r in rows]),
            )
        )
    return EvalResult(scale, summaries, images)
