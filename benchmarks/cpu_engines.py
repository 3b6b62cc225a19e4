"""Which CPU engine runs our exported models fastest: ONNX Runtime (several session settings) against OpenVINO.

Every engine runs the same model on the same inputs (one LR tile of the model's recommended size, batch 1, real
photo pixels and the runtime's noise) with the same thread count, in interleaved rounds (A, B, C, A, B, C, ...), so
a change in machine load hits every engine alike. Reported: the median time per call, seconds per output megapixel
(HR pixels), the ratio to the runtime's current ONNX Runtime settings, and each engine's largest absolute difference
to that reference on the same input (parity). The ratio of the minimum times is the one least disturbed by other load.

Usage (on a quiet CPU): python benchmarks/cpu_engines.py --model oftsr_edge/models/oftsr-small-x4_fp32.onnx
    --model exported/oftsr-small-x4_int8.onnx [--threads 2] [--rounds 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oftsr_edge import contract  # noqa: E402
from oftsr_edge.runtime.io.image_io import read_image  # noqa: E402
from oftsr_edge.runtime.tiling.noise import NoiseField  # noqa: E402

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "kodim23_lr.png"
Run = Callable[[dict[str, np.ndarray]], np.ndarray]


def feeds_for(spec: contract.ModelSpec, size: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """The sample photo (160×160 LR) cropped to the model's tile, or tiled (reflected) up to ``size`` = (h, w) —
    a whole video frame in one call — with its noise and t = 0.5."""
    h, w = size or (spec.tile, spec.tile)
    photo = read_image(PHOTO)
    reps = (-(-h // photo.shape[0]), -(-w // photo.shape[1]), 1)
    lr = np.tile(photo, reps)[:h, :w].astype(np.float32).transpose(2, 0, 1)[None] / 255.0
    noise = NoiseField(0).region(0, 0, h * spec.scale, w * spec.scale)[None]
    return contract.feeds(np.ascontiguousarray(lr), noise, np.array([0.5], dtype=np.float32))


def ort_engine(path: Path, threads: int, level: str, spinning: bool) -> Run:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    so.log_severity_level = 3
    session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return lambda feeds: session.run([contract.OUTPUT_HR], feeds)[0]


def openvino_engine(path: Path, threads: int, static: bool, hint: str) -> Run:
    from oftsr_edge.runtime.backends.openvino import compile_model

    compiled = compile_model(path, threads=threads, hint=hint, shapes=None)
    requests: dict[tuple, object] = {}

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        key = tuple(v.shape for v in feeds.values()) if static else ()
        request = requests.get(key)
        if request is None:
            model = compile_model(path, threads=threads, hint=hint, shapes=feeds) if static else compiled
            request = requests[key] = model.create_infer_request()
        return request.infer(feeds)[0].copy()

    return run


def engines(path: Path, threads: int, only: tuple[str, ...] = ()) -> dict[str, Run]:
    """The candidates: the runtime's ORT settings first (the reference), then the variants tried."""
    found = {
        "ort: ENABLE_ALL, no spinning (runtime default)": ort_engine(path, threads, "ORT_ENABLE_ALL", False),
        "ort: ENABLE_ALL, spinning": ort_engine(path, threads, "ORT_ENABLE_ALL", True),
        "ort: ENABLE_EXTENDED, no spinning": ort_engine(path, threads, "ORT_ENABLE_EXTENDED", False),
        "ort: ENABLE_BASIC, no spinning": ort_engine(path, threads, "ORT_ENABLE_BASIC", False),
        "ort: ENABLE_ALL, no spinning, ORT's default threads": ort_engine(path, 0, "ORT_ENABLE_ALL", False),
    }
    try:
        found["openvino: dynamic shape, LATENCY"] = openvino_engine(path, threads, False, "LATENCY")
        found["openvino: static shape, LATENCY"] = openvino_engine(path, threads, True, "LATENCY")
    except ImportError:
        print("openvino is not installed: pip install 'oftsr-edge[openvino]'", file=sys.stderr)
    keep = [name for name in found if not only or name == next(iter(found)) or any(o in name for o in only)]
    return {name: found[name] for name in keep}


def measure(
    path: Path, threads: int, rounds: int, warmup: int, size: tuple[int, int] | None = None, only: tuple = ()
) -> list[dict]:
    spec = contract.read_spec(path, via="onnxruntime")
    feeds = feeds_for(spec, size)
    h, w = feeds[contract.INPUT_LR].shape[2:]
    runs = engines(path, threads, only)
    outputs = {name: run(feeds) for name, run in runs.items()}  # first call: load / compile / warm
    for _ in range(warmup - 1):
        for run in runs.values():
            run(feeds)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run(feeds)
            times[name].append(time.perf_counter() - start)
    hr_mp = h * w * spec.scale**2 / 1e6
    reference = next(iter(runs))
    base = statistics.median(times[reference])
    base_min = min(times[reference])
    rows = []
    for name, values in times.items():
        median = statistics.median(values)
        rows.append({
            "model": path.name, "precision": spec.precision, "engine": name, "threads": threads,
            "tile": f"{w}x{h}", "median_s": median, "min_s": min(values), "s_per_out_mp": median / hr_mp,
            "cv": statistics.pstdev(values) / statistics.mean(values), "ratio_to_runtime_ort": median / base,
            "min_ratio_to_runtime_ort": min(values) / base_min,
            "max_abs_diff_to_runtime_ort": float(np.max(np.abs(outputs[name] - outputs[reference]))),
        })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--lr-size", default=None, help="WxH of one whole-frame call (default: the model's tile)")
    parser.add_argument("--engines", default="", help="comma-separated name parts to keep (the reference stays)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    size = None
    if args.lr_size:
        w, h = (int(v) for v in args.lr_size.lower().split("x"))
        size = (h, w)
    only = tuple(e for e in args.engines.split(",") if e)
    rows = [r for path in args.model for r in measure(path, args.threads, args.rounds, args.warmup, size, only)]
    print("| model | engine | threads | LR WxH | median s | s / output MP | CV | ratio to runtime ORT (median) "
          "| ratio (min) | max abs diff |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['engine']} | {r['threads']} | {r['tile']} | {r['median_s']:.4f} | "
              f"{r['s_per_out_mp']:.4f} | {r['cv']:.2f} | {r['ratio_to_runtime_ort']:.2f} | "
              f"{r['min_ratio_to_runtime_ort']:.2f} | "
              f"{r['max_abs_diff_to_runtime_ort']:.2g} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
