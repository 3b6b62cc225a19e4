"""Which ONNX file an engine is built from, given this TensorRT version: the version-aware default of ``build``.

``oftsr-edge export`` writes one model as ``<name>_fp32.onnx``, ``<name>_fp16.onnx`` and ``<name>_int8.onnx`` in
one folder. Which of them an engine of a given precision must be built from depends on TensorRT
(docs/architecture.md §7, :mod:`.versions`):

- TensorRT 8.5 / 8.6 (JetPack 5.1 / 6.0): no strong typing. fp32 and fp16 engines come from the **fp32** ONNX (fp16
  by the FP16 builder flag), int8 from the Q/DQ ONNX; and the ONNX must be **opset ≤ 17**, the newest opset their
  ONNX parser supports (onnx/onnx-tensorrt docs/operators.md at release/8.5-GA and 8.6-GA; microsoft/onnxruntime
  PR #15657: "TRT 8.6 supported opset17"). ``oftsr-edge export --opset 17`` writes such files.
- TensorRT 9+ (10.x, 11.x): strongly typed, so each engine comes from the ONNX **of its own precision**.

So ``build`` accepts a file, a folder of variants or a bundled model name, and picks the right sibling itself
(saying so) instead of failing on a combination a user cannot be expected to know. Without ``--precision`` it
builds what the file is, or — for a folder or a bundled name — fp16 when this TensorRT can, else fp32.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from oftsr_edge.contract import PRECISIONS, ModelSpec
from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.backends.tensorrt.versions import TrtVersion

MAX_OPSET_TRT8 = 17
_VARIANT = re.compile(r"^(?P<stem>.+)_(?P<precision>fp32|fp16|int8)\.onnx$")


@dataclass(frozen=True)
class ModelSource:
    """The ONNX variants of one model that ``build`` may choose from, and the precision the user implied."""

    label: str  # what the user typed, for messages
    variants: dict[str, Path]  # precision → file
    implied: str | None  # the precision the user named (a file, or NAME_PRECISION); None for a folder or NAME


def source_from_path(path: Path) -> ModelSource:
    """A file (its siblings ``<stem>_<precision>.onnx`` are variants too) or a folder written by ``export``."""
    if path.is_file():
        match = _VARIANT.match(path.name)
        if match is None:  # not named <stem>_<precision>.onnx: its metadata will say what it is
            return ModelSource(str(path), {"?": path}, "?")
        variants = {}
        for precision in PRECISIONS:
            sibling = path.with_name(f"{match['stem']}_{precision}.onnx")
            if sibling.is_file():
                variants[precision] = sibling
        return ModelSource(str(path), variants, match["precision"])
    if path.is_dir():
        found: dict[str, dict[str, Path]] = {}
        for file in sorted(path.glob("*.onnx")):
            match = _VARIANT.match(file.name)
            if match:
                found.setdefault(match["stem"], {})[match["precision"]] = file
        if not found:
            raise OftsrError(f"{path}: no <name>_<precision>.onnx files (write them with 'oftsr-edge export')")
        if len(found) > 1:
            raise OftsrError(f"{path} holds several models ({', '.join(found)}): pass one .onnx file")
        return ModelSource(str(path), next(iter(found.values())), None)
    raise OftsrError(f"{path}: no such model file or folder")


def source_from_bundled(text: str) -> ModelSource | None:
    """A bundled model by name (``NAME`` or ``NAME_PRECISION``, runtime/models.py), or None if it is not one."""
    from oftsr_edge.runtime.models import find_bundled

    try:
        found = find_bundled(text)
    except OftsrError:
        return None
    if found is None:
        return None
    card, precision = found
    return ModelSource(text, dict(card.files), precision)


def resolve_source(model: str | Path) -> ModelSource:
    """``build``'s MODEL: an existing file or folder wins, then a bundled model name."""
    path = Path(model)
    if path.exists():
        return source_from_path(path)
    bundled = source_from_bundled(str(model))
    if bundled is None:
        raise OftsrError(
            f"{model}: no such model file or folder, and not a bundled model name ('oftsr-edge models' lists them)"
        )
    return bundled


@dataclass(frozen=True)
class OnnxChoice:
    path: Path
    spec: ModelSpec
    precision: str  # of the engine
    note: str  # why this file, when it is not the one the user named ("" otherwise)


def _derive_hint(source: ModelSource, precision: str) -> str:
    fp32 = source.variants.get("fp32")
    base = str(fp32) if fp32 else "MODEL_fp32.onnx"
    calib = " --calib IMAGES" if precision == "int8" else ""
    return f"oftsr-edge export {base} -o exported --precision fp32,{precision}{calib}"


def _opset17_hint(spec: ModelSpec) -> str:
    return (
        f"{spec.name} is opset {spec.opset}, and TensorRT 8.5/8.6 parse ONNX up to opset {MAX_OPSET_TRT8}; export "
        f"it again from its checkpoint with 'oftsr-edge export CHECKPOINT -o exported17 --opset 17' (needs the "
        "[export] extra, e.g. on the training machine) and build from exported17/"
    )


def choose_onnx(
    version: TrtVersion,
    source: ModelSource,
    precision: str | None,
    read: Callable[[Path], ModelSpec],
) -> OnnxChoice:
    """The file to build a ``precision`` engine from on TensorRT ``version`` (``read`` gives a file's metadata)."""
    if "?" in source.variants:  # a file not named <stem>_<precision>.onnx: its metadata says what it is
        path = source.variants["?"]
        spec = read(path)
        source = ModelSource(source.label, {spec.precision: path}, spec.precision)
    strong = version.strongly_typed
    wanted = precision or source.implied
    if wanted is None:  # a folder or a bundled name: fp16 if this TensorRT can build it from what is here
        can_fp16 = "fp16" in source.variants if strong else "fp32" in source.variants
        wanted = "fp16" if can_fp16 else ("fp32" if "fp32" in source.variants else next(iter(source.variants)))
    if wanted not in PRECISIONS:
        raise OftsrError(f"precision must be one of {', '.join(PRECISIONS)}, got {wanted!r}")
    need = wanted if strong or wanted == "int8" else "fp32"
    path = source.variants.get(need)
    if path is None:
        if strong:
            raise OftsrError(
                f"TensorRT {version} builds {wanted} engines from the {wanted} ONNX (strongly typed), and "
                f"{source.label} has none; derive it: {_derive_hint(source, wanted)}"
            )
        raise OftsrError(
            f"TensorRT {version} builds {wanted} engines from the {need} ONNX, and {source.label} has none"
            + ("; write one with 'oftsr-edge export' (--precision int8 --calib IMAGES)" if need == "int8" else "")
        )
    spec = read(path)
    if not strong and spec.opset > MAX_OPSET_TRT8:
        raise OftsrError(f"TensorRT {version}: {_opset17_hint(spec)}")
    named = source.variants.get(source.implied) if source.implied else None
    note = ""
    if named is not None and named != path:
        how = "with the FP16 builder flag" if need != wanted else "strongly typed"
        note = f"TensorRT {version} builds {wanted} engines from {path.name} ({how}), not {named.name}"
    elif named is None and source.implied is None:
        note = f"building {wanted} from {path.name} (TensorRT {version}: {'strongly typed' if strong else 'weakly typed'})"
    return OnnxChoice(path, spec, wanted, note)
