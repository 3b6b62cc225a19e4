"""Which ONNX variant ``build`` uses on each TensorRT version (onnx_choice.py), and that the choice always passes
the builder's own version rules (versions.plan_build)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.backends.tensorrt.onnx_choice import (
    ModelSource,
    choose_onnx,
    resolve_source,
    source_from_path,
)
from oftsr_edge.runtime.backends.tensorrt.versions import TrtVersion, plan_build
from oftsr_edge.runtime.models import bundled_cards, default_name

BASE = ModelSpec(
    name="m", scale=4, sigma_p=0.2, multiple_of=4, default_t=0.5, precision="fp32", opset=17, tile=128,
    degradation="bicubic", checkpoint_sha256="ab" * 32,
)  # fmt: skip


def variants(folder: Path, opset: int = 17, precisions: tuple[str, ...] = ("fp32", "fp16", "int8")) -> dict:
    """Empty files named like export's outputs, and the metadata each would carry."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = {}
    for p in precisions:
        path = folder / f"m_{p}.onnx"
        path.write_bytes(b"")
        specs[path] = dataclasses.replace(BASE, precision=p, opset=opset)
    return specs


def reader(specs: dict[Path, ModelSpec]):
    return lambda path: specs[Path(path)]


V85, V86, V103, V114 = (TrtVersion.parse(v) for v in ("8.5.2.2", "8.6.2.3", "10.3.0.30", "11.4.0.106"))


def test_trt8_fp16_is_the_fp32_file_with_the_flag(tmp_path: Path) -> None:
    specs = variants(tmp_path)
    choice = choose_onnx(V86, source_from_path(tmp_path / "m_fp16.onnx"), None, reader(specs))
    assert choice.path.name == "m_fp32.onnx" and choice.precision == "fp16"
    assert "FP16 builder flag" in choice.note and "m_fp16.onnx" in choice.note
    assert plan_build(V86, choice.spec.precision, choice.precision).builder_flags == ("FP16",)


def test_trt10_fp16_is_the_fp16_file_strongly_typed(tmp_path: Path) -> None:
    specs = variants(tmp_path, opset=18)
    choice = choose_onnx(V103, source_from_path(tmp_path / "m_fp32.onnx"), "fp16", reader(specs))
    assert choice.path.name == "m_fp16.onnx" and choice.precision == "fp16" and "strongly typed" in choice.note
    plan = plan_build(V103, choice.spec.precision, choice.precision)
    assert plan.network_flags == ("STRONGLY_TYPED",) and plan.builder_flags == ()


def test_a_folder_defaults_to_fp16_the_way_this_tensorrt_builds_it(tmp_path: Path) -> None:
    specs = variants(tmp_path)
    for version, name in ((V85, "m_fp32.onnx"), (V86, "m_fp32.onnx"), (V103, "m_fp16.onnx"), (V114, "m_fp16.onnx")):
        choice = choose_onnx(version, source_from_path(tmp_path), None, reader(specs))
        assert (choice.path.name, choice.precision) == (name, "fp16"), version
        assert f"from {name}" in choice.note


def test_a_folder_without_fp16_builds_fp32_on_trt10_and_says_how_to_get_fp16(tmp_path: Path) -> None:
    specs = variants(tmp_path, opset=18, precisions=("fp32",))
    choice = choose_onnx(V103, source_from_path(tmp_path), None, reader(specs))
    assert (choice.path.name, choice.precision) == ("m_fp32.onnx", "fp32")
    with pytest.raises(OftsrError) as err:
        choose_onnx(V103, source_from_path(tmp_path), "fp16", reader(specs))
    message = str(err.value)
    assert "strongly typed" in message and f"oftsr-edge export {tmp_path / 'm_fp32.onnx'}" in message
    assert "--precision fp32,fp16" in message


def test_trt8_refuses_opset_18_with_the_re_export_command(tmp_path: Path) -> None:
    specs = variants(tmp_path, opset=18)
    for precision in ("fp32", "fp16", "int8"):
        with pytest.raises(OftsrError, match=r"opset 18.*up to opset 17.*--opset 17"):
            choose_onnx(V85, source_from_path(tmp_path), precision, reader(specs))
    assert choose_onnx(V103, source_from_path(tmp_path), "fp32", reader(specs)).path.name == "m_fp32.onnx"


def test_int8_is_always_the_qdq_file(tmp_path: Path) -> None:
    specs = variants(tmp_path)
    for version in (V85, V86, V103, V114):
        choice = choose_onnx(version, source_from_path(tmp_path / "m_fp32.onnx"), "int8", reader(specs))
        assert choice.path.name == "m_int8.onnx"
        plan_build(version, choice.spec.precision, choice.precision)  # never raises for a chosen file
    only_fp32 = variants(tmp_path / "b", precisions=("fp32",))
    with pytest.raises(OftsrError, match="int8 ONNX.*--calib"):
        choose_onnx(V86, source_from_path(tmp_path / "b"), "int8", reader(only_fp32))


@pytest.mark.parametrize("version", [V85, V86, V103, V114])
@pytest.mark.parametrize("given", ["m_fp32.onnx", "m_fp16.onnx", "m_int8.onnx", ""])
@pytest.mark.parametrize("precision", [None, "fp32", "fp16", "int8"])
def test_every_choice_is_buildable(tmp_path: Path, version: TrtVersion, given: str, precision: str | None) -> None:
    specs = variants(tmp_path)
    choice = choose_onnx(version, source_from_path(tmp_path / given), precision, reader(specs))
    plan = plan_build(version, choice.spec.precision, choice.precision)
    assert plan.precision == (precision or (given[2:6] if given else "fp16"))


def test_a_file_with_another_name_is_what_its_metadata_says(tmp_path: Path) -> None:
    path = tmp_path / "student.onnx"
    path.write_bytes(b"")
    spec = dataclasses.replace(BASE, precision="fp16", opset=18)
    choice = choose_onnx(V103, source_from_path(path), None, reader({path: spec}))
    assert (choice.path, choice.precision, choice.note) == (path, "fp16", "")
    with pytest.raises(OftsrError, match="fp32 engines from the fp32 ONNX"):
        choose_onnx(V86, source_from_path(path), "fp32", reader({path: spec}))


def test_bad_sources_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(OftsrError, match="no such model file or folder, and not a bundled model name"):
        resolve_source(tmp_path / "nothing.onnx")
    (tmp_path / "empty").mkdir()
    with pytest.raises(OftsrError, match="no <name>_<precision>.onnx files"):
        resolve_source(tmp_path / "empty")
    variants(tmp_path / "two")
    (tmp_path / "two" / "other_fp32.onnx").write_bytes(b"")
    with pytest.raises(OftsrError, match="several models"):
        resolve_source(tmp_path / "two")


def test_a_bundled_name_is_a_source() -> None:
    name = default_name()
    source = resolve_source(name)
    assert isinstance(source, ModelSource) and source.implied is None
    assert source.variants == dict(bundled_cards()[name].files)
    assert resolve_source(f"{name}_fp32").implied == "fp32"
