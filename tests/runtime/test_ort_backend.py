"""ONNX Runtime backend and backend selection: spec from metadata, I/O paths, one-line errors, fp32 siblings."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.contract import INPUT_LR, INPUT_NOISE, INPUT_T, OUTPUT_HR
from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.runtime.backends import onnxruntime as ort_backend
from oftsr_edge.runtime.backends.onnxruntime import OrtBackend, available_providers
from oftsr_edge.runtime.backends.options import Auto, OrtAuto, OrtCpu, OrtCuda, OrtTensorRT, TensorRT
from oftsr_edge.runtime.backends.select import find_fp32_sibling, open_backend
from tests.runtime.onnx_edits import edit_onnx


def _inputs(n: int, h: int = 8, w: int = 10, s: int = 4) -> tuple[np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(0)
    lr = rng.random((n, 3, h, w), dtype=np.float32)
    noise = rng.standard_normal((n, 3, h * s, w * s), dtype=np.float32)
    return lr, noise, 0.3


def test_cpu_backend_runs_batches_and_reads_its_spec(tiny_onnx_fp32: Path) -> None:
    backend = open_backend(tiny_onnx_fp32, OrtCpu(threads=1))
    assert isinstance(backend, OrtBackend) and backend.name == "ort-cpu" and not backend.fixed_shape
    assert backend.spec.scale == 4 and backend.spec.precision == "fp32"
    out = backend.run(*_inputs(2))
    assert out.shape == (2, 3, 32, 40) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    lr, noise, t = _inputs(2)
    single = backend.run(lr[1:], noise[1:], t)
    np.testing.assert_allclose(out[1:], single, atol=1e-5)  # batch items are independent
    backend.close()
    with pytest.raises(OftsrError, match="closed"):
        backend.run(*_inputs(1))


def test_io_binding_path_matches_plain_run(tiny_onnx_fp32: Path) -> None:
    """The GPU code path (device buffers reused per shape) exercised with CPU buffers."""
    plain = OrtBackend(tiny_onnx_fp32, OrtCpu(bake_t=False))
    bound = OrtBackend(tiny_onnx_fp32, OrtCpu(io_binding=True, bake_t=False))
    for n in (2, 1, 2):
        inputs = _inputs(n)
        np.testing.assert_array_equal(bound.run(*inputs), plain.run(*inputs))
    assert len(bound._buffers) == 8  # lr/noise/t/hr for the two batch sizes, reused on the third call
    # with t baked (the default), a one-t batch binds no t buffer and still matches the plain baked session
    baked_plain = OrtBackend(tiny_onnx_fp32, OrtCpu())
    baked_bound = OrtBackend(tiny_onnx_fp32, OrtCpu(io_binding=True))
    inputs = _inputs(2)
    np.testing.assert_array_equal(baked_bound.run(*inputs), baked_plain.run(*inputs))
    assert {name for name, _ in baked_bound._buffers} == {INPUT_LR, INPUT_NOISE, OUTPUT_HR}


def test_auto_picks_the_best_installed_provider(tiny_onnx_fp32: Path) -> None:
    expected = {"tensorrt": "ort-trt", "cuda": "ort-cuda", "cpu": "ort-cpu"}[available_providers()[0]]
    for options in (None, Auto(), OrtAuto(threads=1)):
        assert open_backend(tiny_onnx_fp32, options).name == expected


@pytest.mark.parametrize("backend,provider", [(OrtCuda(), "cuda"), (OrtTensorRT(), "tensorrt")])
def test_missing_gpu_provider_is_one_line(tiny_onnx_fp32: Path, backend, provider: str) -> None:
    if provider in available_providers():
        pytest.skip(f"{provider} execution provider is installed here")
    with pytest.raises(MissingExtraError, match="onnxruntime-gpu") as info:
        open_backend(tiny_onnx_fp32, backend)
    assert "\n" not in str(info.value)


def test_missing_onnxruntime_is_one_line(tiny_onnx_fp32: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingExtraError, match="pip install onnxruntime"):
        open_backend(tiny_onnx_fp32, OrtAuto())


def test_tensorrt_requests_without_tensorrt(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("tensorrt is installed here")
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"\0" * 16)
    for model, backend in ((tiny_onnx_fp32, TensorRT()), (engine, Auto()), (engine, TensorRT(device=0))):
        with pytest.raises(MissingExtraError, match="needs TensorRT") as info:
            open_backend(model, backend)
        assert "\n" not in str(info.value)
    for backend in (OrtAuto(), OrtCpu(), OrtCuda(), OrtTensorRT()):
        with pytest.raises(OftsrError, match="runs only on backend 'trt'"):
            open_backend(engine, backend)


def test_bad_options_and_bad_paths(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    with pytest.raises(OftsrError, match="not backend options"):
        open_backend(tiny_onnx_fp32, "ort-cpu")  # type: ignore[arg-type]  # names are parsed before this
    with pytest.raises(OftsrError, match="no such model file"):
        open_backend(tmp_path / "nope.onnx")
    with pytest.raises(OftsrError, match="is not a model file"):
        open_backend(tmp_path)


def test_wrong_io_names_are_rejected(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    import onnx

    model = onnx.load(str(tiny_onnx_fp32))
    for value in list(model.graph.input) + list(model.graph.node):
        if getattr(value, "name", None) == INPUT_T:
            value.name = "time"
        if hasattr(value, "input"):
            value.input[:] = ["time" if name == INPUT_T else name for name in value.input]
    onnx.save(model, str(tmp_path / "renamed.onnx"))
    with pytest.raises(OftsrError, match="do not match the oftsr-edge contract"):
        open_backend(tmp_path / "renamed.onnx")


def test_fp32_sibling_is_found_by_metadata_not_name(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    fp16 = edit_onnx(tiny_onnx_fp32, tmp_path / "a_fp32.onnx", metadata={"precision": "fp16"})
    spec = open_backend(fp16).spec
    assert find_fp32_sibling(fp16, spec) is None
    (tmp_path / "b_text.onnx").write_text("not a model")
    edit_onnx(tiny_onnx_fp32, tmp_path / "c_plain.onnx", drop_metadata=True)
    edit_onnx(tiny_onnx_fp32, tmp_path / "d_other.onnx", metadata={"checkpoint_sha256": "f" * 64})
    edit_onnx(tiny_onnx_fp32, tmp_path / "e_int8.onnx", metadata={"precision": "int8"})
    assert find_fp32_sibling(fp16, spec) is None
    shutil.copy(tiny_onnx_fp32, tmp_path / "z_fp16.onnx")
    assert find_fp32_sibling(fp16, spec) == tmp_path / "z_fp16.onnx"


def test_onnxruntime_error_text_is_shortened() -> None:
    exc = RuntimeError(
        "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from /x.onnx failed:Protobuf parsing failed."
    )
    assert ort_backend._first_line(exc) == "INVALID_PROTOBUF: Protobuf parsing failed."
