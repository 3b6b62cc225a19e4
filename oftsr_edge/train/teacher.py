"""Stage 1: train the conditional rectified-flow teacher v_θ (Eq. 5, ℓ1) on a folder of HR images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from oftsr_edge.errors import OftsrError
from oftsr_edge.train.checkpoint import checkpoint_config
from oftsr_edge.train.data import HRImageFolder
from oftsr_edge.train.losses import flow_matching_loss
from oftsr_edge.train.model import CONFIGS, OFTSRUNet
from oftsr_edge.train.trainer import Batch, DistInfo, Trainer, TrainSettings
from oftsr_edge.train.validate import load_val_pairs


def teacher_objective(forward: Any, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
    """t ~ U[0, 1]; Eq. 5 on the batch."""
    t = torch.rand(batch.x1.shape[0], generator=batch.generator).to(batch.x1.device)
    return flow_matching_loss(forward, batch.x1, batch.x0, batch.x_lr, t), {}


def teacher_config(model: str, scale: int, sigma_p: float, degradation: str, noise_sigma: float,
                   data: str | Path) -> dict[str, Any]:
    if model not in CONFIGS:
        raise OftsrError(f"unknown model config {model!r}; choose from {', '.join(CONFIGS)}")
    if not 0.0 < sigma_p < 1.0:
        raise OftsrError(f"--sigma-p must be in (0, 1), got {sigma_p}")
    return checkpoint_config("teacher", CONFIGS[model], scale, sigma_p, f"oftsr-{model}-x{scale}-teacher",
                             degradation, noise_sigma=noise_sigma, data=str(Path(data).resolve()))


def build_teacher_trainer(data: str | Path, out: str | Path, model: str = "small", scale: int = 4,
                          sigma_p: float = 0.2, degradation: str = "bicubic", noise_sigma: float = 0.0,
                          settings: TrainSettings | None = None, val_dir: str | Path | None = None,
                          resume: bool = False, dist_info: DistInfo | None = None, quiet: bool = False) -> Trainer:
    settings = settings or TrainSettings()
    config = teacher_config(model, scale, sigma_p, degradation, noise_sigma, data)
    folder = HRImageFolder.load(data, settings.crop_size)
    torch.manual_seed(settings.seed)  # the initial weights are part of what --seed reproduces
    net = OFTSRUNet(CONFIGS[model], scale)
    val = load_val_pairs(val_dir, scale, settings.val_limit) if val_dir else None
    trainer = Trainer(Path(out), config, net, teacher_objective, folder, settings, val, resume, dist_info, quiet)
    trainer.data_summary = folder.summary()
    return trainer
