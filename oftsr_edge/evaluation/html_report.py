"""``eval --report report.html``: one self-contained HTML file to look at rather than read.

Per image a viewer — a t slider that switches the model's output, a swipe or side-by-side view against bicubic,
HR or any other row, zoomed crops of every method, metric-vs-t curves, the image's scores — and above them the
model's name and settings and the mean curves with a slider that moves every viewer at once. No network, no
external file: images are data URIs (:mod:`html_images`), charts inline SVG (:mod:`html_svg`), style and script
inline (:mod:`html_assets`). The numbers are exactly those of the tables ``eval`` prints (same ``EvalResult``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from html import escape
from pathlib import Path

from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation import html_images as hi
from oftsr_edge.evaluation.html_assets import CSS, JS
from oftsr_edge.evaluation.html_svg import KIND_COLOURS, RefLine, line_chart
from oftsr_edge.evaluation.quality import EvalResult, ImageScore, MethodSummary
from oftsr_edge.evaluation.report import write_text_atomic
from oftsr_edge.version import __version__

METRICS = (("psnr_y", "PSNR-Y (dB) ↑"), ("ssim_y", "SSIM-Y ↑"), ("lpips", "LPIPS ↓"), ("niqe", "NIQE ↓"))
DISPLAY = 600  # small images are shown at the largest integer zoom that keeps them within this many pixels


@dataclass
class RunInfo:
    """What the header states about the run besides the model's own metadata."""

    model: str  # the model file as given
    spec: ModelSpec
    backend: str
    tile: int | None
    seed: int
    source: str  # where the LR images came from


def _fmt(value: float | None, digits: int) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _students(result: EvalResult) -> list[MethodSummary]:
    """The student's rows, one per distinct t, sorted by t (the slider's stops)."""
    by_t: dict[float, MethodSummary] = {}
    for s in result.summaries:
        if s.kind == "student" and s.t is not None:
            by_t.setdefault(float(s.t), s)
    if not by_t:
        raise OftsrError("--report needs the model's rows: give at least one --t value")
    return [by_t[t] for t in sorted(by_t)]


def _charts(
    ts: list[float],
    students: list,
    others: list,
    kinds: dict[str, MethodSummary],
    empty: dict[str, str],
    marker: int,
) -> str:
    """The four metric-vs-t charts for score rows (``students`` at ``ts``, ``others`` as dashed lines)."""
    parts = []
    for key, title in METRICS:
        refs = [
            RefLine(o.method, kinds[o.method].kind, getattr(o, key))
            for o in others
            if getattr(o, key) is not None
        ]
        values = [getattr(s, key) for s in students]
        parts.append(line_chart(title, ts, values, refs, marker, empty.get(key, "not computed")))
    return '<div class="charts">' + "".join(parts) + "</div>"


def _legend(others: list[MethodSummary], model: str) -> str:
    items = [
        f'<span><i class="solid" style="color:{KIND_COLOURS["student"]}"></i>{escape(model)} (○ = current t)</span>'
    ]
    items += [
        f'<span><i style="color:{KIND_COLOURS.get(o.kind, "#444")}"></i>{escape(o.method)}</span>'
        for o in others
    ]
    return '<div class="legend">' + "".join(items) + "</div>"


def _table(rows: list, kinds: dict[str, MethodSummary], t_index: dict[str, int], with_note: bool) -> str:
    head = ["method", "t", "PSNR-Y", "SSIM-Y", "NIQE ↓", "LPIPS ↓", "s/image"] + (
        ["note"] if with_note else []
    )
    body = []
    for r in rows:
        s = kinds[r.method]
        ti = f' data-ti="{t_index[r.method]}"' if r.method in t_index else ""
        cells = [
            escape(r.method),
            _fmt(s.t, 2),
            _fmt(r.psnr_y, 2),
            _fmt(r.ssim_y, 4),
            _fmt(r.niqe, 3),
            _fmt(r.lpips, 4),
            _fmt(r.seconds, 3),
        ] + ([escape(s.note)] if with_note else [])
        body.append(f"<tr{ti}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        "<table><thead><tr>"
        + "".join(f"<th>{escape(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


def _header(run: RunInfo, result: EvalResult, t_labels: list[str]) -> str:
    spec = run.spec
    chips = [
        ("model", spec.name),
        ("scale", f"×{spec.scale}"),
        ("precision", spec.precision),
        ("seed", str(run.seed)),
        ("backend", run.backend),
        ("tile", f"{run.tile} LR px" if run.tile else "whole image"),
        ("t", ", ".join(t_labels)),
        ("images", str(len({i.image for i in result.images}))),
    ]
    settings = [("model file", run.model), ("LR images", run.source)]
    settings += [(k.replace("_", " "), str(v)) for k, v in asdict(spec).items()]
    return (
        f"<header><h1>{escape(spec.name)} — evaluation report</h1>"
        '<div class="chips">'
        + "".join(f'<span class="chip">{escape(k)} <b>{escape(v)}</b></span>' for k, v in chips)
        + '</div><details><summary>all settings and notes</summary><table class="kv">'
        + "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in settings)
        + '</table><ul class="notes">'
        + "".join(f"<li>{escape(n)}</li>" for n in result.notes)
        + "</ul></details></header>"
    )


def _slider(cls: str, count: int, value: int, label: str, extra: str = "") -> str:
    return (
        f'<label>{escape(label)} <input type="range" class="{cls}" {extra}min="0" max="{count - 1}" step="1" '
        f'value="{value}" aria-label="{escape(label)}"></label>'
    )


def _viewer(
    index: int, shown: hi.Shown, refs: list[dict], ref_default: int, body: str, ts: int, t0: int
) -> str:
    x, y, w, h = shown.box
    zoom = max(1, DISPLAY // max(w, h))
    where = (
        f"{shown.size[0]}×{shown.size[1]}, viewer shows the central {w}×{h}" if shown.cropped else f"{w}×{h}"
    ) + (f", displayed at {zoom}×" if zoom > 1 else "")
    options = "".join(
        f'<option value="{k}"{" selected" if k == ref_default else ""}>{escape(r["label"])}</option>'
        for k, r in enumerate(refs)
    )
    cell = '<div class="cell {}"><img alt="{}"><span class="tag"></span><span class="loupebox"></span></div>'
    pane = hi.LOUPE * hi.ZOOM
    crops = '<figure class="crop student"><div class="win"><img alt="zoomed model output"></div><figcaption></figcaption></figure>'
    crops += "".join(
        f'<figure class="crop" data-ref="{k}"><div class="win"><img alt="zoomed {escape(r["label"])}"></div>'
        f"<figcaption>{escape(r['label'])}</figcaption></figure>"
        for k, r in enumerate(refs)
        if "t" not in r  # the model at another t: compared in the stage, its crop is the student's own
    )
    name = escape(shown.name)
    return (
        f'<section class="viewer mode-swipe" data-index="{index}"><h2>{name} '
        f'<small class="notes">{escape(where)}</small></h2><div class="bar">'
        + _slider("tslider", ts, t0, f"t for {shown.name}")
        + '<span class="tval"></span>'
        f'<label>compare with <select class="refsel">{options}</select></label>'
        f'<span role="radiogroup" aria-label="view for {name}">'
        f'<label><input type="radio" class="mode" name="mode-{index}" value="swipe" checked> swipe</label> '
        f'<label><input type="radio" class="mode" name="mode-{index}" value="sbs"> side by side</label></span></div>'
        f'<div class="look"><div style="--w:{w * zoom}px"><div class="stage{" zoom2" if zoom > 1 else ""}" tabindex="0" '
        f'aria-label="{name}: drag to swipe, click or arrow keys to move the zoomed region">'
        + cell.format("a", "model output")
        + cell.format("b", "reference")
        + '<div class="divider"></div></div><div class="swipebar">'
        + '<input type="range" class="swipe" min="0" max="100" step="1" value="50" aria-label="swipe position">'
        + '</div><p class="hint">click the image (or use the arrow keys on it) to move the zoomed region; drag to swipe'
        f'</p></div><div class="crops" style="--pane:{pane}px">{crops}</div></div>{body}</section>'
    )


def render(result: EvalResult, images: hi.ReportImages, run: RunInfo) -> str:
    """The whole report as one HTML string."""
    students = _students(result)
    ts = [float(s.t) for s in students]
    t_labels = [f"{t:g}" for t in ts]
    t0 = min(range(len(ts)), key=lambda i: abs(ts[i] - run.spec.default_t))
    t_index = {s.method: i for i, s in enumerate(students)}
    kinds = {s.method: s for s in result.summaries}
    others = [s for s in result.summaries if s.kind != "student"]
    order = [s.method for s in students] + [s.method for s in others]
    why = {"lpips": "not computed: no --lpips-weights", "niqe": "not computed: --no-niqe"}
    empty = {k: v for k, v in why.items() if all(getattr(s, k) is None for s in result.summaries)}
    scores: dict[str, dict[str, ImageScore]] = {}
    for row in result.images:
        scores.setdefault(row.image, {})[row.method] = row

    viewers, data_images = [], []
    for shown in images.shown.values():
        per = scores.get(shown.name, {})
        if any(t not in shown.student for t in ts) or any(m not in per for m in order):
            continue  # an image some row did not score cannot be shown consistently
        refs = [{"label": k, "src": v, "lr": False} for k, v in shown.others.items()]
        refs += [
            {"label": "HR", "src": shown.hr, "lr": False},
            {"label": "LR (nearest)", "src": shown.lr, "lr": True},
        ]
        # the model itself at each t (by index into "student", not a second copy of the image): t = 0 against
        # t = 1 side by side or swiped, the fidelity-realism trade in one view
        refs += [dict(label=f"{run.spec.name} t={label}", t=i, lr=False) for i, label in enumerate(t_labels)]
        baselines = [
            k for k, r in enumerate(refs) if getattr(kinds.get(r["label"]), "kind", "") == "baseline"
        ]
        ref_default = baselines[0] if baselines else len(refs) - 2  # bicubic, else HR
        body = _charts(
            ts, [per[s.method] for s in students], [per[o.method] for o in others], kinds, empty, t0
        ) + _table([per[m] for m in order], kinds, t_index, False)
        viewers.append(_viewer(len(data_images), shown, refs, ref_default, body, len(ts), t0))
        data_images.append(
            {
                "box": list(shown.box),
                "focus": list(shown.focus),
                "loupe": shown.loupe,
                "student": [shown.student[t] for t in ts],
                "refs": refs,
            }
        )
    data = {"model": run.spec.name, "t_labels": t_labels, "zoom": hi.ZOOM, "images": data_images}
    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    summary = (
        '<section id="summary"><h2>Means over all images</h2><div class="bar">'
        + _slider("", len(ts), t0, "t for every image", 'id="tall" ')
        + f'<span class="tval" id="tallval">t = {t_labels[t0]}</span></div>'
        + _charts(ts, students, others, kinds, empty, t0)
        + _legend(others, run.spec.name)
        + _table([kinds[m] for m in order], kinds, t_index, True)
        + "</section>"
    )
    footer = [
        f"{images.describe()}; the LR view is PNG. Images above {images.max_side} px per side are shown as their "
        "central crop. Metrics are always computed on the full image, as in the printed tables (PSNR/SSIM on Y "
        f"with {result.scale} border pixels cropped).",
    ]
    if images.left_out:
        footer.append(
            f"Viewers for the first {images.max_images} images only; {len(images.left_out)} more are in the tables."
        )
    footer.append(f"Written by oftsr-edge {__version__} eval; self-contained, works offline.")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(run.spec.name)} — oftsr-edge eval report</title><style>{CSS}</style></head><body><main>"
        + _header(run, result, t_labels)
        + "<noscript><p>The image viewers need JavaScript; the tables and charts do not.</p></noscript>"
        + summary
        + "".join(viewers)
        + "<footer>"
        + "".join(f"<p>{escape(f)}</p>" for f in footer)
        + "</footer></main>"
        f'<script type="application/json" id="report-data">{payload}</script><script>{JS}</script></body></html>\n'
    )


def write_report(path: str | Path, result: EvalResult, images: hi.ReportImages, run: RunInfo) -> Path:
    """Render and write atomically (an interrupted run never leaves a half report)."""
    return write_text_atomic(path, render(result, images, run))
