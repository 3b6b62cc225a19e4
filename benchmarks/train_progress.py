"""Validation PSNR-Y of a teacher (ODE solvers, with NFE) and optionally a student (one step at several t).

Usage:
    python benchmarks/train_progress.py --teacher runs/small_x4_teacher [--student runs/small_x4_student]
        [--val ../shared/data/val/Set5] [--t 0,0.5,1] [--json OUT]

Prints a markdown table: bicubic (PyTorch's, the x_lr the model starts from), teacher Euler-1 / Euler-10 /
midpoint-10 / RK45 with the NFE each used, and the student's one-step output at each t.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

from oftsr_edge.metrics.fidelity import psnr_y
from oftsr_edge.train.checkpoint import load_checkpoint
from oftsr_edge.train.validate import load_val_pairs, one_step_psnr, sample_teacher, to_tensor, to_uint8

SOLVERS = [("euler", 1), ("euler", 10), ("midpoint", 5), ("midpoint", 10), ("rk45", None)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--student")
    parser.add_argument("--val", default="../shared/data/val/Set5")
    parser.add_argument("--t", default="0,0.5,1")
    parser.add_argument("--rtol", type=float, default=1e-3)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    teacher = load_checkpoint(args.teacher, kind="teacher")
    pairs = load_val_pairs(args.val, teacher.scale)
    s = teacher.scale
    rows = []
    bic = [psnr_y(to_uint8(F.interpolate(to_tensor(p.lr), scale_factor=s, mode="bicubic", align_corners=False)),
                  p.hr, border=s) for p in pairs]
    rows.append({"method": "bicubic (torch, a=-0.75)", "nfe": 0, "psnr_y": float(np.mean(bic)), "seconds": 0.0})
    model = teacher.build_model("ema")
    for solver, steps in SOLVERS:
        start, scores, nfes = time.time(), [], []
        for p in pairs:
            hr, nfe = sample_teacher(model, to_tensor(p.lr), teacher.sigma_p, solver, steps or 1, args.rtol)
            scores.append(psnr_y(to_uint8(hr), p.hr, border=s))
            nfes.append(nfe)
        label = f"teacher {solver}-{steps}" if steps else f"teacher rk45 (rtol {args.rtol:g})"
        rows.append({"method": label, "nfe": float(np.mean(nfes)), "psnr_y": float(np.mean(scores)),
                     "seconds": time.time() - start})
    if args.student:
        student = load_checkpoint(args.student, kind="student")
        net = student.build_model("ema")
        for t in [float(x) for x in args.t.split(",")]:
            start = time.time()
            rows.append({"method": f"student one-step t={t:g}", "nfe": 1,
                         "psnr_y": one_step_psnr(net, pairs, student.sigma_p, t=t), "seconds": time.time() - start})
    print(f"teacher {teacher.path} (step {teacher.step}); val {args.val} ({len(pairs)} images), x{s}, PSNR-Y, "
          f"border {s}")
    print("| method | NFE | PSNR-Y (dB) | seconds |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['nfe']:g} | {r['psnr_y']:.2f} | {r['seconds']:.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
