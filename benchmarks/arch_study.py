"""Architecture study for the fidelity model (issue 18): train each candidate teacher for the same CPU time and
compare Set5 / Set14 / held-out PSNR-Y at t = 0 along the way.

"Same wall time" is made robust to whatever else runs on the machine: each candidate's unloaded seconds per step is
measured (the minimum over timed steps), and its step budget is ``minutes·60 / s_per_step``. Best: time all
candidates back to back on a quiet machine first (``--timing-only``, about two minutes) and pass that file to the
training runs (``--timings``), so that load from other work during the long runs cannot bias any budget. The
recipe is the same for all: the teacher objective with a share of samples at t = 0 (``--t-zero-fraction``), batch
16 × 128² HR crops, Adam 2e-4, 200 warm-up steps, cosine decay to the end of the budget, EMA 0.995 (short runs). The
held-out photos (McMaster18 and the odd-numbered Kodak24 images) are excluded from training.

    python benchmarks/arch_study.py --data ../shared/data/train --val ../shared/data/val --minutes 5 \
        --out runs/arch_study                     # all candidates; --only NAME,NAME to pick some
    python benchmarks/arch_study.py ... --timing-only            # writes OUT/timings.json
    python benchmarks/arch_study.py ... --timings runs/arch_study/timings.json

Results go to ``OUT/results.jsonl`` (one line per evaluation) and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from oftsr_edge.train.data import find_images
from oftsr_edge.train.model import UNetConfig, describe
from oftsr_edge.train.teacher import build_teacher_trainer
from oftsr_edge.train.trainer import TrainSettings
from oftsr_edge.train.validate import load_val_pairs, one_step_psnr, pairs_from_hr

HELD_OUT = ("McMaster18/*", "Kodak24_500/kodim[0-2][13579].png")

CANDIDATES: dict[str, UNetConfig] = {
    c.name: c
    for c in (
        UNetConfig("small", (48, 96, 128), 1, 64),  # today's default: three levels, one block each
        UNetConfig("flat48x8", (48,), 8, 64),  # all blocks at full LR resolution
        UNetConfig("unet2-48x3", (48, 96), (3, 2), 64),  # two levels, depth at the top
        UNetConfig("gated48x7", (48,), 7, 64, "gated"),  # flat, with a local sigmoid gate per block
        UNetConfig("lk64x12", (64,), 12, 64, "large-kernel"),  # depthwise 7×7 + pointwise MLP blocks
        UNetConfig("rfdn48x4", (48,), 4, 64, "distill"),  # RFDN/IMDN-style feature distillation blocks
    )
}


def held_out_pairs(data: Path, scale: int) -> list:
    paths = [p for p in find_images(data) if any(p.relative_to(data).match(g) for g in HELD_OUT)]
    return pairs_from_hr(paths, scale)


def evaluate(model: torch.nn.Module, sets: dict[str, list], sigma_p: float) -> dict[str, float]:
    return {name: round(one_step_psnr(model, pairs, sigma_p, t=0.0), 3) for name, pairs in sets.items()}


def make_trainer(config: UNetConfig, args: argparse.Namespace, run_dir: Path):  # noqa: ANN201 - a Trainer
    settings = TrainSettings(steps=10**9, batch_size=16, crop_size=128, lr=2e-4, warmup=200, schedule="cosine",
                             ema_decay=0.995, val_every=0, ckpt_every=10**9, keep=1, seed=0)
    return build_teacher_trainer(args.data, run_dir, config, scale=4, sigma_p=0.2, settings=settings, quiet=True,
                                 t_zero_fraction=args.t_zero_fraction, exclude=HELD_OUT)


def time_steps(trainer, steps: int) -> float:  # noqa: ANN001
    """Unloaded seconds per step: the minimum over ``steps`` timed steps (after two untimed ones)."""
    times = []
    for _ in range(steps + 2):
        start = time.perf_counter()
        trainer.train_step()
        times.append(time.perf_counter() - start)
    return min(times[2:])


def study_one(config: UNetConfig, args: argparse.Namespace, sets: dict[str, list]) -> list[dict]:
    trainer = make_trainer(config, args, args.out / config.name)
    measured = time_steps(trainer, args.timing_steps)
    s_per_step = args.timings.get(config.name, measured) if args.timings else measured
    budget = max(args.timing_steps + 3, int(args.minutes * 60 / s_per_step))
    trainer.settings.steps = budget  # the cosine schedule reads it; still in warm-up, so nothing has used it yet
    trainer.config["train"]["steps"] = budget
    cost = describe(config)
    print(f"{config.name}: {cost['params'] / 1e6:.3f} M params, {cost['gflops_per_output_mp']:.1f} GFLOPs/MP, "
          f"{s_per_step:.3f} s/step unloaded -> {budget} steps", flush=True)
    records = []
    wall = time.time()
    for k in range(1, args.points + 1):
        target = budget * k // args.points
        while trainer.step < target:
            trainer.train_step()
        scores = evaluate(trainer.ema.model, sets, 0.2)
        record = {"config": config.name, "step": trainer.step, "budget": budget, "s_per_step": round(s_per_step, 4),
                  "s_per_step_measured_in_run": round(measured, 4),
                  "equal_wall_min": round(trainer.step * s_per_step / 60, 2),
                  "elapsed_wall_min": round((time.time() - wall) / 60, 2), **scores,
                  "params": cost["params"], "gflops_per_mp": round(cost["gflops_per_output_mp"], 1)}
        print(json.dumps(record), flush=True)
        with open(args.out / "results.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        records.append(record)
    trainer.save()
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--val", type=Path, required=True, help="folder with Set5/ and Set14/")
    parser.add_argument("--out", type=Path, default=Path("runs/arch_study"))
    parser.add_argument("--minutes", type=float, default=5.0, help="unloaded CPU minutes per candidate")
    parser.add_argument("--points", type=int, default=3, help="evaluations along each run")
    parser.add_argument("--timing-steps", type=int, default=20)
    parser.add_argument("--t-zero-fraction", type=float, default=0.5)
    parser.add_argument("--only", default="", help="comma-separated candidate names")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timing-only", action="store_true", help="time every candidate and write OUT/timings.json")
    parser.add_argument("--timings", type=Path, default=None, help="s/step per candidate from --timing-only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    names = [n for n in args.only.split(",") if n] or list(CANDIDATES)
    if args.timing_only:
        timings = {}
        for name in names:
            with tempfile.TemporaryDirectory() as tmp:
                timings[name] = round(time_steps(make_trainer(CANDIDATES[name], args, Path(tmp)), args.timing_steps), 4)
            print(name, timings[name], "s/step", flush=True)
        (args.out / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
        return
    args.timings = json.loads(args.timings.read_text()) if args.timings else None
    sets = {"set5": load_val_pairs(args.val / "Set5", 4), "set14": load_val_pairs(args.val / "Set14", 4),
            "held_out": held_out_pairs(args.data, 4)}
    results = [r for name in names for r in study_one(CANDIDATES[name], args, sets)]
    print("\n| candidate | params | GFLOPs/MP | s/step | steps | Set5 | Set14 | held-out |\n|---|---|---|---|---|---|---|---|")
    for r in results:
        if r["step"] == r["budget"]:
            print(f"| {r['config']} | {r['params'] / 1e6:.2f} M | {r['gflops_per_mp']} | {r['s_per_step']} | {r['step']} "
                  f"| {r['set5']} | {r['set14']} | {r['held_out']} |")


if __name__ == "__main__":
    main()
