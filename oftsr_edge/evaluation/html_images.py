"""The pictures of the HTML report, taken from the outputs ``eval`` already computes (no second inference pass).

:class:`ReportImages` is fed through ``quality.evaluate``'s ``on_output`` hook and turns each output into a data
URI right away, so memory holds only the encoded report, never every output array at every t.

Choices, stated in the report's footer too:
- Views are lossless (WebP, PNG where Pillow lacks WebP) when the pictures are estimated to fit ``BUDGET`` — a Set5
  report at three or five t values does, at about 4–6 MB — so what the zoomed crops magnify is the model's own
  texture, not a codec's. Larger sets switch every HR-size view to JPEG quality 95 without chroma subsampling
  (≥ 38 dB against the output even for t = 1 texture, invisible at 1:1; about 2.5× smaller). The LR view is
  always PNG.
- Images larger than ``max_side`` are cropped to their central ``max_side`` square (aligned to the scale so LR and
  HR crops match); the metrics are always those of the full image.
- Only the first ``max_images`` images get a viewer; every image is in the tables.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, features

from oftsr_edge.evaluation.dataset import Pair
from oftsr_edge.evaluation.quality import Method

MAX_SIDE = 640
MAX_IMAGES = 24
JPEG_QUALITY = 95
BUDGET = 10_000_000  # estimated data-URI bytes of all pictures, above which views are JPEG
LOSSLESS_BYTES_PER_PIXEL = 1.6  # lossless WebP of SR outputs as base64 (Set5: 1.3–1.6)
LOUPE = 42  # HR pixels shown in a zoomed crop (the crop panes magnify them 4×)
ZOOM = 4


def data_uri(pixels: np.ndarray, fmt: str = "lossless") -> str:
    """``pixels`` (H, W, 3 or 1) uint8 as a ``data:`` URI: "lossless" (WebP, else PNG), "png" or "jpeg" (q95,
    4:4:4)."""
    image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=True)
        mime = "image/jpeg"
    elif fmt == "lossless" and features.check("webp"):
        image.save(buffer, "WEBP", lossless=True, method=1, exact=True)
        mime = "image/webp"
    else:
        image.save(buffer, "PNG")
        mime = "image/png"
    return f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def crop_box(height: int, width: int, scale: int, max_side: int = MAX_SIDE) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the central crop of at most ``max_side`` per side, on the scale's grid."""
    limit = max(scale, max_side - max_side % scale)
    w, h = min(width, limit), min(height, limit)
    x = (width - w) // 2 // scale * scale
    y = (height - h) // 2 // scale * scale
    return x, y, w, h


def busiest_point(image: np.ndarray, size: int) -> tuple[int, int]:
    """Centre (x, y) of the ``size``-square window with the most gradient energy: where the methods differ most,
    so the zoomed crops open on detail rather than on sky."""
    h, w = image.shape[:2]
    if h <= size + 1 or w <= size + 1:
        return w // 2, h // 2
    luma = image.astype(np.float32).mean(axis=2)
    energy = np.abs(np.diff(luma, axis=0))[:, :-1] + np.abs(np.diff(luma, axis=1))[:-1, :]
    sums = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    windows = sums[size:, size:] - sums[:-size, size:] - sums[size:, :-size] + sums[:-size, :-size]
    y, x = np.unravel_index(int(np.argmax(windows)), windows.shape)
    return int(x) + size // 2, int(y) + size // 2


@dataclass
class Shown:
    """One image's viewer: its crop of the HR frame, the student's output per t, and the references."""

    name: str
    size: tuple[int, int]  # full HR (w, h)
    box: tuple[int, int, int, int]  # (x, y, w, h) in HR pixels
    focus: tuple[int, int]
    loupe: int
    hr: str
    lr: str
    student: dict[float, str] = field(default_factory=dict)
    others: dict[str, str] = field(default_factory=dict)  # method label → URI (bicubic, teacher, peers)

    @property
    def cropped(self) -> bool:
        return self.box[2:] != self.size


class ReportImages:
    """Collects the report's pictures from ``evaluate``'s output hook; call :meth:`add` with each output."""

    def __init__(
        self,
        scale: int,
        pairs: Sequence[Pair] = (),
        views: int = 0,
        max_side: int = MAX_SIDE,
        max_images: int = MAX_IMAGES,
        budget: float = BUDGET,
    ) -> None:
        """``pairs`` and ``views`` (pictures per image, HR included) size the report up front, so one format is
        chosen for all views: lossless when the estimate fits ``budget``."""
        self.scale = scale
        self.max_side = max_side
        self.max_images = max_images
        self.shown: dict[str, Shown] = {}
        self.left_out: list[str] = []
        pixels = sum(
            int(np.prod(crop_box(*p.hr.shape[:2], scale, max_side)[2:])) for p in list(pairs)[:max_images]
        )
        self.format = "lossless" if pixels * views * LOSSLESS_BYTES_PER_PIXEL <= budget else "jpeg"

    def describe(self) -> str:
        """The format choice in one sentence, for the report's footer."""
        if self.format == "jpeg":
            return f"HR-size views are JPEG (quality {JPEG_QUALITY}, no chroma subsampling) to keep the file small"
        return "Views are lossless (" + ("WebP" if features.check("webp") else "PNG") + ")"

    def _start(self, pair: Pair) -> Shown | None:
        if pair.name in self.shown:
            return self.shown[pair.name]
        if len(self.shown) >= self.max_images:
            if pair.name not in self.left_out:
                self.left_out.append(pair.name)
            return None
        height, width = pair.hr.shape[:2]
        x, y, w, h = crop_box(height, width, self.scale, self.max_side)
        hr = pair.hr[y : y + h, x : x + w]
        s = self.scale
        lr = pair.lr[y // s : (y + h) // s, x // s : (x + w) // s]
        loupe = max(1, min(LOUPE, w, h))
        shown = Shown(
            pair.name,
            (width, height),
            (x, y, w, h),
            busiest_point(hr, loupe),
            loupe,
            data_uri(hr, self.format),
            data_uri(lr, "png"),
        )
        self.shown[pair.name] = shown
        return shown

    def add(self, method: Method, pair: Pair, sr: np.ndarray) -> None:
        """Keep ``sr`` (the output of ``method`` on ``pair``) as the viewer shows it: cropped and encoded."""
        shown = self._start(pair)
        if shown is None:
            return
        x, y, w, h = shown.box
        if method.kind == "student" and method.t is not None:
            if float(method.t) not in shown.student:
                shown.student[float(method.t)] = data_uri(sr[y : y + h, x : x + w], self.format)
        elif method.label not in shown.others:
            shown.others[method.label] = data_uri(sr[y : y + h, x : x + w], self.format)
