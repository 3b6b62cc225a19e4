"""What baking ``t`` into the CPU session buys (runtime/backends/baked_inputs.py): the network call with ``t`` as an
input (``OrtCpu(bake_t=False)``) against the same call with ``t`` a constant, per bundled model and precision.

One whole 256×192 LR image (→ 1024×768 for x4), inputs ready, ``--threads`` intra-op threads; the two sessions are
called alternately round by round, so load from elsewhere hits both alike. Run it on a quiet CPU::

    python benchmarks/baked_t.py [--rounds 9] [--threads 2] [--t 0.5]

Prints a markdown table: median ms per call for each, their ratio, and the largest output difference.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from oftsr_edge.runtime.backends.onnxruntime import OrtBackend
from oftsr_edge.runtime.backends.options import OrtCpu
from oftsr_edge.runtime.models import bundled_cards


def _time_call(backend: OrtBackend, args: tuple) -> float:
    start = time.perf_counter()
    backend.run(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--t", type=float, default=0.5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| model | precision | t input ms | t baked ms | baked ÷ input | max abs diff |")
    print("|---|---|---|---|---|---|")
    for card in bundled_cards().values():
        for precision in card.precisions:
            path = card.file(precision)
            general = OrtBackend(path, OrtCpu(threads=args.threads, bake_t=False))
            baked = OrtBackend(path, OrtCpu(threads=args.threads))
            s = general.spec.scale
            lr = rng.random((1, 3, 192, 256), dtype=np.float32)
            noise = rng.standard_normal((1, 3, 192 * s, 256 * s), dtype=np.float32)
            call = (lr, noise, args.t)
            diff = float(np.abs(general.run(*call) - baked.run(*call)).max())  # also the warm-up call of each
            times: dict[str, list[float]] = {"general": [], "baked": []}
            for _ in range(args.rounds):
                times["general"].append(_time_call(general, call))
                times["baked"].append(_time_call(baked, call))
            g, b = (statistics.median(times[k]) * 1000 for k in ("general", "baked"))
            print(f"| {card.name} | {precision} | {g:.1f} | {b:.1f} | {b / g:.3f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
