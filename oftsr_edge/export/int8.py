"""INT8 variant of an exported model: explicit Q/DQ that TensorRT 8.5 … 11 builds as is (docs/architecture.md §3).

ONNX Runtime's ``quantize_static`` writes the Q/DQ graph: symmetric int8 activations and weights (TensorRT rejects
non-zero zero-points), per-channel weights, biases left in float32, only Conv/MatMul quantised. Calibration runs the
float model on real LR tiles at the deployed tile size and at several t, because the activation ranges depend on
both; a two-time (MeanFlow) graph is calibrated on the states its fp32 K-step chain really carries
(:func:`two_time_feeds`). Excluded from quantisation: everything FP16 keeps in float32 (the t path, the per-input pre-processing, the
output tail, norms; see :mod:`oftsr_edge.export.fp16`), everything that forms x_lr from the LR image (a pretrained
base included) and the first and last conv of the network, whose
rounding lands directly in the input features and in the velocity added to the image.

:func:`check_symmetric_int8` re-reads the written graph and refuses any zero-point that is not an int8 zero.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from oftsr_edge import contract
from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import OftsrError
from oftsr_edge.export.calibration import DEFAULT_T_VALUES, load_tiles, model_feeds
from oftsr_edge.export.fp16 import MATRIX_OPS, full_precision_nodes, input_dependencies

if TYPE_CHECKING:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader

QUANTIZED_OP_TYPES = ("Conv", "MatMul")
CONV_OPS = frozenset({"Conv", "ConvTranspose"})
QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})
INT8 = 3  # onnx.TensorProto.INT8
CALIB_METHODS = ("minmax", "percentile", "entropy")


def _network_convs(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """Conv nodes of the network proper: not in a float32 region, fed by more than one graph input."""
    keep = set(full_precision_nodes(model))
    deps = input_dependencies(model)
    return [
        n for n in model.graph.node if n.op_type in CONV_OPS and n.name not in keep and len(deps[n.name]) > 1
    ]


def first_and_last_convs(model: onnx.ModelProto) -> set[str]:
    """Network convs with no network conv before them (first) or after them (last)."""
    convs = _network_convs(model)
    conv_names = {n.name for n in convs}
    producers = {out: node for node in model.graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def reaches_conv(start: onnx.NodeProto, forward: bool) -> bool:
        seen: set[str] = set()
        stack = [start]
        while stack:
            node = stack.pop()
            if forward:
                nxt = [c for out in node.output for c in consumers.get(out, [])]
            else:
                nxt = [producers[i] for i in node.input if i in producers]
            for other in nxt:
                if other.name in conv_names:
                    return True
                if other.name not in seen:
                    seen.add(other.name)
                    stack.append(other)
        return False

    return {n.name for n in convs if not reaches_conv(n, forward=False) or not reaches_conv(n, forward=True)}


def lr_preprocessing(model: onnx.ModelProto) -> set[str]:
    """Nodes that never see the noise: what forms x_lr from the LR image (the bicubic conv, or a pretrained base).

    A base such as SMFANet normalises its features per pixel and gates them by their variance; 8-bit rounding of
    its activations cost 1.1 dB on Set5 (oftsr-smfa-x4, minmax calibration), so it stays float. Its nodes can also
    depend on t through the batch size the exporter reads from t's shape, which is why the test is the noise."""
    deps = input_dependencies(model)
    return {name for name, d in deps.items() if contract.INPUT_NOISE not in d}


def int8_exclusions(model: onnx.ModelProto) -> list[str]:
    """Names of the matrix nodes that stay float: float32 regions, the LR pre-processing and the first and last
    network conv."""
    keep = set(full_precision_nodes(model)) | first_and_last_convs(model) | lr_preprocessing(model)
    return [n.name for n in model.graph.node if n.name in keep and n.op_type in MATRIX_OPS]


def check_symmetric_int8(model: onnx.ModelProto, source: str = "int8 model") -> int:
    """Count the Q/DQ nodes after checking each has an int8 all-zero zero-point and int8 weights within ±127."""
    from onnx import numpy_helper

    constants = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = node.attribute[0].t
    count = 0
    for node in model.graph.node:
        if node.op_type not in QDQ_OPS:
            continue
        count += 1
        if len(node.input) < 3 or node.input[2] not in constants:
            raise OftsrError(
                f"{source}: {node.op_type} {node.name} has no constant zero-point (it would be uint8)"
            )
        zero = constants[node.input[2]]
        if zero.data_type != INT8 or np.any(numpy_helper.to_array(zero) != 0):
            raise OftsrError(
                f"{source}: {node.op_type} {node.name} zero-point is not int8 zero (TensorRT rejects it)"
            )
        weight = constants.get(node.input[0])
        if node.op_type == "DequantizeLinear" and weight is not None and weight.data_type == INT8:
            if numpy_helper.to_array(weight).min() < -127:
                raise OftsrError(
                    f"{source}: weight {weight.name} uses -128 (TensorRT needs int8 weights in ±127)"
                )
    if count == 0:
        raise OftsrError(f"{source}: no QuantizeLinear/DequantizeLinear nodes: nothing was quantised")
    return count


def _reader(feeds: list[dict[str, np.ndarray]]) -> CalibrationDataReader:
    """A reader over ``feeds``; defined here because its base class needs onnxruntime imported."""
    from onnxruntime.quantization import CalibrationDataReader

    class TileReader(CalibrationDataReader):
        """Hands ``quantize_static`` one feed ({lr, noise, t}, plus state and r for a two-time graph) at a time."""

        def __init__(self) -> None:
            self._iter: Iterator[dict[str, np.ndarray]] = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._iter, None)

        def rewind(self) -> None:
            self._iter = iter(feeds)

    return TileReader()


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def two_time_feeds(
    fp32_path: str | os.PathLike, spec: ModelSpec, feeds: list[dict[str, np.ndarray]]
) -> list[dict[str, np.ndarray]]:
    """Every call's five inputs (lr, noise, t, state, r) of the fp32 model's one-step map and K-step chain from
    each one-step feed: activation ranges then cover the states and r values the few-step path feeds."""
    from oftsr_edge.export.verify import checked_steps, ort_session
    from oftsr_edge.few_step import run_graph

    session, calls = ort_session(fp32_path), []

    def record(*inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(contract.feeds(*inputs))
        hr, next_state = session.run(list(spec.output_names), calls[-1])
        return hr, next_state

    for feed in feeds:
        lr, noise, t = (feed[name] for name in contract.INPUT_NAMES)
        for k in checked_steps(spec):
            run_graph(record, lr, noise, float(t[0]), k)
    return calls


def quantize_model(
    fp32_path: str | os.PathLike, feeds: list[dict[str, np.ndarray]], method: str = "minmax"
) -> onnx.ModelProto:
    """The Q/DQ graph of an FP32 export, calibrated on ``feeds``."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if method not in CALIB_METHODS:
        raise OftsrError(f"unknown calibration method {method!r}: choose one of {', '.join(CALIB_METHODS)}")
    calibrate = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }[method]
    model = onnx.load(str(fp32_path))
    exclude = int8_exclusions(model)  # names every node, so quantize_static sees the same names
    with tempfile.TemporaryDirectory(prefix="oftsr-int8-") as tmp:
        named = Path(tmp) / "fp32.onnx"
        onnx.save_model(model, named)
        out = Path(tmp) / "int8.onnx"
        with _quiet_root_logger():  # quantize_static advises pre-processing, which would rename our nodes
            quantize_static(
                named,
                out,
                _reader(feeds),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(QUANTIZED_OP_TYPES),
                per_channel=True,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=exclude,
                calibrate_method=calibrate,
                extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False},
            )
        return onnx.load(str(out))


def convert_int8(
    fp32_path: str | os.PathLike,
    output: str | os.PathLike,
    calib_dir: str | os.PathLike,
    *,
    tiles: int = 16,
    t_values: tuple[float, ...] | None = None,
    method: str = "minmax",
    seed: int = 0,
) -> Path:
    """Write the INT8 sibling of the FP32 export ``fp32_path``, calibrated on tiles of the images in ``calib_dir``.

    Tiles are cut at the tile size in the FP32 model's metadata; t spans [0, 1] plus the model's default t.
    """
    from oftsr_edge.contract import read_spec
    from oftsr_edge.export.onnx_export import write_model

    spec = read_spec(fp32_path, expect_precision="fp32", allow_two_time=True)
    t_values = t_values or tuple(sorted({*DEFAULT_T_VALUES, spec.default_t}))
    feeds = model_feeds(
        load_tiles(calib_dir, spec.tile, count=tiles, seed=seed), spec.scale, t_values, seed=seed
    )
    if spec.two_time:
        feeds = two_time_feeds(fp32_path, spec, feeds)
    model = quantize_model(fp32_path, feeds, method)
    check_symmetric_int8(model)
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    # quantize_static may raise the opset (per-channel Q/DQ needs 13+); the metadata says what the file has
    return write_model(model, Path(output), dataclasses.replace(spec, precision="int8", opset=opset))
