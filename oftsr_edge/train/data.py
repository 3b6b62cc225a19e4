"""HR image folders for training: recursive discovery, in-memory decode, random crops with dihedral flips.

Batches are a pure function of (seed, step, rank): the generator is re-seeded for every step, so resuming at step
k replays exactly the batches an uninterrupted run would have seen, and DDP ranks see disjoint random streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from oftsr_edge.errors import OftsrError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def find_images(root: str | Path, recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (sorted, so every rank and every resume sees the same order)."""
    root = Path(root)
    if not root.exists():
        raise OftsrError(f"data folder not found: {root}")
    if not root.is_dir():
        raise OftsrError(f"data path is not a folder: {root}")
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def read_rgb(path: Path) -> np.ndarray:
    """Decode an image as (H, W, 3) uint8 RGB, EXIF orientation applied; raises OSError/ValueError when unreadable."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode == "I;16" or im.mode == "I":
            arr = np.asarray(im, dtype=np.float64) / 257.0
            return np.repeat(np.clip(arr + 0.5, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def step_rng(seed: int, step: int, rank: int = 0) -> np.random.Generator:
    """The generator for one training step: independent of everything that happened before."""
    return np.random.default_rng([seed, step, rank])


@dataclass
class HRImageFolder:
    """All images of a folder decoded into memory (the 413 training photos take ~350 MB)."""

    root: Path
    crop_size: int
    images: list[np.ndarray] = field(default_factory=list)
    unreadable: list[Path] = field(default_factory=list)
    too_small: list[Path] = field(default_factory=list)

    @classmethod
    def load(cls, root: str | Path, crop_size: int) -> HRImageFolder:
        paths = find_images(root)
        if not paths:
            raise OftsrError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {root}")
        folder = cls(Path(root), crop_size)
        for path in paths:
            try:
                img = read_rgb(path)
            except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
                folder.unreadable.append(path)
                continue
            if min(img.shape[:2]) < crop_size:
                folder.too_small.append(path)
                continue
            folder.images.append(img)
        if not folder.images:
            raise OftsrError(
                f"no usable images in {root}: {len(folder.unreadable)} unreadable, "
                f"{len(folder.too_small)} smaller than the {crop_size}px crop"
            )
        return folder

    def summary(self) -> str:
        return (f"{len(self.images)} images from {self.root} ({len(self.unreadable)} unreadable skipped, "
                f"{len(self.too_small)} smaller than {self.crop_size}px skipped)")

    def sample(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """(B, crop, crop, 3) uint8 random crops with random horizontal/vertical flips and transposes."""
        size = self.crop_size
        out = np.empty((batch_size, size, size, 3), dtype=np.uint8)
        for i in range(batch_size):
            img = self.images[int(rng.integers(len(self.images)))]
            y = int(rng.integers(img.shape[0] - size + 1))
            x = int(rng.integers(img.shape[1] - size + 1))
            crop = img[y : y + size, x : x + size]
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            if rng.random() < 0.5:
                crop = crop[::-1]
            if rng.random() < 0.5:
                crop = crop.transpose(1, 0, 2)
            out[i] = crop
        return out
