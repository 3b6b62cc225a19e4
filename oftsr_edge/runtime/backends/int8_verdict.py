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
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
    from oftsr_edge.runtime.backends.cpu_choice import cpu_name

    parts = {"file": sha256_file(model_path), "openvino": openvino_version, "cpu": cpu_name()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _entries(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or not isinstance(data.get("entries"), dict):
        return {}
    return data["entries"]


def cached_verdict(key: str) -> Verdict | None:
    entry = _entries(cache_path()).get(key)
    if not isinstance(entry, dict):
        return None
    try:
        return Verdict(low_precision=bool(entry["low_precision"]), agree_db=float(entry["agree_db"]))
    except (KeyError, TypeError, ValueError):
        return None


def store_verdict(key: str, verdict: Verdict) -> None:
    """Add one entry; a cache that cannot be written only costs the check again next time (one note)."""
    from oftsr_edge.fileio import write_text_atomic

    path = cache_path()
    entries = _entries(path)
    entries[key] = asdict(verdict)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps({"version": CACHE_VERSION, "entries": entries}, indent=1) + "\n")
    except OSError as exc:
        print(f"oftsr-edge: note: cannot write {path} ({exc.strerror or exc}); the openvino int8 check runs again "
              "next time", file=sys.stderr)
