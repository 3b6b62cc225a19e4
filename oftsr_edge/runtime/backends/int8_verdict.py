"""Whether OpenVINO's int8 kernels compute a given INT8 file, measured once per file, OpenVINO and CPU, then cached.

Why: the check (openvino.py: two compiles and a small tile run both ways) costs 1-2 s at every open of an INT8 file,
and its answer depends only on the file's bytes, the OpenVINO version and the CPU's kernels. It is kept in
``<cache>/openvino-int8.json`` (:func:`oftsr_edge.fileio.cache_root`), keyed by those three, written atomically; an
unreadable or foreign cache counts as empty, and a changed file, OpenVINO or CPU gets a new key — so a verdict is
never reused for anything it was not measured on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from oftsr_edge.runtime.backends.keyed_cache import cpu_name, read_entries, write_entry

CACHE_FILE = "openvino-int8.json"
CACHE_VERSION = 1


@dataclass(frozen=True)
class Verdict:
    """``low_precision``: keep OpenVINO's int8 kernels; ``agree_db``: how close they came to the file's own
    arithmetic on the test tile (PSNR, dB)."""

    low_precision: bool
    agree_db: float


def cache_path() -> Path:
    from oftsr_edge.fileio import cache_root

    return cache_root() / CACHE_FILE


def verdict_key(model_path: Path, openvino_version: str) -> str:
    from oftsr_edge.fileio import sha256_file

    parts = {"file": sha256_file(model_path), "openvino": openvino_version, "cpu": cpu_name()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def cached_verdict(key: str) -> Verdict | None:
    entry = read_entries(cache_path(), CACHE_VERSION).get(key)
    if not isinstance(entry, dict):
        return None
    try:
        return Verdict(low_precision=bool(entry["low_precision"]), agree_db=float(entry["agree_db"]))
    except (KeyError, TypeError, ValueError):
        return None


def store_verdict(key: str, verdict: Verdict) -> None:
    """Add one entry; a cache that cannot be written only costs the check again next time."""
    write_entry(cache_path(), CACHE_VERSION, key, asdict(verdict), "the openvino int8 check runs again next time")
