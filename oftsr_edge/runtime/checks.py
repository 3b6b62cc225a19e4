"""Every check of a value a caller hands the runtime (options and images), in one place.

:class:`~oftsr_edge.runtime.settings.Settings` calls :func:`check_t`, :func:`check_seed` and :func:`check_int` when
it is made (so each value is checked once, wherever it came from); the backend options dataclasses call
:func:`check_int` when they are made; the :class:`~oftsr_edge.runtime.upscaler.Upscaler` calls :func:`check_image`
on every image and :func:`check_tile` once against its model. The tiler and the noise field trust what they get.

A bad option is an :class:`OptionError`: it is wrong for every input, so a run over many files stops at the first
one instead of reporting the same line once per file.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from oftsr_edge.errors import OftsrError, OptionError
from oftsr_edge.runtime.tiling.blending import DTYPE_MAX

_SEEDS = 2**64  # the seed is one 64-bit Philox key word


def check_int(label: str, value: Any, minimum: int) -> int:
    """``value`` as an int if it is a whole number ≥ ``minimum`` (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise OptionError(f"{label} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


#: the smallest fixed tile edge (LR pixels) worth cutting, whatever the model's multiple
MIN_TILE = 8


def check_tile(tile: int, multiple_of: int) -> None:
    """A fixed tile (not 0 = whole image) must leave room for an overlap of at least one ``multiple_of``: smaller
    tiles were rounded up to the multiple with no overlap at all, seams in every tile, without a word."""
    smallest = max(MIN_TILE, 2 * multiple_of)
    if 0 < tile < smallest:
        raise OptionError(
            f"tile {tile} is smaller than the smallest useful tile for this model, {smallest} LR pixels (tiles are "
            f"multiples of {multiple_of} with room for an overlap); use {smallest} or more, 0 (whole image) or auto"
        )


def check_t(t: Any) -> float:
    """``t`` as a float in [0, 1]: 0 = fidelity, 1 = realism (paper App. H). A bool is not a number here
    (``t=True`` was taken as 1.0)."""
    if isinstance(t, (bool, np.bool_)):
        raise OptionError(f"t must be a number in [0, 1], got {t!r}")
    try:
        value = float(t)
    except (TypeError, ValueError):
        raise OptionError(f"t must be a number in [0, 1], got {t!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise OptionError(f"t must be in [0, 1] (0 = fidelity, 1 = realism), got {t}")
    return value


def check_seed(seed: Any) -> int:
    """``seed`` as an int that fits Philox's 64-bit key word (a bool is not a number here)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise OptionError(f"seed must be an integer, got {seed!r}")
    if not 0 <= int(seed) < _SEEDS:
        raise OptionError(f"seed must be in [0, 2**64), got {seed}")
    return int(seed)


def check_image(image: np.ndarray) -> np.ndarray:
    """The one check of an image: a non-empty (H, W) or (H, W, 1–4) array of a supported dtype, as (H, W, C);
    either byte order (a non-native one is converted, for every dtype alike)."""
    if not isinstance(image, np.ndarray):
        raise OftsrError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype.kind in "uf" and not image.dtype.isnative:  # big-endian '>u2'/'>f4': the same values, native
        image = image.astype(image.dtype.newbyteorder("="))
    if image.dtype not in DTYPE_MAX:
        raise OftsrError(f"image dtype must be uint8, uint16 or float32, got {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise OftsrError(f"image must be (H, W) or (H, W, C) with C in 1-4, got shape {image.shape}")
    if min(image.shape[:2]) < 1:
        raise OftsrError(f"image is empty (shape {image.shape})")
    if image.dtype == np.float32:
        _check_unit_range(image)
    return image


def _check_unit_range(image: np.ndarray) -> None:
    """float32 pixels must lie in [0, 1]: 0–255 floats (a common slip) would come back clipped to 1.0, silently."""
    low, high = float(np.min(image)), float(np.max(image))
    if not (np.isfinite(low) and np.isfinite(high)):
        raise OftsrError("float32 image has NaN or Inf values")
    if low < 0.0 or high > 1.0:
        hint = " (0-255 values? divide by 255, or pass uint8)" if high > 1.0 else ""
        raise OftsrError(f"float32 image values must be in [0, 1], got [{low:g}, {high:g}]{hint}")
