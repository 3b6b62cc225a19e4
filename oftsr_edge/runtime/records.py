"""The settings record of an output file made by an :class:`~oftsr_edge.runtime.upscaler.Upscaler`: what the folder
pipeline, ``upscale_file`` and the Ray adapter write into each output and compare with an existing one (the rerun
rule of :mod:`~oftsr_edge.runtime.provenance`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import sha256_file
from oftsr_edge.runtime import provenance
from oftsr_edge.runtime.io import image_io
from oftsr_edge.runtime.tiling.memory_plan import TileChoice

if TYPE_CHECKING:  # a type only: the Upscaler imports this module
    from oftsr_edge.runtime.settings import Settings
    from oftsr_edge.runtime.upscaler import Upscaler


def file_record(
    up: Upscaler, input_sha256: str, t: float, seed: int, random_seed: bool, choice: TileChoice,
    encoding: dict | None = None,
) -> dict:  # fmt: skip
    """The record of an output made by ``up`` from an input with this sha256, with ``choice``'s tiling, written
    with ``encoding`` (:func:`~oftsr_edge.runtime.provenance.encoding`)."""
    tile = choice.tile[0] if choice.tile[0] == choice.tile[1] else choice.tile
    auto = (up.auto_choices or {}).get(input_sha256)  # --model auto's choice, if it chose
    return provenance.make_record(
        input_sha256, up.model_sha256, t, seed, random_seed, tile, choice.overlap, up.backend_name,
        solver_steps=up.solver_steps, encoding=encoding, auto=auto,
    )  # fmt: skip


def planned_record(
    up: Upscaler, source: str | Path, settings: Settings, target: str | Path | None = None,
    *, png_compression: int = image_io.PNG_COMPRESSION, quality: int | None = None,
) -> dict:  # fmt: skip
    """The record ``up.upscale_file(source, target)`` would write now with ``settings`` (resolved by
    ``up.resolve``; a random seed is recorded as 0, and such a record never matches); ``target`` None = a PNG."""
    height, width, itemsize, channels = image_io.image_layout(source)
    choice = up.tiling.plan(height, width, itemsize, channels)
    encoding = provenance.encoding(target or "x.png", png_compression, quality, 8 * itemsize)
    seed = 0 if settings.seed is None else settings.seed
    return file_record(up, file_sha256(Path(source)), settings.t, seed, settings.seed is None, choice, encoding)


def file_sha256(path: Path) -> str:
    """The input's sha256 (records key on it), or one line when it cannot be read."""
    try:
        return sha256_file(path)
    except OSError as exc:
        raise OftsrError(f"{path}: cannot read ({exc.strerror or exc})") from None
