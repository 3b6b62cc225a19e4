"""How far the bundled models' golden outputs move on another engine, engine setting or CPU.

tests/runtime/test_golden_outputs.py compares exactly only where the environment that recorded the hashes matches
(ONNX Runtime and numpy versions, instruction-set features); elsewhere it bounds the difference to the stored
reference (tests/runtime/golden.py, ``BOUND``). This script shows that bound holds where the arithmetic really
differs, and prints the measured drift per model and case against the stored reference (every 4th row/column) and,
with ``--full``, against full outputs saved by an earlier run (``--save``).

    python benchmarks/golden_drift.py --engine ort --save /tmp/ref.npz          # this CPU, the runtime's session
    python benchmarks/golden_drift.py --engine ort-basic --full /tmp/ref.npz    # ORT_ENABLE_BASIC graph level
    python benchmarks/golden_drift.py --engine ort-none --full /tmp/ref.npz     # ORT_DISABLE_ALL
    python benchmarks/golden_drift.py --engine openvino --full /tmp/ref.npz     # a second engine
    qemu-x86_64-static -cpu Nehalem "$(command -v python3)" benchmarks/golden_drift.py --full /tmp/ref.npz  # SSE4.2 only

Exit status 1 when any case leaves the bound.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.runtime import golden  # noqa: E402

ENGINES = ("ort", "ort-baked", "ort-basic", "ort-none", "openvino")


def _graph_level(level: str) -> None:
    """Make the runtime's ONNX Runtime sessions use graph optimisation ``level`` (a benchmark-only switch)."""
    from oftsr_edge.runtime.backends import onnxruntime as ort_backend

    original = ort_backend._session_options

    def patched(ort: Any, threads: int, optimize: bool) -> Any:
        so = original(ort, threads, optimize)
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        return so

    ort_backend._session_options = patched


def run_engine(name: str, engine: str) -> tuple[str, dict[str, np.ndarray]]:
    """The model's outputs for every golden case on ``engine``."""
    if engine == "ort-basic":
        _graph_level("ORT_ENABLE_BASIC")
    elif engine == "ort-none":
        _graph_level("ORT_DISABLE_ALL")
    if engine != "openvino":
        return golden.outputs(name, bake_t=engine == "ort-baked")
    from oftsr_edge import Upscaler
    from oftsr_edge.fileio import sha256_file
    from oftsr_edge.runtime.backends.options import OpenVino
    from oftsr_edge.runtime.models import resolve_model

    path = resolve_model(name)
    found = {}
    for tile, t in golden.CASES:
        with Upscaler(path, tile=tile, backend=OpenVino()) as up:
            found[f"{tile}/{t}"] = up.upscale(golden.synthetic_lr(), t=t, seed=7)
    return sha256_file(path), found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=ENGINES, default="ort")
    parser.add_argument("--model", action="append", choices=golden.BUNDLED, help="default: every bundled model")
    parser.add_argument("--save", type=Path, help="write the full outputs here (.npz)")
    parser.add_argument("--full", type=Path, help="also compare with full outputs saved by --save")
    args = parser.parse_args(argv)
    records = golden.load_records()
    env = golden.environment()
    print(f"environment: {env}  engine: {args.engine}")
    full = dict(np.load(args.full)) if args.full else {}
    saved: dict[str, np.ndarray] = {}
    worst = golden.Drift(0, 0.0, float("inf"))
    ok = True
    for name in args.model or golden.BUNDLED:
        sha, found = run_engine(name, args.engine)
        path = golden.reference_path(records, sha)
        reference = golden.load_reference(path) if path else {}
        exact = golden.exact_record(records, sha, env)
        for key, hr in found.items():
            saved[f"{name}|{key}"] = hr
            line = f"{name:18} {key:7}"
            if key in reference:
                d = golden.drift(golden.sample(hr), reference[key])
                ok &= d.within()
                line += f" | vs reference: {d}"
            if f"{name}|{key}" in full:
                d = golden.drift(hr, full[f"{name}|{key}"])
                ok &= d.within()
                worst = golden.Drift(max(worst.max_abs, d.max_abs), max(worst.fraction, d.fraction),
                                     min(worst.psnr_db, d.psnr_db))  # fmt: skip
                line += f" | full: {d}"
            if exact:
                table = exact["baked" if args.engine == "ort-baked" else "general"]
                line += " | exact: " + ("same" if golden.hashes_of({key: hr})[key] == table[key] else "DIFFERS")
            print(line)
    if args.save:
        np.savez_compressed(args.save, **saved)
    if full:
        print(f"worst over all cases (full outputs): {worst}")
    print("within bound" if ok else "OUT OF BOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
