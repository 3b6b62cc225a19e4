"""The Python API of the runtime: ``Upscaler(model).upscale(image, t, seed)`` on arrays, ``upscale_file`` on files.

It owns the backend and the :class:`~oftsr_edge.runtime.tiling.Tiler`, and adapts what users hand in to what the
model takes: gray images are fed as RGB and come back gray; an alpha channel is upscaled separately with Pillow's
bicubic resize (a mask has no texture for a generative model to invent, and a second model pass would double the
cost) and re-attached; uint8, uint16 and float32 come back in their own dtype. A reduced-precision model (fp16/int8)
whose output has NaN/Inf is replaced, with a warning, by its fp32 sibling (same checkpoint, read from metadata).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime import image_io
from oftsr_edge.runtime.backends.base import Backend
from oftsr_edge.runtime.backends.select import find_fp32_sibling, open_backend
from oftsr_edge.runtime.model_spec import ModelSpec
from oftsr_edge.runtime.noise import resolve_seed
from oftsr_edge.runtime.tiling import NonFiniteOutputError, ProgressFn, Tiler

_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))


def check_t(t: float | None, default: float | None = None) -> float:
    """``t`` as a float in [0, 1] (``None`` → ``default``); anything else is one line (paper App. H)."""
    if t is None:
        if default is None:
            raise OftsrError("t is required")
        return float(default)
    try:
        value = float(t)
    except (TypeError, ValueError):
        raise OftsrError(f"t must be a number in [0, 1], got {t!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise OftsrError(f"t must be in [0, 1] (0 = fidelity, 1 = realism), got {t}")
    return value


def default_overlap(tile: int, multiple_of: int) -> int:
    """LR overlap used when none is given: an eighth of the tile, at least 8 pixels (and a multiple_of)."""
    if tile <= 0:
        return 0
    overlap = max(8, tile // 8)
    return min(-(-overlap // multiple_of) * multiple_of, max(0, tile - multiple_of))


def resize_alpha(alpha: np.ndarray, scale: int) -> np.ndarray:
    """Upscale an (H, W) alpha plane by ``scale`` with Pillow's bicubic filter, in its own dtype."""
    height, width = alpha.shape
    size = (width * scale, height * scale)
    if alpha.min() == alpha.max():  # fully opaque (or uniform) alpha: nothing to interpolate
        return np.full((size[1], size[0]), alpha.flat[0], dtype=alpha.dtype)
    if alpha.dtype == np.uint8:
        return np.asarray(Image.fromarray(alpha).resize(size, Image.Resampling.BICUBIC))
    big = np.asarray(Image.fromarray(alpha.astype(np.float32)).resize(size, Image.Resampling.BICUBIC))
    if alpha.dtype == np.uint16:
        return np.rint(np.clip(big, 0.0, 65535.0)).astype(np.uint16)
    return np.clip(big, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class FileResult:
    """What one ``upscale_file`` call did (the CLI sums these into its summary line)."""

    source: Path
    target: Path
    lr_size: tuple[int, int]  # (height, width)
    hr_size: tuple[int, int]
    seconds: float


class Upscaler:
    """One model on one backend, ready to upscale arrays or files.

    ``tile`` (LR pixels): None = the model's recommended tile (or the engine's profile tile), 0 = whole image in one
    call. ``overlap``: None = :func:`default_overlap`. ``batch``: tiles per backend call (helps on GPUs).
    ``backend``: "auto", "ort", "trt", "ort-cpu", "ort-cuda", "ort-trt"; ``backend_name`` says what was picked.
    """

    def __init__(
        self,
        model_path: str | Path,
        backend: str = "auto",
        device: int = 0,
        tile: int | None = None,
        overlap: int | None = None,
        batch: int = 1,
        *,
        threads: int = 0,
        cache_dir: str | Path | None = None,
        fp32_fallback: bool = True,
    ) -> None:
        _check_knobs(tile, overlap, batch)
        self.model_path: Path | None = Path(model_path)
        self._open_args = {"backend": backend, "device": device, "threads": threads, "cache_dir": cache_dir}
        opened = open_backend(model_path, backend, device, tile=tile, batch=batch, threads=threads,
                              cache_dir=cache_dir)
        try:
            self._setup(opened, tile, overlap, batch, fp32_fallback)
        except BaseException:
            opened.close()  # a bad knob must not leak a session or device buffers
            raise

    @classmethod
    def from_backend(
        cls,
        backend: Backend,
        *,
        tile: int | None = None,
        overlap: int | None = None,
        batch: int = 1,
        model_path: str | Path | None = None,
    ) -> Upscaler:
        """Wrap an already open backend (any object with ``run``, ``spec`` and ``name``), e.g. a custom runtime."""
        _check_knobs(tile, overlap, batch)
        self = cls.__new__(cls)
        self.model_path = Path(model_path) if model_path is not None else None
        self._open_args = {"backend": "auto", "device": 0, "threads": 0, "cache_dir": None}
        self._setup(backend, tile, overlap, batch, fp32_fallback=model_path is not None)
        return self

    def _setup(
        self, backend: Backend, tile: int | None, overlap: int | None, batch: int, fp32_fallback: bool
    ) -> None:
        self._backend = backend
        self._tile_arg, self._overlap_arg, self.batch = tile, overlap, batch
        self.fp32_fallback = fp32_fallback
        spec = backend.spec
        tile = tile if tile is not None else _profile_tile(backend) or spec.tile
        overlap = overlap if overlap is not None else default_overlap(tile, spec.multiple_of)
        self._tiler = Tiler(
            backend.run,
            spec.scale,
            spec.multiple_of,
            tile=tile,
            overlap=overlap,
            batch=batch,
            fixed_shape=bool(getattr(backend, "fixed_shape", True)),
            check_finite=spec.precision != "fp32",
        )

    @property
    def spec(self) -> ModelSpec:
        return self._backend.spec

    @property
    def backend_name(self) -> str:
        return self._backend.name

    @property
    def backend(self) -> Backend:
        """The open backend (its ``run`` is the raw per-batch model call, e.g. for timing without tiling)."""
        return self._backend

    @property
    def tile(self) -> int:
        """Effective LR tile edge (0 = whole image), after rounding to the model's multiple_of."""
        return self._tiler.tile

    @property
    def overlap(self) -> int:
        return self._tiler.overlap

    def tile_count(self, height: int, width: int) -> int:
        """How many tiles an LR image of ``height × width`` takes (for progress bars)."""
        return self._tiler.plan(height, width).count

    def upscale(
        self,
        image: np.ndarray,
        t: float | None = None,
        seed: int | None = 0,
        progress: ProgressFn | None = None,
    ) -> np.ndarray:
        """Upscale an (H, W) or (H, W, C) array, C in 1–4 (gray, gray+alpha, RGB, RGBA), uint8/uint16/float32.

        Returns the same layout and dtype at (H·s, W·s). ``t`` None = the model's default; ``seed`` None = a fresh
        random seed. ``progress(done, total)`` is called per tile.
        """
        t = check_t(t, self.spec.default_t)
        seed = resolve_seed(seed)
        pixels = _as_hwc(image)
        height, width, channels = pixels.shape
        colour = 3 if channels >= 3 else 1
        s = self.spec.scale
        out = np.empty((height * s, width * s, channels), dtype=pixels.dtype)
        try:
            self._tiler.upscale(pixels[..., :colour], t, seed, progress=progress, out=out[..., :colour])
        except NonFiniteOutputError:
            self._fall_back_to_fp32()
            self._tiler.upscale(pixels[..., :colour], t, seed, progress=progress, out=out[..., :colour])
        if channels in (2, 4):
            out[..., colour] = resize_alpha(pixels[..., colour], s)
        return out[..., 0] if image.ndim == 2 else out

    def upscale_file(
        self,
        source: str | Path,
        target: str | Path,
        t: float | None = None,
        seed: int | None = 0,
        progress: ProgressFn | None = None,
    ) -> FileResult:
        """Read ``source``, upscale, write ``target`` atomically (format from its extension)."""
        source, target = Path(source), Path(target)
        image_io.format_for(source)
        image_io.format_for(target)
        if target.resolve() == source.resolve():
            raise OftsrError(f"{target}: output would overwrite its input")
        start = time.perf_counter()
        pixels = image_io.read_image(source)
        result = self.upscale(pixels, t=t, seed=seed, progress=progress)
        image_io.write_image(target, result)
        return FileResult(source, target, pixels.shape[:2], result.shape[:2], time.perf_counter() - start)

    def _fall_back_to_fp32(self) -> None:
        spec, model = self.spec, self.model_path
        where = str(model) if model is not None else spec.name
        if not self.fp32_fallback or model is None:
            raise OftsrError(f"{where}: the {spec.precision} model produced NaN/Inf values")
        sibling = find_fp32_sibling(model, spec)
        if sibling is None:
            raise OftsrError(
                f"{where}: the {spec.precision} model produced NaN/Inf values and no fp32 model of the "
                "same checkpoint lies beside it"
            )
        warnings.warn(
            f"{where}: the {spec.precision} model produced NaN/Inf values; falling back to the fp32 "
            f"model {sibling}",
            RuntimeWarning,
            stacklevel=3,
        )
        args = self._open_args
        backend = open_backend(
            sibling,
            args["backend"],
            args["device"],
            tile=self._tile_arg,
            batch=self.batch,
            threads=args["threads"],
            cache_dir=args["cache_dir"],
        )
        self._backend.close()
        self.model_path = sibling
        self._setup(backend, self._tile_arg, self._overlap_arg, self.batch, self.fp32_fallback)

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> Upscaler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_knobs(tile: int | None, overlap: int | None, batch: int) -> None:
    for name, value in (("tile", tile), ("overlap", overlap)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 0):
            raise OftsrError(f"{name} must be an integer ≥ 0, got {value!r}")
    if not isinstance(batch, (int, np.integer)) or batch < 1:
        raise OftsrError(f"batch must be an integer ≥ 1, got {batch!r}")


def _profile_tile(backend: Backend) -> int | None:
    """The square tile a TensorRT engine was built for (its profile's opt shape), if the backend has one."""
    profile = getattr(backend, "profile", None)
    opt = getattr(profile, "opt", None)
    if opt is not None and len(opt) == 3 and opt[1] == opt[2]:
        return int(opt[1])
    return None


def _as_hwc(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise OftsrError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype not in _DTYPES:
        raise OftsrError(f"image dtype must be uint8, uint16 or float32, got {image.dtype}")
    if image.ndim == 2:
        return image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise OftsrError(f"image must be (H, W) or (H, W, C) with C in 1-4, got shape {image.shape}")
    if min(image.shape[:2]) < 1:
        raise OftsrError(f"image is empty (shape {image.shape})")
    return image
