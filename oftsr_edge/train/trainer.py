"""The training loop shared by stage 1 (teacher) and stage 2 (distillation).

What the two stages differ in is an *objective* (how a batch becomes a loss); everything else lives here once:
warm-up, Adam, EMA, gradient clipping, bf16 autocast on GPU, progress bar, periodic validation, checkpoints,
exact resumption and DistributedDataParallel (torchrun: NCCL on GPU, gloo on CPU; rank 0 validates and saves).

Exact resumption works because a step's batch and noise are a pure function of (seed, step, rank) and the
checkpoint holds model, EMA, optimizer and scheduler state: on CPU a resumed run is bit-identical.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from oftsr_edge.errors import OftsrError
from oftsr_edge.train import checkpoint as ckpt
from oftsr_edge.train.data import HRImageFolder, step_rng
from oftsr_edge.train.degradations import get_degradation
from oftsr_edge.train.losses import noisy_start
from oftsr_edge.train.model import UNetConfig
from oftsr_edge.train.validate import ValPair, one_step_psnr


@dataclass
class TrainSettings:
    """Optimisation hyper-parameters, stored in the run's config.json."""

    steps: int = 10000
    batch_size: int = 16
    crop_size: int = 128
    lr: float = 2e-4
    base_lr: float | None = None  # the pretrained base's own rate (fine-tuned more gently); None: lr
    warmup: int = 1000
    schedule: str = "constant"  # after warm-up: "constant", or "cosine" decay to 1% of lr at `steps`
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    seed: int = 0
    val_every: int = 500
    val_limit: int = 5
    ckpt_every: int = 500
    keep: int = 3


@dataclass
class Batch:
    x1: torch.Tensor  # HR in [-1, 1]
    x_lr: torch.Tensor  # bicubic-upsampled LR in [-1, 1]
    x0: torch.Tensor  # noisy start
    generator: torch.Generator  # this step's torch generator (for t)
    lr: torch.Tensor | None = None  # the LR image in [-1, 1] (a fidelity teacher's input)


class EMA:
    """Exponential moving average of the weights, with the usual (1 + n)/(10 + n) ramp for short runs."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.mul_(d).add_(p.detach(), alpha=1 - d)


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the torchrun process group when WORLD_SIZE > 1 (NCCL on GPU, gloo on CPU)."""
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise OftsrError("--device cuda was asked for, but torch sees no CUDA GPU")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(device=torch.device("cuda" if use_cuda else "cpu"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local)
    return DistInfo(rank=rank, world=dist.get_world_size(), device=torch.device(f"cuda:{local}" if use_cuda else "cpu"))


SCHEDULES = ("constant", "cosine")


def lr_factor(settings: TrainSettings) -> Callable[[int], float]:
    """The learning-rate multiplier at step k: linear warm-up, then constant or a cosine decay to 1% at the end.

    A pure function of (settings, k), so a resumed run continues exactly the same schedule.
    """
    if settings.schedule not in SCHEDULES:
        raise OftsrError(f"unknown lr schedule {settings.schedule!r}; choose from {', '.join(SCHEDULES)}")
    warmup = max(1, settings.warmup)

    def factor(k: int) -> float:
        if k < warmup or settings.schedule == "constant":
            return min(1.0, (k + 1) / warmup)
        progress = min(1.0, (k - warmup) / max(1, settings.steps - warmup))
        return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def parameter_groups(model: nn.Module, settings: TrainSettings) -> list[dict[str, Any]]:
    """Adam's parameter groups: one, or — with ``base_lr`` — the pretrained base's trainable weights (``base.*``)
    apart at their own rate.

    Why: fine-tuning a whole pretrained network at the flow's rate moves it away from what made it good (a film-base
    teacher lost 0.3 dB at t = 0); a lower rate for the base keeps its fidelity while the new layers learn at full
    speed. The groups' rates are :func:`group_rates`.
    """
    if settings.base_lr is None:
        return [{"params": list(model.parameters())}]
    base = [p for name, p in model.named_parameters() if name.startswith("base.") and p.requires_grad]
    if not base:
        raise OftsrError("--base-learning-rate: this model has no trainable pretrained base "
                         "(a film-base config, or a base config with --train-base)")
    ids = {id(p) for p in base}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": rest}, {"params": base, "lr": settings.base_lr}]


def group_rates(settings: TrainSettings) -> list[float]:
    """The base learning rate of each of :func:`parameter_groups`' groups, in order."""
    return [settings.lr] if settings.base_lr is None else [settings.lr, settings.base_lr]


def _rates(rates: list[float]) -> str:
    return ", base ".join(f"{rate:g}" for rate in rates)


Objective = Callable[[Callable[..., torch.Tensor], Batch], tuple[torch.Tensor, dict[str, float]]]


class Trainer:
    """Owns one training run in ``run_dir``: ``fit()`` trains from scratch or resumes to ``settings.steps``."""

    def __init__(self, run_dir: Path, config: dict[str, Any], model: nn.Module, objective: Objective,
                 data: HRImageFolder, settings: TrainSettings, val_pairs: list[ValPair] | None = None,
                 resume: bool = False, dist_info: DistInfo | None = None, quiet: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.config = dict(config, train=asdict(settings))
        self.settings = settings
        self.dist = dist_info or DistInfo()
        self.model = model.to(self.dist.device)
        self.objective = objective
        self.data = data
        self.val_pairs = val_pairs or []
        self.quiet = quiet
        self.degrade = get_degradation(config["degradation"])
        self.optimizer = torch.optim.Adam(parameter_groups(self.model, settings), lr=settings.lr)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor(settings))
        self.step = 0
        if resume:
            self._resume()
        elif (self.run_dir / "checkpoints" / ckpt.LATEST).exists():  # every rank checks: none may wait in DDP
            raise OftsrError(f"{self.run_dir} already holds a run: pass --resume to continue it, or choose a new --out")
        self.ema = EMA(self.model, settings.ema_decay)
        if resume:
            self.ema.model.load_state_dict(self._resume_ema)
        self.ddp = (nn.parallel.DistributedDataParallel(self.model) if self.dist.world > 1 else self.model)

    def _resume(self) -> None:
        latest = self.run_dir / "checkpoints" / ckpt.LATEST
        if not latest.exists():
            raise OftsrError(f"--resume: nothing to resume in {self.run_dir} (no checkpoints/{ckpt.LATEST})")
        loaded = ckpt.load_checkpoint(self.run_dir, kind=self.config["kind"], scale=self.config["scale"],
                                      resumable=True)  # an unreadable newest checkpoint: the previous one
        if UNetConfig.from_dict(loaded.config["model"]) != UNetConfig.from_dict(self.config["model"]):
            raise OftsrError(f"--resume: {self.run_dir} holds a {loaded.config['model']['name']} model, "
                             f"not {self.config['model']['name']}")
        state = loaded.trainer_state
        self.model.load_state_dict(loaded.model_state)
        self._resume_ema = loaded.ema_state
        groups = len(state["optimizer"]["param_groups"])
        if groups != len(self.optimizer.param_groups):
            raise OftsrError(f"--resume: {self.run_dir} was trained "
                             f"{'with' if groups > 1 else 'without'} --base-learning-rate; a resumed run keeps that "
                             f"choice (give {'a' if groups > 1 else 'no'} --base-learning-rate)")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        if "objective" in state and hasattr(self.objective, "load_state_dict"):
            self.objective.load_state_dict(state["objective"])
        self._apply_learning_rate()

    def _apply_learning_rate(self) -> None:
        """The resume command's --learning-rate (and --base-learning-rate), not the checkpoint's: the scheduler
        state carries its base rates, which would otherwise silently override a changed option (a later phase's
        warm restart at a new rate)."""
        wanted = [float(rate) for rate in group_rates(self.settings)]
        stored = [float(lr) for lr in self.scheduler.base_lrs]
        if all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(wanted, stored)):
            return
        self.scheduler.base_lrs = list(wanted)
        for group, rate in zip(self.optimizer.param_groups, wanted):
            group["initial_lr"] = rate
            group["lr"] = rate * self.scheduler.lr_lambdas[0](self.step)
        if self.dist.rank == 0:
            tqdm.write(f"oftsr-edge: --resume: learning rate {_rates(wanted)} (the checkpoint's was "
                       f"{_rates(stored)})", file=sys.stderr)

    def make_batch(self, step: int) -> Batch:
        """The batch of ``step`` on this rank: crops, degradation, x_lr, noise — all from the step's seed."""
        rng = step_rng(self.settings.seed, step, self.dist.rank)
        crops = self.data.sample(self.settings.batch_size, rng, self.dist.rank, self.dist.world)
        hr = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
        lr = self.degrade(hr, self.config["scale"], rng, float(self.config.get("noise_sigma", 0.0)))
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        dev = self.dist.device
        x1 = (hr * 2 - 1).to(dev)
        lr = (lr * 2 - 1).to(dev)
        x_lr = F.pixel_shuffle(self.model.condition(lr), self.config["scale"])
        x0 = noisy_start(x_lr, torch.randn(x1.shape, generator=gen).to(dev), float(self.config["sigma_p"]))
        return Batch(x1=x1, x_lr=x_lr, x0=x0, generator=gen, lr=lr)

    def _forward(self, *args: torch.Tensor) -> torch.Tensor:
        if self.dist.device.type == "cuda":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return self.ddp(*args).float()
        return self.ddp(*args)

    def train_step(self) -> dict[str, float]:
        batch = self.make_batch(self.step)
        self.model.train()
        loss, logs = self.objective(self._forward, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        self.ema.update(self.model, self.step)
        return dict(logs, loss=float(loss.detach()), grad_norm=float(grad_norm), lr=self.scheduler.get_last_lr()[0])

    def validate(self) -> float | None:
        if not self.val_pairs:
            return None
        return one_step_psnr(self.ema.model, self.val_pairs, float(self.config["sigma_p"]), t=0.0)

    def save(self) -> Path:
        state = {"step": self.step, "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}
        objective_state = self.objective.state_dict() if hasattr(self.objective, "state_dict") else {}
        if objective_state:  # what the objective trains itself (a discriminator)
            state["objective"] = objective_state
        return ckpt.save_checkpoint(self.run_dir, self.config, self.step, self.model, self.ema.model, state,
                                    keep=self.settings.keep)

    def _log(self, record: dict[str, Any]) -> None:
        path = self.run_dir / "log.jsonl"
        try:
            with open(path, "a") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as exc:  # a full disk: one line, the checkpoints so far are complete
            raise OftsrError(f"cannot write {path}: {exc.strerror or exc}") from None

    def fit(self) -> Path | None:
        """Train to ``settings.steps``; returns the last checkpoint dir (rank 0) or None (other ranks)."""
        s = self.settings
        if self.dist.is_main:
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                ckpt.write_json_atomic(self.run_dir / ckpt.CONFIG, self.config)
            except OSError as exc:
                raise OftsrError(f"cannot write {self.run_dir / ckpt.CONFIG}: {exc.strerror or exc}") from None
        last = None
        bar = tqdm(total=s.steps, initial=self.step, disable=self.quiet or not self.dist.is_main,
                   desc=f"{self.config['kind']}", unit="step", dynamic_ncols=True)
        start = time.time()
        while self.step < s.steps:
            logs = self.train_step()
            bar.update(1)
            bar.set_postfix(loss=f"{logs['loss']:.4f}", lr=f"{logs['lr']:.1e}")
            record = {"step": self.step, **logs, "elapsed_s": round(time.time() - start, 2)}
            if self.dist.is_main and s.val_every and self.val_pairs and self.step % s.val_every == 0:
                record["val_psnr_y_t0"] = self.validate()
                bar.write(f"step {self.step}: loss {logs['loss']:.4f}  val PSNR-Y (t=0) {record['val_psnr_y_t0']}")
            if self.dist.is_main and (self.step % s.ckpt_every == 0 or self.step == s.steps):
                last = self.save()
            if self.dist.is_main and (self.step % 50 == 0 or "val_psnr_y_t0" in record or self.step == s.steps):
                self._log(record)
        bar.close()
        if self.dist.world > 1:
            dist.barrier()
        return last
