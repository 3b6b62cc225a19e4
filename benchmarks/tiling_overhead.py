"""What the tiled runtime costs on top of the model, and how much memory it needs.

1. Overhead: wall time of ``Upscaler.upscale`` on one LR image versus the summed time of the raw backend calls on
   exactly the same tiles (their inputs are recorded during a run, then replayed back to back). The difference is
   padding, noise, blending, dtype conversion and Python. Target: ≤ 10 % at tile 128.
2. Peak memory: each LR size runs in a fresh subprocess that reads its own ``ru_maxrss`` after loading the model
   and after upscaling, so the numbers are not polluted by earlier runs.

Usage: python benchmarks/tiling_overhead.py --model tiny_fp32.onnx [--tile 128] [--size 512] [--rss 512 2048]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oftsr_edge.runtime.backends.options import BackendOptions, parse_backend  # noqa: E402
from oftsr_edge.runtime.backends.select import open_backend  # noqa: E402
from oftsr_edge.runtime.models import resolve_model  # noqa: E402
from oftsr_edge.runtime.upscaler import Upscaler  # noqa: E402


def synthetic_image(size: int, rows_per_chunk: int = 256) -> np.ndarray:
    """A deterministic uint8 RGB test card (smooth gradients plus fine texture), built in row chunks so that making
    a large card does not itself set the memory peak."""
    image = np.empty((size, size, 3), dtype=np.uint8)
    x = np.arange(size, dtype=np.float32)[None, :]
    for top in range(0, size, rows_per_chunk):
        y = np.arange(top, min(top + rows_per_chunk, size), dtype=np.float32)[:, None]
        fine = 0.2 * np.sin(x * 1.3) * np.cos(y * 1.7)
        planes = [np.sin(x / 17.0) + np.cos(y / 23.0), np.sin((x + y) / 31.0), np.cos(x * y / 9000.0)]
        for c, plane in enumerate(planes):
            image[top : top + y.shape[0], :, c] = np.clip((plane + fine + 2.2) / 4.4 * 255.0, 0, 255)
    return image


class RecordingBackend:
    """Passes calls through to a backend, keeping copies of their inputs for a later replay."""

    def __init__(self, backend) -> None:
        self.backend, self.spec, self.name = backend, backend.spec, backend.name
        self.device, self.fixed_shape, self.profile_tile = backend.device, backend.fixed_shape, backend.profile_tile
        self.calls: list[tuple[np.ndarray, ...]] = []

    def run(self, lr: np.ndarray, noise: np.ndarray, t: float) -> np.ndarray:
        self.calls.append((lr.copy(), noise.copy(), t))
        return self.backend.run(lr, noise, t)

    def close(self) -> None:
        pass


def backend_options(args: argparse.Namespace) -> BackendOptions:
    """--backend and --threads as the runtime's backend options (--threads on a GPU backend is an error)."""
    return parse_backend(args.backend, threads=args.threads)


def measure_overhead(args: argparse.Namespace) -> None:
    backend = open_backend(args.model, backend_options(args), tile=args.tile, batch=args.batch_size)
    image = synthetic_image(args.size)
    recorder = RecordingBackend(backend)
    Upscaler.from_backend(recorder, tile=args.tile, overlap=args.overlap, batch_size=args.batch_size).upscale(
        image, 0.5
    )
    upscaler = Upscaler.from_backend(backend, tile=args.tile, overlap=args.overlap, batch_size=args.batch_size)
    upscaler._tiler.pipeline = not args.no_pipeline
    upscaler.upscale(image, 0.5)  # warm-up
    walls, raws, cpu_walls, cpu_raws = [], [], [], []
    for _ in range(args.repeats):  # interleaved, so slow phases of a shared machine hit both alike
        start, cpu = time.perf_counter(), time.process_time()
        for call in recorder.calls:
            backend.run(*call)
        raws.append(time.perf_counter() - start)
        cpu_raws.append(time.process_time() - cpu)
        start, cpu = time.perf_counter(), time.process_time()
        upscaler.upscale(image, 0.5)
        walls.append(time.perf_counter() - start)
        cpu_walls.append(time.process_time() - cpu)
    wall, raw = min(walls), min(raws)
    hr_mp = (args.size * backend.spec.scale) ** 2 / 1e6
    print(
        f"model {backend.spec.name} ({backend.spec.precision}) on {backend.name}; LR {args.size}² -> HR "
        f"{args.size * backend.spec.scale}² ({hr_mp:.2f} MP); tile {upscaler.tile}, overlap {upscaler.overlap}, "
        f"batch {args.batch_size}, {sum(len(call[0]) for call in recorder.calls)} tiles in {len(recorder.calls)} calls, "
        f"pipeline {'off' if args.no_pipeline else 'on'}, threads {args.threads or 'default'}"
    )
    print(f"upscale wall   {wall:8.3f} s  (min of {args.repeats}; median {np.median(walls):.3f})")
    print(f"raw backend    {raw:8.3f} s  (same tiles replayed; median {np.median(raws):.3f})")
    print(
        f"ratio {wall / raw:.3f} -> overhead {100 * (wall / raw - 1):+.1f} %  ({hr_mp / wall:.2f} HR MP/s end to end)"
    )
    cpu_wall, cpu_raw = float(np.median(cpu_walls)), float(np.median(cpu_raws))
    print(
        f"CPU time (all threads, median): upscale {cpu_wall:.3f} s, raw {cpu_raw:.3f} s -> runtime work "
        f"{100 * (cpu_wall / cpu_raw - 1):+.1f} % of the model's"
    )


def _peak_mb() -> dict[str, float]:
    """Peak resident memory of this process: ``ru_maxrss`` and the kernel's ``VmHWM``.

    ``ru_maxrss`` survives ``exec``: a child started by a big parent reports at least the parent's peak. ``VmHWM``
    (/proc/self/status) belongs to the exec'd image only, so it is the number to trust for the child.
    """
    peaks = {"ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}  # Linux: KiB
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks["vmhwm"] = int(line.split()[1]) / 1024.0
    return peaks


def rss_child(args: argparse.Namespace) -> None:
    """Runs in a fresh process: load, upscale one ``args.rss_child``² image, report peak RSS as JSON."""
    with Upscaler(
        args.model, backend_options(args), tile=args.tile, overlap=args.overlap, batch_size=args.batch_size
    ) as upscaler:
        loaded = _peak_mb()
        image = synthetic_image(args.rss_child)
        start = time.perf_counter()
        out = upscaler.upscale(image, 0.5)
        seconds = time.perf_counter() - start
        peak = _peak_mb()
        key = "vmhwm" if "vmhwm" in peak else "ru_maxrss"
        print(
            json.dumps(
                {
                    "lr": args.rss_child,
                    "hr": out.shape[0],
                    "loaded_mb": loaded[key],
                    "peak_mb": peak[key],
                    "ru_maxrss_mb": peak["ru_maxrss"],
                    "measure": key,
                    "output_mb": out.nbytes / 2**20,
                    "input_mb": image.nbytes / 2**20,
                    "seconds": seconds,
                }
            )
        )


def measure_rss(args: argparse.Namespace) -> None:
    for size in args.rss:
        cmd = [
            sys.executable,
            __file__,
            "--model",
            str(args.model),
            "--backend",
            args.backend,
            "--batch-size",
            str(args.batch_size),
            "--rss-child",
            str(size),
        ]
        for flag, value in (("--tile", args.tile), ("--overlap", args.overlap), ("--threads", args.threads)):
            if value is not None:
                cmd += [flag, str(value)]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode:
            print(f"LR {size}²: child failed: {result.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(result.stdout.strip().splitlines()[-1])
        print(
            f"LR {size}² -> HR {r['hr']}²: peak RSS {r['peak_mb']:.0f} MB ({r['measure']}; after model load "
            f"{r['loaded_mb']:.0f} MB, upscale added {r['peak_mb'] - r['loaded_mb']:.0f} MB of which the output "
            f"array is {r['output_mb']:.0f} MB; child ru_maxrss {r['ru_maxrss_mb']:.0f} MB); {r['seconds']:.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="bundled model name or file (default: the bundled default)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--overlap", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=1, help="tiles per backend call")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime CPU threads (default: one per core)")
    parser.add_argument("--size", type=int, default=512, help="LR edge for the overhead measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-pipeline", action="store_true", help="prepare/blend on the calling thread")
    parser.add_argument("--rss", type=int, nargs="*", default=[512, 2048], help="LR edges for peak-RSS runs")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.model = resolve_model(args.model)
    if args.rss_child is not None:
        rss_child(args)
        return
    if not args.skip_overhead:
        measure_overhead(args)
    measure_rss(args)


if __name__ == "__main__":
    main()
