"""TensorRT backend: pure checks, the buffer plumbing against stand-ins, and a real run where TensorRT + GPU exist.

The stand-ins (tests/helpers/fake_tensorrt.py) move real bytes through host "device" buffers and compute a known
function, so these tests prove the copy/shape/batching logic and the call sequence; they cannot prove that the
real TensorRT accepts the calls — ``test_real_engine_matches_onnxruntime`` does that on a GPU machine.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge import contract
from oftsr_edge.contract import OUTPUT_HR, ModelSpec
from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.runtime.backends.tensorrt import backend as backend_module
from oftsr_edge.runtime.backends.tensorrt.backend import TensorRTBackend, check_engine_io
from oftsr_edge.runtime.backends.tensorrt.engine_cache import (
    EngineEnvironment,
    EngineSidecar,
    engine_cache_key,
    sidecar_path,
    write_engine,
)
from oftsr_edge.runtime.backends.tensorrt.profiles import make_profile
from tests.helpers.fake_tensorrt import ENGINE_MAGIC, FakeCudart, fake_compute, make_fake_trt

SPEC = ModelSpec(
    name="oftsr-tiny-x4", scale=4, sigma_p=0.2, multiple_of=4, default_t=0.5, precision="fp16", opset=18, tile=8,
    degradation="bicubic", checkpoint_sha256="ab" * 32,
)  # fmt: skip
ENV = EngineEnvironment("10.3.0", "NVIDIA Jetson AGX Orin", "8.7")


def test_check_engine_io_accepts_the_contract() -> None:
    check_engine_io(
        [
            ("lr", "INPUT", "FLOAT"),
            ("noise", "INPUT", "FLOAT"),
            ("t", "INPUT", "FLOAT"),
            ("hr", "OUTPUT", "FLOAT"),
        ]
    )


def test_check_engine_io_rejects_other_tensors_and_dtypes() -> None:
    with pytest.raises(OftsrError, match="do not match the contract"):
        check_engine_io([("lr", "INPUT", "FLOAT"), ("hr", "OUTPUT", "FLOAT")])
    with pytest.raises(OftsrError, match="float32, found hr: HALF"):
        check_engine_io(
            [
                ("lr", "INPUT", "FLOAT"),
                ("noise", "INPUT", "FLOAT"),
                ("t", "INPUT", "FLOAT"),
                ("hr", "OUTPUT", "HALF"),
            ]
        )


def write_fake_engine(
    path: Path, *, tile: int = 8, batch: int = 2, min_batch: int = 1, env: EngineEnvironment = ENV
) -> Path:
    """An engine the stand-in runtime loads, with a valid sidecar for ``env``."""
    profile = make_profile(4, 4, tile=tile, batch=batch, min_shape=f"{min_batch}x3x{tile}x{tile}")
    record = {"profiles": [{k: [list(s) for s in v] for k, v in profile.per_input().items()}]}
    engine = ENGINE_MAGIC + json.dumps(record).encode()
    sidecar = EngineSidecar(
        key=engine_cache_key("cd" * 32, env, "fp16", profile), onnx_sha256="cd" * 32, env=env, precision="fp16",
        profile=profile, engine_sha256=hashlib.sha256(engine).hexdigest(), engine_bytes=len(engine), spec=SPEC,
    )  # fmt: skip
    return write_engine(path, engine, sidecar)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> tuple[object, FakeCudart]:
    trt = make_fake_trt("10.3.0")
    cudart = FakeCudart()
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr(backend_module, "require_cudart", lambda: cudart)
    return trt, cudart


def _inputs(n: int, tile: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    lr = rng.random((n, 3, tile, tile), dtype=np.float32)
    noise = rng.standard_normal((n, 3, tile * 4, tile * 4)).astype(np.float32)
    return lr, noise, float(rng.random())  # one t per call: Backend.run takes a float


@pytest.mark.parametrize("n", [1, 2, 5])
def test_run_moves_data_through_device_buffers(fakes: tuple, tmp_path: Path, n: int) -> None:
    trt, cudart = fakes
    engine = write_fake_engine(tmp_path / "m.engine", batch=2)
    lr, noise, t = _inputs(n)
    with TensorRTBackend(engine) as backend:
        assert backend.name == "trt" and backend.spec == SPEC
        hr = backend.run(lr, noise, t)
        assert trt.engines[0].executions == [2] * (n // 2) + [1] * (n % 2)  # split at the profile's max batch
    np.testing.assert_array_equal(hr, fake_compute(lr, noise, t, 4))
    assert cudart.buffers == {}  # every device and pinned buffer freed
    assert cudart.calls.index("cudaGetDeviceCount") < cudart.calls.index("cudaSetDevice(0)")
    assert "cudaStreamDestroy" in cudart.calls


def test_last_chunk_below_min_batch_is_padded(fakes: tuple, tmp_path: Path) -> None:
    trt, _ = fakes
    engine = write_fake_engine(tmp_path / "m.engine", batch=4, min_batch=4)
    lr, noise, t = _inputs(5)
    with TensorRTBackend(engine) as backend:
        hr = backend.run(lr, noise, t)
        single = backend.run(lr[:1], noise[:1], t)
    assert trt.engines[0].executions == [4, 4, 4]
    np.testing.assert_array_equal(hr, fake_compute(lr, noise, t, 4))
    np.testing.assert_array_equal(single, hr[:1])


def test_wrong_shapes_are_rejected_before_the_gpu(fakes: tuple, tmp_path: Path) -> None:
    engine = write_fake_engine(tmp_path / "m.engine", tile=8)
    with TensorRTBackend(engine) as backend:
        lr, noise, t = _inputs(1, tile=16)
        with pytest.raises(OftsrError, match="outside the engine's profile"):
            backend.run(lr, noise, t)
        lr, noise, t = _inputs(1)
        with pytest.raises(OftsrError, match="noise must be"):
            backend.run(lr, noise[:, :, :16], t)
    with pytest.raises(OftsrError, match="closed"):
        backend.run(*_inputs(1))


def test_engine_for_another_tensorrt_or_gpu_is_refused(fakes: tuple, tmp_path: Path) -> None:
    trt, _ = fakes
    engine = write_fake_engine(
        tmp_path / "a.engine", env=EngineEnvironment("8.6.2.3", "NVIDIA Jetson AGX Orin", "8.7")
    )
    with pytest.raises(OftsrError, match="built with TensorRT 8.6.2.3, this is 10.3.0.*oftsr-edge build"):
        TensorRTBackend(engine)
    engine = write_fake_engine(
        tmp_path / "b.engine", env=EngineEnvironment("10.3.0", "NVIDIA GeForce RTX 4090", "8.9")
    )
    with pytest.raises(OftsrError, match="built for NVIDIA GeForce RTX 4090"):
        TensorRTBackend(engine)
    assert "Runtime" not in trt.created


def test_corrupt_engine_or_sidecar_is_refused(fakes: tuple, tmp_path: Path) -> None:
    engine = write_fake_engine(tmp_path / "m.engine")
    engine.write_bytes(engine.read_bytes()[:-3] + b"xyz")
    with pytest.raises(OftsrError, match="does not match its sidecar"):
        TensorRTBackend(engine)
    engine = write_fake_engine(tmp_path / "n.engine")
    sidecar_path(engine).write_text("{")
    with pytest.raises(OftsrError, match="not valid JSON"):
        TensorRTBackend(engine)
    sidecar_path(engine).unlink()
    with pytest.raises(OftsrError, match="oftsr-edge build"):
        TensorRTBackend(engine)
    with pytest.raises(OftsrError, match="no such engine file"):
        TensorRTBackend(tmp_path / "missing.engine")


def test_undeserializable_engine_frees_everything(fakes: tuple, tmp_path: Path) -> None:
    _, cudart = fakes
    engine = tmp_path / "m.engine"
    write_fake_engine(engine)
    sidecar = json.loads(sidecar_path(engine).read_text())
    engine.write_bytes(b"not an engine")
    sidecar["engine_sha256"] = hashlib.sha256(b"not an engine").hexdigest()
    sidecar["engine_bytes"] = len(b"not an engine")
    sidecar_path(engine).write_text(json.dumps(sidecar))
    with pytest.raises(OftsrError, match="could not deserialize"):
        TensorRTBackend(engine)
    assert cudart.buffers == {}


def test_no_gpu_fails_before_any_tensorrt_object(
    fakes: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trt, _ = fakes
    monkeypatch.setattr(backend_module, "require_cudart", lambda: FakeCudart(count_error=100))
    with pytest.raises(OftsrError, match="TensorRT needs a CUDA GPU"):
        TensorRTBackend(write_fake_engine(tmp_path / "m.engine"))
    assert trt.created == []


def test_missing_tensorrt_is_a_missing_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(MissingExtraError, match=r"JetPack .*NVIDIA .*docs/jetson\.md") as info:
        TensorRTBackend(write_fake_engine(tmp_path / "m.engine"))
    assert "[trt]" not in str(info.value)  # that extra holds no TensorRT


def test_engine_built_by_the_builder_runs(
    fakes: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """build_engine's output (engine + sidecar) is what the backend loads: the two agree on the format."""
    pytest.importorskip("onnx")
    from oftsr_edge.runtime.backends.tensorrt import builder
    from tests.helpers.fake_polygraphy import FakePolygraphy
    from tests.runtime.tensorrt.test_builder import write_contract_onnx

    _, cudart = fakes
    monkeypatch.setattr(builder, "require_cudart", lambda: cudart)
    monkeypatch.setattr(builder, "_polygraphy", FakePolygraphy)
    model = write_contract_onnx(tmp_path / "m.onnx")
    engine = builder.build_engine(
        model, tmp_path / "m.engine", tile=8, batch=3, cache_dir=tmp_path / "c", log=lambda s: None
    )
    lr, noise, t = _inputs(4)
    with TensorRTBackend(engine) as backend:
        assert backend.spec.name == "oftsr-tiny-x4" and backend.profile.max_batch == 3
        np.testing.assert_array_equal(backend.run(lr, noise, t), fake_compute(lr, noise, t, 4))


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_real_engine_matches_onnxruntime(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Builds the tiny student's engine with the real TensorRT and compares it with ONNX Runtime on CPU."""
    pytest.importorskip("tensorrt", reason="needs TensorRT: not installed")
    from oftsr_edge.runtime.backends.tensorrt.cuda_probe import probe_gpus

    probe = probe_gpus()
    if not probe.available:
        pytest.skip(f"needs a CUDA GPU: {probe.reason}")
    tiny_onnx = request.getfixturevalue("tiny_onnx_fp32")  # exported only once the skips above have passed
    import onnxruntime as ort

    from oftsr_edge.metrics.fidelity import psnr
    from oftsr_edge.runtime.backends.tensorrt.builder import build_engine

    engine = build_engine(tiny_onnx, tmp_path / "tiny.engine", tile=32, batch=2, cache_dir=tmp_path / "cache")
    lr, noise, t = _inputs(3, tile=32)
    session = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"])
    expected = session.run([OUTPUT_HR], contract.feeds(lr, noise, t))[0]
    with TensorRTBackend(engine) as backend:
        hr = backend.run(lr, noise, t)
    assert np.isfinite(hr).all()
    assert psnr(hr, expected, peak=1.0) > 40.0
