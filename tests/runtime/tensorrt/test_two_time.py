"""A two-time (MeanFlow, contract format 2) graph and TensorRT: the profiles and the TensorRT EP get shapes for its
``state`` and ``r`` inputs too, and the native builder refuses it in one line that names the backend to use."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from oftsr_edge.contract import (
    INPUT_LR,
    INPUT_NOISE,
    INPUT_R,
    INPUT_STATE,
    INPUT_T,
    METADATA_KEY,
    OUTPUT_HR,
    OUTPUT_STATE,
    TWO_TIME_FORMAT_VERSION,
    TWO_TIME_INPUT_NAMES,
    ModelSpec,
    io_shapes,
    read_spec,
)
from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.backends.tensorrt import builder
from oftsr_edge.runtime.backends.tensorrt.builder import build_engine
from oftsr_edge.runtime.backends.tensorrt.ort_ep_options import ort_trt_provider_options
from oftsr_edge.runtime.backends.tensorrt.profiles import make_profile, tensor_shapes
from tests.helpers.fake_tensorrt import FakeCudart, make_fake_trt

SPEC = ModelSpec(
    name="oftsr-tiny-x4-meanflow", scale=4, sigma_p=0.2, multiple_of=2, default_t=0.5, precision="fp32", opset=18,
    tile=32, degradation="bicubic", checkpoint_sha256="cd" * 32, format_version=TWO_TIME_FORMAT_VERSION,
    method="meanflow", default_steps=2,
)  # fmt: skip


def write_two_time_onnx(path: Path) -> Path:
    """A minimal format-2 graph: hr = noise · t, next_state = state · r (every input feeds a node)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    hr = ["N", 3, "H", "W"]
    dims = {INPUT_LR: ["N", 3, "h", "w"], INPUT_NOISE: hr, INPUT_T: ["N"], INPUT_STATE: hr, INPUT_R: ["N"]}
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, d) for n, d in dims.items()]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, hr) for n in (OUTPUT_HR, OUTPUT_STATE)]
    axes = helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3])
    nodes = [
        helper.make_node("Unsqueeze", [INPUT_T, "axes"], ["t4"]),
        helper.make_node("Unsqueeze", [INPUT_R, "axes"], ["r4"]),
        helper.make_node("Mul", [INPUT_NOISE, "t4"], ["noise_t"]),
        helper.make_node("ReduceMean", [INPUT_LR], ["lr_mean"], keepdims=1),
        helper.make_node("Add", ["noise_t", "lr_mean"], [OUTPUT_HR]),
        helper.make_node("Mul", [INPUT_STATE, "r4"], [OUTPUT_STATE]),
    ]
    graph = helper.make_graph(nodes, "two_time", inputs, outputs, initializer=[axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, SPEC.to_json()
    onnx.save(model, str(path))
    return path


def test_profiles_cover_state_and_r() -> None:
    profile = make_profile(4, 2, tile=32, batch=2)
    shapes = profile.per_input(two_time=True)
    assert tuple(shapes) == TWO_TIME_INPUT_NAMES
    assert shapes[INPUT_STATE] == shapes[INPUT_NOISE] == ((1, 3, 128, 128), (2, 3, 128, 128), (2, 3, 128, 128))
    assert shapes[INPUT_R] == shapes[INPUT_T] == ((1,), (2,), (2,))
    assert tuple(profile.per_input()) == (INPUT_LR, INPUT_NOISE, INPUT_T)  # one-step graphs: as before
    assert tensor_shapes(3, 16, 24, 4, two_time=True) == io_shapes(SPEC, 3, 16, 24)


def test_ort_tensorrt_ep_gets_five_input_profiles(tmp_path: Path) -> None:
    options = ort_trt_provider_options(make_profile(4, 2, tile=32, batch=2), tmp_path, two_time=True)
    assert options["trt_profile_min_shapes"] == (
        "lr:1x3x32x32,noise:1x3x128x128,t:1,state:1x3x128x128,r:1"
    )
    assert options["trt_profile_max_shapes"] == (
        "lr:2x3x32x32,noise:2x3x128x128,t:2,state:2x3x128x128,r:2"
    )


def test_native_builder_refuses_a_two_time_graph(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    model = write_two_time_onnx(tmp_path / "mf_fp32.onnx")
    assert read_spec(model, allow_two_time=True) == SPEC
    monkeypatch.setitem(sys.modules, "tensorrt", make_fake_trt("10.3.0"))
    monkeypatch.setattr(builder, "require_cudart", lambda: FakeCudart())
    with pytest.raises(OftsrError) as caught:
        build_engine(model, None, cache_dir=tmp_path / "cache", log=lambda _line: None)
    assert str(caught.value) == (
        f"{model}: a two-time MeanFlow student (contract format 2): native TensorRT engines are built for one-step "
        "models only; use --backend ort-trt (TensorRT through ONNX Runtime), ort-cuda or ort-cpu"
    )
    assert not (tmp_path / "cache").exists()
