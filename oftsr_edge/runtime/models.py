"""The bundled models by name: ``Upscaler()`` and ``--model NAME`` find their files here, ``oftsr-edge models``
lists them.

A bundled model is ONNX files under ``oftsr_edge/models/`` plus one entry in ``models.json`` (its model card): the
file per precision, scale, parameters, GFLOPs per output megapixel, training degradation and data, headline
metrics. The card is what a user reads before picking a model; the ONNX metadata (:mod:`oftsr_edge.contract`) stays
what the runtime trusts. A test checks that the two agree and that every ONNX file in the folder has a card, so a
new model is added by dropping its files and its card entry in — nothing else changes.

``--model`` takes a file path or a bundled name: ``NAME`` (its fp32 file, or its first listed precision) or
``NAME_PRECISION`` (the same ``<name>_<precision>`` stem ``oftsr-edge export`` writes). An existing file wins.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oftsr_edge.contract import PRECISIONS, SCALES
from oftsr_edge.errors import OftsrError

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
CARDS_FILE = "models.json"
CARDS_VERSION = 1
_REQUIRED = {
    "files": dict,
    "scale": int,
    "params": int,
    "gflops_per_output_mp": (int, float),
    "degradation": str,
    "training": str,
    "metrics": dict,
}


@dataclass(frozen=True)
class ModelCard:
    """One bundled model as its card describes it; ``files`` maps precision to a path under the models folder."""

    name: str
    files: dict[str, Path]
    scale: int
    params: int
    gflops_per_output_mp: float
    degradation: str
    training: str
    metrics: dict[str, dict[str, dict[str, float]]]  # dataset -> row ("bicubic", "t=0", ...) -> metric -> value
    note: str = ""
    metrics_source: str = ""
    config: str = ""
    use_for: str = ""

    @property
    def precisions(self) -> tuple[str, ...]:
        return tuple(p for p in PRECISIONS if p in self.files)

    def file(self, precision: str | None = None) -> Path:
        """The file of ``precision`` (None = fp32, else the first listed precision)."""
        if precision is None:
            precision = "fp32" if "fp32" in self.files else self.precisions[0]
        if precision not in self.files:
            raise OftsrError(
                f"bundled model {self.name} has no {precision} file (it has {', '.join(self.precisions)})"
            )
        return self.files[precision]

    def headline(self) -> str:
        """Fidelity end and realism end on the first dataset: PSNR-Y at the lowest t, NIQE at the highest."""
        if not self.metrics:
            return "no metrics recorded"
        dataset, rows = next(iter(self.metrics.items()))
        ts = sorted((float(k[2:]), k) for k in rows if k.startswith("t="))
        if not ts:
            return f"{dataset}: no t rows"
        low, high = rows[ts[0][1]], rows[ts[-1][1]]
        parts = []
        if "psnr_y" in low:
            parts.append(f"PSNR-Y {low['psnr_y']:.2f} at {ts[0][1]}")
        if "niqe" in high:
            parts.append(f"NIQE {high['niqe']:.2f} at {ts[-1][1]}")
        return f"{dataset} " + ", ".join(parts)


def _card(name: str, data: Any, folder: Path, source: str) -> ModelCard:
    """One card checked field by field: a broken entry is one line naming it, never a KeyError later."""
    where = f"{source}: model {name!r}"
    if not isinstance(data, dict):
        raise OftsrError(f"{where} is not a JSON object")
    for key, kind in _REQUIRED.items():
        if not isinstance(data.get(key), kind) or isinstance(data.get(key), bool):
            raise OftsrError(f"{where}: field {key!r} is missing or of the wrong type")
    files = data["files"]
    bad = [p for p in files if p not in PRECISIONS or not isinstance(files[p], str)]
    if not files or bad:
        raise OftsrError(f"{where}: 'files' must map precisions ({', '.join(PRECISIONS)}) to file names")
    if data["scale"] not in SCALES:
        raise OftsrError(f"{where}: scale must be one of {SCALES}")
    optional = ("note", "metrics_source", "config", "use_for")
    extra = set(data) - set(_REQUIRED) - set(optional)
    if extra:
        raise OftsrError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
    known = {k: data[k] for k in optional if k in data}
    return ModelCard(
        name=name,
        files={p: folder / f for p, f in files.items()},
        scale=data["scale"],
        params=data["params"],
        gflops_per_output_mp=float(data["gflops_per_output_mp"]),
        degradation=data["degradation"],
        training=data["training"],
        metrics=data["metrics"],
        **known,
    )


def load_cards(folder: str | os.PathLike = MODELS_DIR) -> tuple[str, dict[str, ModelCard]]:
    """(default name, {name: card}) from ``folder/models.json``."""
    folder = Path(folder)
    source = str(folder / CARDS_FILE)
    try:
        data = json.loads((folder / CARDS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OftsrError(f"{source}: missing: this installation has no bundled models; pass --model PATH") from None
    except (OSError, ValueError) as exc:
        raise OftsrError(f"{source}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format_version") != CARDS_VERSION:
        raise OftsrError(f"{source}: expected a JSON object with format_version {CARDS_VERSION}")
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise OftsrError(f"{source}: 'models' must be a non-empty object")
    cards = {name: _card(name, entry, folder, source) for name, entry in models.items()}
    default = data.get("default")
    if default not in cards:
        raise OftsrError(f"{source}: default {default!r} is not one of its models ({', '.join(cards)})")
    _auto_table(data.get("auto"), cards, source, default)  # a broken table fails here, in one line
    return default, cards


@functools.lru_cache(maxsize=1)
def _bundled() -> tuple[str, dict[str, ModelCard]]:
    return load_cards(MODELS_DIR)


def bundled_cards() -> dict[str, ModelCard]:
    """Every bundled model's card, by name, in the card file's order."""
    return _bundled()[1]


def default_name() -> str:
    return _bundled()[0]


def _auto_table(data: Any, cards: dict[str, ModelCard], source: str, default: str) -> dict[str, dict[str, Any]]:
    """models.json's ``auto`` entry: which bundled model (and t) ``--model auto`` gives clean and lossy inputs."""
    if data is None:  # an older card file: the default for every input
        return {"clean": {"model": default}, "lossy": {"model": default}}
    if not isinstance(data, dict) or set(data) != {"clean", "lossy"}:
        raise OftsrError(f"{source}: 'auto' must map 'clean' and 'lossy' to {{'model': NAME, 't': T}}")
    for kind, entry in data.items():
        if not isinstance(entry, dict) or entry.get("model") not in cards or set(entry) - {"model", "t"}:
            raise OftsrError(f"{source}: auto.{kind} must name a bundled model (and optionally its t)")
        t = entry.get("t")
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1):
            raise OftsrError(f"{source}: auto.{kind}.t must be a number in [0, 1]")
    return data


def auto_table() -> dict[str, dict[str, Any]]:
    """The bundled ``auto`` table (:mod:`oftsr_edge.runtime.auto_model`); an installation without bundled models
    says so in one line (from :func:`load_cards`)."""
    cards = bundled_cards()  # checked (and the table validated) when the card file was loaded
    source = str(MODELS_DIR / CARDS_FILE)
    data = json.loads((MODELS_DIR / CARDS_FILE).read_text(encoding="utf-8")).get("auto")
    return _auto_table(data, cards, source, default_name())


def find_bundled(text: str) -> tuple[ModelCard, str | None] | None:
    """(card, precision) for ``NAME`` or ``NAME_PRECISION``; None if ``text`` names no bundled model."""
    cards = bundled_cards()
    if text in cards:
        return cards[text], None
    stem, _, precision = text.rpartition("_")
    if stem in cards and precision in PRECISIONS:
        return cards[stem], precision
    return None


def resolve_model(model: str | os.PathLike | None = None) -> Path:
    """The model file for a path, a bundled name, or None (the bundled default); anything else is one line.
    ``"auto"`` (per input: :mod:`oftsr_edge.runtime.auto_model`) resolves here to the model it gives clean inputs:
    a caller that cannot choose per input (a video, a frame stream) gets that one."""
    if isinstance(model, str) and model.lower() == "auto" and not Path(model).is_file():
        model = auto_table()["clean"]["model"]
    if model is None:
        path = bundled_cards()[default_name()].file()
    elif Path(model).is_file():
        return Path(model)
    elif Path(model).is_dir():
        inside = sorted(p.name for p in Path(model).iterdir() if p.suffix.lower() in (".onnx", ".engine", ".plan"))
        hint = f" (it holds {', '.join(inside[:4])})" if inside else ""
        raise OftsrError(f"{model}: is a folder, not a model file: give the .onnx or .engine file{hint}")
    else:
        have_cards = MODELS_DIR.joinpath(CARDS_FILE).is_file()
        found = find_bundled(str(model)) if have_cards else None
        if found is None:
            names = ", ".join(bundled_cards()) if have_cards else "none"
            raise OftsrError(
                f"{model}: no such model file, and not a bundled model name (bundled: {names}; "
                "'oftsr-edge models' lists them)"
            )
        path = found[0].file(found[1])
    if not path.is_file():
        raise OftsrError(f"{path}: bundled model file missing from this installation (reinstall oftsr-edge)")
    return path
