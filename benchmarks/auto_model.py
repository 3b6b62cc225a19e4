"""What a user gets with no flags: ``oftsr-edge upscale LR_DIR -o OUT`` (``--model auto``) against bicubic, and
against the fidelity default forced on every input (the no-flag behaviour before ``auto``), on paired sets.

Each ``--set NAME=HR_DIR:LR_DIR`` is scored as it is; ``--jpeg Q`` adds, for every set, a copy whose LR images are
saved as JPEG quality Q (what a web or phone photo looks like); PSNR-Y with a 4-px border, as ``eval``, and LPIPS
with ``--lpips-weights``. The command runs the CLI exactly as a user would (a subprocess, no flags)::

    python benchmarks/auto_model.py --set Set5=DATA/val/Set5/HR:DATA/val/Set5/LR_bicubic/X4 \\
        --set real=SET/HR:SET/LR_realesrgan/X4 --jpeg 75 --lpips-weights DIR
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from oftsr_edge.evaluation.peers import bicubic_upscale
from oftsr_edge.metrics.fidelity import psnr_y
from oftsr_edge.runtime.io.image_io import list_images, read_image, to_rgb8
from oftsr_edge.runtime.models import auto_table


def _upscale(lr_dir: Path, out: Path, *flags: str) -> str:
    cmd = [sys.executable, "-m", "oftsr_edge.cli", "upscale", str(lr_dir), "-o", str(out), "-q", *flags]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(proc.stderr.strip())
    return proc.stdout


def _score(hr_dir: Path, lr_dir: Path, out: Path, lpips: object | None) -> dict[str, float]:
    psnr, dist = [], []
    for lr_path in list_images(lr_dir, False):
        hr = to_rgb8(read_image(next(hr_dir.glob(lr_path.stem + ".*"))))
        sr = to_rgb8(read_image(out / lr_path.name)) if out is not None else bicubic_upscale(
            to_rgb8(read_image(lr_path)), 4)
        hr = hr[: sr.shape[0], : sr.shape[1]]  # an HR side that is not a multiple of the scale: cropped, as eval
        psnr.append(psnr_y(sr, hr, border=4))
        if lpips is not None:
            dist.append(lpips.distance(sr, hr))
    return {"psnr_y": float(np.mean(psnr)), "lpips": float(np.mean(dist)) if dist else float("nan")}


def _jpeg_copy(lr_dir: Path, quality: int, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    for path in list_images(lr_dir, False):
        Image.fromarray(to_rgb8(read_image(path))).save(into / f"{path.stem}.jpg", quality=quality)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", required=True, help="NAME=HR_DIR:LR_DIR")
    parser.add_argument("--jpeg", type=int, default=None, help="also score each set with its LR saved as JPEG Q")
    parser.add_argument("--lpips-weights", type=Path, default=None)
    args = parser.parse_args()
    lpips = None
    if args.lpips_weights is not None:
        from oftsr_edge.metrics.lpips import load_lpips

        lpips = load_lpips(args.lpips_weights)
    clean = auto_table()["clean"]["model"]
    sets = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.set:
            name, _, dirs = spec.partition("=")
            hr, _, lr = dirs.partition(":")
            sets.append((name, Path(hr), Path(lr)))
            if args.jpeg:
                sets.append((f"{name}, LR as JPEG q{args.jpeg}", Path(hr),
                             _jpeg_copy(Path(lr), args.jpeg, Path(tmp) / f"{name}-jpeg")))
        print("| set | images | auto chose | bicubic PSNR-Y / LPIPS | no flags (auto) | "
              f"{clean} forced at its default t |")
        print("|---|---|---|---|---|---|")
        for index, (name, hr, lr) in enumerate(sets):
            auto_out, forced_out = Path(tmp) / f"auto{index}", Path(tmp) / f"forced{index}"
            lines = _upscale(lr, auto_out)
            _upscale(lr, forced_out, "--model", clean)
            chose = "; ".join(line.split("--model auto: ", 1)[1].split(";")[0] for line in lines.splitlines()
                              if "--model auto: " in line)
            rows = [_score(hr, lr, out, lpips) for out in (None, auto_out, forced_out)]
            cells = [f"{r['psnr_y']:.2f} / {r['lpips']:.3f}" for r in rows]
            count = len(list_images(lr, False))
            print(f"| {name} | {count} | {chose} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
