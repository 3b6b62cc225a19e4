"""Validation pairs for ``eval`` and ``tune-t``: HR images with their LR, read or made by a stated degradation.

- ``--lr DIR``: LR files matched to HR files by name (same file name, else same stem); HR is cropped to
  ``scale ×`` the LR size (the usual "modcrop": at most ``scale − 1`` pixels per side), and any other size is an
  error naming the pair (an x8 LR folder with an x4 model would otherwise score a corner of each photo).
- ``--degradation bicubic`` (default without ``--lr``): HR is cropped to a multiple of ``scale``, then downsampled with
  Pillow's BICUBIC filter (a = −0.5, antialiased when shrinking: its support grows with the factor, like MATLAB's
  ``imresize``), and rounded to 8 bits. This is *not* the −0.75 torch bicubic of the model's own upsampler.
- ``--degradation realesrgan`` / ``realesrgan-mix``: the training pipeline's degradation of that name with a fixed
  seed per image (needs torch: the [train] extra).

Grayscale HR images stay grayscale (H, W, 1): LR is read or made as gray, the model's output for a gray input is
its BT.601 luma, and the metrics take a gray value v as the Y of the colour pixel (v, v, v), 16 + 219·v/255 — what
BasicSR measures, since it reads every file as colour (``metrics.fidelity.rgb_to_y``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from oftsr_edge.errors import OftsrError
from oftsr_edge.pairs import DEGRADATIONS, crop_hr_to_lr
from oftsr_edge.runtime.io import image_io

IMAGE_SUFFIXES = tuple(sorted(image_io.FORMATS))


@dataclass
class Pair:
    """One validation image: ``hr`` (H, W, C) and ``lr`` (H/s, W/s, C) uint8, C = 3 or 1 (gray)."""

    name: str
    hr: np.ndarray
    lr: np.ndarray

    @property
    def gray(self) -> bool:
        return self.hr.shape[2] == 1


def list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise OftsrError(f"not a folder: {folder}")
    files = image_io.list_images(folder)
    if not files:
        raise OftsrError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def read_uint8(path: Path, gray: bool | None = None) -> np.ndarray:
    """Decode ``path`` as uint8 (H, W, 3), or (H, W, 1) when gray (``gray=None``: as the file is)."""
    pixels = image_io.read_image(path)
    file_gray = pixels.ndim == 2 or pixels.shape[2] in (1, 2)
    rgb = image_io.to_rgb8(pixels)
    if not (file_gray if gray is None else gray):
        return rgb
    if file_gray:
        return np.ascontiguousarray(rgb[..., :1])
    luma = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)  # Pillow's "L" conversion
    return np.clip(luma + 0.5, 0, 255).astype(np.uint8)[..., None]


def _find_lr(lr_dir: Path, hr_path: Path) -> Path:
    same = lr_dir / hr_path.name
    if same.is_file():
        return same
    for cand in sorted(lr_dir.glob(hr_path.stem + ".*")):
        if cand.suffix.lower() in IMAGE_SUFFIXES:
            return cand
    raise OftsrError(f"no LR image for {hr_path.name} in {lr_dir} (LR files must share the HR file names)")


def bicubic_down(hr: np.ndarray, scale: int) -> np.ndarray:
    """Pillow BICUBIC ÷``scale`` of an (H, W, C) uint8 image whose sides are multiples of ``scale``."""
    h, w, c = hr.shape
    pil = Image.fromarray(hr[..., 0] if c == 1 else hr)
    out = np.asarray(pil.resize((w // scale, h // scale), Image.BICUBIC), dtype=np.uint8)
    return out[..., None] if c == 1 else out


def pipeline_down(hr: np.ndarray, scale: int, rng: np.random.Generator, name: str = "realesrgan") -> np.ndarray:
    """The training pipeline's degradation ``name`` of one (H, W, C) uint8 image, drawn from ``rng``."""
    from oftsr_edge.extras import require

    require("train", "torch")
    import torch

    from oftsr_edge.train.degradations import get_degradation

    rgb = np.repeat(hr, 3, axis=2) if hr.shape[2] == 1 else hr
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0
    lr = get_degradation(name)(x, scale, rng, 0.0)[0].permute(1, 2, 0).numpy()
    out = np.clip(lr * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if hr.shape[2] == 1:
        out = np.clip(out @ np.array([0.299, 0.587, 0.114]) + 0.5, 0, 255).astype(np.uint8)[..., None]
    return out


def image_rng(seed: int, name: str) -> np.random.Generator:
    """A generator fixed by (seed, file name): the same LR for an image on every run and machine, in any order."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def make_lr(hr: np.ndarray, scale: int, degrade: str, rng: np.random.Generator) -> np.ndarray:
    """LR of an HR image whose sides are multiples of ``scale``, by the named degradation."""
    return bicubic_down(hr, scale) if degrade == "bicubic" else pipeline_down(hr, scale, rng, degrade)


def load_pairs(
    hr_dir: str | Path,
    scale: int,
    lr_dir: str | Path | None = None,
    degrade: str = "bicubic",
    limit: int | None = None,
) -> list[Pair]:
    """Read the validation set; see the module docstring for how LR is obtained and HR cropped."""
    if degrade not in DEGRADATIONS:
        raise OftsrError(f"unknown degradation {degrade!r}; choose from {', '.join(DEGRADATIONS)}")
    hr_dir = Path(hr_dir)
    pairs = []
    for hr_path in list_images(hr_dir)[:limit] if limit else list_images(hr_dir):
        hr = read_uint8(hr_path)
        if lr_dir is not None:
            lr_path = _find_lr(Path(lr_dir), hr_path)
            lr = read_uint8(lr_path, gray=hr.shape[2] == 1)
            hr = crop_hr_to_lr(hr, lr.shape, scale, hr_path, lr_path)
        else:
            h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
            if h == 0 or w == 0:
                raise OftsrError(f"{hr_path.name} is smaller than the scale {scale}")
            hr = hr[:h, :w]
            lr = make_lr(hr, scale, degrade, image_rng(0, hr_path.name))
        pairs.append(Pair(hr_path.stem, np.ascontiguousarray(hr), np.ascontiguousarray(lr)))
    return pairs
