"""Version dispatch: which network and precision flags each TensorRT version gets (pure logic, no TensorRT)."""

from __future__ import annotations

import inspect

import pytest

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.backends.tensorrt import versions
from oftsr_edge.runtime.backends.tensorrt.versions import TrtVersion, plan_build


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8.5.2.2", TrtVersion(8, 5, 2, 2)),
        ("8.6.2.3", TrtVersion(8, 6, 2, 3)),
        ("10.3.0", TrtVersion(10, 3, 0)),
        ("10.0.0b6", TrtVersion(10, 0, 0)),
        ("11.4.0.106", TrtVersion(11, 4, 0, 106)),
        ("10.13.0.35+cuda13", TrtVersion(10, 13, 0, 35)),
        ("10.3", TrtVersion(10, 3)),
    ],
)
def test_parse_versions(text: str, expected: TrtVersion) -> None:
    assert TrtVersion.parse(text) == expected


def test_versions_order_and_print() -> None:
    assert TrtVersion.parse("8.6.1") < TrtVersion.parse("10.0.0") < TrtVersion.parse("11.0")
    assert str(TrtVersion.parse("8.5.2.2")) == "8.5.2.2"
    assert str(TrtVersion.parse("10.3.0")) == "10.3.0"


def test_unparseable_and_too_old_versions_are_user_errors() -> None:
    with pytest.raises(OftsrError, match="cannot read"):
        TrtVersion.parse("unknown")
    with pytest.raises(OftsrError, match=">= 8.5"):
        plan_build("8.4.1", "fp32")


@pytest.mark.parametrize("version", ["8.5.2.2", "8.6.2.3"])
def test_trt8_fp32_and_fp16_come_from_the_fp32_onnx(version: str) -> None:
    fp32 = plan_build(version, "fp32")
    assert (fp32.network_flags, fp32.builder_flags, fp32.precision) == (("EXPLICIT_BATCH",), (), "fp32")
    fp16 = plan_build(version, "fp32", "fp16")
    assert (fp16.network_flags, fp16.builder_flags, fp16.precision) == (
        ("EXPLICIT_BATCH",),
        ("FP16",),
        "fp16",
    )
    assert not fp16.strongly_typed


def test_trt8_int8_is_qdq_onnx_plus_int8_flag_never_a_calibrator() -> None:
    plan = plan_build("8.5.2", "int8")
    assert plan.builder_flags == ("INT8",)
    with pytest.raises(OftsrError, match="Q/DQ"):
        plan_build("8.5.2", "fp32", "int8")
    with pytest.raises(OftsrError, match="fp32 ONNX"):
        plan_build("8.6.2", "int8", "fp16")


def test_trt8_rejects_the_fp16_onnx_with_the_fix() -> None:
    with pytest.raises(OftsrError, match="fp32 ONNX with precision fp16"):
        plan_build("8.6.2", "fp16")


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_trt10_is_strongly_typed_with_no_precision_flags(precision: str) -> None:
    plan = plan_build("10.3.0", precision)
    assert plan.network_flags == ("STRONGLY_TYPED",)
    assert plan.builder_flags == ()
    assert plan.strongly_typed and plan.precision == precision


@pytest.mark.parametrize("version", ["11.0.0", "11.4.0.106", "12.1.0"])
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_trt11_has_no_flags_at_all(version: str, precision: str) -> None:
    plan = plan_build(version, precision)
    assert plan.network_flags == () and plan.builder_flags == ()


@pytest.mark.parametrize("version", ["10.13.0", "11.1.0"])
def test_strongly_typed_versions_take_precision_only_from_the_onnx(version: str) -> None:
    with pytest.raises(OftsrError, match="from the fp16 ONNX variant"):
        plan_build(version, "fp32", "fp16")


def test_bad_precision_names() -> None:
    with pytest.raises(OftsrError, match="precision must be one of"):
        plan_build("10.3.0", "fp32", "bf16")


def test_progress_monitor_availability() -> None:
    assert not TrtVersion.parse("8.6.2").has_progress_monitor
    assert TrtVersion.parse("10.0.1").has_progress_monitor


def test_no_implicit_int8_calibrator_anywhere() -> None:
    """The builder never touches the calibrator API (removed in 11.0, deprecated since 10.1)."""
    from oftsr_edge.runtime.backends.tensorrt import builder

    for module in (versions, builder):
        source = inspect.getsource(module)
        assert ".int8_calibrator" not in source
        assert "IInt8EntropyCalibrator" not in source
