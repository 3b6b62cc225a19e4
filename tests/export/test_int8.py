"""INT8 Q/DQ variant: symmetric int8 zero-points, per-channel weights, exclusions, PSNR vs FP32 on real images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import numpy_helper  # noqa: E402

from oftsr_edge.contract import read_spec  # noqa: E402
from oftsr_edge.errors import OftsrError  # noqa: E402
from oftsr_edge.export.calibration import load_tiles, model_feeds  # noqa: E402
from oftsr_edge.export.int8 import check_symmetric_int8, convert_int8, first_and_last_convs  # noqa: E402
from oftsr_edge.export.verify import psnr_against_fp32  # noqa: E402


@pytest.fixture(scope="module")
def int8_path(tiny_onnx_fp32: Path, train_images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return convert_int8(
        tiny_onnx_fp32, tmp_path_factory.mktemp("int8") / "tiny_int8.onnx", train_images, tiles=8
    )


def _constants(model) -> dict[str, np.ndarray]:
    return {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}


def test_every_qdq_zero_point_is_an_int8_zero(int8_path: Path) -> None:
    model = onnx.load(str(int8_path))
    inits = {init.name: init for init in model.graph.initializer}
    qdq = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert qdq
    for node in qdq:
        assert len(node.input) == 3, node.name  # an omitted zero-point means uint8
        zero = inits[node.input[2]]
        assert zero.data_type == onnx.TensorProto.INT8, node.name
        assert not numpy_helper.to_array(zero).any(), node.name
    assert check_symmetric_int8(model) == len(qdq)


def test_int8_weights_are_per_channel_and_within_127(int8_path: Path) -> None:
    model = onnx.load(str(int8_path))
    values = _constants(model)
    weight_dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and values.get(n.input[0]) is not None
                 and values[n.input[0]].dtype == np.int8]  # fmt: skip
    assert weight_dq
    for node in weight_dq:
        assert (
            values[node.input[1]].size == values[node.input[0]].shape[0] > 1
        )  # one scale per output channel
        assert values[node.input[0]].min() >= -127


def test_first_last_conv_and_t_path_stay_float(int8_path: Path, tiny_onnx_fp32: Path) -> None:
    fp32 = onnx.load(str(tiny_onnx_fp32))
    edges = first_and_last_convs(fp32)
    assert len(edges) == 2
    model = onnx.load(str(int8_path))
    dq_outputs = {out for n in model.graph.node if n.op_type == "DequantizeLinear" for out in n.output}
    fed_by_dq = {n.name for n in model.graph.node if any(i in dq_outputs for i in n.input)}
    quantized_convs = {n.name for n in model.graph.node if n.op_type == "Conv" and n.name in fed_by_dq}
    assert quantized_convs and not quantized_convs & edges
    assert not any(n.op_type in ("Gemm", "MatMul") and n.name in fed_by_dq for n in model.graph.node)


def test_int8_metadata_and_contract(int8_path: Path, tiny_onnx_fp32: Path) -> None:
    spec = read_spec(int8_path, expect_precision="int8")
    assert spec.with_precision("fp32") == read_spec(tiny_onnx_fp32)


def test_int8_is_within_30_db_of_fp32_on_real_images(
    int8_path: Path, tiny_onnx_fp32: Path, photos: Path
) -> None:
    tiles = load_tiles(photos / "HR", 32, count=5, seed=0)
    scores = psnr_against_fp32(tiny_onnx_fp32, int8_path, model_feeds(tiles, 4, (0.0, 0.5, 1.0), batch=5))
    print("INT8 vs FP32 PSNR per t:", scores)
    assert min(scores.values()) >= 30.0, scores


def test_nonzero_zero_point_is_refused(int8_path: Path) -> None:
    model = onnx.load(str(int8_path))
    node = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
    zero = next(init for init in model.graph.initializer if init.name == node.input[2])
    zero.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(zero) + np.int8(3), zero.name))
    with pytest.raises(OftsrError, match="zero-point"):
        check_symmetric_int8(model)


def test_missing_calibration_folder_is_one_line_and_writes_nothing(
    tiny_onnx_fp32: Path, tmp_path: Path
) -> None:
    with pytest.raises(OftsrError, match="calibration folder not found"):
        convert_int8(tiny_onnx_fp32, tmp_path / "m.onnx", tmp_path / "no-such-folder")
    assert not any(tmp_path.iterdir())
