"""Tables for people (markdown) and files for programs (JSON, CSV), written atomically.

Every file goes to a temporary name in the destination folder and is renamed into place, so an interrupted run
never leaves a half-written report that looks complete.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from oftsr_edge import fileio
from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation.bench import BenchResult
from oftsr_edge.evaluation.quality import EvalResult


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:mod:`oftsr_edge.fileio`); OS errors become one line."""
    path = Path(path)
    if path.is_dir():
        raise OftsrError(f"{path} is a folder; give a file name")
    try:
        return fileio.write_bytes_atomic(path, data)
    except OSError as exc:
        raise OftsrError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def _clean(value: object) -> object:
    """JSON has no inf/NaN: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_json(path: str | Path, data: dict) -> Path:
    return write_text_atomic(path, json.dumps(_clean(data), indent=2, sort_keys=False) + "\n")


def _fmt(value: float | None, digits: int = 2) -> str:
    return (
        "—"
        if value is None or (isinstance(value, float) and not math.isfinite(value))
        else f"{value:.{digits}f}"
    )


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def bench_markdown(result: BenchResult) -> str:
    """The bench table (times in ms, p50/p90/p99 and CV), then ratios of our time to each peer, then notes."""
    header = [
        "model",
        "backend",
        "prec",
        "tile",
        "batch",
        "output",
        "load s",
        "tile p50/p90/p99 ms",
        "image p50/p90/p99 ms",
        "CV",
        "MP/s",
        "peak RSS (Δ) MiB",
        "note",
    ]
    rows = []
    for r in result.rows:
        t = r.tile_ms
        tile = f"{t['p50_ms']:.1f} / {t['p90_ms']:.1f} / {t['p99_ms']:.1f}" if t else "—"
        i = r.image_ms
        image = f"{i['p50_ms']:.1f} / {i['p90_ms']:.1f} / {i['p99_ms']:.1f}"
        gpu = f", GPU {r.gpu_mem_mib:.0f} MiB" if r.gpu_mem_mib is not None else ""
        rows.append(
            [
                r.model,
                r.backend,
                r.precision,
                str(r.tile or "whole"),
                str(r.batch),
                r.out_size,
                f"{r.load_s:.2f}",
                tile,
                image,
                f"{i['cv']:.2f}",
                f"{r.out_mp_per_s:.3f}",
                f"{r.peak_rss_mib:.0f}"
                + (f" ({r.rss_delta_mib:.0f})" if r.rss_delta_mib is not None else "")
                + gpu,
                r.note,
            ]
        )
    parts = [markdown_table(header, rows)]
    ratio_rows = []
    peers = list(dict.fromkeys(p for r in result.rows for p in r.ratio_to_peers))
    for r in result.rows:
        if r.role == "oftsr" and r.ratio_to_peers:
            ratio_rows.append(
                [r.model, r.backend, str(r.tile or "whole"), str(r.batch), r.out_size]
                + [_fmt(r.ratio_to_peers.get(p), 3) + "×" for p in peers]
            )
    if ratio_rows:
        parts.append(
            "Our median image time as a multiple of each peer's (< 1 = faster than the peer):\n\n"
            + markdown_table(["model", "backend", "tile", "batch", "output", *peers], ratio_rows)
        )
    env = result.environment
    parts.append(
        f"Machine: {env.get('cpu')} ({env.get('affinity_cpus') or env.get('cpu_count')} CPUs usable), "
        f"{env.get('os')}; Python {env.get('python')}, onnxruntime {env.get('onnxruntime')}"
        + (f", tensorrt {env['tensorrt']}" if env.get("tensorrt") else "")
        + (f", GPU {env['gpu']}" if env.get("gpu") else "")
        + "."
    )
    parts.append(
        'Tiles in LR pixels; output = HR size. Times exclude model load / engine build ("load s"). '
        "CV = std/mean of the image times. Peak RSS is the whole process (every loaded model); "
        "Δ is its growth during the configuration's runs."
    )
    parts += [f"- {n}" for n in result.notes]
    return "\n\n".join(parts[:4]) + ("\n" + "\n".join(parts[4:]) if len(parts) > 4 else "") + "\n"


def eval_markdown(result: EvalResult) -> str:
    """The summary table; a DISTS column only when DISTS was computed (the notes say why not otherwise)."""
    with_dists = any(s.dists is not None for s in result.summaries)
    dists_head = ["DISTS ↓"] if with_dists else []
    header = ["method", "t", "PSNR-Y", "SSIM-Y", "NIQE ↓", "LPIPS ↓", *dists_head, "s/image", "note"]
    rows = [
        [
            s.method,
            _fmt(s.t),
            _fmt(s.psnr_y),
            _fmt(s.ssim_y, 4),
            _fmt(s.niqe, 3),
            _fmt(s.lpips, 4),
            *([_fmt(s.dists, 4)] if with_dists else []),
            _fmt(s.seconds, 3),
            s.note,
        ]
        for s in result.summaries
    ]
    text = markdown_table(header, rows) + "\n"
    text += (
        f"\nMeans over {len({i.image for i in result.images})} images; PSNR/SSIM on Y (BT.601) with {result.scale} "
        "border pixels cropped; NIQE on the cropped output.\n"
    )
    text += "".join(f"- {n}\n" for n in result.notes)
    return text


def eval_csv(result: EvalResult) -> str:
    """One row per (method, image) and one "mean" row per method."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["method", "kind", "t", "image", "psnr_y", "ssim_y", "niqe", "lpips", "dists", "seconds"])
    kinds = {s.method: (s.kind, s.t) for s in result.summaries}
    for i in result.images:
        kind, t = kinds[i.method]
        writer.writerow(
            [
                i.method,
                kind,
                _csv(t),
                i.image,
                _csv(i.psnr_y),
                _csv(i.ssim_y),
                _csv(i.niqe),
                _csv(i.lpips),
                _csv(i.dists),
                _csv(i.seconds),
            ]
        )
    for s in result.summaries:
        writer.writerow(
            [
                s.method,
                s.kind,
                _csv(s.t),
                "mean",
                _csv(s.psnr_y),
                _csv(s.ssim_y),
                _csv(s.niqe),
                _csv(s.lpips),
                _csv(s.dists),
                _csv(s.seconds),
            ]
        )
    return buffer.getvalue()


def _csv(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.6g}"
