"""Checkpoints: safetensors weights (model + EMA) with a JSON config beside them, plus trainer state for --resume.

Layout of a run directory::

    RUN/config.json                      the run's configuration (kind, model, scale, σp, degradation, hyper-params)
    RUN/checkpoints/step_00001000/
        weights.safetensors              "model.*" and "ema.*" tensors; the config JSON again in its header metadata
        config.json                      the same config plus the step: self-describing without RUN/
        trainer_state.pt                 optimizer state and step, only what exact resumption needs
    RUN/checkpoints/latest.txt           name of the newest complete checkpoint (written last, atomically)

Every file is written to a temporary name and renamed, and ``latest.txt`` moves only after a checkpoint is
complete, so an interrupted save never leaves a checkpoint that looks valid but is not; a staging folder a killed
run left behind is swept by the next save. A run folder whose newest checkpoint cannot be read (a truncated file, a
disk error) loads the newest older one that can, with a warning, instead of stopping.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save

from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import sweep_stale, temp_dir, write_text_atomic
from oftsr_edge.train.model import OFTSRUNet, UNetConfig

FORMAT_VERSION = 1
KINDS = ("teacher", "student")
WEIGHTS = "weights.safetensors"
CONFIG = "config.json"
STATE = "trainer_state.pt"
LATEST = "latest.txt"
_STEP_NAME = re.compile(r"step_[0-9]{1,12}")


@dataclass
class Checkpoint:
    """A loaded checkpoint: its configuration and both weight sets."""

    path: Path
    config: dict[str, Any]
    model_state: dict[str, torch.Tensor]
    ema_state: dict[str, torch.Tensor]
    weights: Path | None = None  # the safetensors file read (None: path / WEIGHTS)
    trainer_state: dict[str, Any] = field(default_factory=dict)  # filled when loaded with resumable=True

    @property
    def weights_path(self) -> Path:
        """The weights file these tensors came from (what a model's checkpoint_sha256 hashes)."""
        return self.weights if self.weights is not None else self.path / WEIGHTS

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
    sweep_stale(ckpt_root)  # staging folders of a killed save
    try:
        staging = temp_dir(ckpt_root, name)
    except OSError as exc:
        raise _save_error(final, exc) from None
    try:
        meta = dict(config, step=step, format_version=FORMAT_VERSION)
        tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        tensors.update({f"ema.{k}": v.detach().cpu().clone() for k, v in ema.state_dict().items()})
        # serialised in memory and written by Python, so a full disk is an OSError naming the reason (torch and
        # safetensors writing by name turn it into "unexpected pos" or a Rust I/O message)
        _write_synced(staging / WEIGHTS, save(tensors, metadata={"oftsr_edge": json.dumps(meta, sort_keys=True)}))
        _write_synced(staging / CONFIG, (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())
        if trainer_state is not None:
            buffer = io.BytesIO()
            torch.save(trainer_state, buffer)
            _write_synced(staging / STATE, buffer.getbuffer())
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        write_text_atomic(ckpt_root / LATEST, name + "\n")
    except OSError as exc:
        raise _save_error(final, exc) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone once renamed; what a failed save made otherwise
    old = sorted(p for p in ckpt_root.glob("step_*") if p.is_dir())[:-keep] if keep > 0 else []
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    return final


def _write_synced(path: Path, data: bytes | memoryview) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _save_error(final: Path, exc: OSError) -> OftsrError:
    """One line for a save that failed on the disk (full, a file-size limit, permissions): the earlier
    checkpoints and ``latest.txt`` are untouched, and nothing of this one is left."""
    full = exc.errno in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))
    reason = f"disk full ({exc.strerror})" if full else (exc.strerror or str(exc))
    return OftsrError(f"cannot save checkpoint {final}: {reason}; the earlier checkpoints are kept")


def _weights_files(path: str | os.PathLike) -> list[Path]:
    """The weights files ``path`` names, best first: a weights file itself, a checkpoint folder's, or a run
    folder's checkpoints (the one ``latest.txt`` names, then the others newest first, for a fallback)."""
    p = Path(path)
    if not p.exists():
        raise OftsrError(f"checkpoint not found: {p}")
    if p.is_file():
        if p.suffix != ".safetensors":
            raise OftsrError(f"not an oftsr-edge checkpoint (expected a run directory or {WEIGHTS}): {p}")
        return [p]
    if (p / WEIGHTS).is_file():
        return [p / WEIGHTS]
    root = p / "checkpoints"
    latest = root / LATEST
    if latest.is_file():
        try:
            named = [root / _latest_name(latest)]
        except (OSError, UnicodeDecodeError):
            named = []
        steps = sorted((d for d in root.glob("step_*") if d.is_dir()), reverse=True)
        found = [d / WEIGHTS for d in dict.fromkeys(named + steps) if (d / WEIGHTS).is_file()]
        if found:
            return found
    raise OftsrError(f"no checkpoint in {p} (expected {WEIGHTS} or checkpoints/{LATEST})")


def _latest_name(latest: Path) -> str:
    """The checkpoint ``latest.txt`` names: only a ``step_N`` folder beside it (this run's), never a path that
    leads elsewhere (``../../other``, an absolute path), which would load or resume weights of another run."""
    name = latest.read_text().strip()
    if not _STEP_NAME.fullmatch(name):
        raise OftsrError(f"{latest} names {name[:80]!r}, not a step_N checkpoint of this run folder; refusing it "
                         f"(a checkpoint is named only by its folder, e.g. step_00001000)")
    return name


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """Accept a run dir (its latest checkpoint), a checkpoint dir, or its weights file; return the checkpoint dir."""
    return _weights_files(path)[0].parent


def load_checkpoint(
    path: str | os.PathLike, kind: str | None = None, scale: int | None = None, resumable: bool = False
) -> Checkpoint:
    """Load a checkpoint; with ``kind``/``scale`` given, a mismatch is a one-line :class:`OftsrError`.

    ``path`` may be a weights file (exactly that file is read), a checkpoint folder or a run folder. In a run folder
    an unreadable newest checkpoint falls back to the newest readable older one, with a warning. ``resumable``: the
    trainer state must load too (it is returned in ``trainer_state``)."""
    candidates = _weights_files(path)
    first_error: OftsrError | None = None
    for weights in candidates:
        try:
            loaded = _load_weights(weights, kind, scale)
            if resumable:
                loaded.trainer_state = load_trainer_state(loaded.path)
        except _Unreadable as exc:
            first_error = first_error or exc
            continue
        if weights != candidates[0]:
            warnings.warn(f"{first_error}; using the previous checkpoint {loaded.path} instead", RuntimeWarning,
                          stacklevel=2)  # fmt: skip
        return loaded
    raise OftsrError(str(first_error)) from None


class _Unreadable(OftsrError):
    """A checkpoint file that cannot be read (truncated, damaged): a run folder falls back to an older one."""


def _load_weights(weights: Path, kind: str | None, scale: int | None) -> Checkpoint:
    ckpt_dir = weights.parent
    try:
        with safe_open(str(weights), framework="pt") as f:
            meta_text = (f.metadata() or {}).get("oftsr_edge")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises several types for a damaged header
        raise _Unreadable(f"cannot read checkpoint weights {weights}: {exc}") from None
    if not meta_text:
        raise OftsrError(f"{weights} is a safetensors file but not an oftsr-edge checkpoint (no oftsr_edge metadata)")
    try:
        config = json.loads(meta_text)
        UNetConfig.from_dict(config["model"]), int(config["scale"]), float(config["sigma_p"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _Unreadable(f"{weights}: damaged oftsr-edge metadata ({type(exc).__name__}: {exc})") from None
    if config.get("kind") not in KINDS:
        raise OftsrError(f"{weights}: unknown checkpoint kind {config.get('kind')!r}")
    if kind is not None and config["kind"] != kind:
        raise OftsrError(f"{ckpt_dir} is a {config['kind']} checkpoint, but a {kind} checkpoint is needed here")
    if scale is not None and int(config["scale"]) != scale:
        raise OftsrError(f"{ckpt_dir} is a x{config['scale']} checkpoint, but x{scale} is needed here")
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    ema_state = {k[len("ema."):]: v for k, v in tensors.items() if k.startswith("ema.")}
    _check_shapes(weights, UNetConfig.from_dict(config["model"]), int(config["scale"]),
                  {"model": model_state, "ema": ema_state})
    return Checkpoint(path=ckpt_dir, config=config, model_state=model_state, ema_state=ema_state, weights=weights)


def _check_shapes(weights: Path, config: UNetConfig, scale: int, states: dict[str, dict[str, torch.Tensor]]) -> None:
    """Every tensor the config's network has, with the shape it has there: a file whose tensors disagree with
    its own config is named in one line at load, not a "size mismatch" traceback in load_state_dict later.
    The network is built on the meta device: shapes only, nothing allocated."""
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in OFTSRUNet(config, scale).state_dict().items()}
    except (ValueError, RuntimeError) as exc:
        raise OftsrError(f"{weights}: its config does not make a network ({exc})") from None
    for prefix, state in states.items():
        missing = sorted(set(expected) - set(state))
        extra = sorted(set(state) - set(expected))
        if missing or extra:
            which = f"lacks {prefix}.{missing[0]}" if missing else f"has an unknown tensor {prefix}.{extra[0]}"
            raise OftsrError(f"{weights} {which} (its config is {config.name} x{scale}): a damaged or mixed-up "
                             "checkpoint")
        for key, shape in expected.items():
            if tuple(state[key].shape) != shape:
                raise OftsrError(f"{weights}: tensor {prefix}.{key} has shape {list(state[key].shape)}, but its "
                                 f"config ({config.name} x{scale}) needs {list(shape)}: a damaged or mixed-up "
                                 "checkpoint")


def load_trainer_state(ckpt_dir: Path) -> dict[str, Any]:
    path = Path(ckpt_dir) / STATE
    if not path.is_file():
        raise _Unreadable(f"{ckpt_dir} has no {STATE}: it cannot be resumed")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)  # no arbitrary pickle from a run folder
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _Unreadable(f"cannot read {path}: {reason}") from None
