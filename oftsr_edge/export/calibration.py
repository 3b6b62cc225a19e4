"""Real LR tiles for INT8 calibration and for checking FP16/INT8 against FP32.

The images in ``--calib DIR`` are used as they are, as LR inputs: at deployment the model upscales ordinary
photos, so their statistics are what the quantisation ranges must cover. Tiles are cut at the deployed tile size
(the engine's opt shape), reflect-padded when an image is smaller, from seeded positions so runs are repeatable.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from oftsr_edge import contract
from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.io import image_io

DEFAULT_T_VALUES = (0.0, 0.25, 0.5, 0.75, 1.0)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in ``folder``, sorted; a missing or empty folder is a one-line error."""
    root = Path(folder)
    if not root.is_dir():
        raise OftsrError(f"calibration folder not found: {root}")
    images = image_io.list_images(root)
    if not images:
        raise OftsrError(f"no images ({', '.join(sorted(image_io.FORMATS))}) in calibration folder {root}")
    return images


def load_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1]; 16-bit images keep their precision, gray is replicated, alpha dropped."""
    pixels = image_io.read_image(path)
    scale = 65535.0 if pixels.dtype == np.uint16 else 255.0
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    rgb = np.repeat(pixels[..., :1], 3, axis=2) if pixels.shape[2] in (1, 2) else pixels[..., :3]
    return rgb.astype(np.float32) / scale


def cut_tile(image: np.ndarray, tile: int, rng: np.random.Generator) -> np.ndarray:
    """One (3, tile, tile) crop at a random position; images smaller than a tile are reflect-padded first."""
    h, w = image.shape[:2]
    pad_h, pad_w = max(0, tile - h), max(0, tile - w)
    if pad_h or pad_w:
        mode = "reflect" if pad_h < h and pad_w < w else "symmetric"
        image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode=mode)
        h, w = image.shape[:2]
    y = int(rng.integers(0, h - tile + 1))
    x = int(rng.integers(0, w - tile + 1))
    return np.ascontiguousarray(image[y : y + tile, x : x + tile].transpose(2, 0, 1))


def load_tiles(folder: str | os.PathLike, tile: int, count: int = 16, seed: int = 0) -> np.ndarray:
    """``count`` LR tiles (count, 3, tile, tile) float32, cycling through the folder's images."""
    images = list_images(folder)
    rng = np.random.default_rng(seed)
    tiles = []
    cache: dict[Path, np.ndarray] = {}
    for i in range(count):
        path = images[i % len(images)]
        if path not in cache:
            cache = {path: load_rgb(path)}  # keep one decoded image: folders of large photos stay cheap
        tiles.append(cut_tile(cache[path], tile, rng))
    return np.stack(tiles).astype(np.float32)


def model_feeds(
    tiles: np.ndarray,
    scale: int,
    t_values: tuple[float, ...] = DEFAULT_T_VALUES,
    batch: int = 8,
    seed: int = 0,
) -> list[dict[str, np.ndarray]]:
    """Input dicts {lr, noise, t} covering every tile at every t; the noise is seeded, so two models see the same."""
    rng = np.random.default_rng(seed)
    feeds = []
    for t in t_values:
        for start in range(0, len(tiles), batch):
            lr = tiles[start : start + batch]
            n, c, h, w = lr.shape
            noise = rng.standard_normal((n, c, h * scale, w * scale), dtype=np.float32)
            feeds.append(contract.feeds(lr, noise, np.full((n,), t, dtype=np.float32)))
    return feeds
