"""``--model auto`` (the default): pick the bundled model for each input from what the file says about its history.

A model trained on clean bicubic downscales sharpens whatever it is given, JPEG blocks and sensor noise included,
so on a camera JPEG the fidelity default at its default t looks worse than bicubic; the model trained on Real-ESRGAN
degradations (at its recommended t = 0) removes them and stays above bicubic on clean inputs too, but it is softer
than the fidelity model there. So: clean input → the fidelity model, lossy or noisy input → the degradation model.

The evidence, all cheap (the header, and a central crop of at most :data:`CROP`² pixels of luma):

- **JPEG quality**: the luma quantisation table against the IJG standard table scaled for quality q (what libjpeg,
  Pillow and most cameras and phones write); the quality whose table has the same sum. Below
  :data:`JPEG_CLEAN_QUALITY` the blocks and ringing are visible after a ×4 upscale.
- **WebP**: lossy (a ``VP8 `` chunk) or lossless (``VP8L``); lossy WebP is treated as a JPEG of unknown quality.
- **noise σ** (0–255): the median absolute response of a 3×3 Laplacian-of-Laplacian high-pass (Immerkær's kernel,
  which cancels linear ramps) divided by 0.6745·6: a robust σ of white noise; edges and texture are a minority of
  pixels, so the median ignores them. Measured on the full-resolution crop: downsampling would average the noise
  away.
- **blockiness**: the mean luma step across the 8-pixel grid over the mean step elsewhere; a JPEG saved again as
  PNG keeps its grid.

The thresholds (:data:`THRESHOLDS`, measured in benchmarks/auto_model.py) put every clean benchmark photo on the
clean side with a margin. Which model serves which side, and at what t, is data: the ``auto`` entry of
``models.json`` (``{"clean": {"model": ...}, "lossy": {"model": ..., "t": 0}}``), so a new bundled model changes
the table, not this code. An explicit ``--model`` or ``--t`` always wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: the luma table of the JPEG standard (Annex K), in natural order; Pillow reports tables in this order too
_STD_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.float64)

CROP = 512  # edge of the central luma crop the noise and grid are measured on
JPEG_CLEAN_QUALITY = 96  # a JPEG at or above this quality counts as clean (unless noisy or blocky)
NOISE_SIGMA = 2.5  # σ (0–255) above which an input counts as noisy
BLOCKINESS = 1.15
FLAT_PERCENTILE = 5  # of the 8×8 blocks: the flattest twentieth of the image measures the noise  # grid-step ratio above which a decoded image shows JPEG blocks
THRESHOLDS = {"jpeg_quality": JPEG_CLEAN_QUALITY, "noise_sigma": NOISE_SIGMA, "blockiness": BLOCKINESS}


@dataclass(frozen=True)
class Evidence:
    """What was measured on one input (None = not applicable, e.g. no JPEG tables in a PNG)."""

    fmt: str
    jpeg_quality: int | None = None
    lossy_webp: bool = False
    noise_sigma: float = 0.0
    blockiness: float = 1.0

    def lossy_reasons(self) -> list[str]:
        reasons = []
        if self.jpeg_quality is not None and self.jpeg_quality < JPEG_CLEAN_QUALITY:
            reasons.append(f"JPEG quality ~{self.jpeg_quality}")
        if self.lossy_webp:
            reasons.append("lossy WebP")
        if self.noise_sigma > NOISE_SIGMA:
            reasons.append(f"noise sigma {self.noise_sigma:.1f}")
        if self.blockiness > BLOCKINESS:
            reasons.append(f"8x8 blocks {self.blockiness:.2f}")
        return reasons


@dataclass(frozen=True)
class Choice:
    """The model picked for one input: ``t`` None = the model's default."""

    kind: str  # "clean" or "lossy"
    model: str
    t: float | None
    reason: str

    def line(self, name: str) -> str:
        t = "its default t" if self.t is None else f"t = {self.t:g}"
        return f"{name}: {self.kind} ({self.reason}) -> {self.model} at {t}"

    def record(self) -> dict[str, Any]:
        """What goes into the output's settings record."""
        return {"kind": self.kind, "model": self.model, "reason": self.reason}


def jpeg_quality(tables: dict[int, Any]) -> int | None:
    """The IJG quality whose scaled standard luma table has the sum of ``tables[0]``; None without one."""
    luma = tables.get(0) if isinstance(tables, dict) else None
    if luma is None or len(luma) != 64:
        return None
    actual = float(np.sum(np.asarray(luma, dtype=np.float64)))
    best, best_err = 100, float("inf")
    for q in range(1, 101):
        scale = 5000.0 / q if q < 50 else 200.0 - 2.0 * q
        table = np.clip(np.floor((_STD_LUMA * scale + 50.0) / 100.0), 1, 255)
        err = abs(float(table.sum()) - actual)
        if err < best_err:
            best, best_err = q, err
    return best


def _luma_crop(pixels: np.ndarray) -> np.ndarray:
    """Central crop of at most CROP² of BT.601 luma in 0–255 (gray, RGB, alpha ignored, 8/16-bit, float)."""
    img = np.asarray(pixels)
    if img.ndim == 3 and img.shape[2] >= 3:
        img = img[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    elif img.ndim == 3:
        img = img[..., 0].astype(np.float64)
    else:
        img = img.astype(np.float64)
    if pixels.dtype == np.uint16:
        img = img / 257.0
    elif pixels.dtype.kind == "f":
        img = img * 255.0
    h, w = img.shape
    top, left = max(0, (h - CROP) // 2), max(0, (w - CROP) // 2)
    return img[top:top + CROP, left:left + CROP]


def noise_sigma(luma: np.ndarray) -> float:
    """σ of white noise in ``luma`` (0–255), from its flattest parts: per 8×8 block the mean |Immerkær high-pass|
    · √(π/2) / 6 (the σ of Gaussian noise alone), and of the blocks the :data:`FLAT_PERCENTILE` th percentile, so
    texture and edges (which raise a block's response) do not count as noise."""
    if luma.shape[0] < 10 or luma.shape[1] < 10:
        return 0.0
    y = luma
    hp = np.abs(y[:-2, :-2] - 2 * y[:-2, 1:-1] + y[:-2, 2:]
                - 2 * y[1:-1, :-2] + 4 * y[1:-1, 1:-1] - 2 * y[1:-1, 2:]
                + y[2:, :-2] - 2 * y[2:, 1:-1] + y[2:, 2:])
    h, w = (hp.shape[0] // 8) * 8, (hp.shape[1] // 8) * 8
    blocks = hp[:h, :w].reshape(h // 8, 8, w // 8, 8).mean(axis=(1, 3))
    level = y[1:-1, 1:-1][:h, :w].reshape(h // 8, 8, w // 8, 8).mean(axis=(1, 3))
    unclipped = blocks[(level > 8) & (level < 247)]  # noise in black or white areas is clipped away
    if unclipped.size < 4:
        return 0.0
    return float(np.percentile(unclipped, FLAT_PERCENTILE) * np.sqrt(np.pi / 2) / 6.0)


def blockiness(luma: np.ndarray) -> float:
    """Mean |step| across the 8-pixel grid over the mean |step| elsewhere (1 = no grid), both directions."""
    ratios = []
    for axis in (0, 1):
        steps = np.abs(np.diff(luma, axis=axis)).mean(axis=1 - axis)  # step between index i and i+1
        if steps.size < 16:
            continue
        on_grid = np.arange(steps.size) % 8 == 7
        inside = steps[~on_grid].mean()
        ratios.append(float(steps[on_grid].mean() / inside) if inside > 1e-6 else 1.0)
    return float(np.mean(ratios)) if ratios else 1.0


def measure(pixels: np.ndarray, fmt: str = "array", quality: int | None = None, lossy_webp: bool = False
            ) -> Evidence:
    luma = _luma_crop(pixels)
    return Evidence(fmt, quality, lossy_webp, noise_sigma(luma), blockiness(luma))


def _webp_is_lossy(path: Path) -> bool:
    """True when the WebP file holds a lossy bitstream (a ``VP8 `` chunk), False for lossless (``VP8L``)."""
    with open(path, "rb") as f:
        data = f.read(1 << 16)
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP" and b"VP8 " in data[12:]


def choose(evidence: Evidence, table: dict[str, dict[str, Any]]) -> Choice:
    """The model (and t) of ``table`` (models.json's ``auto`` entry) for ``evidence``."""
    reasons = evidence.lossy_reasons()
    kind = "lossy" if reasons else "clean"
    entry = table[kind]
    if not reasons:
        shown = f"JPEG quality ~{evidence.jpeg_quality}, " if evidence.jpeg_quality is not None else ""
        reasons = [f"{shown}noise sigma {evidence.noise_sigma:.1f}"]
    t = entry.get("t")
    return Choice(kind, entry["model"], None if t is None else float(t), ", ".join(reasons))


def choose_for_file(path: str | Path, table: dict[str, dict[str, Any]] | None = None) -> Choice:
    """The choice for one image file: a JPEG below the clean quality or a lossy WebP is decided from its header;
    anything else is decoded (:func:`oftsr_edge.runtime.io.image_io.read_image`) and measured."""
    from oftsr_edge.runtime.io import image_io
    from oftsr_edge.runtime.models import auto_table

    table = auto_table() if table is None else table
    header = inspect_header(path)
    if header.lossy_reasons():
        return choose(header, table)
    pixels = image_io.read_image(path)
    return choose(measure(pixels, header.fmt, header.jpeg_quality, header.lossy_webp), table)


def inspect_header(path: str | Path) -> Evidence:
    """What the header says: the format, a JPEG's quality, whether a WebP is lossy (no pixels decoded)."""
    from PIL import Image

    path = Path(path)
    quality, fmt = None, path.suffix.lower().lstrip(".")
    try:
        with Image.open(path) as im:
            fmt = (im.format or fmt).lower()
            if fmt in ("jpeg", "mpo"):
                quality = jpeg_quality(getattr(im, "quantization", None) or {})
    except (OSError, ValueError):
        pass  # the decoder says what is wrong with the file, in the run itself
    try:
        lossy_webp = fmt == "webp" and _webp_is_lossy(path)
    except OSError:
        lossy_webp = False
    return Evidence(fmt, quality, lossy_webp)
