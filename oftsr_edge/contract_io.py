"""How a model file is read into a neutral description (:class:`ModelIO`): with the ``onnx`` package or an ONNX
Runtime session. The contract (:mod:`oftsr_edge.contract`) validates that description; this module knows no tensor
names and no metadata key, only how each library shows a graph's inputs, outputs and metadata.

Only stdlib and :mod:`oftsr_edge.errors` at module level: ``onnx`` and ``onnxruntime`` are imported inside the
readers, so the runtime (which passes ``via="onnxruntime"``) never loads onnx.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from oftsr_edge.errors import MissingExtraError, OftsrError


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


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def onnx_available() -> bool:
    try:
        import onnx  # noqa: F401
    except ImportError:
        return False
    return True


def read_with_onnx(source: Any, label: str) -> ModelIO:
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
            f"{label}: not a loadable ONNX model ({type(exc).__name__}: {first_line(exc)})"
        ) from None
    return describe_proto(model)


def read_with_onnxruntime(source: str | os.PathLike | bytes, label: str) -> ModelIO:
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
        raise OftsrError(f"{label}: not a loadable ONNX model ({first_line(exc)})") from None
    return describe_session(session)
