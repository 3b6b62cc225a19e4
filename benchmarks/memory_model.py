"""Measure the memory model of ``--tile auto`` (oftsr_edge/runtime/tiling/memory_plan.py) and check that it holds.

1. ``fit``: each LR size runs whole-image in a fresh process; the working memory of the call is the peak RSS
   (VmHWM, reset after the model is loaded) minus the RSS before the call, minus the output image the caller owns.
   Prints the points and the upper-envelope fit ``fixed + per_lr_pixel × pixels`` to paste into ``MEASURED``.
2. ``check``: for each budget, a large image is upscaled with ``Upscaler(tile="auto", memory_budget=B)`` in a fresh
   process; prints the plan, its estimate and the measured peak working memory, which must stay under B.

Peak memory does not depend on CPU load, so this runs at any priority. Usage:

    python benchmarks/memory_model.py fit [--sizes 64,128,256,384,512,768]
    python benchmarks/memory_model.py check [--size 1536x1536] [--budgets 256,512,1024]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MIB = 1024 * 1024


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _child(args: argparse.Namespace) -> None:
    """One measurement in this (fresh) process; prints one JSON line."""
    import numpy as np

    from oftsr_edge import Upscaler

    height, width = args.lr
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    budget = int(args.budget_mib * MIB) if args.budget_mib else None
    with Upscaler(args.model, "ort-cpu", tile=args.tile, memory_budget=budget) as up:
        choice = up.tiling.plan(height, width)
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # reset VmHWM: the peak from here on belongs to the call
        before = _status_bytes("VmRSS")
        out = up.upscale(image, t=0.5, seed=0)
        peak = _status_bytes("VmHWM")
    print(json.dumps({
        "lr": [height, width],
        "lr_pixels": height * width,
        "working_bytes": peak - before,
        "output_bytes": out.nbytes,
        "plan": choice.describe(),
        "estimate_bytes": choice.peak_bytes,
        "budget_bytes": choice.budget_bytes,
    }))  # fmt: skip


def _run_child(model: str, lr: tuple[int, int], tile: str, budget_mib: float | None) -> dict:
    cmd = [sys.executable, __file__, "_child", "--model", model, "--lr", f"{lr[0]}x{lr[1]}", "--tile", tile]
    if budget_mib:
        cmd += ["--budget-mib", str(budget_mib)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def fit(args: argparse.Namespace) -> None:
    points = []
    for edge in args.sizes:
        row = _run_child(args.model, (edge, edge), "0", None)
        net = row["working_bytes"] - row["output_bytes"]
        points.append((row["lr_pixels"], net))
        print(f"LR {edge}x{edge}: call working memory {net / MIB:.1f} MiB ({net / row['lr_pixels']:.0f} B/LR px)")
    # upper envelope: the slope between the two largest sizes, then the intercept that puts every point under it
    (p1, b1), (p2, b2) = points[-2], points[-1]
    slope = (b2 - b1) / (p2 - p1)
    fixed = max(b - slope * p for p, b in points)
    print(f"fit: fixed_bytes={fixed / MIB:.1f} MiB, per_lr_pixel={slope:.0f} B")


def check(args: argparse.Namespace) -> None:
    height, width = args.size
    print("| budget MiB | plan | estimate MiB | measured peak MiB | under budget |")
    print("|---|---|---|---|---|")
    for budget in args.budgets:
        row = _run_child(args.model, (height, width), "auto", budget)
        used = row["working_bytes"]
        ok = "yes" if used <= row["budget_bytes"] else "**no**"
        print(f"| {budget:g} | {row['plan']} | {row['estimate_bytes'] / MIB:.0f} | {used / MIB:.0f} | {ok} |")


def _size(text: str) -> tuple[int, int]:
    a, b = text.lower().split("x")
    return int(a), int(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p_fit = sub.add_parser("fit")
    p_fit.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], default=[64, 128, 256, 384, 512, 768])
    p_check = sub.add_parser("check")
    p_check.add_argument("--size", type=_size, default=(1536, 1536), help="LR height x width")
    p_check.add_argument("--budgets", type=lambda s: [float(v) for v in s.split(",")], default=[256, 512, 1024])
    p_child = sub.add_parser("_child")
    p_child.add_argument("--lr", type=_size, required=True)
    p_child.add_argument("--tile", default="auto")
    p_child.add_argument("--budget-mib", type=float, default=None)
    for p in (p_fit, p_check, p_child):
        p.add_argument("--model", default="oftsr-small-x4")
    args = parser.parse_args()
    if args.mode == "_child":
        args.tile = args.tile if args.tile == "auto" else int(args.tile)
        _child(args)
    else:
        {"fit": fit, "check": check}[args.mode](args)


if __name__ == "__main__":
    main()
