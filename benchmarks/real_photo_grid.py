"""The README's real-photo picture: one LR window of a real photo through bicubic, each model at several t, and the
trained peers, as a labelled crop grid (one row per model).

Real photos carry JPEG blocks and sensor noise that clean-bicubic training never saw; this grid shows, on the same
window, whether a model removes them, keeps them or amplifies them. Only the window plus a margin is upscaled (the
margin keeps borders out of view), so the grid costs seconds even with Real-ESRGAN x4plus on a CPU::

    python benchmarks/real_photo_grid.py examples/real/rocket.jpg --window 150,260,72 \\
        --models oftsr-real-x4,oftsr-small-x4 -o docs/images/real_rocket.png

Several photos (one ``--window`` each, in order) stack their blocks in one picture. ``--window Y,X,SIZE`` is in
input (LR) pixels; ``--peers`` takes the eval command's peer names (``none`` to skip).

``--no-flags`` makes the other picture: one row per photo (each with its own ``--window``, in order): the input,
bicubic, what ``oftsr-edge upscale PHOTO`` gives with no flags (``--model auto`` decides from the whole file, as the
command does), and the bundled default forced at its default t::

    python benchmarks/real_photo_grid.py examples/real/rocket.jpg examples/real/chelsea_q60.jpg --no-flags \
        --window 128,298,48 --window 100,170,48 -o docs/images/real_no_flags.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from oftsr_edge.evaluation.peers import bicubic_upscale, make_peers
from oftsr_edge.evaluation.plots import crop_row, stack_rows, write_png
from oftsr_edge.runtime.io.image_io import read_image, to_rgb8
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


def photo_rows(path: Path, window: tuple[int, int, int], peer_names: list[str], models: list[str],
               t_values: list[float], zoom: int) -> list[np.ndarray]:
    """One photo's block: input, bicubic and the peers in the first row, then one row per model over t."""
    piece, (oy, ox) = padded_window(to_rgb8(read_image(path)), window)
    scale, size = 4, window[2]
    crop = (oy * scale, ox * scale, size * scale)
    lr_view = piece.repeat(scale, axis=0).repeat(scale, axis=1)  # nearest neighbour: the input's own pixels
    first: list[tuple[str, np.ndarray]] = [(f"{path.name} (nearest)", lr_view),
                                           ("bicubic", bicubic_upscale(piece, scale))]
    peers, notes = make_peers(peer_names)
    for note in notes:
        print(note)
    for peer in peers:
        first.append((peer.label.replace(" (ncnn)", ""), peer.upscale(piece, tile=0, overlap=0, batch=1)))
        peer.close()
    rows = [crop_row(first, crop, zoom)]
    for model in models:
        with Upscaler(model, "ort-cpu", tile=0) as upscaler:
            name = upscaler.spec.name
            rows.append(crop_row([(f"{name} t={t:g}", upscaler.upscale(piece, t=t, seed=0)) for t in t_values],
                                 crop, zoom))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", type=Path, nargs="+")
    parser.add_argument("--window", type=parse_window, required=True, action="append", help="Y,X,SIZE in input pixels")
    parser.add_argument("--no-flags", action="store_true", help="rows: input, bicubic, no flags, the default")
    parser.add_argument("--models", default="oftsr-real-x4", help="comma list of bundled names or .onnx paths")
    parser.add_argument("--t", default="0,0.5,1", help="comma list of t values per model")
    parser.add_argument("--peers", default="realesrgan-ncnn,realesr-anime-ncnn")
    parser.add_argument("--zoom", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    if args.no_flags:
        no_flags_grid(args.image, args.window, args.zoom, args.output)
        return
    if len(args.image) != len(args.window):
        raise SystemExit(f"{len(args.image)} photos but {len(args.window)} --window values (one per photo)")
    peer_names = [] if args.peers == "none" else args.peers.split(",")
    t_values = [float(v) for v in args.t.split(",")]
    rows = []
    for path, window in zip(args.image, args.window):
        rows.extend(photo_rows(path, window, peer_names, args.models.split(","), t_values, args.zoom))
    print(f"wrote {write_png(stack_rows(rows), args.output)}")


def no_flags_grid(paths: list[Path], windows: list[tuple[int, int, int]], zoom: int, output: Path) -> None:
    """One row per photo: input, bicubic, the no-flag choice, the bundled default at its default t."""
    from oftsr_edge.runtime.auto_model import choose_for_file
    from oftsr_edge.runtime.models import default_name

    if len(paths) != len(windows):
        raise SystemExit(f"{len(paths)} photos but {len(windows)} --window values")
    rows = []
    for path, window in zip(paths, windows):
        piece, (oy, ox) = padded_window(to_rgb8(read_image(path)), window)
        crop = (oy * 4, ox * 4, window[2] * 4)
        choice = choose_for_file(path)
        with Upscaler(choice.model, "ort-cpu", tile=0) as chosen, Upscaler(default_name(), "ort-cpu", tile=0) as dflt:
            t = chosen.spec.default_t if choice.t is None else choice.t
            panels = [
                (f"{path.name} (nearest)", piece.repeat(4, axis=0).repeat(4, axis=1)),
                ("bicubic", bicubic_upscale(piece, 4)),
                (f"no flags: {choice.model} t={t:g}", chosen.upscale(piece, t=t, seed=0)),
                (f"{dflt.spec.name} t={dflt.spec.default_t:g}", dflt.upscale(piece, seed=0)),
            ]
        print(f"{path.name}: {choice.line(path.name)}")
        rows.append(crop_row(panels, crop, zoom))
    print(f"wrote {write_png(stack_rows(rows), output)}")


if __name__ == "__main__":
    main()
