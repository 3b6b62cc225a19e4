"""The bundled models' golden outputs: exact hashes where they can be exact, a bounded difference everywhere.

Floating point differs between CPUs (an FMA or AVX-512 kernel rounds differently from an SSE one) and between ONNX
Runtime and numpy releases, so a hash of an 8-bit output holds only on the environment that recorded it. Each hash
record therefore carries that environment (:func:`environment`: ONNX Runtime and numpy versions, the machine and the
instruction-set features numpy's CPU dispatch sees in this process). Elsewhere the output is compared with a
stored reference (every 4th row and column of the general session's output, so the files stay a few tens of KB)
under :data:`BOUND`: rounding flips only, and rare. A refactor that changes pixels fails both ways.

Record with ``python -m tests.runtime.golden`` (adds this environment's hashes; ``--references`` also rewrites the
reference images, only on purpose: a new bundled model or a deliberate change of output).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent / "golden"
RECORDS = HERE / "records.json"
CASES = [(0, 0.0), (0, 0.7), (32, 0.0), (32, 0.7)]

def _bundled() -> list[str]:
    """Every bundled model (read from the cards, so a new one fails the tests until it is recorded)."""
    from oftsr_edge.runtime.models import bundled_cards

    return list(bundled_cards())


BUNDLED = _bundled()
STRIDE = 4  # the reference keeps every 4th row and column of the output


@dataclass(frozen=True)
class Bound:
    """How far an output may be from the reference on another environment."""

    max_abs: int = 1  # levels of 8 bits
    max_fraction: float = 1e-3  # of the compared values that differ at all
    min_psnr_db: float = 60.0


BOUND = Bound()


@dataclass(frozen=True)
class Drift:
    """How an output differs from its reference."""

    max_abs: int
    fraction: float  # of values that differ
    psnr_db: float  # inf when identical

    def within(self, bound: Bound = BOUND) -> bool:
        return self.max_abs <= bound.max_abs and self.fraction < bound.max_fraction and self.psnr_db >= bound.min_psnr_db

    def __str__(self) -> str:
        return f"max |Δ| {self.max_abs}, {100 * self.fraction:.3f} % of values differ, PSNR {self.psnr_db:.1f} dB"


def drift(found: np.ndarray, reference: np.ndarray) -> Drift:
    """The difference of two uint8 arrays of one shape."""
    if found.shape != reference.shape:
        raise ValueError(f"shape {found.shape} vs reference {reference.shape}")
    diff = np.abs(found.astype(np.int16) - reference.astype(np.int16))
    mse = float(np.mean(diff.astype(np.float64) ** 2))
    psnr = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    return Drift(int(diff.max()), float(np.count_nonzero(diff)) / diff.size, psnr)


def sample(hr: np.ndarray) -> np.ndarray:
    """What the reference keeps of an output."""
    return np.ascontiguousarray(hr[::STRIDE, ::STRIDE])


def cpu_features() -> list[str]:
    """The instruction-set features numpy's dispatcher found in this process (CPUID as this process sees it, so an
    emulated CPU reports its own), or [] where numpy does not say."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return []
    return sorted(name for name, present in features.items() if present)


def environment() -> dict[str, str]:
    """What an exact hash depends on besides the code: where it matches, the hashes must match bit for bit."""
    import onnxruntime

    return {
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
        "machine": platform.machine(),
        "isa": ",".join(cpu_features()),
    }


def synthetic_lr() -> np.ndarray:
    """A 72×88 RGB image with edges, gradients and texture (no dataset pixels), stored as a PNG: made once with
    numpy's float32 ``sin``/``cos``, whose last bits differ between CPUs, so it is read rather than recomputed."""
    from PIL import Image

    with Image.open(HERE / "synthetic_lr.png") as image:
        return np.asarray(image.convert("RGB"))


def outputs(name: str, bake_t: bool, seed: int = 7) -> tuple[str, dict[str, np.ndarray]]:
    """The bundled model ``name``'s sha256 and its output for every case ("tile/t")."""
    from oftsr_edge import Upscaler
    from oftsr_edge.fileio import sha256_file
    from oftsr_edge.runtime.backends.options import OrtCpu
    from oftsr_edge.runtime.models import resolve_model

    path = resolve_model(name)  # by name, through the registry
    lr = synthetic_lr()
    found = {}
    for tile, t in CASES:
        with Upscaler(path, tile=tile, backend=OrtCpu(bake_t=bake_t)) as up:
            found[f"{tile}/{t}"] = up.upscale(lr, t=t, seed=seed)
    return sha256_file(path), found


def hashes_of(found: dict[str, np.ndarray]) -> dict[str, str]:
    return {k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest() for k, v in found.items()}


def load_records() -> dict[str, Any]:
    return json.loads(RECORDS.read_text())


def exact_record(records: dict[str, Any], model_sha: str, env: dict[str, str]) -> dict[str, Any] | None:
    """The hashes recorded for this model in exactly this environment, or None."""
    for record in records["hashes"]:
        if record["model_sha256"] == model_sha and record["environment"] == env:
            return record
    return None


def reference_path(records: dict[str, Any], model_sha: str) -> Path | None:
    name = records["references"].get(model_sha)
    return HERE / name if name else None


def load_reference(path: Path) -> dict[str, np.ndarray]:
    """The reference image: the cases' samples stacked top to bottom in :data:`CASES` order."""
    from PIL import Image

    with Image.open(path) as image:
        stacked = np.asarray(image.convert("RGB"))
    parts = np.split(stacked, len(CASES), axis=0)
    return {f"{tile}/{t}": part for (tile, t), part in zip(CASES, parts)}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def record(write_references: bool) -> None:
    """Add (or replace) this environment's hashes; with ``write_references`` also rewrite the reference images."""
    import io

    from PIL import Image

    records = load_records() if RECORDS.exists() else {"references": {}, "hashes": []}
    env = environment()
    for name in BUNDLED:
        sha, general = outputs(name, bake_t=False)
        _, baked = outputs(name, bake_t=True)
        records["hashes"] = [r for r in records["hashes"] if not (r["model_sha256"] == sha and r["environment"] == env)]
        records["hashes"].append(
            {"model": name, "model_sha256": sha, "environment": env, "general": hashes_of(general),
             "baked": hashes_of(baked)}  # fmt: skip
        )
        if write_references or sha not in records["references"]:
            stacked = np.concatenate([sample(general[f"{tile}/{t}"]) for tile, t in CASES], axis=0)
            buffer = io.BytesIO()
            Image.fromarray(stacked).save(buffer, "PNG", optimize=True)
            file = f"{name}-{sha[:12]}.png"
            _write_atomic(HERE / file, buffer.getvalue())
            records["references"][sha] = file
        print(f"{name} ({sha[:12]}): hashes recorded for {env}")
    _drop_replaced(records, {bundled_sha(name) for name in BUNDLED})
    _write_atomic(RECORDS, (json.dumps(records, indent=1, sort_keys=True) + "\n").encode())


def bundled_sha(name: str) -> str:
    """The sha256 of the file the golden outputs of bundled model ``name`` come from."""
    from oftsr_edge.fileio import sha256_file
    from oftsr_edge.runtime.models import resolve_model

    return sha256_file(resolve_model(name))


def _drop_replaced(records: dict[str, Any], current: set[str]) -> None:
    """Forget hashes and references of model files no longer bundled (a re-exported model), so no stale record
    or image stays behind."""
    records["hashes"] = [r for r in records["hashes"] if r["model_sha256"] in current]
    for sha in [sha for sha in records["references"] if sha not in current]:
        (HERE / records["references"].pop(sha)).unlink(missing_ok=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", action="store_true", help="also rewrite the reference images")
    record(parser.parse_args().references)
    sys.exit(0)
