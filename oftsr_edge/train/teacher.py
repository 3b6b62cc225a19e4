"""Stage 1: train the conditional rectified-flow teacher v_θ (Eq. 5, ℓ1) on a folder of HR images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import sha256_file
from oftsr_edge.train.checkpoint import checkpoint_config, load_checkpoint
from oftsr_edge.train.data import HRImageFolder
from oftsr_edge.train.losses import flow_matching_loss
from oftsr_edge.train.model import CONFIGS, OFTSRUNet, UNetConfig
from oftsr_edge.train.trainer import Batch, DistInfo, Trainer, TrainSettings
from oftsr_edge.train.validate import load_val_pairs


class TeacherObjective:
    """Eq. 5 on the batch at t drawn from a mixture: a point mass at t = 0 with weight ``t_zero_fraction``, else
    U[0, 1].

    Why the mass at 0: the student's fidelity end is the teacher's velocity at t = 0 (Eq. 11), i.e. the teacher's
    MMSE regression of the HR image. Under U[0, 1] that single point gets a vanishing share of the training signal.
    """

    def __init__(self, t_zero_fraction: float = 0.0) -> None:
        if not 0.0 <= t_zero_fraction < 1.0:
            raise OftsrError(f"--t-zero-fraction must be in [0, 1), got {t_zero_fraction}")
        self.t_zero_fraction = t_zero_fraction

    def __call__(self, forward: Any, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        n = batch.x1.shape[0]
        t = torch.rand(n, generator=batch.generator)
        if self.t_zero_fraction:
            t = torch.where(torch.rand(n, generator=batch.generator) < self.t_zero_fraction, torch.zeros_like(t), t)
        return flow_matching_loss(forward, batch.x1, batch.x0, batch.x_lr, t.to(batch.x1.device)), {}


def resolve_model_config(model: str | UNetConfig) -> UNetConfig:
    if isinstance(model, UNetConfig):
        return model
    if model not in CONFIGS:
        raise OftsrError(f"unknown model config {model!r}; choose from {', '.join(CONFIGS)}")
    return CONFIGS[model]


def teacher_config(model: str | UNetConfig, scale: int, sigma_p: float, degradation: str, noise_sigma: float,
                   data: str | Path, **extra: Any) -> dict[str, Any]:
    config = resolve_model_config(model)
    if not 0.0 < sigma_p < 1.0:
        raise OftsrError(f"--sigma-p must be in (0, 1), got {sigma_p}")
    return checkpoint_config("teacher", config, scale, sigma_p, f"oftsr-{config.name}-x{scale}-teacher",
                             degradation, noise_sigma=noise_sigma, data=str(Path(data).resolve()), **extra)


def warm_start(net: OFTSRUNet, source: str | Path, scale: int) -> dict[str, Any]:
    """Load another run's EMA weights into ``net`` (same architecture): the start of a longer run, or a teacher
    started from a regressor. Returns what the run config records about the source."""
    loaded = load_checkpoint(source, scale=scale)
    if loaded.model_config != net.config:
        raise OftsrError(f"--init-from {source}: holds a {loaded.model_config.name} model "
                         f"({loaded.model_config}), not {net.config.name}")
    net.load_state_dict(loaded.ema_state)
    return {"path": str(loaded.path.resolve()), "sha256": sha256_file(loaded.weights_path), "step": loaded.step}


def build_teacher_trainer(data: str | Path, out: str | Path, model: str | UNetConfig = "small", scale: int = 4,
                          sigma_p: float = 0.2, degradation: str = "bicubic", noise_sigma: float = 0.0,
                          settings: TrainSettings | None = None, val_dir: str | Path | None = None,
                          resume: bool = False, dist_info: DistInfo | None = None, quiet: bool = False,
                          t_zero_fraction: float = 0.0, init_from: str | Path | None = None,
                          exclude: tuple[str, ...] = ()) -> Trainer:
    settings = settings or TrainSettings()
    objective = TeacherObjective(t_zero_fraction)
    folder = HRImageFolder.load(data, settings.crop_size, exclude)
    torch.manual_seed(settings.seed)  # the initial weights are part of what --seed reproduces
    net = OFTSRUNet(resolve_model_config(model), scale)
    extra: dict[str, Any] = {"t_zero_fraction": t_zero_fraction, "exclude": list(exclude)}
    if init_from is not None:  # on --resume the checkpoint's weights then replace these; the config stays the same
        extra["init_from"] = warm_start(net, init_from, scale)
    config = teacher_config(model, scale, sigma_p, degradation, noise_sigma, data, **extra)
    val = load_val_pairs(val_dir, scale, settings.val_limit, degradation) if val_dir else None
    trainer = Trainer(Path(out), config, net, objective, folder, settings, val, resume, dist_info, quiet)
    trainer.data_summary = folder.summary()
    return trainer
