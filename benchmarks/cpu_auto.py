"""Engine × precision on this CPU for one 1024×768 output, and what ``--backend auto`` chooses here.

Each candidate auto considers (ONNX Runtime, and OpenVINO when installed, on each precision file of the model) upscales
the sample photo, tiled (reflected) to 256×192 LR, in one whole-image call (``Upscaler(tile=0)``, t = 0.5), in
interleaved rounds so a burst of other load hits every candidate alike. Then auto's own timing run
(runtime/backends/cpu_choice.py: one 64² tile per call, fastest of 3) runs in a fresh cache folder and its choice
is printed, so the table shows whether the small timing run ranks engines as the full image does.

Usage (on a quiet CPU): python benchmarks/cpu_auto.py [--model oftsr-flat48x8-x4] [--rounds 5] [--threads 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oftsr_edge import Upscaler  # noqa: E402
from oftsr_edge.runtime.backends import cpu_choice  # noqa: E402
from oftsr_edge.runtime.backends.options import OpenVino, OrtCpu  # noqa: E402
from oftsr_edge.runtime.io.image_io import read_image  # noqa: E402
from oftsr_edge.runtime.models import default_name, resolve_model  # noqa: E402

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "kodim23_lr.png"


def photo_lr(width: int, height: int) -> np.ndarray:
    photo = read_image(PHOTO)
    reps = (-(-height // photo.shape[0]), -(-width // photo.shape[1]), 1)
    return np.ascontiguousarray(np.tile(photo, reps)[:height, :width])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a bundled name (default: the bundled default)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--size", default="1024x768", help="output size WxH")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    found = cpu_choice.model_candidates(args.model, resolve_model(args.model))
    lr = photo_lr(width // 4, height // 4)
    ups = {}
    for c in found:
        options = OpenVino(threads=args.threads) if c.engine == "openvino" else OrtCpu(threads=args.threads)
        ups[c.label] = Upscaler(c.path, options, tile=0)
        ups[c.label].upscale(lr, t=0.5, seed=0)  # warm-up: allocations, OpenVINO's compile for this shape
    times: dict[str, list[float]] = {label: [] for label in ups}
    for _ in range(args.rounds):
        for label, up in ups.items():
            start = time.perf_counter()
            up.upscale(lr, t=0.5, seed=0)
            times[label].append((time.perf_counter() - start) * 1000)
    for up in ups.values():
        up.close()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["OFTSR_EDGE_CACHE"] = cache
        os.environ[cpu_choice.ENV] = "1"
        choice = cpu_choice.choose(found, args.threads, note=lambda _text: None)
    name = args.model or default_name()
    print(f"{name}, {width}x{height} output ({lr.shape[1]}x{lr.shape[0]} LR), whole image, t=0.5, "
          f"threads {args.threads or 'default'}, {args.rounds} interleaved rounds; {cpu_choice.cpu_name()}")  # fmt: skip
    print("\n| engine | precision | median ms | min ms | CV | auto's 64² tile timing, ms |")
    print("|---|---|---|---|---|---|")
    for c in found:
        ms = times[c.label]
        cv = statistics.pstdev(ms) / statistics.mean(ms)
        tile_ms = f"{choice.ms.get(c.label, float('nan')):.0f}" if choice else "—"
        print(f"| {c.engine} | {c.precision} | {statistics.median(ms):.0f} | {min(ms):.0f} | {cv:.2f} | {tile_ms} |")
    fastest = min(times, key=lambda label: statistics.median(times[label]))
    print(f"\nfastest on the full image: {fastest}; auto chose: {choice.label if choice else 'nothing to choose'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
