"""Metric-vs-t line charts as inline SVG for the HTML report.

Drawn by hand rather than with matplotlib: the report belongs to evaluation, which runs on a runtime-only install
(no [plot] extra), and an inline SVG keeps the HTML file self-contained, crisp at any zoom and scriptable — the
report's script moves each chart's marker to the t chosen on the slider (the marker carries its positions per t).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 282, 190
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 24, 38
T_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)

#: colours of the horizontal reference lines, by method kind (the legend in the page uses the same ones)
KIND_COLOURS = {
    "student": "#1f6feb",
    "baseline": "#6e7781",
    "teacher": "#cf222e",
    "reference": "#1a7f37",
    "peer": "#8250df",
}


@dataclass
class RefLine:
    """A method that does not depend on t, drawn as a dashed horizontal line."""

    label: str
    kind: str
    value: float


def nice_ticks(lo: float, hi: float, count: int = 4) -> tuple[list[float], int]:
    """Round tick values inside [lo, hi] — the coarsest step of 1, 2 or 5 × 10^k that gives three or more — and
    the decimals their labels need."""
    span = hi - lo
    if span <= 0 or not math.isfinite(span):
        return [lo], 2
    power = 10 ** math.floor(math.log10(span / count))
    ticks: list[float] = [lo]
    step = power
    for step in (m * power for m in (10, 5, 2, 1, 0.5)):
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        ticks = [round(k * step, 12) for k in range(first, last + 1)]
        if len(ticks) >= 3:
            break
    return ticks, max(0, -math.floor(math.log10(step) + 1e-9))


def _y_range(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.01, 0.01)
    return lo - pad, hi + pad


def line_chart(
    title: str,
    ts: Sequence[float],
    values: Sequence[float | None],
    refs: Sequence[RefLine] = (),
    marker_index: int = 0,
    empty: str = "not computed",
) -> str:
    """One chart: the student's ``values`` against ``ts`` (t on x in [0, 1]), ``refs`` as dashed lines, axes with
    ticks and labels, and a marker at ``ts[marker_index]`` whose per-t positions sit in ``data-pts``."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    ref_values = [r.value for r in refs if math.isfinite(r.value)]
    head = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title)} against t"><title>{escape(title)} against t</title>'
        f'<text class="ctitle" x="{LEFT}" y="15">{escape(title)}</text>'
    )
    if not known:
        return head + (
            f'<text class="cnote" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">{escape(empty)}</text></svg>'
        )
    lo, hi = _y_range(known + ref_values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(t: float) -> float:
        return LEFT + t * plot_w

    def y_of(v: float) -> float:
        return TOP + (hi - v) / (hi - lo) * plot_h

    parts = [head, f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}"/>']
    for t in T_TICKS:
        x = x_of(t)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}"/>'
            f'<text class="tick" x="{x:.1f}" y="{TOP + plot_h + 13}" text-anchor="middle">{t:g}</text>'
        )
    y_ticks, digits = nice_ticks(lo, hi)
    for v in y_ticks:
        y = y_of(v)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 4}" y="{y + 3.5:.1f}" text-anchor="end">{v:.{digits}f}</text>'
        )
    parts.append(
        f'<text class="axis" x="{LEFT + plot_w / 2}" y="{HEIGHT - 4}" text-anchor="middle">'
        "t (0 = fidelity, 1 = realism)</text>"
    )
    for ref in refs:
        if math.isfinite(ref.value):
            y = y_of(ref.value)
            colour = KIND_COLOURS.get(ref.kind, "#444")
            parts.append(
                f'<line class="ref" x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
                f'stroke="{colour}"><title>{escape(ref.label)}: {ref.value:.4g}</title></line>'
            )
    points = [(x_of(t), y_of(v)) if v is not None and math.isfinite(v) else None for t, v in zip(ts, values)]
    drawn = [p for p in points if p is not None]
    colour = KIND_COLOURS["student"]
    if len(drawn) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in drawn)
        parts.append(f'<polyline class="series" points="{path}" stroke="{colour}"/>')
    for (x, y), t, v in ((p, t, v) for p, t, v in zip(points, ts, values) if p is not None):
        parts.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{colour}">'
            f"<title>t = {t:g}: {v:.4g}</title></circle>"
        )
    pts = ";".join("" if p is None else f"{p[0]:.1f},{p[1]:.1f}" for p in points)
    start = points[marker_index] if 0 <= marker_index < len(points) else None
    cx, cy = start if start is not None else (x_of(ts[0]), TOP)
    parts.append(
        f'<circle class="tmark" data-pts="{pts}" cx="{cx:.1f}" cy="{cy:.1f}" r="6"'
        + (' visibility="hidden"' if start is None else "")
        + "/></svg>"
    )
    return "".join(parts)
