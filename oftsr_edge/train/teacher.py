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
from oftsr_edge.train.smfanet import load_pretrained
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


BASE_CONFIGS = tuple(name for name, config in CONFIGS.items() if config.base)
OUTPUT_LAYERS = ("conv_out.", "skip_film.")  # what a trunk-only warm start leaves at its start values


def warm_start(net: OFTSRUNet, source: str | Path, scale: int) -> dict[str, Any]:
    """Load another run's EMA weights into ``net``: the start of a longer run, or a teacher started from a regressor.

    A source of the same architecture loads whole. One of another architecture (a bicubic-conditioned teacher
    for a network on a pretrained base, or fewer blocks) lends its trunk: every tensor whose name and shape match,
    except the output layers and the base, which keep their start values — so at step 0 the velocity is
    ``x_lr − x`` and the one-step output is x_lr at every t (the base's image), while the trunk already knows the
    texture it learnt. Returns what the run config records about the source."""
    loaded = load_checkpoint(source, scale=scale)
    record = {"path": str(loaded.path.resolve()), "sha256": sha256_file(loaded.weights_path), "step": loaded.step}
    if loaded.model_config == net.config:
        net.load_state_dict(loaded.ema_state)
        return record
    mine = net.state_dict()
    trunk = {k: v for k, v in loaded.ema_state.items()
             if k in mine and tuple(v.shape) == tuple(mine[k].shape) and not k.startswith(OUTPUT_LAYERS + ("base.",))}
    if not trunk:
        raise OftsrError(f"--init-from {source}: its {loaded.model_config.name} model shares no layer with "
                         f"{net.config.name}")
    net.load_state_dict(trunk, strict=False)
    return dict(record, trunk_only=True, tensors=len(trunk), of=len(mine))


def load_base(net: OFTSRUNet, pretrained: str | Path | None) -> dict[str, Any] | None:
    """The base regressor's published weights (``--pretrained``: a state dict, or a run folder whose EMA base it
    takes); a base config without them fails in one line."""
    if net.base is None:
        if pretrained is not None:
            raise OftsrError(f"--pretrained is for configs with a pretrained base ({', '.join(BASE_CONFIGS)}); "
                             f"{net.config.name} upsamples with bicubic")
        return None
    if pretrained is None:
        raise OftsrError(f"--config {net.config.name} builds on a pretrained {net.config.base}: pass --pretrained "
                         "PATH (its published state dict; nothing is downloaded)")
    source, state = Path(pretrained), None
    if source.is_dir():  # a run of ours: the base it fine-tuned (--train-base) starts this one
        run = load_checkpoint(source)
        state = {k[len("base."):]: v for k, v in run.ema_state.items() if k.startswith("base.")}
        if not state:
            raise OftsrError(f"--pretrained {pretrained}: that run's model has no pretrained base")
    load_pretrained(net.base, source, state)
    weights = run.weights_path if state is not None else source
    return {"path": str(source.resolve()), "sha256": sha256_file(weights), "architecture": net.config.base}


def build_teacher_trainer(data: str | Path, out: str | Path, model: str | UNetConfig = "small", scale: int = 4,
                          sigma_p: float = 0.2, degradation: str = "bicubic", noise_sigma: float = 0.0,
                          settings: TrainSettings | None = None, val_dir: str | Path | None = None,
                          resume: bool = False, dist_info: DistInfo | None = None, quiet: bool = False,
                          t_zero_fraction: float = 0.0, init_from: str | Path | None = None,
                          exclude: tuple[str, ...] = (), pretrained: str | Path | None = None,
                          train_base: bool = False) -> Trainer:
    settings = settings or TrainSettings()
    objective = TeacherObjective(t_zero_fraction)
    folder = HRImageFolder.load(data, settings.crop_size, exclude)
    torch.manual_seed(settings.seed)  # the initial weights are part of what --seed reproduces
    net = OFTSRUNet(resolve_model_config(model), scale)
    extra: dict[str, Any] = {"t_zero_fraction": t_zero_fraction, "exclude": list(exclude)}
    if init_from is not None:  # on --resume the checkpoint's weights then replace these; the config stays the same
        extra["init_from"] = warm_start(net, init_from, scale)
    base = load_base(net, pretrained)  # on --resume too: the resume command is the run's command plus --resume
    if base is not None:
        extra["pretrained"] = base
    if train_base:
        if net.base is None:
            raise OftsrError(f"--train-base: {net.config.name} has no pretrained base to fine-tune")
        net.train_base()
        extra["train_base"] = True
    config = teacher_config(model, scale, sigma_p, degradation, noise_sigma, data, **extra)
    val = load_val_pairs(val_dir, scale, settings.val_limit, degradation) if val_dir else None
    trainer = Trainer(Path(out), config, net, objective, folder, settings, val, resume, dist_info, quiet)
    trainer.data_summary = folder.summary()
    return trainer
