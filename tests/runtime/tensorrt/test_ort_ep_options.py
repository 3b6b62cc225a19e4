"""ONNX Runtime TensorRT-EP options built from a profile."""

from __future__ import annotations

from pathlib import Path

from oftsr_edge.contract import INPUT_LR, INPUT_T
from oftsr_edge.runtime.backends.tensorrt.ort_ep_options import (
    ort_trt_provider_options,
    profile_shapes_string,
)
from oftsr_edge.runtime.backends.tensorrt.profiles import make_profile


def test_profile_strings_cover_all_dynamic_inputs(tmp_path: Path) -> None:
    options = ort_trt_provider_options(make_profile(4, 8, tile=64, batch=2), tmp_path / "ort", device_id=1)
    assert options["trt_profile_min_shapes"] == "lr:1x3x64x64,noise:1x3x256x256,t:1"
    assert options["trt_profile_opt_shapes"] == "lr:2x3x64x64,noise:2x3x256x256,t:2"
    assert options["trt_profile_max_shapes"] == "lr:2x3x64x64,noise:2x3x256x256,t:2"
    assert options["trt_engine_cache_enable"] is True and options["trt_timing_cache_enable"] is True
    assert options["trt_engine_cache_path"] == options["trt_timing_cache_path"] == str(tmp_path / "ort")
    assert options["device_id"] == 1
    assert "trt_fp16_enable" not in options and "trt_int8_enable" not in options
    assert "trt_max_workspace_size" not in options


def test_legacy_fp16_and_workspace(tmp_path: Path) -> None:
    options = ort_trt_provider_options(
        make_profile(2, 1, tile=8), tmp_path, legacy_fp16=True, workspace_bytes=1 << 30
    )
    assert options["trt_fp16_enable"] is True
    assert options["trt_max_workspace_size"] == 1 << 30


def test_shape_string_syntax() -> None:
    assert profile_shapes_string({INPUT_LR: (1, 3, 8, 8), INPUT_T: (1,)}) == "lr:1x3x8x8,t:1"
