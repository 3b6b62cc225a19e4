"""Where an exported model's time goes in ONNX Runtime on the CPU: per-op-type kernel time from ORT's profiler.

Why: an SR graph's FLOPs do not predict its CPU time when element-wise ops and layout reorders (NCHWc
``ReorderInput`` / ``ReorderOutput``) take a large share; this table says which ops to rewrite. It profiles what a
user runs: the runtime's session settings (all graph optimisations, ``--threads`` intra-op threads, no spinning),
``t`` baked into the session as the ``ort-cpu`` backend does, one 256×192 LR input (the sample photo tiled) → a
1024×768 output. The first call (session warm-up) is left out of the totals.

Usage (torch-free; any ONNX file of the contract, or a base alone with one ``lr`` input):
    python benchmarks/ort_profile.py [MODEL.onnx ...] [--threads 2] [--runs 4] [--t 0.5]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from base_speed import LR_H, LR_W, lr_input  # noqa: E402

from oftsr_edge.runtime.backends.baked_inputs import bake_inputs, graph_input_names  # noqa: E402
from oftsr_edge.runtime.backends.onnxruntime import _session_options, import_onnxruntime  # noqa: E402

DEFAULT = ROOT / "oftsr_edge" / "models" / "oftsr-smfa-x4_fp32.onnx"


def profile(path: Path, threads: int, runs: int, t: float) -> tuple[float, dict[str, tuple[float, int]]]:
    """(mean ms per call, {op type: (mean ms per call, nodes)}) over ``runs`` profiled calls after one warm-up."""
    ort = import_onnxruntime()
    model = path.read_bytes()
    feeds = {"lr": lr_input()}
    if "noise" in graph_input_names(model):
        feeds["noise"] = np.zeros((1, 3, 4 * LR_H, 4 * LR_W), np.float32)
        model = bake_inputs(model, {"t": np.array([t], np.float32)})
    with tempfile.TemporaryDirectory() as tmp:
        options = _session_options(ort, threads, optimize=True)
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        for _ in range(runs + 1):
            session.run(None, feeds)
        events = json.loads(Path(session.end_profiling()).read_text())
    calls = [e for e in events if e.get("name") == "model_run"][1:]
    first_end = min(e["ts"] + e["dur"] for e in events if e.get("name") == "model_run")
    totals: collections.Counter = collections.Counter()
    nodes: collections.Counter = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] > first_end:
            totals[e["args"]["op_name"]] += e["dur"]
            nodes[e["args"]["op_name"]] += 1
    per_call = sum(e["dur"] for e in calls) / len(calls) / 1e3
    return per_call, {op: (us / runs / 1e3, nodes[op] // runs) for op, us in totals.most_common()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=[DEFAULT])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--t", type=float, default=0.5)
    args = parser.parse_args()
    for path in args.models:
        per_call, ops = profile(path, args.threads, args.runs, args.t)
        kernels = sum(ms for ms, _ in ops.values())
        print(f"{path.name}: {per_call:.0f} ms per call ({args.threads} threads, mean of {args.runs}); "
              f"kernel time by op type:")
        for op, (ms, count) in ops.items():
            print(f"  {op:16s} {ms:8.1f} ms {100 * ms / kernels:5.1f} %  {count:4d} nodes")


if __name__ == "__main__":
    main()
