"""Named training recipes: the exact settings that made each bundled model, as data, so that
``oftsr-edge train --recipe NAME`` and ``distill --recipe NAME`` reproduce it from any folder of photos.

A recipe is one teacher (one or more *stages*; a stage that starts from an earlier one's weights, ``--init-from``,
gets its own sub-folder) and one student. A stage or the student runs in *phases* in one run folder: each later
phase resumes the folder with a larger ``--steps`` and the options it changes (a cosine warm restart, as the
model cards describe). Option names are the command's long option names without the dashes.

``--budget F`` (a fraction, or one of :data:`BUDGETS`) multiplies every phase's steps. Below 1 it also shortens
what is measured in steps: the warm-up, the EMA horizon ``1/(1-decay)`` and the validation and checkpoint
intervals, so a short run has the recipe's shape instead of ending inside its warm-up (an untrained model).
Explicit command-line options override the recipe in every phase.

A new model is a new entry in :data:`RECIPES` (and its card): nothing else changes. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oftsr_edge.errors import OftsrError

#: named budgets; "small" is a quick check that a recipe trains (minutes on a CPU), "full" the card's run
BUDGETS: dict[str, float] = {"full": 1.0, "medium": 0.25, "small": 0.02}

#: options counted in steps, shortened with the budget below 1 (never below 1 step)
_STEP_OPTIONS = ("warmup", "val-every", "ckpt-every")


@dataclass(frozen=True)
class Stage:
    """One run folder: ``phases`` are the option values of each phase, cumulative (a later phase lists only what it
    changes). ``folder``: None = the output folder itself (the last teacher stage, or the student); else a
    sub-folder ``stages/<folder>`` of it. ``init_from``: the folder name of an earlier stage whose weights start
    this one (``--init-from``); ``pretrained_from``: the folder name of an earlier stage whose fine-tuned base
    network starts this one (``--pretrained RUN``, e.g. a film-base network built on a base fine-tuned before)."""

    phases: tuple[dict[str, Any], ...]
    folder: str | None = None
    init_from: str | None = None
    pretrained_from: str | None = None


@dataclass(frozen=True)
class Recipe:
    name: str
    card: str  # the model card that describes the run (repository path)
    teacher: tuple[Stage, ...]
    student: Stage
    needs_lpips: bool = False  # a phase uses --lambda-lpips: LPIPS weights are needed before training starts
    needs_reference_cache: bool = False  # the student's realism target is a peer's outputs (--realism-cache)
    about: str = field(default="")


_FIDELITY_TEACHER = {
    "config": "flat48x8", "scale": 4, "sigma-p": 0.2, "degradation": "bicubic", "t-zero-fraction": 0.5,
    "batch-size": 16, "crop": 128, "learning-rate": 2e-4, "warmup": 1000, "schedule": "cosine", "ema": 0.999,
    "grad-clip": 1.0, "seed": 0, "val-every": 1000, "ckpt-every": 500,
}
_STUDENT = {
    "batch-size": 8, "crop": 96, "learning-rate": 5e-5, "warmup": 100, "schedule": "cosine", "ema": 0.999,
    "grad-clip": 1.0, "seed": 0, "val-every": 250, "ckpt-every": 250, "dt": 0.05, "teacher-solver": "midpoint",
    "lambda-align": 0.01, "lambda-bc": 1.0, "method": "oftsr",
}

RECIPES: dict[str, Recipe] = {
    "oftsr-flat48x8-x4": Recipe(
        name="oftsr-flat48x8-x4",
        card="docs/models/oftsr-flat48x8-x4.md",
        teacher=(Stage(phases=(dict(_FIDELITY_TEACHER, steps=8000), {"steps": 40000})),),
        student=Stage(phases=(dict(_STUDENT, steps=3000), {"steps": 4000, "lambda-lpips": 0.01, "tv-gamma": 0.5})),
        needs_lpips=True,
        about="the default: clean bicubic x4; teacher 8,000 then 40,000 steps (cosine warm restart), student "
        "3,000 then 4,000 steps (the last 1,000 with TV-LPIPS at t = 1)",
    ),
    "oftsr-smfa-x4": Recipe(
        name="oftsr-smfa-x4",
        card="docs/models/oftsr-smfa-x4.md",
        teacher=(
            Stage(phases=(dict(_FIDELITY_TEACHER, steps=8000), {"steps": 40000}), folder="1-flat48x8"),
            Stage(phases=(dict(_FIDELITY_TEACHER, config="flat48x4-smfanet-plus", steps=2000, warmup=200,
                               **{"batch-size": 8, "crop": 96, "val-every": 200, "ckpt-every": 200}),),
                  init_from="1-flat48x8"),
        ),
        student=Stage(phases=(dict(_STUDENT, steps=2500, **{"lambda-lpips": 0.02, "tv-gamma": 0.5}),)),
        needs_lpips=True,
        about="the default: x_lr from SMFANet+ (--pretrained FILE, its published weights); the flat48x8 teacher "
        "lends its trunk (8,000 then 40,000 steps), the teacher on the base 2,000 steps, student 2,500 steps with "
        "TV-LPIPS at t = 1",
    ),
    "oftsr-real-x4": Recipe(
        name="oftsr-real-x4",
        card="docs/models/oftsr-real-x4.md",
        teacher=(
            Stage(phases=(dict(_FIDELITY_TEACHER, steps=8000),), folder="1-bicubic"),
            Stage(phases=(dict(_FIDELITY_TEACHER, degradation="realesrgan", steps=4000, warmup=200,
                               **{"val-every": 500, "ckpt-every": 250}),),
                  folder="2-realesrgan", init_from="1-bicubic"),
            Stage(phases=(dict(_FIDELITY_TEACHER, degradation="realesrgan-mix", steps=2500, warmup=100,
                               **{"learning-rate": 1e-4, "val-every": 500, "ckpt-every": 250}),),
                  folder="3-realesrgan-mix", init_from="2-realesrgan"),
            Stage(phases=(dict(_FIDELITY_TEACHER, config="flat48x4-smfanet-plus", degradation="realesrgan-mix",
                               steps=2000, warmup=200, **{"train-base": True, "batch-size": 8, "crop": 96,
                                                          "val-every": 200, "ckpt-every": 200}),),
                  folder="4-smfanet-plus", init_from="3-realesrgan-mix"),
            Stage(phases=(dict(_FIDELITY_TEACHER, config="smfanet-plus-film", degradation="realesrgan-mix",
                               steps=2000, warmup=200, **{"learning-rate": 1e-4, "batch-size": 8, "crop": 96,
                                                          "val-every": 200, "ckpt-every": 200}),),
                  pretrained_from="4-smfanet-plus"),
        ),
        student=Stage(phases=(
            dict(_STUDENT, steps=2800, **{"learning-rate": 1e-4, "val-every": 400, "ckpt-every": 100,
                                          "lambda-lpips": 0.4, "tv-gamma": 0.5, "lambda-l1": 0.4,
                                          "realism-t": "uniform"}),
            {"steps": 3400, "learning-rate": 5e-5, "schedule": "constant", "val-every": 300, "lpips-target": "photo",
             "lambda-gan": 0.1},
        )),
        needs_lpips=True,
        needs_reference_cache=True,
        about="JPEG/noisy photos: a flat48x8 flow teacher on bicubic (8,000 steps), Real-ESRGAN degradations "
        "(4,000) and realesrgan-mix (2,500) lends its trunk to a teacher on SMFANet+ (--pretrained FILE) "
        "fine-tuned on realesrgan-mix (2,000), whose base then becomes the whole network (smfanet-plus-film, "
        "2,000); student 2,800 steps with TV-LPIPS and l1 toward Real-ESRGAN x4plus's outputs (--realism-cache) "
        "over t ~ U[0, 1], then 600 at a constant rate with TV-LPIPS toward the photos and a patch discriminator",
    ),
}


def budget_factor(text: str | float | None) -> float:
    """``--budget``: a name of :data:`BUDGETS` or a positive number; None = full."""
    if text is None:
        return 1.0
    if isinstance(text, str) and text.strip().lower() in BUDGETS:
        return BUDGETS[text.strip().lower()]
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise OftsrError(f"--budget wants a positive number or one of {', '.join(BUDGETS)}, got {text!r}")
    return value


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise OftsrError(f"no recipe {name!r} (recipes: {', '.join(RECIPES)})")
    return RECIPES[name]


def scaled(values: dict[str, Any], factor: float) -> dict[str, Any]:
    """One phase's options at budget ``factor``: steps × factor; below 1 the warm-up, the EMA horizon and the
    validation/checkpoint intervals × factor too (each at least 1 step)."""
    out = dict(values)
    if "steps" in out:
        out["steps"] = max(1, round(out["steps"] * factor))
    if factor < 1:
        for key in _STEP_OPTIONS:
            if key in out and out[key]:
                out[key] = max(1, round(out[key] * factor))
        if "ema" in out and out["ema"] < 1:
            horizon = max(1.0, (1.0 / (1.0 - out["ema"])) * factor)
            out["ema"] = round(1.0 - 1.0 / horizon, 6)
    return out


def phases(stage: Stage, factor: float = 1.0) -> list[dict[str, Any]]:
    """The full option values of each phase of ``stage`` (cumulative), at budget ``factor``."""
    out, current = [], {}
    for phase in stage.phases:
        current = dict(current, **phase)
        out.append(scaled(current, factor))
    return out


def horizon_warning(steps: int, warmup: int, ema: float) -> str | None:
    """One line when a run ends inside its learning-rate warm-up or its EMA horizon (1/(1-decay) steps): such a
    run never trains at its learning rate and its EMA weights barely move, so the model stays near bicubic."""
    horizon = round(1.0 / (1.0 - ema)) if ema < 1 else None
    short = []
    if steps < warmup:
        short.append(f"its learning-rate warm-up ({warmup} steps)")
    if horizon is not None and steps < horizon:
        short.append(f"its EMA horizon (1/(1-{ema:g}) = {horizon} steps)")
    if not short:
        return None
    return (f"--steps {steps} is shorter than {' and '.join(short)}: the model will stay close to bicubic; "
            "use --recipe NAME --budget F (which shortens both) or a smaller --warmup / --ema")
