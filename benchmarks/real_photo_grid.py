"""The README's real-photo picture: one LR window of a real photo through bicubic, each model at several t, and the
trained peers, as a labelled crop grid (one row per model).

Real photos carry JPEG blocks and sensor noise that clean-bicubic training never saw; this grid shows, on the same
window, whether a model removes them, keeps them or amplifies them. Only the window plus a margin is upscaled (the
margin keeps borders out of view), so the grid costs seconds even with Real-ESRGAN x4plus on a CPU::

    python benchmarks/real_photo_grid.py examples/real/rocket.jpg --window 150,260,72 \\
        --models oftsr-real-x4,oftsr-small-x4 -o docs/images/real_rocket.png

``--window Y,X,SIZE`` is in input (LR) pixels; ``--peers`` takes the eval command's peer names (``none`` to skip).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from oftsr_edge.evaluation.peers import bicubic_upscale, make_peers
from oftsr_edge.evaluation.plots import crop_row, stack_rows, write_png
from oftsr_edge.runtime.image_io import read_image, to_rgb8
from oftsr_edge.runtime.upscaler import Upscaler

MARGIN = 16  # LR pixels upscaled around the window and cut away again


def parse_window(text: str) -> tuple[int, int, int]:
    y, x, size = (int(v) for v in text.split(","))
    return y, x, size


def padded_window(image: np.ndarray, window: tuple[int, int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """The window plus up to ``MARGIN`` px of context on each side; returns it and the window's offset inside."""
    y, x, size = window
    if y + size > image.shape[0] or x + size > image.shape[1]:
        raise SystemExit(f"window {window} does not fit the {image.shape[1]}×{image.shape[0]} image")
    top, left = max(0, y - MARGIN), max(0, x - MARGIN)
    bottom, right = min(image.shape[0], y + size + MARGIN), min(image.shape[1], x + size + MARGIN)
    return image[top:bottom, left:right], (y - top, x - left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--window", type=parse_window, required=True, help="Y,X,SIZE in input pixels")
    parser.add_argument("--models", default="oftsr-real-x4", help="comma list of bundled names or .onnx paths")
    parser.add_argument("--t", default="0,0.5,1", help="comma list of t values per model")
    parser.add_argument("--peers", default="realesrgan-ncnn,realesr-anime-ncnn")
    parser.add_argument("--zoom", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()

    image = to_rgb8(read_image(args.image))
    piece, (oy, ox) = padded_window(image, args.window)
    scale, size = 4, args.window[2]
    crop = (oy * scale, ox * scale, size * scale)
    lr_view = piece.repeat(scale, axis=0).repeat(scale, axis=1)  # nearest neighbour: the input's own pixels
    first: list[tuple[str, np.ndarray]] = [("input (nearest)", lr_view), ("bicubic", bicubic_upscale(piece, scale))]
    peer_names = [] if args.peers == "none" else args.peers.split(",")
    peers, notes = make_peers(peer_names)
    for note in notes:
        print(note)
    for peer in peers:
        first.append((peer.label.replace(" (ncnn)", ""), peer.upscale(piece, tile=0, overlap=0, batch=1)))
        peer.close()
    rows = [crop_row(first, crop, args.zoom)]
    t_values = [float(v) for v in args.t.split(",")]
    for model in args.models.split(","):
        with Upscaler(model, "ort-cpu", tile=0) as upscaler:
            name = upscaler.spec.name
            rows.append(crop_row([(f"{name} t={t:g}", upscaler.upscale(piece, t=t, seed=0)) for t in t_values],
                                 crop, args.zoom))
    print(f"wrote {write_png(stack_rows(rows), args.output)}")


if __name__ == "__main__":
    main()
