"""CLI for training: ``train`` (stage 1, the teacher), ``distill`` (stage 2) and ``sample``.

This module imports only click at load time; torch comes in inside each command, after checking the ``[train]``
extra, so ``oftsr-edge --help`` works on a runtime-only install and the train commands say what to install.
"""

from __future__ import annotations

from pathlib import Path

import click

from oftsr_edge.errors import OftsrError
from oftsr_edge.extras import require
from oftsr_edge.pairs import DEGRADATIONS
from oftsr_edge.vocabulary import option

SOLVER_STEPS = ["euler", "midpoint", "heun", "ralston"]
SETTINGS_OPTIONS = [
    option("--steps", type=click.IntRange(min=1), default=10000, show_default=True),
    option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True, detail="HR crops per step and rank"),
    option("--crop", "crop_size", type=click.IntRange(min=16), default=128, show_default=True),
    option("--learning-rate", "lr", type=float, default=None, detail="default: teacher 2e-4, distill 5e-5"),
    option("--base-learning-rate", "base_lr", type=click.FloatRange(min=0, min_open=True), default=None,
           detail="when the base trains (film-base configs, --train-base); default: --learning-rate"),
    option("--warmup", type=click.IntRange(min=0), default=None, detail="default: teacher 1000, distill 100"),
    option("--schedule", type=click.Choice(["constant", "cosine"]), default="constant", show_default=True,
           detail="constant, or cosine decay to 1% at --steps"),
    option("--ema", "ema_decay", type=click.FloatRange(0, 1), default=0.999, show_default=True),
    option("--grad-clip", type=float, default=1.0, show_default=True),
    option("--seed", type=int, default=0, show_default=True, detail="of crops, noise and t"),
    option("--val", "val_dir", type=click.Path(path_type=Path), default=None),
    option("--val-every", type=click.IntRange(min=0), default=500, show_default=True),
    option("--ckpt-every", type=click.IntRange(min=1), default=500, show_default=True),
    option("--resume", is_flag=True),
    option("--accelerator", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
           detail="under torchrun each rank takes the GPU of its LOCAL_RANK"),
    option("--threads", type=click.IntRange(min=1), default=None, detail="for torch"),
    option("--quiet", is_flag=True),
    option("--recipe", default=None, detail="the settings that made a bundled model (README: Training); "
           "options given here override it"),
    option("--budget", default=None, detail="with --recipe: full, medium, small or a fraction F; default full"),
]


def settings_options(func):  # noqa: ANN001, ANN201 - click decorator plumbing
    for decorate in reversed(SETTINGS_OPTIONS):
        func = decorate(func)
    return func


def _prepare(accelerator: str, threads: int | None):  # noqa: ANN202 - returns DistInfo (torch-typed)
    require("train", "torch", "safetensors", "scipy")
    import torch

    from oftsr_edge.train.trainer import init_distributed

    if threads:
        torch.set_num_threads(threads)
    if accelerator == "cuda" and not torch.cuda.is_available():
        raise OftsrError("--accelerator cuda was asked for, but torch sees no CUDA GPU")
    return init_distributed(accelerator)


def _settings(defaults_lr: float, defaults_warmup: int, **kw: object):  # noqa: ANN202
    from oftsr_edge.train.trainer import TrainSettings

    lr = kw.pop("lr") or defaults_lr
    warmup = kw.pop("warmup")
    return TrainSettings(lr=lr, warmup=defaults_warmup if warmup is None else warmup, **kw)


def _recipe(ctx: click.Context, role: str, kw: dict) -> bool:
    """Run ``--recipe`` when given (True); ``--budget`` alone is a mistake worth one line."""
    recipe, budget = kw.pop("recipe"), kw.pop("budget")
    if recipe is None:
        if budget is not None:
            raise OftsrError("--budget scales a recipe's steps: give --recipe NAME too (or set --steps)")
        return False
    from oftsr_edge.train.recipe_run import run_recipe

    run_recipe(ctx, role)
    return True


def _check_val(val_dir: Path | None) -> None:
    if val_dir is not None and not val_dir.is_dir():
        raise OftsrError(f"validation folder not found: {val_dir}")


@click.command()
@option("--data", required=True, type=click.Path(path_type=Path))
@option("--exclude", multiple=True, metavar="GLOB", detail="e.g. a held-out set")
@option("--output", "out", required=True, type=click.Path(path_type=Path), detail="the run folder")
@option("--config", "model", default="small", show_default=True)
@option("--scale", type=int, default=4, show_default=True, detail="2, 4 or 8")
@option("--sigma-p", type=float, default=0.2, show_default=True)
@option("--degradation", type=click.Choice(list(DEGRADATIONS)), default="bicubic", show_default=True)
@option("--noise-sigma", type=click.FloatRange(min=0), default=0.0, show_default=True)
@option("--t-zero-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
        detail="the student's fidelity end; the rest t ~ U[0, 1]")
@option("--init-from", type=click.Path(path_type=Path), default=None,
        detail="a run's weights; of another architecture: its trunk only")
@option("--pretrained", type=click.Path(path_type=Path), default=None,
        detail="the published state dict of the config's base network (a local file), or a run whose base it takes")
@option("--train-base", is_flag=True, detail="fine-tune the base with the flow (e.g. for a real-photo degradation)")
@settings_options
@click.pass_context
def train(ctx: click.Context, data: Path, exclude: tuple[str, ...], out: Path, model: str, scale: int, sigma_p: float,
          degradation: str, noise_sigma: float, t_zero_fraction: float, init_from: Path | None, pretrained: Path | None,
          train_base: bool, resume: bool, accelerator: str, threads: int | None, quiet: bool, **kw: object) -> None:
    """Stage 1: train the conditional rectified-flow teacher (Eq. 5, ℓ1) with EMA."""
    if _recipe(ctx, "teacher", kw):
        return
    if scale not in (2, 4, 8):
        raise OftsrError(f"--scale must be 2, 4 or 8, got {scale}")
    dist_info = _prepare(accelerator, threads)
    from oftsr_edge.train.teacher import build_teacher_trainer

    _check_val(kw.get("val_dir"))
    val_dir = kw.pop("val_dir")
    settings = _settings(2e-4, 1000, **kw)
    trainer = build_teacher_trainer(data, out, model, scale, sigma_p, degradation, noise_sigma, settings,
                                    val_dir, resume, dist_info, quiet, t_zero_fraction, init_from, exclude,
                                    pretrained, train_base)
    _run(trainer, dist_info)


@click.command()
@option("--teacher", "teacher_path", required=True, type=click.Path(path_type=Path))
@option("--data", required=True, type=click.Path(path_type=Path))
@option("--exclude", multiple=True, metavar="GLOB", detail="default: the teacher's (a held-out set stays held out)")
@option("--output", "out", required=True, type=click.Path(path_type=Path), detail="the student's run folder")
@option("--dt", type=click.FloatRange(0, 1, min_open=True), default=0.05, show_default=True)
@option("--teacher-solver", "teacher_step", type=click.Choice(SOLVER_STEPS), default="midpoint", show_default=True,
        detail="one RK step over [t, t+dt]")
@option("--lambda-align", type=float, default=0.01, show_default=True, detail="oftsr")
@option("--lambda-bc", type=float, default=0.1, show_default=True, detail="oftsr")
@option("--method", type=click.Choice(["oftsr", "meanflow"]), default="oftsr", show_default=True)
@option("--lambda-lpips", type=click.FloatRange(min=0), default=0.0, show_default=True,
        detail="0 = off; at t = 1, needs --lpips-weights or OFTSR_LPIPS_WEIGHTS")
@option("--tv-gamma", type=click.FloatRange(min=0), default=0.5, show_default=True)
@option("--lambda-adl", type=click.FloatRange(min=0), default=0.0, show_default=True,
        detail="0 = off; at every block, at t = 1")
@option("--lpips-weights", type=click.Path(path_type=Path), default=None, detail="default: $OFTSR_LPIPS_WEIGHTS")
@option("--lambda-l1", type=click.FloatRange(min=0), default=0.0, show_default=True, detail="0 = off")
@option("--lambda-gan", type=click.FloatRange(min=0), default=0.0, show_default=True,
        detail="0 = off; one process only (not under torchrun)")
@option("--realism-cache", type=click.Path(path_type=Path), default=None,
        detail="default: none (the HR crop is the target)")
@option("--realism-t", type=click.Choice(["one", "uniform"]), default="one", show_default=True)
@option("--lpips-target", type=click.Choice(["peer", "photo", "blend"]), default="peer", show_default=True,
        detail="with --realism-cache; without one both are the photo")
@option("--fidelity-teacher", type=click.Path(path_type=Path), default=None,
        detail="default: none (Eq. 11 against the flow teacher)")
@option("--fidelity-target", type=click.Choice(["teacher", "photo"]), default="teacher", show_default=True,
        detail="oftsr only")
@option("--config", "model", default=None, detail="of the student; default the teacher's, or a deeper film-base one")
@option("--init-from", type=click.Path(path_type=Path), default=None,
        detail="a student run's, to start this one (read once: --resume continues the run's own); default the "
        "teacher's (Algorithm 1)")
@option("--name", "model_name", default=None, detail="of the student; default oftsr-<config>-x<scale>")
@settings_options
@click.pass_context
def distill(ctx: click.Context, teacher_path: Path, data: Path, exclude: tuple[str, ...], out: Path, dt: float, teacher_step: str, lambda_align: float,
            lambda_bc: float, method: str, lambda_lpips: float, tv_gamma: float, lambda_adl: float,
            lpips_weights: Path | None, lambda_l1: float, lambda_gan: float, realism_cache: Path | None, realism_t: str,
            lpips_target: str, fidelity_teacher: Path | None, fidelity_target: str, model: str | None, init_from: Path | None,
            model_name: str | None, resume: bool, accelerator: str, threads: int | None,
            quiet: bool, **kw: object) -> None:
    """Stage 2: distil the teacher into a one-step student with tunable t (oftsr: Algorithm 1) or a two-time
    student with a few-step path (meanflow: the MeanFlow identity); FluxSR's TV-LPIPS and ADL terms optional."""
    if _recipe(ctx, "student", kw):
        return
    dist_info = _prepare(accelerator, threads)
    from oftsr_edge.train.distill import RealismOptions, build_distill_trainer

    _check_val(kw.get("val_dir"))
    val_dir = kw.pop("val_dir")
    settings = _settings(5e-5, 100, **kw)
    realism = RealismOptions(lambda_lpips, lambda_adl, tv_gamma, lpips_weights, lambda_l1, realism_cache,
                             spread=realism_t == "uniform", lambda_gan=lambda_gan, lpips_target=lpips_target)
    trainer = build_distill_trainer(teacher_path, data, out, dt, teacher_step, lambda_align, lambda_bc, settings,
                                    val_dir, resume, dist_info, quiet, method=method, realism=realism,
                                    exclude=exclude or None, name=model_name, fidelity_teacher=fidelity_teacher,
                                    model=model, init_from=init_from, fidelity_target=fidelity_target)
    _run(trainer, dist_info)


def _run(trainer, dist_info) -> None:  # noqa: ANN001
    from oftsr_edge.train.recipes import horizon_warning

    settings = trainer.settings  # warned once the inputs were read: a run that fails says only why
    warning = horizon_warning(settings.steps, settings.warmup, settings.ema_decay)
    if warning and dist_info.is_main:
        click.echo(f"oftsr-edge: warning: {warning}", err=True)
    if dist_info.is_main:
        click.echo(f"{trainer.data_summary}; world size {dist_info.world}; device {dist_info.device}; "
                   f"resuming at step {trainer.step}" if trainer.step else
                   f"{trainer.data_summary}; world size {dist_info.world}; device {dist_info.device}")
    last = trainer.fit()
    if dist_info.is_main:
        click.echo(f"saved {last}")


@click.command()
@option("--checkpoint", required=True, type=click.Path(path_type=Path))
@option("--input", "input_path", required=True, type=click.Path(path_type=Path), detail="one LR image")
@option("--output", "out", required=True, type=click.Path(path_type=Path), detail="the HR image file")
@option("--solver", type=click.Choice([*SOLVER_STEPS, "rk45"]), default="midpoint", show_default=True)
@option("--solver-steps", "steps", type=click.IntRange(min=1), default=10, show_default=True)
@option("--rtol", type=float, default=1e-3, show_default=True)
@option("--jump-at", type=click.FloatRange(0, 1), default=None, detail="Fig. 6")
@option("--seed", type=int, default=0, show_default=True, detail="of the noise")
@option("--weights", type=click.Choice(["ema", "model"]), default="ema", show_default=True)
def sample(checkpoint: Path, input_path: Path, out: Path, solver: str, steps: int, rtol: float,
           jump_at: float | None, seed: int, weights: str) -> None:
    """Sample the teacher's ODE for one LR image and print the NFE used."""
    require("train", "torch", "safetensors", "scipy")
    from PIL import Image

    from oftsr_edge.fileio import atomic_path
    from oftsr_edge.runtime.io.image_io import format_for
    from oftsr_edge.train.checkpoint import load_checkpoint
    from oftsr_edge.train.data import read_rgb
    from oftsr_edge.train.validate import sample_teacher, to_tensor, to_uint8

    ck = load_checkpoint(checkpoint, kind="teacher")
    lr = read_rgb(input_path)
    fmt = format_for(out)
    model = ck.build_model(weights)
    hr, nfe = sample_teacher(model, to_tensor(lr), ck.sigma_p, solver, steps, rtol, seed, jump_at)
    try:
        with atomic_path(out) as tmp:
            Image.fromarray(to_uint8(hr)).save(tmp, format=fmt)
    except (OSError, ValueError) as exc:
        raise OftsrError(f"cannot write {out}: {exc}") from None
    click.echo(f"{out}: {hr.shape[-1]}x{hr.shape[-2]}, solver {solver}, NFE {nfe}")
