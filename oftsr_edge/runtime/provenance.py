"""What made an output image, stored in the image itself, so a rerun can tell a current output from a stale one.

Every image ``Upscaler.upscale_file`` writes carries one record (the EXIF ImageDescription, see
:func:`oftsr_edge.runtime.io.image_io.write_image`): sha256 of the input file and of the model file, t, the solver
steps (K of a two-time model's few-step path; 1 for one-step models), seed, the effective tile and overlap, the
backend, the oftsr-edge version, and the encoding (:func:`encoding`: format, bit depth, PNG deflate level and
library, JPEG/WebP quality) — every setting that changes the file's bytes. ``oftsr-edge upscale`` skips an existing
output only when its record equals the record this run would write *and* the file decodes completely at the
expected size (a file cut short keeps its record in the header, so the record alone cannot tell); every other
existing output of ours is rewritten. A record cannot match when the seed is random. A file with no record of
ours (not made by oftsr-edge, or BMP, which stores none) is not ours to replace: the run refuses it unless
``--overwrite`` is given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.io import encode as png_encode
from oftsr_edge.runtime.io import image_io
from oftsr_edge.runtime.io.image_io import read_note
from oftsr_edge.version import __version__

PREFIX = "oftsr-edge settings "
#: the rule, stated once for --help and the summary line
RULE = (
    "an existing output is skipped only when the settings recorded in it (input and model sha256, t, solver steps, seed, "
    "tile, overlap, backend, version, format and encoding) equal this run's and it decodes completely; any other "
    "output of ours is rewritten; a file without our record is replaced only with --overwrite"
)


def make_record(
    input_sha256: str,
    model_sha256: str | None,
    t: float,
    seed: int,
    random_seed: bool,
    tile: int | tuple[int, int],
    overlap: int,
    backend: str,
    solver_steps: int = 1,
    encoding: dict[str, Any] | None = None,
    auto: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of one output; ``model_sha256`` None (a backend without a model file) never matches.
    ``encoding``: :func:`encoding` of the output file (None for outputs that are not images). ``auto``: what
    ``--model auto`` found in the input and chose (:mod:`oftsr_edge.runtime.auto_model`), when it chose."""
    record = {
        "input_sha256": input_sha256,
        "model_sha256": model_sha256,
        "t": float(t),
        "solver_steps": int(solver_steps),
        "seed": int(seed),
        "random_seed": bool(random_seed),
        "tile": int(tile) if isinstance(tile, int) else [int(v) for v in tile],  # (rows, cols) when not square
        "overlap": int(overlap),
        "backend": backend,
        "version": __version__,
        "encoding": encoding,
    }
    if auto is not None:
        record["model_choice"] = dict(auto)
    return record


def encoding(target: str | Path, png_compression: int = png_encode.PNG_COMPRESSION, quality: int | None = None,
             bits: int = 8) -> dict[str, Any]:  # fmt: skip
    """What decides an image file's bytes besides its pixels: format, bit depth of the pixels handed to the writer,
    and the format's own knobs (only those the format uses, so --quality does not void a PNG's record)."""
    fmt = image_io.format_for(Path(target))
    found: dict[str, Any] = {"format": fmt, "bits": int(bits)}
    if fmt == "PNG":
        found.update(png_compression=int(png_compression), deflate=png_encode.deflator(int(png_compression)))
    elif fmt in ("JPEG", "WEBP"):
        found["quality"] = int(quality or image_io.QUALITY)
    return found


def encode(record: dict[str, Any]) -> str:
    return PREFIX + json.dumps(record, sort_keys=True, ensure_ascii=True)


def decode(note: str | None) -> dict[str, Any] | None:
    """The record in a note, or None when the note is not one of ours."""
    if not note or not note.startswith(PREFIX):
        return None
    try:
        record = json.loads(note[len(PREFIX) :])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def read_record(path: str | Path) -> dict[str, Any] | None:
    return decode(read_note(path))


def matches(found: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    """True when a file's record ``found`` says it was made exactly as ``wanted`` would make it (a random seed
    never was)."""
    if wanted["random_seed"] or wanted["model_sha256"] is None:
        return False
    return found == wanted


def decodes_completely(path: str | Path, shape: tuple[int, int] | None = None) -> bool:
    """True when every pixel of ``path`` decodes (a truncated file does not) and, given ``shape`` (height,
    width), it has that size."""
    try:
        pixels = image_io.read_image(path)
    except OftsrError:
        return False
    return shape is None or tuple(pixels.shape[:2]) == tuple(shape)


def is_current(path: str | Path, wanted: dict[str, Any], shape: tuple[int, int] | None = None) -> bool:
    """True when ``path`` exists, was made exactly as ``wanted`` would make it (a random seed never is) and decodes
    completely (at ``shape``, (height, width), when given)."""
    if not Path(path).is_file() or not matches(read_record(path), wanted):
        return False
    return decodes_completely(path, shape)
