"""A small JSON file of measured answers keyed by a hash of what they were measured on (files, versions, CPU).

Why one helper: ``auto``'s engine choice and OpenVINO's int8 verdict are both measured once per machine and model
and then reused; both need the same rules — an unreadable, foreign or older-format file counts as empty, writes are
atomic, and a cache that cannot be written costs only a measurement next time (one note, never a failure).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any


def read_entries(path: Path, version: int) -> dict[str, Any]:
    """The file's entries; {} for a missing, unreadable or foreign file or another format ``version``."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != version or not isinstance(data.get("entries"), dict):
        return {}
    return data["entries"]


def write_entry(path: Path, version: int, key: str, value: dict[str, Any], consequence: str) -> None:
    """Add or replace one entry (atomic rewrite); on failure one note saying ``consequence``."""
    from oftsr_edge.fileio import write_text_atomic

    entries = read_entries(path, version)
    entries[key] = value
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps({"version": version, "entries": entries}, indent=1) + "\n")
    except OSError as exc:
        print(f"oftsr-edge: note: cannot write {path} ({exc.strerror or exc}); {consequence}", file=sys.stderr)


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo; elsewhere what platform says) and the cores this process may
    use: two machines that differ in either may rank engines differently."""
    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "CPU part") and value.strip():
                name = value.strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return f"{platform.machine()} {name or platform.processor() or 'unknown CPU'}, {cores} cores"
