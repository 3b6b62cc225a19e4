"""Stage 2: distil the teacher into a one-step student v_φ (Algorithm 1: Eq. 9 + λ_align·Eq. 10 + λ_BC·Eq. 11).

The student starts from the teacher's EMA weights (same architecture); t ~ U[0.01, 0.99], s = t + dt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import sha256_file
from oftsr_edge.train.checkpoint import WEIGHTS, load_checkpoint
from oftsr_edge.train.data import HRImageFolder
from oftsr_edge.train.losses import distillation_losses
from oftsr_edge.train.solvers import RK_METHODS
from oftsr_edge.train.trainer import Batch, DistInfo, Trainer, TrainSettings
from oftsr_edge.train.validate import load_val_pairs

T_MIN, T_MAX = 0.01, 0.99


class DistillObjective:
    """Draws t ~ U[0.01, 0.99] and evaluates Algorithm 1's loss against the frozen teacher."""

    def __init__(self, teacher: torch.nn.Module, dt: float, teacher_step: str, lambda_align: float,
                 lambda_bc: float) -> None:
        if teacher_step not in RK_METHODS:
            raise OftsrError(f"unknown teacher step {teacher_step!r}; choose from {', '.join(RK_METHODS)}")
        self.teacher = teacher.eval().requires_grad_(False)
        self.dt, self.teacher_step = dt, teacher_step
        self.lambda_align, self.lambda_bc = lambda_align, lambda_bc

    def _teacher(self, x: torch.Tensor, x_lr: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cuda":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return self.teacher(x, x_lr, t).float()
        return self.teacher(x, x_lr, t)

    def __call__(self, forward: Any, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        n = batch.x1.shape[0]
        t = (T_MIN + (T_MAX - T_MIN) * torch.rand(n, generator=batch.generator)).to(batch.x1.device)
        losses = distillation_losses(forward, self._teacher, batch.x0, batch.x_lr, t, self.dt, self.teacher_step,
                                     self.lambda_align, self.lambda_bc)
        logs = {k: float(getattr(losses, k).detach()) for k in ("distill", "align", "bc")}
        return losses.total, logs


def build_distill_trainer(teacher: str | Path, data: str | Path, out: str | Path, dt: float = 0.05,
                          teacher_step: str = "midpoint", lambda_align: float = 0.01, lambda_bc: float = 0.1,
                          settings: TrainSettings | None = None, val_dir: str | Path | None = None,
                          resume: bool = False, dist_info: DistInfo | None = None, quiet: bool = False) -> Trainer:
    settings = settings or TrainSettings(lr=5e-5, warmup=100)
    t_ckpt = load_checkpoint(teacher, kind="teacher")
    model_name = t_ckpt.config["model"]["name"]
    config = {k: t_ckpt.config[k] for k in ("scale", "sigma_p", "degradation", "noise_sigma", "model")
              if k in t_ckpt.config}
    config.update(kind="student", name=f"oftsr-{model_name}-x{t_ckpt.scale}", data=str(Path(data).resolve()),
                  teacher={"path": str(t_ckpt.path.resolve()), "sha256": sha256_file(t_ckpt.path / WEIGHTS),
                           "step": t_ckpt.step},
                  distill={"dt": dt, "teacher_step": teacher_step, "lambda_align": lambda_align,
                           "lambda_bc": lambda_bc, "t_range": [T_MIN, T_MAX]})
    folder = HRImageFolder.load(data, settings.crop_size)
    student = t_ckpt.build_model("ema").train()  # Algorithm 1: φ ← θ (the teacher's EMA weights)
    teacher_net = t_ckpt.build_model("ema")
    objective = DistillObjective(teacher_net.to(dist_info.device if dist_info else "cpu"), dt, teacher_step,
                                 lambda_align, lambda_bc)
    val = load_val_pairs(val_dir, t_ckpt.scale, settings.val_limit) if val_dir else None
    trainer = Trainer(Path(out), config, student, objective, folder, settings, val, resume, dist_info, quiet)
    trainer.data_summary = folder.summary()
    return trainer
