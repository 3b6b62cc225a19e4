"""Bake graph inputs of an ONNX model into constants, by editing the protobuf bytes directly.

Why: with ``t`` a runtime input, every block's FiLM scale and shift are tensors ONNX Runtime only knows at run time,
so its CPU layout pass (NCHWc) converts the feature map back and forth around each FiLM multiply. With ``t`` a
constant, constant folding computes the FiLM values at session start and the Conv-Mul/Conv-Add fusions fold them
into the convolution weights: one layout conversion per graph instead of one per block, measured 12 % less time per
call for the default model on a 2-core CPU (benchmarks/README.md, "t baked into the CPU session").

Why not the onnx package: the runtime never imports it (it costs about 0.16 s per process on a quiet CPU, more than
the fold saves on one small image). The edit needs four field numbers of onnx.proto and nothing else: ModelProto
``graph`` = 7; GraphProto ``initializer`` = 5 and ``input`` = 11; ValueInfoProto ``name`` = 1; TensorProto ``dims``
= 1, ``data_type`` = 2, ``name`` = 8, ``raw_data`` = 9. Every other byte is copied as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_MODEL_GRAPH = 7
_GRAPH_INITIALIZER, _GRAPH_INPUT = 5, 11
_VALUE_INFO_NAME = 1
_TENSOR_DIMS, _TENSOR_DATA_TYPE, _TENSOR_NAME, _TENSOR_RAW_DATA = 1, 2, 8, 9
_ONNX_FLOAT = 1  # TensorProto.DataType.FLOAT


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _fields(buf: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """(field number, the field's whole encoding, its payload when length-delimited else b"") for each field."""
    pos = 0
    while pos < len(buf):
        start = pos
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        payload = b""
        if wire == _VARINT:
            _, pos = _read_varint(buf, pos)
        elif wire == _FIXED64:
            pos += 8
        elif wire == _FIXED32:
            pos += 4
        elif wire == _LENGTH:
            size, pos = _read_varint(buf, pos)
            payload = buf[pos : pos + size]
            pos += size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated field")
        yield number, buf[start:pos], payload


def _length_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH) + _varint(len(payload)) + payload


def _varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3 | _VARINT) + _varint(value)


def _name_of(value_info: bytes) -> str | None:
    return next((p.decode() for n, _, p in _fields(value_info) if n == _VALUE_INFO_NAME), None)


def _float_tensor(name: str, value: np.ndarray) -> bytes:
    array = np.ascontiguousarray(value, dtype="<f4")
    body = b"".join(_varint_field(_TENSOR_DIMS, d) for d in array.shape)
    body += _varint_field(_TENSOR_DATA_TYPE, _ONNX_FLOAT)
    body += _length_field(_TENSOR_NAME, name.encode())
    body += _length_field(_TENSOR_RAW_DATA, array.tobytes())
    return body


def graph_input_names(model: bytes) -> list[str]:
    """The names of the graph's inputs, in order."""
    graph = next((p for n, _, p in _fields(model) if n == _MODEL_GRAPH), None)
    if graph is None:
        raise ValueError("not an ONNX model: no graph")
    return [name for n, _, p in _fields(graph) if n == _GRAPH_INPUT and (name := _name_of(p)) is not None]


def bake_inputs(model: bytes, values: Mapping[str, np.ndarray]) -> bytes:
    """``model`` with each input named in ``values`` turned into a float32 initializer holding that value.

    Raises ValueError when a name is not a graph input (nothing is half-edited: the result is built anew).
    """
    missing = set(values) - set(graph_input_names(model))
    if missing:
        raise ValueError(f"not graph inputs: {', '.join(sorted(missing))}")
    out = bytearray()
    for number, whole, payload in _fields(model):
        if number != _MODEL_GRAPH:
            out += whole
            continue
        graph = bytearray()
        for g_number, g_whole, g_payload in _fields(payload):
            if g_number == _GRAPH_INPUT and _name_of(g_payload) in values:
                continue
            graph += g_whole
        for name, value in values.items():
            graph += _length_field(_GRAPH_INITIALIZER, _float_tensor(name, value))
        out += _length_field(_MODEL_GRAPH, bytes(graph))
    return bytes(out)
