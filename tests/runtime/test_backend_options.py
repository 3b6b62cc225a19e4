"""One options dataclass per backend: names parsed in one place, values checked once, Auto/OrtAuto resolved per file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from oftsr_edge.errors import OftsrError, OptionError
from oftsr_edge.runtime.backends.onnxruntime import available_providers
from oftsr_edge.runtime.backends.options import (
    BACKEND_NAMES,
    Auto,
    OpenVino,
    OrtAuto,
    OrtCpu,
    OrtCuda,
    OrtTensorRT,
    TensorRT,
    as_options,
    parse_backend,
)
from oftsr_edge.runtime.backends.select import resolve_backend


def test_each_name_parses_to_its_class() -> None:
    classes = {"auto": Auto, "ort": OrtAuto, "trt": TensorRT, "ort-cpu": OrtCpu, "ort-cuda": OrtCuda,
               "ort-trt": OrtTensorRT, "openvino": OpenVino}  # fmt: skip
    assert set(BACKEND_NAMES) == set(classes) and BACKEND_NAMES[0] == "auto"
    for name, cls in classes.items():
        options = parse_backend(name)
        assert type(options) is cls and options == cls() and options.name == name
        assert as_options(name) == options and as_options(options) is options


def test_only_the_options_a_backend_understands() -> None:
    assert parse_backend("ort-cpu", threads=3, device=None) == OrtCpu(threads=3)  # None = not given
    assert parse_backend("trt", device=1, cache_dir="engines") == TensorRT(
        device=1, cache_dir=Path("engines")
    )
    assert parse_backend("auto", device=1, threads=2) == Auto(device=1, threads=2)
    with pytest.raises(
        OptionError, match=r"backend 'trt' has no option threads \(it takes device, cache_dir\)"
    ):
        parse_backend("trt", threads=2)
    with pytest.raises(OptionError, match="backend 'ort-cpu' has no option device"):
        parse_backend("ort-cpu", device=1)
    with pytest.raises(OptionError, match="unknown backend 'cuda'"):
        parse_backend("cuda")
    with pytest.raises(OptionError, match="backend must be a name"):
        as_options(3)  # type: ignore[arg-type]


def test_values_are_checked_when_made_and_frozen() -> None:
    for make in (lambda: OrtCpu(threads=-1), lambda: OrtCuda(device=-1), lambda: TensorRT(device=True),
                 lambda: Auto(threads=1.5), lambda: OrtAuto(device="0")):  # fmt: skip
        with pytest.raises(OptionError, match="must be an integer ≥ 0"):
            make()
    options = OrtTensorRT(device=2, cache_dir="cache")
    assert options.cache_dir == Path("cache")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.device = 0  # type: ignore[misc]


def test_auto_and_ort_auto_resolve_per_file(tmp_path: Path) -> None:
    engine, onnx = tmp_path / "m.engine", tmp_path / "m.onnx"
    assert resolve_backend(Auto(device=1, cache_dir=tmp_path), engine) == TensorRT(
        device=1, cache_dir=tmp_path
    )
    best = available_providers()[0]
    expected = {"tensorrt": OrtTensorRT(device=1), "cuda": OrtCuda(device=1), "cpu": OrtCpu(threads=3)}[best]
    assert resolve_backend(Auto(device=1, threads=3), onnx) == expected
    assert resolve_backend(OrtAuto(device=1, threads=3), onnx) == expected
    assert resolve_backend(OrtCuda(device=1), onnx) == OrtCuda(device=1)  # a concrete choice stays as it is
    assert OrtAuto(device=1, threads=3, cache_dir=tmp_path).pick("tensorrt") == OrtTensorRT(1, tmp_path)
    with pytest.raises(OftsrError, match="runs only on backend 'trt'"):
        resolve_backend(OrtCpu(), engine)
