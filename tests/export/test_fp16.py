"""FP16 variant: float32 I/O, the sensitive regions really float32, and close to FP32 on real images."""

from __future__ import annotations

from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from oftsr_edge.contract import INPUT_LR, INPUT_T, read_spec  # noqa: E402
from oftsr_edge.errors import OftsrError  # noqa: E402
from oftsr_edge.export.calibration import load_tiles, model_feeds  # noqa: E402
from oftsr_edge.export.fp16 import convert_fp16, full_precision_nodes, input_dependencies  # noqa: E402
from oftsr_edge.export.verify import psnr_against_fp32  # noqa: E402

FLOAT, FLOAT16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16


@pytest.fixture(scope="module")
def fp16_path(tiny_onnx_fp32: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return convert_fp16(tiny_onnx_fp32, tmp_path_factory.mktemp("fp16") / "tiny_fp16.onnx")


def _tensor_types(model) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {init.name: init.data_type for init in inferred.graph.initializer}
    for value in [*inferred.graph.input, *inferred.graph.output, *inferred.graph.value_info]:
        types[value.name] = value.type.tensor_type.elem_type
    return types


def test_fp16_keeps_float32_io_and_says_fp16_in_its_metadata(fp16_path: Path, tiny_onnx_fp32: Path) -> None:
    spec = read_spec(fp16_path, expect_precision="fp16")
    assert spec.with_precision("fp32") == read_spec(tiny_onnx_fp32)
    onnx.checker.check_model(onnx.load(str(fp16_path)), full_check=True)


def test_full_precision_regions_cover_t_path_preprocessing_and_tail(tiny_onnx_fp32: Path) -> None:
    model = onnx.load(str(tiny_onnx_fp32))
    keep = set(full_precision_nodes(model))
    deps = input_dependencies(model)
    nodes = {n.name: n for n in model.graph.node}
    t_path = {name for name, d in deps.items() if d == {INPUT_T}}
    assert t_path and t_path <= keep
    assert {"Sin", "Cos", "Gemm"} <= {nodes[name].op_type for name in t_path}
    assert {n.name for n in model.graph.node if n.op_type == "Clip"} <= keep
    kept_convs = [nodes[name] for name in keep if nodes[name].op_type == "Conv"]
    assert len(kept_convs) == 1 and deps[kept_convs[0].name] == {INPUT_LR}  # the bicubic upsample only
    assert any(n.op_type == "Conv" and n.name not in keep for n in model.graph.node)  # the network goes fp16


def test_fp16_runs_the_network_in_fp16_and_the_t_path_in_fp32(fp16_path: Path) -> None:
    model = onnx.load(str(fp16_path))
    types = _tensor_types(model)
    by_op: dict[str, set[int]] = {}
    for node in model.graph.node:
        if node.op_type != "Cast" and node.input and node.input[0] in types:
            by_op.setdefault(node.op_type, set()).add(types[node.input[0]])
    for op in ("Sin", "Cos", "Gemm", "Clip", "DepthToSpace"):
        assert by_op[op] == {FLOAT}, op
    assert FLOAT16 in by_op["Conv"]


def test_fp16_has_no_float32_round_trip_casts(fp16_path: Path) -> None:
    model = onnx.load(str(fp16_path))
    producers = {out: node for node in model.graph.node for out in node.output}
    for node in model.graph.node:
        if node.op_type == "Cast" and node.attribute[0].i == FLOAT:
            inner = producers.get(node.input[0])
            assert not (inner is not None and inner.op_type == "Cast" and inner.attribute[0].i == FLOAT16)


def test_fp16_is_within_40_db_of_fp32_on_real_images(
    fp16_path: Path, tiny_onnx_fp32: Path, photos: Path
) -> None:
    tiles = load_tiles(photos / "HR", 32, count=5, seed=0)
    scores = psnr_against_fp32(tiny_onnx_fp32, fp16_path, model_feeds(tiles, 4, (0.0, 0.5, 1.0), batch=5))
    print("FP16 vs FP32 PSNR per t:", scores)
    assert min(scores.values()) >= 40.0, scores


def test_convert_fp16_refuses_a_model_that_is_not_fp32(fp16_path: Path, tmp_path: Path) -> None:
    with pytest.raises(OftsrError, match="expected fp32"):
        convert_fp16(fp16_path, tmp_path / "again.onnx")
    assert not any(tmp_path.iterdir())
