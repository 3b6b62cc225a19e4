"""What made an output image, stored in the image itself, so a rerun can tell a current output from a stale one.

Every image ``Upscaler.upscale_file`` writes carries one record (the EXIF ImageDescription, see
:func:`oftsr_edge.runtime.image_io.write_image`): sha256 of the input file and of the model file, t, the solver
steps (K of a two-time model's few-step path; 1 for one-step models), seed, the effective tile and overlap, the
backend and the oftsr-edge version. ``oftsr-edge upscale`` skips an existing output only when its record equals the
record this run would write; every other existing output is rewritten. So a changed input, model, t, K, seed,
tiling or backend can never leave an old image in place. A record cannot match when the seed is random, when the
file has none (BMP stores none; files not made by oftsr-edge) or when it cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oftsr_edge import __version__
from oftsr_edge.runtime.image_io import read_note

PREFIX = "oftsr-edge settings "
#: the rule, stated once for --help and the summary line
RULE = (
    "an existing output is skipped only when the settings recorded in it (input and model sha256, t, solver steps, seed, "
    "tile, overlap, backend, version) equal this run's; any other existing output is rewritten"
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
    auto: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of one output; ``model_sha256`` None (a backend without a model file) never matches. ``auto``:
    what ``--model auto`` found in the input and chose (:mod:`oftsr_edge.runtime.auto_model`), when it chose."""
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
    }
    if auto is not None:
        record["model_choice"] = dict(auto)
    return record


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


def is_current(path: str | Path, wanted: dict[str, Any]) -> bool:
    """True when ``path`` exists and was made exactly as ``wanted`` would make it (a random seed never is)."""
    if wanted["random_seed"] or wanted["model_sha256"] is None or not Path(path).is_file():
        return False
    return read_record(path) == wanted
