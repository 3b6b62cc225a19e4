"""Stage 2: distil the teacher into a student (docs/architecture.md §5), by one of two methods:

- ``oftsr`` (default): the one-step student v_φ(x0, t) of Algorithm 1 (Eq. 9 + λ_align·Eq. 10 + λ_BC·Eq. 11),
  t ~ U[0.01, 0.99], s = t + dt.
- ``meanflow``: the two-time student u_φ(x_r, r, s) trained on the MeanFlow identity (:mod:`.meanflow`), whose
  u(x0, 0, t) is the one-step map and whose chained steps give the few-step path (:mod:`oftsr_edge.few_step`).

Either student starts from the teacher's EMA weights (a two-time student adds a zero-initialised interval MLP, so it
starts as u(x, r, s) = v_θ(x, r)). FluxSR's TV-LPIPS and ADL terms (:mod:`.fluxsr`) can be added to either method.
An ``oftsr`` run without those terms writes the same config and checkpoints as before they existed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import sha256_file
from oftsr_edge.train.adversarial import AdversarialTerm
from oftsr_edge.train.checkpoint import CONFIG, WEIGHTS, Checkpoint, load_checkpoint
from oftsr_edge.train.data import HRImageFolder
from oftsr_edge.train.fluxsr import DEFAULT_GAMMA, FeatureTap, RealismTerms, block_layers
from oftsr_edge.train.losses import distillation_losses
from oftsr_edge.train.meanflow import R_EQUALS_S_SHARE, R_ZERO_SHARE, meanflow_loss, sample_times
from oftsr_edge.train.model import OFTSRUNet
from oftsr_edge.train.reference_set import ReferenceBatches, ReferenceSet
from oftsr_edge.train.solvers import RK_METHODS
from oftsr_edge.train.trainer import Batch, DistInfo, Trainer, TrainSettings
from oftsr_edge.train.validate import load_val_pairs

T_MIN, T_MAX = 0.01, 0.99
METHODS = ("oftsr", "meanflow")
FIDELITY_TARGETS = ("teacher", "photo")  # what Eq. 11 pulls the student's t = 0 end toward


@dataclass(frozen=True)
class RealismOptions:
    """FluxSR's optional terms: weights (0 = off), γ of TV-LPIPS and where the LPIPS weights are."""

    lambda_lpips: float = 0.0
    lambda_adl: float = 0.0
    gamma: float = DEFAULT_GAMMA
    lpips_weights: str | os.PathLike | None = None
    lambda_l1: float = 0.0
    cache: str | os.PathLike | None = None  # a reference cache: its peer outputs replace the HR crop as target
    spread: bool = False  # the realism terms over t ~ U[0, 1], weighted by t (RealismTerms.spread)
    lambda_gan: float = 0.0  # the adversarial term's weight (train/adversarial.py)
    lpips_target: str = "peer"  # photo: TV-LPIPS against the cache's HR crop while ℓ1 follows the peer's output;
    # blend: against that crop where the peer drew detail and the peer's output where it is flat

    @property
    def active(self) -> bool:
        return self.lambda_lpips > 0 or self.lambda_adl > 0 or self.lambda_l1 > 0 or self.lambda_gan > 0


MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class _FrozenTeacher:
    references: ReferenceBatches | None = None  # set when the realism target is a trained peer's output

    def __init__(self, teacher: torch.nn.Module, realism: RealismTerms | None) -> None:
        self.teacher = teacher.eval().requires_grad_(False)
        self.realism = realism

    def _teacher(self, x: torch.Tensor, x_lr: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cuda":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return self.teacher(x, x_lr, t).float()
        return self.teacher(x, x_lr, t)

    def _add_realism(self, forward: Any, batch: Batch, total: torch.Tensor,
                     logs: dict[str, float]) -> torch.Tensor:
        if self.realism is None or not self.realism.active:
            return total
        if self.references is None:
            extra, more = self.realism(forward, batch.x0, batch.x1, batch.x_lr, batch.generator)
        else:
            x0, target, x_lr, photo = self.references(batch.generator, batch.x1.device)
            extra, more = self.realism(forward, x0, target, x_lr, batch.generator, real=batch.x1,
                                       lpips_target=photo)
        logs.update(more)
        return total + extra

    def state_dict(self) -> dict[str, Any]:
        """What the objective itself trains (the adversarial term's D), for the trainer's checkpoints."""
        adversarial = self.realism.adversarial if self.realism is not None else None
        return {} if adversarial is None else {"adversarial": adversarial.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        adversarial = self.realism.adversarial if self.realism is not None else None
        if adversarial is not None and "adversarial" in state:
            adversarial.load_state_dict(state["adversarial"])


class DistillObjective(_FrozenTeacher):
    """Draws t ~ U[0.01, 0.99] and evaluates Algorithm 1's loss against the frozen teacher; with a fidelity teacher
    (a pretrained regressor R), Eq. 11's target is R's image instead of the flow teacher's t = 0 output; with
    ``photo_fidelity`` it is the HR photo itself, so the t = 0 end regresses the photo (an MMSE estimate) and is no
    longer capped at what the teacher's one-step t = 0 reaches."""

    fidelity: torch.nn.Module | None = None  # R: LR in [0, 1] -> unshuffled image in [0, 1]
    photo_fidelity: bool = False

    def __init__(self, teacher: torch.nn.Module, dt: float, teacher_step: str, lambda_align: float,
                 lambda_bc: float, realism: RealismTerms | None = None) -> None:
        if teacher_step not in RK_METHODS:
            raise OftsrError(f"unknown teacher step {teacher_step!r}; choose from {', '.join(RK_METHODS)}")
        super().__init__(teacher, realism)
        self.dt, self.teacher_step = dt, teacher_step
        self.lambda_align, self.lambda_bc = lambda_align, lambda_bc

    def __call__(self, forward: Any, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        n = batch.x1.shape[0]
        t = (T_MIN + (T_MAX - T_MIN) * torch.rand(n, generator=batch.generator)).to(batch.x1.device)
        v0_target = None
        if self.photo_fidelity:
            v0_target = batch.x1 - batch.x0
        elif self.fidelity is not None:
            with torch.no_grad():
                image = F.pixel_shuffle(self.fidelity.forward_unshuffled(batch.lr * 0.5 + 0.5), self.fidelity.scale)
                v0_target = image * 2.0 - 1.0 - batch.x0
        losses = distillation_losses(forward, self._teacher, batch.x0, batch.x_lr, t, self.dt, self.teacher_step,
                                     self.lambda_align, self.lambda_bc, v0_target=v0_target)
        logs = {k: float(getattr(losses, k).detach()) for k in ("distill", "align", "bc")}
        return self._add_realism(forward, batch, losses.total, logs), logs


class MeanFlowObjective(_FrozenTeacher):
    """Draws (r, s) from :func:`~oftsr_edge.train.meanflow.sample_times` and evaluates the MeanFlow loss; the JVP
    goes through ``student`` (the bare network the Trainer trains, set once it exists), the loss's u through the
    Trainer's forward (DDP when distributed)."""

    student: torch.nn.Module | None = None

    def _jvp_net(self, x: torch.Tensor, x_lr: torch.Tensor, s: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        if self.student is None:
            raise RuntimeError("MeanFlowObjective.student is not set")
        if x.device.type == "cuda":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return self.student(x, x_lr, s, r).float()
        return self.student(x, x_lr, s, r)

    def __call__(self, forward: Any, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        r, s = sample_times(batch.x1.shape[0], batch.generator)
        dev = batch.x1.device
        losses = meanflow_loss(forward, self._teacher, batch.x0, batch.x1, batch.x_lr, r.to(dev), s.to(dev),
                               jvp_net=self._jvp_net)
        logs = {"meanflow": float(losses.total.detach())}
        return self._add_realism(forward, batch, losses.total, logs), logs


def two_time_student(t_ckpt: Checkpoint, seed: int) -> OFTSRUNet:
    """A two-time copy of the teacher's EMA network: every shared weight loaded, the interval MLP new (zero out)."""
    torch.manual_seed(seed)
    student = OFTSRUNet(replace(t_ckpt.model_config, times=2), t_ckpt.scale)
    missing, unexpected = student.load_state_dict(t_ckpt.ema_state, strict=False)
    if unexpected or any(not k.startswith("interval_mlp.") for k in missing):
        raise OftsrError(f"{t_ckpt.path}: teacher weights do not fit a two-time {t_ckpt.model_config.name} model")
    return student.train()


def _realism_terms(options: RealismOptions | None, seed: int = 0, device: Any = "cpu",
                   distributed: bool = False) -> tuple[RealismTerms | None, dict[str, Any]]:
    if options is None or not options.active:
        return None, {}
    lpips, record = None, {"lambda_lpips": options.lambda_lpips, "lambda_adl": options.lambda_adl,
                           "gamma": options.gamma}
    if options.lambda_l1 > 0:
        record["lambda_l1"] = options.lambda_l1
    if options.spread:
        record["t"] = "uniform, weighted by t"
    if options.lpips_target != "peer":
        if options.lambda_lpips <= 0:
            raise OftsrError(f"--lpips-target {options.lpips_target} sets TV-LPIPS's target: give it a weight with "
                             "--lambda-lpips > 0")
        record["lpips_target"] = options.lpips_target
    if options.lambda_lpips > 0:
        from oftsr_edge.train.lpips_torch import load_lpips_loss

        lpips = load_lpips_loss(options.lpips_weights)
        record["lpips_weights"] = lpips.source
    adversarial = None
    if options.lambda_gan > 0:
        if distributed:
            raise OftsrError("--lambda-gan trains a discriminator in one process: run it without torchrun")
        adversarial = AdversarialTerm(seed=seed, device=device)
        record.update(lambda_gan=options.lambda_gan, adversarial=adversarial.record())
    return RealismTerms(options.lambda_lpips, options.lambda_adl, options.gamma, lpips,
                        lambda_l1=options.lambda_l1, spread=options.spread, lambda_gan=options.lambda_gan,
                        adversarial=adversarial), record


def _fidelity_teacher(path: str | Path, scale: int, crop: int) -> tuple[torch.nn.Module, dict[str, Any]]:
    """R loaded from ``path`` (its variant read from the file) and what the run config records about it."""
    from oftsr_edge.train.smfanet import POOL, smfanet_from_file

    if (crop // scale) % POOL:
        raise OftsrError(f"--fidelity-teacher: SMFANet needs LR crops that are multiples of {POOL} pixels; "
                         f"--crop {crop} gives {crop // scale} at x{scale} (use a multiple of {POOL * scale})")
    net, variant = smfanet_from_file(path, scale)
    return net, {"path": str(Path(path).resolve()), "sha256": sha256_file(Path(path)), "architecture": variant}


def _recorded_start(out: str | Path) -> dict[str, Any] | None:
    """What a run folder's config says its student started from (None: no such run or record)."""
    try:
        return json.loads((Path(out) / CONFIG).read_text()).get("student_init")
    except (OSError, ValueError, AttributeError):
        return None


def _student_start(t_ckpt: Checkpoint, student: OFTSRUNet, model: str | None, init_from: str | Path | None,
                   recorded: dict[str, Any] | None = None) -> tuple[OFTSRUNet, dict[str, Any]]:
    """The student of ``--config`` started from ``--init-from``'s EMA weights (default: the teacher's, Algorithm 1).

    A run of the same architecture loads whole; into a deeper film-base config (same base width, more blocks) a
    shallower one loads with the extra blocks at the identity (:func:`~oftsr_edge.train.film_base.load_deepened`),
    so the student starts as exactly the network it grows from. ``recorded``: the start a resumed run recorded —
    its checkpoint replaces the weights anyway, so the source is not read again (it may have trained on since, or
    be gone) and the record stays the run's true start."""
    from oftsr_edge.train.film_base import load_deepened
    from oftsr_edge.train.teacher import resolve_model_config

    if recorded is not None:
        config = resolve_model_config(model) if model is not None else student.config
        return OFTSRUNet(config, t_ckpt.scale).train(), recorded
    record: dict[str, Any] = {}
    state, source_config = student.state_dict(), student.config
    if init_from is not None:
        source = load_checkpoint(init_from, scale=t_ckpt.scale)
        if source.config.get("sigma_p") != t_ckpt.config.get("sigma_p"):
            raise OftsrError(f"--init-from {init_from}: trained with sigma_p {source.config.get('sigma_p')}, the "
                             f"teacher with {t_ckpt.config.get('sigma_p')}")
        state, source_config = source.ema_state, source.model_config
        record.update(path=str(source.path.resolve()), sha256=sha256_file(source.weights_path), step=source.step)
    config = resolve_model_config(model) if model is not None else student.config
    deeper = config.film_base and source_config.film_base and config.channels == source_config.channels
    if config != source_config and not deeper:
        raise OftsrError(f"--config {config.name}: a one-step student starts as the network it is initialised from "
                         f"({source_config.name}) or a deeper film-base one of the same width")
    grown = OFTSRUNet(config, t_ckpt.scale)
    try:
        if config == source_config:
            grown.load_state_dict(state)
        else:
            record["blocks_added"] = load_deepened(grown, state)
    except ValueError as exc:
        raise OftsrError(f"--config {config.name}: {init_from or t_ckpt.path}'s weights do not fit it ({exc})") from None
    return grown.train(), dict(record, config=config.name)


def build_distill_trainer(teacher: str | Path, data: str | Path, out: str | Path, dt: float = 0.05,
                          teacher_step: str = "midpoint", lambda_align: float = 0.01, lambda_bc: float = 0.1,
                          settings: TrainSettings | None = None, val_dir: str | Path | None = None,
                          resume: bool = False, dist_info: DistInfo | None = None, quiet: bool = False,
                          method: str = "oftsr", realism: RealismOptions | None = None,
                          exclude: tuple[str, ...] | None = None, name: str | None = None,
                          fidelity_teacher: str | Path | None = None, model: str | None = None,
                          init_from: str | Path | None = None, fidelity_target: str = "teacher") -> Trainer:
    """The stage-2 trainer; ``exclude`` defaults to the teacher's held-out globs, so a held-out set stays held out.
    ``name`` is the model's name in its exported files and metadata (default ``oftsr-<config>-x<scale>``, plus
    ``-meanflow`` for a two-time student), so two runs of one architecture (clean and real-photo) stay apart.
    ``fidelity_teacher``: a published SMFANet state dict whose image becomes Eq. 11's target (oftsr only);
    ``fidelity_target`` "photo": the HR photo is Eq. 11's target instead (oftsr only)."""
    if method not in METHODS:
        raise OftsrError(f"unknown distillation method {method!r}; choose from {', '.join(METHODS)}")
    if fidelity_target not in FIDELITY_TARGETS:
        raise OftsrError(f"unknown fidelity target {fidelity_target!r}; choose from {', '.join(FIDELITY_TARGETS)}")
    if fidelity_target == "photo" and fidelity_teacher is not None:
        raise OftsrError("--fidelity-target photo and --fidelity-teacher both set Eq. 11's target: give one")
    t0_option = ("--fidelity-target photo" if fidelity_target == "photo"
                 else "--fidelity-teacher" if fidelity_teacher is not None else None)
    if t0_option is not None and method != "oftsr":
        raise OftsrError(f"{t0_option} sets the t = 0 target of Eq. 11: it needs --method oftsr")
    if t0_option is not None and lambda_bc <= 0:
        raise OftsrError(f"{t0_option} acts through Eq. 11: give it a weight with --lambda-bc > 0")
    if name is not None and not MODEL_NAME.fullmatch(name):
        raise OftsrError(f"--name {name!r}: use letters, digits, '.', '_' and '-' only, starting with a letter or "
                         "digit (it becomes the exported file names)")
    settings = settings or TrainSettings(lr=5e-5, warmup=100)
    t_ckpt = load_checkpoint(teacher, kind="teacher")
    model_name = t_ckpt.config["model"]["name"]
    device = dist_info.device if dist_info else "cpu"
    terms, realism_record = _realism_terms(realism, settings.seed, device,
                                           distributed=dist_info is not None and dist_info.world > 1)
    config = {k: t_ckpt.config[k] for k in ("scale", "sigma_p", "degradation", "noise_sigma", "model")
              if k in t_ckpt.config}
    config.update(kind="student", name=name or f"oftsr-{model_name}-x{t_ckpt.scale}", data=str(Path(data).resolve()),
                  teacher={"path": str(t_ckpt.path.resolve()), "sha256": sha256_file(t_ckpt.path / WEIGHTS),
                           "step": t_ckpt.step})
    exclude = tuple(t_ckpt.config.get("exclude", ())) if exclude is None else tuple(exclude)
    if exclude:
        config["exclude"] = list(exclude)
    references = None  # read before the photos are decoded: a bad cache fails in a second, not after them
    if realism is not None and realism.cache is not None:
        if not realism.active:
            raise OftsrError("--realism-cache needs a realism term at t = 1 (--lambda-lpips or --lambda-l1 > 0)")
        references = ReferenceSet.load(realism.cache, t_ckpt.scale, photo=realism.lpips_target != "peer")
    folder = HRImageFolder.load(data, settings.crop_size, exclude=exclude)
    if method == "oftsr":
        config["distill"] = {"dt": dt, "teacher_step": teacher_step, "lambda_align": lambda_align,
                             "lambda_bc": lambda_bc, "t_range": [T_MIN, T_MAX]}
        student = t_ckpt.build_model("ema").train()  # Algorithm 1: φ ← θ (the teacher's EMA weights)
        if model is not None or init_from is not None:
            student, config["student_init"] = _student_start(t_ckpt, student, model, init_from,
                                                             _recorded_start(out) if resume else None)
            config["model"] = student.config.to_dict()
        objective: Any = DistillObjective(t_ckpt.build_model("ema").to(device), dt, teacher_step, lambda_align,
                                          lambda_bc, terms)
        if fidelity_target == "photo":
            objective.photo_fidelity, config["distill"]["fidelity_target"] = True, "photo"
        if fidelity_teacher is not None:
            objective.fidelity, config["distill"]["fidelity_teacher"] = _fidelity_teacher(
                fidelity_teacher, t_ckpt.scale, settings.crop_size)
            objective.fidelity.to(device)
    else:
        if model is not None or init_from is not None:
            raise OftsrError("--config and --init-from choose a one-step student's start: they need --method oftsr")
        student = two_time_student(t_ckpt, settings.seed)
        config["name"] = name or config["name"] + "-meanflow"
        config["model"] = student.config.to_dict()
        config["distill"] = {"method": "meanflow", "r_zero_share": R_ZERO_SHARE, "r_equals_s_share": R_EQUALS_S_SHARE,
                             "states": "(1 - r) x0 + r x1"}
        objective = MeanFlowObjective(t_ckpt.build_model("ema").to(device), terms)
    if references is not None:
        objective.references = ReferenceBatches(references, student.condition, float(config["sigma_p"]),
                                                settings.batch_size, settings.crop_size,
                                                blend=realism.lpips_target == "blend")
        realism_record["target"] = {"cache": str(Path(realism.cache).resolve()), "crops": len(references),
                                    **{k: references.manifest.get(k) for k in
                                       ("settings", "weights", "weights_sha256", "package", "licence")}}
    if realism_record:
        if realism is not None and realism.lambda_adl > 0:
            realism_record["adl_layers"] = list(block_layers(student))
        config["distill"]["realism"] = realism_record
    val = load_val_pairs(val_dir, t_ckpt.scale, settings.val_limit, config["degradation"]) if val_dir else None
    trainer = Trainer(Path(out), config, student, objective, folder, settings, val, resume, dist_info, quiet)
    if method == "meanflow":
        objective.student = trainer.model
    if terms is not None and terms.lambda_adl > 0:  # after the Trainer made the EMA copy: hooks on the student only
        terms.tap = FeatureTap(block_layers(trainer.model))
    trainer.data_summary = folder.summary()
    return trainer
