"""Checkpoints: safetensors weights (model + EMA) with a JSON config beside them, plus trainer state for --resume.

Layout of a run directory::

    RUN/config.json                      the run's configuration (kind, model, scale, σp, degradation, hyper-params)
    RUN/checkpoints/step_00001000/
        weights.safetensors              "model.*" and "ema.*" tensors; the config JSON again in its header metadata
        config.json                      the same config plus the step: self-describing without RUN/
        trainer_state.pt                 optimizer state and step, only what exact resumption needs
    RUN/checkpoints/latest.txt           name of the newest complete checkpoint (written last, atomically)

Every file is written to a temporary name and renamed, and ``latest.txt`` moves only after a checkpoint is
complete, so an interrupted save never leaves a checkpoint that looks valid but is not.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import write_text_atomic
from oftsr_edge.train.model import OFTSRUNet, UNetConfig

FORMAT_VERSION = 1
KINDS = ("teacher", "student")
WEIGHTS = "weights.safetensors"
CONFIG = "config.json"
STATE = "trainer_state.pt"
LATEST = "latest.txt"


@dataclass
class Checkpoint:
    """A loaded checkpoint: its configuration and both weight sets."""

    path: Path
    config: dict[str, Any]
    model_state: dict[str, torch.Tensor]
    ema_state: dict[str, torch.Tensor]

    @property
    def kind(self) -> str:
        return self.config["kind"]

    @property
    def scale(self) -> int:
        return int(self.config["scale"])

    @property
    def sigma_p(self) -> float:
        return float(self.config["sigma_p"])

    @property
    def step(self) -> int:
        return int(self.config.get("step", 0))

    @property
    def model_config(self) -> UNetConfig:
        return UNetConfig.from_dict(self.config["model"])

    def build_model(self, weights: str = "ema") -> OFTSRUNet:
        """The network with the EMA weights (what one samples with) or the raw ones (``weights="model"``)."""
        model = OFTSRUNet(self.model_config, self.scale)
        model.load_state_dict(self.ema_state if weights == "ema" else self.model_state)
        return model.eval()


def checkpoint_config(kind: str, model: UNetConfig, scale: int, sigma_p: float, name: str,
                      degradation: str = "bicubic", **extra: Any) -> dict[str, Any]:
    """The configuration every checkpoint carries (what ``load_checkpoint`` and the exporter read back)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    return {"kind": kind, "name": name, "scale": scale, "sigma_p": sigma_p, "degradation": degradation,
            "model": model.to_dict(), **extra}


def write_json_atomic(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def save_checkpoint(
    run_dir: Path,
    config: dict[str, Any],
    step: int,
    model: torch.nn.Module,
    ema: torch.nn.Module,
    trainer_state: dict[str, Any] | None = None,
    keep: int = 3,
) -> Path:
    """Write ``RUN/checkpoints/step_N`` completely, then point ``latest.txt`` at it; keep the newest ``keep``."""
    if config.get("kind") not in KINDS:
        raise ValueError(f"config kind must be one of {KINDS}")
    ckpt_root = Path(run_dir) / "checkpoints"
    ckpt_root.mkdir(parents=True, exist_ok=True)
    name = f"step_{step:08d}"
    final = ckpt_root / name
    staging = Path(tempfile.mkdtemp(dir=ckpt_root, prefix=f".{name}."))
    try:
        meta = dict(config, step=step, format_version=FORMAT_VERSION)
        tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        tensors.update({f"ema.{k}": v.detach().cpu().clone() for k, v in ema.state_dict().items()})
        save_file(tensors, str(staging / WEIGHTS), metadata={"oftsr_edge": json.dumps(meta, sort_keys=True)})
        (staging / CONFIG).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        if trainer_state is not None:
            torch.save(trainer_state, staging / STATE)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    write_text_atomic(ckpt_root / LATEST, name + "\n")
    old = sorted(p for p in ckpt_root.glob("step_*") if p.is_dir())[:-keep] if keep > 0 else []
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    return final


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """Accept a run dir (its latest checkpoint), a checkpoint dir, or its weights file; return the checkpoint dir."""
    p = Path(path)
    if not p.exists():
        raise OftsrError(f"checkpoint not found: {p}")
    if p.is_file():
        if p.suffix != ".safetensors":
            raise OftsrError(f"not an oftsr-edge checkpoint (expected a run directory or {WEIGHTS}): {p}")
        return p.parent
    if (p / WEIGHTS).is_file():
        return p
    latest = p / "checkpoints" / LATEST
    if latest.is_file():
        target = p / "checkpoints" / latest.read_text().strip()
        if (target / WEIGHTS).is_file():
            return target
    raise OftsrError(f"no checkpoint in {p} (expected {WEIGHTS} or checkpoints/{LATEST})")


def load_checkpoint(path: str | os.PathLike, kind: str | None = None, scale: int | None = None) -> Checkpoint:
    """Load a checkpoint; with ``kind``/``scale`` given, a mismatch is a one-line :class:`OftsrError`."""
    ckpt_dir = resolve_checkpoint(path)
    weights = ckpt_dir / WEIGHTS
    try:
        with safe_open(str(weights), framework="pt") as f:
            meta_text = (f.metadata() or {}).get("oftsr_edge")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises several types for a damaged header
        raise OftsrError(f"cannot read checkpoint weights {weights}: {exc}") from None
    if not meta_text:
        raise OftsrError(f"{weights} is a safetensors file but not an oftsr-edge checkpoint (no oftsr_edge metadata)")
    try:
        config = json.loads(meta_text)
        UNetConfig.from_dict(config["model"]), int(config["scale"]), float(config["sigma_p"])
    except (ValueError, KeyError, TypeError) as exc:
        raise OftsrError(f"{weights}: damaged oftsr-edge metadata ({type(exc).__name__}: {exc})") from None
    if config.get("kind") not in KINDS:
        raise OftsrError(f"{weights}: unknown checkpoint kind {config.get('kind')!r}")
    if kind is not None and config["kind"] != kind:
        raise OftsrError(f"{ckpt_dir} is a {config['kind']} checkpoint, but a {kind} checkpoint is needed here")
    if scale is not None and int(config["scale"]) != scale:
        raise OftsrError(f"{ckpt_dir} is a x{config['scale']} checkpoint, but x{scale} is needed here")
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    ema_state = {k[len("ema."):]: v for k, v in tensors.items() if k.startswith("ema.")}
    return Checkpoint(path=ckpt_dir, config=config, model_state=model_state, ema_state=ema_state)


def load_trainer_state(ckpt_dir: Path) -> dict[str, Any]:
    path = Path(ckpt_dir) / STATE
    if not path.is_file():
        raise OftsrError(f"{ckpt_dir} has no {STATE}: it cannot be resumed")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)  # no arbitrary pickle from a run folder
    except Exception as exc:
        raise OftsrError(f"cannot read {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
