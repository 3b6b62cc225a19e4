"""HR image folders for training: recursive discovery, in-memory decode, random crops with dihedral flips.

Batches are a pure function of (seed, step, rank): the generator is re-seeded for every step, so resuming at step
k replays exactly the batches an uninterrupted run would have seen, and under DDP each rank draws its own random stream from its own shard of the images (every world-th image).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.io.image_io import FORMATS, list_images, read_image, to_rgb8


def find_images(root: str | Path, recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (sorted, so every rank and every resume sees the same order)."""
    root = Path(root)
    if not root.exists():
        raise OftsrError(f"data folder not found: {root}")
    if not root.is_dir():
        raise OftsrError(f"data path is not a folder: {root}")
    return list_images(root, recursive)


def read_rgb(path: Path) -> np.ndarray:
    """Decode an image as (H, W, 3) uint8 RGB, EXIF orientation applied; an unreadable file is an OftsrError."""
    return to_rgb8(read_image(path))


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

    excluded: list[Path] = field(default_factory=list)

    @classmethod
    def load(cls, root: str | Path, crop_size: int, exclude: tuple[str, ...] = ()) -> HRImageFolder:
        """Decode every image under ``root`` except those whose path relative to it matches an ``exclude`` glob
        (how a held-out validation set is kept out of training, e.g. ``McMaster18/*``)."""
        paths = find_images(root)
        if not paths:
            raise OftsrError(f"no images ({', '.join(sorted(FORMATS))}) found in {root}")
        folder = cls(Path(root), crop_size)
        excluded = {p for p in paths if any(p.relative_to(root).match(pattern) for pattern in exclude)}
        folder.excluded = [p for p in paths if p in excluded]
        if exclude and not folder.excluded:
            raise OftsrError(f"--exclude {' '.join(exclude)} matches no image under {root}")
        paths = [p for p in paths if p not in excluded]
        for path in paths:
            try:
                img = read_rgb(path)
            except OftsrError:  # unreadable, corrupt, truncated: counted and skipped
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
                f"{len(self.too_small)} smaller than {self.crop_size}px skipped, {len(self.excluded)} excluded)")

    def sample(self, batch_size: int, rng: np.random.Generator, rank: int = 0, world: int = 1) -> np.ndarray:
        """(B, crop, crop, 3) uint8 random crops with random flips and transposes, from rank's shard of the images."""
        size = self.crop_size
        shard = self.images[rank::world] if len(self.images) >= world else self.images
        out = np.empty((batch_size, size, size, 3), dtype=np.uint8)
        for i in range(batch_size):
            img = shard[int(rng.integers(len(shard)))]
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
