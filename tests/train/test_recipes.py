"""Training recipes: each reproduces the settings of the run that made its bundled model (training-runs/), a budget
scales the steps and what is measured in steps, explicit options win, and short runs warn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oftsr_edge.errors import OftsrError
from oftsr_edge.train.recipes import BUDGETS, RECIPES, budget_factor, horizon_warning, phases
from tests.helpers.cli import assert_one_line_error, run_main

REPO = Path(__file__).resolve().parents[2]
#: the run folders (training-runs/) whose config.json is each recipe's last teacher stage and its student
RUNS = {
    "oftsr-flat48x8-x4": ("fidelity-x4-teacher", "fidelity-x4-student-v2"),
    "oftsr-real-x4": ("real-x4-film-teacher", "real-x4-film-pg-student"),
    "oftsr-smfa-x4": ("fidelity-x4-smfa-teacher", "fidelity-x4-smfa-student"),
}
#: recipe option -> where a run's config.json keeps it
WHERE = {
    "config": ("model", "name"), "scale": ("scale",), "sigma-p": ("sigma_p",), "degradation": ("degradation",),
    "t-zero-fraction": ("t_zero_fraction",), "batch-size": ("train", "batch_size"), "crop": ("train", "crop_size"),
    "learning-rate": ("train", "lr"), "warmup": ("train", "warmup"), "schedule": ("train", "schedule"),
    "ema": ("train", "ema_decay"), "grad-clip": ("train", "grad_clip"), "seed": ("train", "seed"),
    "val-every": ("train", "val_every"), "ckpt-every": ("train", "ckpt_every"), "steps": ("train", "steps"),
    "dt": ("distill", "dt"), "teacher-solver": ("distill", "teacher_step"),
    "lambda-align": ("distill", "lambda_align"), "lambda-bc": ("distill", "lambda_bc"),
    "lambda-lpips": ("distill", "realism", "lambda_lpips"), "tv-gamma": ("distill", "realism", "gamma"),
    "lambda-l1": ("distill", "realism", "lambda_l1"), "realism-t": ("distill", "realism", "t"),
    "train-base": ("train_base",), "lambda-gan": ("distill", "realism", "lambda_gan"),
    "lpips-target": ("distill", "realism", "lpips_target"),
}
#: how a config.json spells an option's value, where it differs from the option's
RECORDED = {("realism-t", "uniform, weighted by t"): "uniform"}
#: earlier teacher stages kept as their own run folders: (recipe, stage folder) -> run
STAGE_RUNS = {("oftsr-real-x4", "3-realesrgan-mix"): "real-x4-mix-teacher",
              ("oftsr-real-x4", "4-smfanet-plus"): "real-x4-smfa-teacher",
              ("oftsr-smfa-x4", "1-flat48x8"): "fidelity-x4-teacher"}
SCALED = {"steps", "warmup", "ema", "val-every", "ckpt-every"}


#: a student inherits these from its teacher's checkpoint
FROM_TEACHER = {"config", "scale", "sigma-p", "degradation", "t-zero-fraction"}


def _card_values(run: str) -> dict:
    config = json.loads((REPO / "training-runs" / run / "config.json").read_text())
    out = {}
    for key, path in WHERE.items():
        if config["kind"] == "student" and key in FROM_TEACHER:
            continue
        value = config
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            out[key] = RECORDED.get((key, value), value)
    return out


def _last(name: str, role: str, factor: float) -> dict:
    recipe = RECIPES[name]
    stage = recipe.teacher[-1] if role == "teacher" else recipe.student
    return phases(stage, factor)[-1]


@pytest.mark.parametrize("name", sorted(RUNS))
@pytest.mark.parametrize("role", ["teacher", "student"])
def test_a_recipe_at_full_budget_is_its_run(name: str, role: str) -> None:
    card = _card_values(RUNS[name][0 if role == "teacher" else 1])
    values = _last(name, role, 1.0)
    assert {k: values[k] for k in card if k in values} == card
    assert set(card) - set(values) <= {"method"}  # every recorded setting comes from the recipe


@pytest.mark.parametrize(("name", "folder"), sorted(STAGE_RUNS))
def test_an_earlier_teacher_stage_is_its_run(name: str, folder: str) -> None:
    card = _card_values(STAGE_RUNS[(name, folder)])
    stage = next(stage for stage in RECIPES[name].teacher if stage.folder == folder)
    values = phases(stage)[-1]
    assert {k: values[k] for k in card if k in values} == card
    assert set(card) <= set(values)


@pytest.mark.parametrize("name", sorted(RUNS))
@pytest.mark.parametrize("role", ["teacher", "student"])
def test_the_small_budget_keeps_every_setting_but_the_step_counts(name: str, role: str) -> None:
    card = _card_values(RUNS[name][0 if role == "teacher" else 1])
    small = _last(name, role, budget_factor("small"))
    assert {k: small[k] for k in card if k not in SCALED} == {k: v for k, v in card.items() if k not in SCALED}
    factor = BUDGETS["small"]
    assert small["steps"] == round(card["steps"] * factor)
    assert small["warmup"] == max(1, round(card["warmup"] * factor))
    horizon = 1 / (1 - small["ema"])
    assert horizon == pytest.approx(max(1.0, factor / (1 - card["ema"])), rel=1e-3)
    assert small["steps"] >= small["warmup"] and small["steps"] >= horizon  # never ends inside its warm-up
    assert horizon_warning(small["steps"], small["warmup"], small["ema"]) is None


def test_budgets_and_warnings() -> None:
    assert budget_factor(None) == 1.0 and budget_factor("0.5") == 0.5 and budget_factor("Full") == 1.0
    for bad in ("0", "-1", "abc", "inf", "nan"):
        with pytest.raises(OftsrError, match="--budget wants a positive number"):
            budget_factor(bad)
    line = horizon_warning(100, 1000, 0.999)
    assert line is not None and "warm-up (1000 steps)" in line and "EMA horizon" in line and "\n" not in line
    assert horizon_warning(2000, 1000, 0.999) is None


TINY = ["--config", "tiny", "--batch-size", "2", "--crop", "32", "--threads", "1", "--quiet"]


def test_train_recipe_runs_its_phases_and_explicit_options_win(tmp_path: Path, train_images: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "teacher"
    proc = run_main(capsys, "train", "--recipe", "oftsr-flat48x8-x4", "--budget", "0.0001", "--data",
                    str(train_images), "--output", str(out), *TINY)
    assert proc.code == 0, proc.err
    assert "teacher phase 1/2" in proc.out and "teacher phase 2/2" in proc.out
    assert "warning" not in proc.err  # the budget shortened the warm-up and EMA horizon with the steps
    config = json.loads((out / "config.json").read_text())
    train = config["train"]
    assert (config["model"]["name"], train["batch_size"], train["crop_size"]) == ("tiny", 2, 32)  # explicit
    assert (train["schedule"], config["t_zero_fraction"], train["lr"]) == ("cosine", 0.5, 2e-4)  # the recipe's
    assert train["steps"] == 4  # 40,000 × 0.0001: the second phase resumed the first (8,000 × 0.0001 → 1)
    assert "resuming at step 1" in proc.out
    # rerun with --resume: both phases are done, nothing trains
    proc = run_main(capsys, "train", "--recipe", "oftsr-flat48x8-x4", "--budget", "0.0001", "--data",
                    str(train_images), "--output", str(out), "--resume", *TINY)
    assert proc.code == 0 and proc.out.count(": done (") == 2, proc.out + proc.err


def test_recipe_mistakes_are_one_line(tmp_path: Path, train_images: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["--data", str(train_images), "--output", str(tmp_path / "x"), *TINY]
    assert_one_line_error(run_main(capsys, "train", "--recipe", "nope", *base), "no recipe 'nope' (recipes: ")
    assert_one_line_error(run_main(capsys, "train", "--budget", "small", *base), "--budget scales a recipe")
    assert_one_line_error(run_main(capsys, "train", "--recipe", "oftsr-real-x4", "--budget", "x", *base),
                          "--budget wants a positive number")
    monkeypatch.delenv("OFTSR_LPIPS_WEIGHTS", raising=False)
    assert_one_line_error(run_main(capsys, "distill", "--recipe", "oftsr-real-x4", "--teacher", str(tmp_path),
                                   "--data", str(train_images), "--output", str(tmp_path / "s"), "--quiet"),
                          "needs the LPIPS weights")
    assert_one_line_error(run_main(capsys, "distill", "--recipe", "oftsr-real-x4", "--teacher", str(tmp_path),
                                   "--data", str(train_images), "--output", str(tmp_path / "s"), "--quiet",
                                   "--lpips-weights", str(tmp_path)),
                          "pass --realism-cache CACHE")
    assert not (tmp_path / "s").exists()  # refused before any training


def test_a_plain_short_run_warns_in_one_line(tmp_path: Path, train_images: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    proc = run_main(capsys, "train", "--data", str(train_images), "--output", str(tmp_path / "t"), "--steps", "2",
                    "--val-every", "0", *TINY)
    assert proc.code == 0, proc.err
    lines = [line for line in proc.err.splitlines() if "warning" in line]
    assert len(lines) == 1 and "--steps 2 is shorter than its learning-rate warm-up (1000 steps)" in lines[0]


def test_a_recipe_on_a_pretrained_base_asks_for_its_weights_before_any_stage(
        tmp_path: Path, train_images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proc = run_main(capsys, "train", "--recipe", "oftsr-smfa-x4", "--data", str(train_images), "-o",
                    str(tmp_path / "run"), "--budget", "small", "--quiet")
    assert_one_line_error(proc, "pass --pretrained FILE")
    assert not (tmp_path / "run").exists()


def test_a_stage_may_start_from_an_earlier_stages_fine_tuned_base(
        tmp_path: Path, train_images: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``Stage.pretrained_from``: the film-base stage takes the base the stage before it fine-tuned (its run folder
    as --pretrained); the user's weights file goes to the first stage only."""
    import torch

    from oftsr_edge.train.recipes import Recipe, Stage

    common = {"scale": 4, "sigma-p": 0.2, "degradation": "bicubic", "batch-size": 1, "crop": 64, "warmup": 1,
              "steps": 1, "ema": 0.5, "val-every": 0, "ckpt-every": 1}
    recipe = Recipe(name="two-stage", card="", student=Stage(phases=({"steps": 1},)), teacher=(
        Stage(phases=(dict(common, config="tiny-smfanet", **{"train-base": True}),), folder="1-base"),
        Stage(phases=(dict(common, config="tiny-smfanet-film"),), pretrained_from="1-base"),
    ))
    monkeypatch.setitem(RECIPES, "two-stage", recipe)
    weights = tmp_path / "tiny.pth"
    torch.manual_seed(0)
    from oftsr_edge.train.smfanet import SMFANET_VARIANTS, SMFANet

    torch.save({"params": SMFANet(SMFANET_VARIANTS["smfanet-tiny"], 4).state_dict()}, weights)
    out = tmp_path / "teacher"
    proc = run_main(capsys, "train", "--recipe", "two-stage", "--data", str(train_images), "--output", str(out),
                    "--pretrained", str(weights), "--threads", "1", "--quiet")
    assert proc.code == 0, proc.err
    first = json.loads((out / "stages" / "1-base" / "config.json").read_text())
    last = json.loads((out / "config.json").read_text())
    assert first["pretrained"]["path"] == str(weights.resolve())
    assert last["pretrained"]["path"] == str((out / "stages" / "1-base").resolve())
    assert last["model"]["name"] == "tiny-smfanet-film"
