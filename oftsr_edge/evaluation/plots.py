"""The t-sweep picture: metric-vs-t curves (matplotlib, the optional [plot] extra) and a side-by-side crop grid.

The crop grid needs only Pillow, so it is always written. Without matplotlib the curves become a text table with
bars, and the command says how to get the PNG.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from oftsr_edge.evaluation.quality import MethodSummary
from oftsr_edge.evaluation.report import write_bytes_atomic, write_text_atomic

PLOT_HINT = "pip install 'oftsr-edge[plot]' (matplotlib) for the PNG plot"


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _sweep(summaries: list[MethodSummary]) -> list[MethodSummary]:
    return sorted((s for s in summaries if s.kind == "student" and s.t is not None), key=lambda s: s.t)


def plot_t_sweep(summaries: list[MethodSummary], path: str | Path, title: str = "") -> Path | None:
    """PSNR-Y and NIQE against t (baselines as dashed lines); None when matplotlib is missing."""
    if not have_matplotlib():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = _sweep(summaries)
    ts = [s.t for s in sweep]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, key, label in ((axes[0], "psnr_y", "PSNR-Y (dB) ↑"), (axes[1], "niqe", "NIQE ↓")):
        values = [getattr(s, key) for s in sweep]
        ax.plot(ts, [math.nan if v is None else v for v in values], "o-", label="one-step student")
        for other in summaries:
            value = getattr(other, key)
            if other.kind in ("baseline", "teacher", "reference") and value is not None:
                ax.axhline(
                    value,
                    linestyle="--",
                    linewidth=1,
                    color={"baseline": "gray", "teacher": "tab:red", "reference": "tab:green"}[other.kind],
                    label=other.method,
                )
        ax.set_xlabel("t (0 = fidelity, 1 = realism)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    return write_bytes_atomic(Path(path), buffer.getvalue())


def t_sweep_text(summaries: list[MethodSummary], width: int = 30) -> str:
    """The same curves as text: one line per t with PSNR and NIQE and a bar for PSNR."""
    sweep = _sweep(summaries)
    psnrs = [s.psnr_y for s in sweep if s.psnr_y is not None]
    lo, hi = (min(psnrs), max(psnrs)) if psnrs else (0.0, 1.0)
    lines = ["   t   PSNR-Y   NIQE   PSNR"]
    for s in sweep:
        frac = 0.0 if s.psnr_y is None or hi == lo else (s.psnr_y - lo) / (hi - lo)
        bar = "#" * max(1, round(frac * width))
        psnr = f"{s.psnr_y:6.2f}" if s.psnr_y is not None else "     —"
        niqe = f"{s.niqe:6.3f}" if s.niqe is not None else "     —"
        lines.append(f"{s.t:5.2f} {psnr} {niqe}   {bar}")
    return "\n".join(lines) + "\n"


def write_sweep_text(summaries: list[MethodSummary], path: str | Path) -> Path:
    return write_text_atomic(path, t_sweep_text(summaries))


def pick_crop(hr: np.ndarray, size: int) -> tuple[int, int, int]:
    """(y, x, size) of the most textured ``size``² window on a coarse grid: where SR methods differ visibly."""
    size = min(size, hr.shape[0], hr.shape[1])
    gray = hr.astype(np.float32).mean(axis=2)
    energy = np.abs(np.diff(gray, axis=0))[:, :-1] + np.abs(np.diff(gray, axis=1))[:-1, :]
    best, where = -1.0, (0, 0)
    step = max(1, size // 2)
    for y in range(0, energy.shape[0] - size + 2, step):
        for x in range(0, energy.shape[1] - size + 2, step):
            e = float(energy[y : y + size - 1, x : x + size - 1].sum())
            if e > best:
                best, where = e, (y, x)
    return where[0], where[1], size


def crop_row(panels: list[tuple[str, np.ndarray]], crop: tuple[int, int, int], zoom: int = 2) -> Image.Image:
    """Side-by-side HR-size crops (same window in each panel), each labelled above; LR panels are pre-upscaled."""
    y, x, size = crop
    tiles = []
    for label, image in panels:
        rgb = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
        piece = Image.fromarray(np.ascontiguousarray(rgb[y : y + size, x : x + size]))
        piece = piece.resize((size * zoom, size * zoom), Image.NEAREST)
        canvas = Image.new("RGB", (piece.width, piece.height + 16), "white")
        canvas.paste(piece, (0, 16))
        ImageDraw.Draw(canvas).text((3, 2), label, fill="black")
        tiles.append(canvas)
    row = Image.new("RGB", (sum(t.width for t in tiles) + 4 * (len(tiles) - 1), tiles[0].height), "white")
    left = 0
    for tile in tiles:
        row.paste(tile, (left, 0))
        left += tile.width + 4
    return row


def stack_rows(rows: list[Image.Image]) -> Image.Image:
    """Rows of panels one under another, left-aligned, 4 px apart."""
    grid = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows) + 4 * (len(rows) - 1)), "white")
    top = 0
    for row in rows:
        grid.paste(row, (0, top))
        top += row.height + 4
    return grid


def write_png(image: Image.Image, path: str | Path) -> Path:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return write_bytes_atomic(Path(path), buffer.getvalue())


def crop_grid(
    panels: list[tuple[str, np.ndarray]], crop: tuple[int, int, int], path: str | Path, zoom: int = 2
) -> Path:
    """One row of labelled crops (:func:`crop_row`) as a PNG file."""
    return write_png(crop_row(panels, crop, zoom), path)


def write_eval_pictures(
    plot_dir: Path, summaries: list[MethodSummary], pair: object, panels: list, scale: int, name: str
) -> list[tuple[str, str]]:
    """The t-sweep plot (or its text form) and the crop grid for ``eval --plot-dir``; returns (message, table)
    lines for the caller to print (table is the text sweep when matplotlib is missing)."""
    messages = []
    png = plot_t_sweep(summaries, plot_dir / "t_sweep.png", title=f"{name}: t sweep")
    if png is None:
        text_path = write_sweep_text(summaries, plot_dir / "t_sweep.txt")
        messages.append((f"matplotlib missing: wrote {text_path}; {PLOT_HINT}", t_sweep_text(summaries)))
    else:
        messages.append((f"wrote {png}", ""))
    lr_shown = np.repeat(np.repeat(pair.lr, scale, axis=0), scale, axis=1)
    ordered = [("LR (nearest)", lr_shown), *panels, ("HR", pair.hr)]
    grid = crop_grid(ordered, pick_crop(pair.hr, 96), plot_dir / "crops.png")
    messages.append((f"wrote {grid}", ""))
    return messages
