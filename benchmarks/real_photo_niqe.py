"""No-reference check on real photos (JPEG blocks, sensor noise; no HR exists): NIQE of each method's ×4 output.

Real photos have no ground truth, so the real-photo model's issue asks for NIQE (lower = more natural statistics)
at t = 0, 0.5, 1 against bicubic and the trained peers. Every photo is cut to its central ``--window``² LR pixels
first (NIQE needs ≥ 96² outputs per 96-px block grid; a window keeps Real-ESRGAN x4plus at seconds per photo)::

    python benchmarks/real_photo_niqe.py examples/real ../shared/data/train/SunHays80 --limit 12 \\
        --models oftsr-real-x4,oftsr-small-x4

Prints one markdown table: mean NIQE per method over the photos, and how many photos that is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from oftsr_edge.evaluation.peers import bicubic_upscale, make_peers
from oftsr_edge.metrics.niqe import niqe
from oftsr_edge.runtime.io.image_io import list_images, read_image, to_rgb8
from oftsr_edge.runtime.upscaler import Upscaler


def central_window(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    size = min(size, h, w)
    top, left = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(image[top : top + size, left : left + size])


def load_photos(folders: list[Path], limit: int | None, window: int) -> list[tuple[str, np.ndarray]]:
    """JPEG photos only (the damage under test is JPEG's), first ``limit`` per folder, central windows."""
    photos = []
    for folder in folders:
        paths = [p for p in list_images(folder) if p.suffix.lower() in (".jpg", ".jpeg")][:limit]
        photos += [(p.name, central_window(to_rgb8(read_image(p)), window)) for p in paths]
    if not photos:
        raise SystemExit(f"no JPEG photos in {', '.join(map(str, folders))}")
    return photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--models", default="oftsr-real-x4")
    parser.add_argument("--t", default="0,0.5,1")
    parser.add_argument("--peers", default="realesrgan-ncnn,realesr-anime-ncnn")
    parser.add_argument("--limit", type=int, default=None, help="photos per folder")
    parser.add_argument("--window", type=int, default=128, help="LR window edge in pixels")
    args = parser.parse_args()

    photos = load_photos(args.folders, args.limit, args.window)
    scores: dict[str, list[float]] = {}

    def score(label: str, output: np.ndarray) -> None:
        scores.setdefault(label, []).append(niqe(output, border=4))

    for _, lr in photos:
        score("bicubic", bicubic_upscale(lr, 4))
    peers, notes = make_peers([] if args.peers == "none" else args.peers.split(","))
    for peer in peers:
        for _, lr in photos:
            score(peer.label, peer.upscale(lr, tile=0, overlap=0, batch=1))
        peer.close()
    for model in args.models.split(","):
        with Upscaler(model, "ort-cpu", tile=0) as upscaler:
            for t in (float(v) for v in args.t.split(",")):
                for _, lr in photos:
                    score(f"{upscaler.spec.name} t={t:g}", upscaler.upscale(lr, t=t, seed=0))
    print(f"NIQE (lower is better) of ×4 outputs, {len(photos)} real JPEG photos, central {args.window}² LR windows")
    print("\n| method | NIQE |\n|---|---|")
    for label, values in scores.items():
        print(f"| {label} | {np.mean(values):.3f} |")
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
