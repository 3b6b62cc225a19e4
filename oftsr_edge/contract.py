"""The model contract of docs/architecture.md §3 in one place: tensor names, dtypes, shape rules, metadata schema, reader, validator.

Export writes what this module defines (:func:`metadata_props`, :func:`dim_names`), and everything that opens a model
(runtime backends, ``check``, ``eval``, the engine builder, tests) reads it back through :func:`read_spec` or
:func:`spec_from_session`, which both end in the one validator :func:`validate`. No other module spells a tensor name
or the metadata key: they use the constants below.

Only stdlib, numpy and :mod:`oftsr_edge.errors` at module level: the runtime imports this on a box without torch or
onnx. The ``onnx`` package is imported inside :func:`read_spec`, and only when the caller lets it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from oftsr_edge.errors import MissingExtraError, OftsrError

INPUT_LR = "lr"  # float32 [N, 3, h, w]: RGB LR image in [0, 1]
INPUT_NOISE = "noise"  # float32 [N, 3, s·h, s·w]: standard normal noise drawn by the runtime
INPUT_T = "t"  # float32 [N]: fidelity-realism knob in [0, 1]; a real graph input, never folded to a constant
OUTPUT_HR = "hr"  # float32 [N, 3, s·h, s·w]: RGB HR image in [0, 1]
INPUT_NAMES = (INPUT_LR, INPUT_NOISE, INPUT_T)  # in graph order
OUTPUT_NAMES = (OUTPUT_HR,)
DTYPE = np.dtype(np.float32)  # every I/O tensor at every precision (fp16/int8 graphs keep float32 I/O)
CHANNELS = 3
RANKS = {INPUT_LR: 4, INPUT_NOISE: 4, INPUT_T: 1, OUTPUT_HR: 4}
DYNAMIC_AXES = {INPUT_LR: (0, 2, 3), INPUT_NOISE: (0, 2, 3), INPUT_T: (0,), OUTPUT_HR: (0, 2, 3)}

METADATA_KEY = "oftsr_edge"  # the one ONNX metadata_props key; its value is ModelSpec.to_json()
FORMAT_VERSION = 1
PRECISIONS = ("fp32", "fp16", "int8")
SCALES = (2, 4, 8)


@dataclass(frozen=True)
class ModelSpec:
    """Facts the runtime needs: scale, σp, padding multiple, default t, precision, recommended tile, provenance."""

    name: str
    scale: int
    sigma_p: float
    multiple_of: int
    default_t: float
    precision: str
    opset: int
    tile: int
    degradation: str
    checkpoint_sha256: str
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise OftsrError(f"model metadata: scale must be 2, 4 or 8, got {self.scale}")
        if self.precision not in PRECISIONS:
            raise OftsrError(f"model metadata: precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not 0.0 <= self.default_t <= 1.0:
            raise OftsrError(f"model metadata: default_t must be in [0, 1], got {self.default_t}")
        if self.multiple_of < 1 or self.tile % self.multiple_of:
            raise OftsrError(f"model metadata: tile {self.tile} is not a multiple of {self.multiple_of}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> ModelSpec:
        """Parse and validate; any problem is one :class:`OftsrError` line naming ``source``."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise OftsrError(f"{source}: oftsr-edge metadata is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise OftsrError(f"{source}: oftsr-edge metadata is not a JSON object")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise OftsrError(
                f"{source}: metadata format_version {version!r} is not supported (expected {FORMAT_VERSION})"
            )
        missing = sorted({f.name for f in fields(cls)} - set(data))
        if missing:
            raise OftsrError(f"{source}: oftsr-edge metadata lacks {', '.join(missing)}")
        try:
            return cls(
                name=str(data["name"]), scale=int(data["scale"]), sigma_p=float(data["sigma_p"]),
                multiple_of=int(data["multiple_of"]), default_t=float(data["default_t"]),
                precision=str(data["precision"]), opset=int(data["opset"]), tile=int(data["tile"]),
                degradation=str(data["degradation"]), checkpoint_sha256=str(data["checkpoint_sha256"]),
                format_version=int(version),
            )  # fmt: skip
        except (TypeError, ValueError) as exc:
            raise OftsrError(f"{source}: oftsr-edge metadata has a bad value ({exc})") from None
        except OftsrError as exc:  # __post_init__'s range checks: say which file
            raise OftsrError(f"{source}: {exc}") from None

    def with_precision(self, precision: str) -> ModelSpec:
        return ModelSpec(**{**asdict(self), "precision": precision})


# ---- shape rules ------------------------------------------------------------------------------------------------


def dim_names(scale: int) -> dict[str, tuple[int | str, ...]]:
    """The symbolic I/O dims an export carries: ``N``, 3 channels, ``h, w`` for lr and ``s*h, s*w`` for noise/hr."""
    hr = ("N", CHANNELS, f"{scale}*h", f"{scale}*w")
    return {INPUT_LR: ("N", CHANNELS, "h", "w"), INPUT_NOISE: hr, INPUT_T: ("N",), OUTPUT_HR: hr}


def io_shapes(spec: ModelSpec, n: int, h: int, w: int) -> dict[str, tuple[int, ...]]:
    """Concrete shapes of every I/O tensor for ``n`` LR tiles of ``h``×``w``; h and w must be multiples of
    ``spec.multiple_of`` (the UNet's down-sampling), which the runtime reaches by padding."""
    m = spec.multiple_of
    if n < 1 or h < m or w < m or h % m or w % m:
        raise OftsrError(f"LR tiles of {n}x{h}x{w}: h and w must be positive multiples of {m}")
    s = spec.scale
    hr = (n, CHANNELS, s * h, s * w)
    return {INPUT_LR: (n, CHANNELS, h, w), INPUT_NOISE: hr, INPUT_T: (n,), OUTPUT_HR: hr}


def feeds(lr: np.ndarray, noise: np.ndarray, t: np.ndarray | float) -> dict[str, np.ndarray]:
    """The input dict a session runs on: contiguous float32 arrays under the contract's names (``t`` flattened)."""
    return {
        INPUT_LR: np.ascontiguousarray(lr, dtype=DTYPE),
        INPUT_NOISE: np.ascontiguousarray(noise, dtype=DTYPE),
        INPUT_T: np.ascontiguousarray(np.reshape(t, (-1,)), dtype=DTYPE),
    }


def metadata_props(spec: ModelSpec) -> dict[str, str]:
    """What export writes into the ONNX ``metadata_props`` (one JSON value under :data:`METADATA_KEY`)."""
    return {METADATA_KEY: spec.to_json()}


# ---- reading a model: a neutral description, then one validator --------------------------------------------------


@dataclass(frozen=True)
class TensorInfo:
    """One graph input or output as a reader saw it; ``dims`` holds ints (fixed), strings (named) or None."""

    name: str
    dtype: str  # "float32", or the reader's own label for anything else
    dims: tuple[int | str | None, ...]


@dataclass(frozen=True)
class ModelIO:
    """What :func:`validate` needs from a model file, whichever library read it."""

    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    metadata: Mapping[str, str]
    consumed: frozenset[str] | None = None  # names some node reads; None when the reader cannot see the graph


_ONNX_DTYPES = {1: "float32", 10: "float16", 11: "float64", 16: "bfloat16", 6: "int32", 7: "int64"}
_ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64"}


def describe_proto(model: Any) -> ModelIO:
    """An ``onnx.ModelProto`` as :class:`ModelIO` (attribute access only: this does not import onnx)."""
    graph = model.graph
    initializers = {init.name for init in graph.initializer}

    def dim(d: Any) -> int | str | None:
        if d.HasField("dim_value"):
            return int(d.dim_value)
        return d.dim_param or None

    def info(value: Any) -> TensorInfo:
        tensor = value.type.tensor_type
        dims = tuple(dim(d) for d in tensor.shape.dim)
        dtype = _ONNX_DTYPES.get(tensor.elem_type, f"onnx element type {tensor.elem_type}")
        return TensorInfo(value.name, dtype, dims)

    return ModelIO(
        inputs=tuple(info(v) for v in graph.input if v.name not in initializers),
        outputs=tuple(info(v) for v in graph.output),
        metadata={p.key: p.value for p in model.metadata_props},
        consumed=frozenset(name for node in graph.node for name in node.input),
    )


def describe_session(session: Any) -> ModelIO:
    """An onnxruntime ``InferenceSession`` as :class:`ModelIO` (it cannot tell which inputs nodes consume)."""

    def info(arg: Any) -> TensorInfo:
        dims = tuple(d if isinstance(d, (int, str)) else None for d in (arg.shape or ()))
        return TensorInfo(arg.name, _ORT_DTYPES.get(arg.type, arg.type), dims)

    return ModelIO(
        inputs=tuple(info(a) for a in session.get_inputs()),
        outputs=tuple(info(a) for a in session.get_outputs()),
        metadata=dict(session.get_modelmeta().custom_metadata_map),
    )


def validate(io: ModelIO, source: str, *, expect_precision: str | None = None) -> ModelSpec:
    """The one contract check: metadata, I/O names, dtypes, ranks, channels, named dynamic axes and a live ``t``.

    Every breach is one :class:`OftsrError` line that starts with ``source``.
    """
    if METADATA_KEY not in io.metadata:
        raise OftsrError(
            f"{source}: not an oftsr-edge model (no '{METADATA_KEY}' metadata); export one with 'oftsr-edge export'"
        )
    spec = ModelSpec.from_json(io.metadata[METADATA_KEY], source=source)
    inputs = [v.name for v in io.inputs]
    outputs = [v.name for v in io.outputs]
    if tuple(inputs) != INPUT_NAMES or tuple(outputs) != OUTPUT_NAMES:
        raise OftsrError(
            f"{source}: inputs {inputs} / outputs {outputs} do not match the oftsr-edge contract "
            f"({', '.join(INPUT_NAMES)} -> {', '.join(OUTPUT_NAMES)})"
        )
    for value in (*io.inputs, *io.outputs):
        if value.dtype != DTYPE.name:
            raise OftsrError(f"{source}: '{value.name}' must be float32 (keep_io_types), got {value.dtype}")
        rank = RANKS[value.name]
        if len(value.dims) != rank:
            raise OftsrError(f"{source}: '{value.name}' has rank {len(value.dims)}, expected {rank}")
        fixed = [i for i in DYNAMIC_AXES[value.name] if not isinstance(value.dims[i], str)]
        if fixed:
            raise OftsrError(f"{source}: '{value.name}' axes {fixed} are not named dynamic axes")
        if rank == 4 and value.dims[1] != CHANNELS:
            raise OftsrError(f"{source}: '{value.name}' must have {CHANNELS} channels, got {value.dims[1]}")
    if io.consumed is not None and INPUT_T not in io.consumed:
        raise OftsrError(
            f"{source}: input '{INPUT_T}' feeds no node (folded to a constant?): the knob would do nothing"
        )
    if expect_precision is not None and spec.precision != expect_precision:
        raise OftsrError(f"{source}: metadata says precision {spec.precision}, expected {expect_precision}")
    return spec


def spec_from_session(
    session: Any, source: str | os.PathLike, *, expect_precision: str | None = None
) -> ModelSpec:
    """Validate a session a backend already opened (no second session for the metadata)."""
    return validate(describe_session(session), str(source), expect_precision=expect_precision)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _onnx_available() -> bool:
    try:
        import onnx  # noqa: F401
    except ImportError:
        return False
    return True


def _read_with_onnx(source: Any, label: str) -> ModelIO:
    try:
        import onnx
    except ImportError:
        raise MissingExtraError(
            f"{label}: reading with via='onnx' needs the onnx package: pip install onnx"
        ) from None

    if isinstance(source, onnx.ModelProto):
        return describe_proto(source)
    try:
        if isinstance(source, bytes):
            model = onnx.load_from_string(source)
        else:
            model = onnx.load(str(source), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise OftsrError(
            f"{label}: not a loadable ONNX model ({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    return describe_proto(model)


def _read_with_onnxruntime(source: str | os.PathLike | bytes, label: str) -> ModelIO:
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingExtraError(
            f"{label}: reading a model needs onnx or onnxruntime, and neither is installed: pip install onnxruntime"
        ) from None
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # metadata only: stay cheap
    options.log_severity_level = 3
    model = source if isinstance(source, bytes) else str(source)
    try:
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own pybind types (InvalidProtobuf, Fail, ...)
        raise OftsrError(f"{label}: not a loadable ONNX model ({_first_line(exc)})") from None
    return describe_session(session)


def read_spec(
    source: str | os.PathLike | bytes | Any, *, via: str = "auto", expect_precision: str | None = None
) -> ModelSpec:
    """The one reader: a model file path, ONNX bytes or an ``onnx.ModelProto`` -> its validated :class:`ModelSpec`.

    ``via="auto"`` uses the onnx package when it is installed (it also sees whether ``t`` feeds a node) and an
    onnxruntime session otherwise; the runtime passes ``via="onnxruntime"`` so that it never loads onnx.
    """
    if via not in ("auto", "onnx", "onnxruntime"):
        raise ValueError(f"via must be 'auto', 'onnx' or 'onnxruntime', got {via!r}")
    is_file = isinstance(source, (str, os.PathLike))
    if is_file:
        path = Path(source)
        if not path.is_file():
            raise OftsrError(f"{path}: no such model file")
        label = str(path)
    else:
        label = "ONNX bytes" if isinstance(source, bytes) else "exported graph"
    in_memory_proto = not is_file and not isinstance(source, bytes)
    use_onnx = via == "onnx" or (via == "auto" and (in_memory_proto or _onnx_available()))
    io = _read_with_onnx(source, label) if use_onnx else _read_with_onnxruntime(source, label)
    return validate(io, label, expect_precision=expect_precision)
