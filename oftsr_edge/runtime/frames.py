"""Upscale a stream of frames (video, a camera, a folder of stills) with one model, one t and one seed.

Why a separate path from ``Upscaler.upscale``: a stream has thousands of equally sized frames, so the HR output
buffer is allocated once per frame size and reused, and ``t`` and the seed are resolved once for the stream. The
frames go through the same :class:`~oftsr_edge.runtime.tiling.tiler.Tiler` call as ``Upscaler.upscale`` (same tile,
overlap, batch, backend), so each output is bit-identical to a per-image call with the same seed — a test holds
that. The seed is one seed for the whole stream and the noise is a function of (seed, HR pixel)
(docs/architecture.md §6): a static scene gets the same noise every frame and its pixels do not flicker.

RGB frames (H, W, 3) take the buffer-reusing path; gray or alpha frames take the Upscaler's per-image path (fresh
arrays, same result). A reduced-precision model that overflows falls back to fp32 inside the Upscaler and the
stream continues on the new backend.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.checks import check_image
from oftsr_edge.runtime.io import image_io
from oftsr_edge.runtime.settings import UNSET, MaybeSeed, MaybeT, Settings
from oftsr_edge.runtime.tiling.tiler import NonFiniteOutputError, Tiler

if TYPE_CHECKING:  # a type only: Upscaler may then offer upscale_frames by importing this module, without a cycle
    from oftsr_edge.runtime.upscaler import Upscaler


class FrameUpscaler:
    """Frames in, frames out, with one ``t`` and one seed: the upscaler's :attr:`~Upscaler.settings`, or
    ``settings`` (resolved by the upscaler once), with ``t`` / ``seed`` overriding where given (a None seed = one
    random seed for the whole stream).

    ``upscale(frame)`` returns a fresh array; ``upscale(frame, out=buf)`` writes into ``buf`` ((H·s, W·s, 3), the
    frame's dtype). :meth:`frames` is the iterator form.
    """

    def __init__(
        self, upscaler: Upscaler, t: MaybeT = UNSET, seed: MaybeSeed = UNSET, *, settings: Settings | None = None
    ) -> None:
        run = upscaler.settings if settings is None else upscaler.resolve(settings)
        if t is not UNSET or seed is not UNSET:
            run = upscaler.resolve(run.with_call(t, seed))
        self.upscaler, self.settings = upscaler, run
        self.t: float = run.t
        self.seed = run.seed_for_image()

    def tiler_for(self, shape: tuple[int, ...], dtype: np.dtype | type = np.uint8) -> Tiler:
        """The tiler for (H, W, 3) frames of ``dtype``, planned once per frame size by the upscaler's tiling."""
        height, width, channels = shape
        return self.upscaler.tiling.stream_tiler(height, width, np.dtype(dtype).itemsize, channels)

    def hr_shape(self, frame: np.ndarray) -> tuple[int, ...]:
        s = self.upscaler.spec.scale
        return (frame.shape[0] * s, frame.shape[1] * s, *frame.shape[2:])

    def upscale(self, frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """One frame; ``out`` (optional) is the HR buffer to fill, returned."""
        pixels = check_image(frame)
        if frame.ndim != 3 or pixels.shape[2] != 3:
            result = self.upscaler._upscale_planned(frame, self.t, self.seed, None)[0]
            if out is None:
                return result
            _check_out(out, result.shape, result.dtype)
            out[...] = result
            return out
        shape = self.hr_shape(frame)
        if out is None:
            out = np.empty(shape, dtype=frame.dtype)
        else:
            _check_out(out, shape, frame.dtype)
        try:
            return self.tiler_for(pixels.shape, pixels.dtype).upscale(pixels, self.t, self.seed, out=out)
        except NonFiniteOutputError:
            # the Upscaler owns the fp32 fallback: let it retry (and swap its backend), then follow it
            out[...] = self.upscaler._upscale_planned(frame, self.t, self.seed, None)[0]
            return out

    def frames(self, frames: Iterable[np.ndarray], reuse: bool = False) -> Iterator[np.ndarray]:
        """Upscale ``frames`` lazily, in order. ``reuse=True`` writes every frame of one size into one buffer: a
        yielded frame is valid until the next one is asked for (for consumers that encode or save it first)."""
        buffers: dict[tuple[tuple[int, ...], np.dtype], np.ndarray] = {}
        for frame in frames:
            if not reuse or not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
                yield self.upscale(frame)
                continue
            key = (self.hr_shape(frame), frame.dtype)
            buf = buffers.get(key)
            if buf is None:
                buffers.clear()  # a new size: the stream changed resolution, the old buffer is no longer needed
                buf = buffers[key] = np.empty(key[0], dtype=frame.dtype)
            yield self.upscale(frame, out=buf)


def upscale_frames(
    upscaler: Upscaler,
    frames: Iterable[np.ndarray],
    t: MaybeT = UNSET,
    seed: MaybeSeed = UNSET,
    reuse: bool = False,
) -> Iterator[np.ndarray]:
    """``FrameUpscaler(upscaler, t, seed).frames(frames, reuse)``: an iterator in, an iterator out."""
    return FrameUpscaler(upscaler, t, seed).frames(frames, reuse)


def _check_out(out: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> None:
    if not isinstance(out, np.ndarray) or out.shape != tuple(shape) or out.dtype != dtype:
        got = f"{getattr(out, 'shape', None)} {getattr(out, 'dtype', type(out).__name__)}"
        raise OftsrError(f"out must be a {tuple(shape)} {np.dtype(dtype)} array, got {got}")


def _natural_key(path: Path) -> list[object]:
    """'frame2' before 'frame10': digit runs compare as numbers, the rest as lower-case text."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def frame_paths(folder: str | Path) -> list[Path]:
    """The images of a frame folder in name order, numbers compared as numbers (frame2 < frame10)."""
    root = Path(folder)
    if not root.is_dir():
        raise OftsrError(f"{root}: not a folder of frames")
    paths = sorted(image_io.list_images(root), key=_natural_key)
    if not paths:
        raise OftsrError(f"{root}: no images found ({', '.join(sorted(image_io.FORMATS))})")
    return paths


def read_frames(folder: str | Path) -> Iterator[np.ndarray]:
    """The frames of a folder, read one at a time in :func:`frame_paths` order (never all in memory)."""
    for path in frame_paths(folder):
        yield image_io.read_image(path)
