"""End-to-end speed on a folder of photos, beside the network alone: what a user waits for (issue 17).

Three rows over the same images, each as images/s and seconds per output megapixel, with its ratio to the network:

- **network**: the backend's ``run`` on each whole image, inputs (LR tensor, noise, t) prepared beforehand — the
  floor any runtime around this model can reach;
- **upscale**: ``Upscaler.upscale`` on decoded images with its default settings (tile plan, noise, conversion), no
  file I/O;
- **files**: the folder pipeline of ``oftsr-edge upscale`` (decode, network and encode overlapped, outputs written
  atomically) with the given output format and PNG compression.

Each row is the best of ``runs`` passes over the folder (the first pass also warms the session up).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from oftsr_edge.errors import OftsrError


@dataclass(frozen=True)
class E2ERow:
    name: str
    seconds: float  # for the whole folder
    images: int
    out_mp: float

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds

    @property
    def s_per_mp(self) -> float:
        return self.seconds / self.out_mp

    def to_dict(self) -> dict:
        return {**asdict(self), "images_per_s": self.images_per_s, "s_per_mp": self.s_per_mp}


def _best(fn: Callable[[], None], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def network_inputs(upscaler: object, image: np.ndarray, t: float, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The exact whole-image inputs the runtime feeds (LR in [0, 1], the seed's noise, t)."""
    from oftsr_edge.runtime.tiling.blending import DTYPE_MAX
    from oftsr_edge.runtime.tiling.noise import NoiseField

    spec = upscaler.spec
    m, s = spec.multiple_of, spec.scale
    h, w = (-(-n // m) * m for n in image.shape[:2])
    rgb = image if image.ndim == 3 and image.shape[2] == 3 else np.repeat(image[..., :1], 3, axis=2)
    padded = np.pad(rgb, ((0, h - image.shape[0]), (0, w - image.shape[1]), (0, 0)), mode="reflect")
    lr = (padded.transpose(2, 0, 1)[None] / np.float32(DTYPE_MAX[image.dtype])).astype(np.float32)
    noise = NoiseField(seed).region(0, 0, h * s, w * s)[None]
    return lr, noise, t


def bench_folder(
    upscaler: object,
    paths: list[Path],
    runs: int = 3,
    t: float | None = None,
    seed: int = 0,
    fmt: str = "png",
    png_compression: int | None = None,
) -> list[E2ERow]:
    """The three rows of the module docstring for the images at ``paths`` (read once, up front)."""
    from oftsr_edge.runtime.io import image_io
    from oftsr_edge.runtime.pipeline import Job, WriteOptions, run_folder

    if not paths:
        raise OftsrError("no photos to benchmark")
    t = upscaler.spec.default_t if t is None else t
    images = [image_io.read_image(p) for p in paths]
    s2 = upscaler.spec.scale**2
    out_mp = sum(im.shape[0] * im.shape[1] * s2 for im in images) / 1e6
    feeds = [network_inputs(upscaler, im, t, seed) for im in images]
    run = upscaler.backend.run
    rows = [E2ERow("network (whole image, inputs ready)", _best(lambda: [run(*f) for f in feeds], runs),
                   len(images), out_mp)]  # fmt: skip
    rows.append(E2ERow("Upscaler.upscale (default tiling, no file I/O)",
                       _best(lambda: [upscaler.upscale(im, t=t, seed=seed) for im in images], runs),
                       len(images), out_mp))  # fmt: skip
    write = WriteOptions() if png_compression is None else WriteOptions(png_compression=png_compression)
    with tempfile.TemporaryDirectory(prefix="oftsr-e2e-") as tmp:
        jobs = [Job(p, Path(tmp) / f"{k:04d}_{p.stem}.{fmt}") for k, p in enumerate(paths)]
        seconds = _best(lambda: run_folder(upscaler, jobs, upscaler.settings.replace(t=t, seed=seed), overwrite=True,
                                              write=write), runs)
    level = write.png_compression if fmt == "png" else None
    label = f"files: decode + upscale + {fmt}" + (f" (compression {level})" if level is not None else "") + " write"
    rows.append(E2ERow(label, seconds, len(images), out_mp))
    return rows


def e2e_markdown(rows: list[E2ERow]) -> str:
    network = rows[0].seconds
    lines = ["| path | images/s | s / output MP | × network time |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.name} | {row.images_per_s:.2f} | {row.s_per_mp:.3f} | {row.seconds / network:.2f} |")
    return "\n".join(lines)
