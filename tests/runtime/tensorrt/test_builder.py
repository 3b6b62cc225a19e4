"""Engine builds against fakes of Polygraphy's loaders and of TensorRT: what Polygraphy is asked for per TensorRT
version, cache reuse and rebuild, timing cache, sidecar, messages.

The fakes (tests/helpers/fake_polygraphy.py, fake_tensorrt.py) stand in for the external libraries: they check the
calls and arguments and the cache logic, not TensorRT's behaviour. Whether TensorRT accepts the build is checked by
``test_real_build`` on a machine with TensorRT and a GPU.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

# the builder runs through Polygraphy (the [trt] / [check] / [dev] extras); a base install skips as for any extra
pytest.importorskip("polygraphy")

from oftsr_edge.contract import (
    INPUT_LR,
    INPUT_NAMES,
    INPUT_NOISE,
    INPUT_T,
    METADATA_KEY,
    OUTPUT_HR,
    ModelSpec,
)
from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.runtime.backends.tensorrt import builder
from oftsr_edge.runtime.backends.tensorrt.builder import build_engine, check_network_io
from oftsr_edge.runtime.backends.tensorrt.engine_cache import read_sidecar, sidecar_path, usable_engine
from tests.helpers.fake_polygraphy import FakePolygraphy
from tests.helpers.fake_tensorrt import ENGINE_MAGIC, FakeCudart, make_fake_trt

SPEC = ModelSpec(
    name="oftsr-tiny-x4", scale=4, sigma_p=0.2, multiple_of=4, default_t=0.5, precision="fp32", opset=18, tile=32,
    degradation="bicubic", checkpoint_sha256="ab" * 32,
)  # fmt: skip


def write_contract_onnx(path: Path, spec: ModelSpec | None = SPEC, *, use_t: bool = True) -> Path:
    """A minimal graph with the contract's I/O (hr = noise · t) and, optionally, the oftsr-edge metadata.

    ``use_t=False`` gives hr = noise: a graph whose ``t`` feeds no node, which the contract refuses.
    """
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    dims = {INPUT_LR: ["N", 3, "h", "w"], INPUT_NOISE: ["N", 3, "H", "W"], INPUT_T: ["N"]}
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, d) for n, d in dims.items()]
    output = helper.make_tensor_value_info(OUTPUT_HR, TensorProto.FLOAT, ["N", 3, "H", "W"])
    if use_t:
        axes = helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3])
        nodes = [
            helper.make_node("Unsqueeze", [INPUT_T, "axes"], ["t4"]),
            helper.make_node("Mul", [INPUT_NOISE, "t4"], [OUTPUT_HR]),
        ]
        graph = helper.make_graph(nodes, "contract", inputs, [output], initializer=[axes])
    else:
        graph = helper.make_graph(
            [helper.make_node("Identity", [INPUT_NOISE], [OUTPUT_HR])], "contract", inputs, [output]
        )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    if spec is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, spec.to_json()
    onnx.save(model, str(path))
    return path


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return write_contract_onnx(tmp_path / "tiny_fp32.onnx")


class Env:
    """Install fakes of TensorRT (one version), Polygraphy's loaders and cuda-python for the builder."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.cudart = FakeCudart()
        monkeypatch.setattr(builder, "require_cudart", lambda: self.cudart)
        monkeypatch.setattr(builder, "_polygraphy", lambda: self.poly)
        self.poly = FakePolygraphy()
        self.lines: list[str] = []

    def trt(self, version: str = "10.3.0", **kwargs: Any) -> FakePolygraphy:
        """TensorRT ``version`` (fake) and fresh fake loaders (``kwargs``: parse_ok, build_ok, network_inputs)."""
        self.monkeypatch.setitem(sys.modules, "tensorrt", make_fake_trt(version))
        self.poly = FakePolygraphy(**kwargs)
        return self.poly

    def build(self, onnx: Path, engine: Path | None, cache: Path, **kwargs: Any) -> Path:
        return build_engine(onnx, engine, cache_dir=cache, log=self.lines.append, **kwargs)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Env:
    return Env(monkeypatch)


def test_spec_is_read_with_onnxruntime_alone(
    env: Env, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Jetson has onnxruntime but no onnx package: the builder still reads and validates the contract."""
    env.trt("10.3.0")
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert read_sidecar(env.build(model, None, tmp_path / "cache")).spec == SPEC


def test_spec_is_read_when_onnxruntime_cannot_open_the_model(
    env: Env, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no kernel for this op on CPU")

    env.trt("10.3.0")
    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    assert read_sidecar(env.build(model, None, tmp_path / "cache")).spec == SPEC


def test_unreadable_models_fail_before_any_tensorrt_object(env: Env, tmp_path: Path) -> None:
    trt = env.trt("10.3.0")
    cache = tmp_path / "cache"
    with pytest.raises(OftsrError, match="missing.onnx: no such model file"):
        env.build(tmp_path / "missing.onnx", None, cache)
    with pytest.raises(OftsrError, match="no 'oftsr_edge' metadata"):
        env.build(write_contract_onnx(tmp_path / "bare.onnx", spec=None), None, cache)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a model")
    with pytest.raises(OftsrError, match="junk.onnx"):
        env.build(junk, None, cache)
    with pytest.raises(OftsrError, match="input 't' feeds no node"):
        env.build(write_contract_onnx(tmp_path / "folded.onnx", use_t=False), None, cache)
    assert trt.calls == [] and not cache.exists()


def test_trt10_build_writes_engine_sidecar_and_timing_cache(env: Env, model: Path, tmp_path: Path) -> None:
    trt = env.trt("10.3.0")
    out = env.build(
        model, tmp_path / "out" / "tiny.engine", tmp_path / "cache", tile=32, batch=2, workspace_gib=0.5
    )
    assert out == tmp_path / "out" / "tiny.engine" and out.read_bytes().startswith(ENGINE_MAGIC)
    assert [name for name, _ in trt.calls] == ["network_from_onnx_path", "CreateConfig", "engine_bytes_from_network"]
    assert trt.calls[0][1] == {"path": str(model), "strongly_typed": True}
    assert isinstance(trt.calls[1][1]["progress_monitor"], sys.modules["tensorrt"].IProgressMonitor)
    (record,) = trt.builds
    assert (record["strongly_typed"], record["fp16"], record["int8"], record["tf32"]) == (True, False, False, True)
    assert record["pools"] == {"WORKSPACE": 1 << 29}
    assert record["profiles"] == [
        {
            INPUT_LR: [[1, 3, 32, 32], [2, 3, 32, 32], [2, 3, 32, 32]],
            INPUT_NOISE: [[1, 3, 128, 128], [2, 3, 128, 128], [2, 3, 128, 128]],
            INPUT_T: [[1], [2], [2]],
        }
    ]
    sidecar = read_sidecar(out)
    assert sidecar.spec == SPEC and sidecar.precision == "fp32"
    assert (sidecar.env.trt_version, sidecar.env.gpu_name, sidecar.env.compute_capability) == (
        "10.3.0", "NVIDIA Jetson AGX Orin", "8.7",
    )  # fmt: skip
    assert sidecar.builder["network_flags"] == ["STRONGLY_TYPED"]
    cached = list((tmp_path / "cache").glob("*.engine"))
    assert len(cached) == 1 and cached[0].read_bytes() == out.read_bytes()
    timing = tmp_path / "cache" / "timing-trt10.3.0-nvidia-jetson-agx-orin-sm87.cache"
    assert timing.read_bytes() == b"+timing"
    assert any("[build] Building engine (2 steps)" in line for line in env.lines)
    assert "[TensorRT warning] fake warning from the builder" in env.lines
    assert "cudaSetDevice(0)" in env.cudart.calls


def test_second_build_reuses_and_timing_cache_is_loaded(env: Env, model: Path, tmp_path: Path) -> None:
    trt = env.trt("10.3.0")
    first = env.build(model, None, tmp_path / "cache")
    assert first.parent == tmp_path / "cache"
    assert env.build(model, None, tmp_path / "cache") == first
    assert len(trt.builds) == 1 and any("up to date" in line for line in env.lines)
    # another output path is served from the cache, not rebuilt
    copy = env.build(model, tmp_path / "elsewhere.engine", tmp_path / "cache")
    assert len(trt.builds) == 1 and copy.read_bytes() == first.read_bytes()
    assert sidecar_path(copy).is_file()
    # a different profile is a different key: a new build that starts from the saved timing cache
    env.build(model, None, tmp_path / "cache", tile=64)
    assert len(trt.builds) == 2 and trt.builds[1]["timing"] == "+timing"


def test_corrupt_sidecar_or_engine_is_rebuilt(env: Env, model: Path, tmp_path: Path) -> None:
    trt = env.trt("10.3.0")
    engine = env.build(model, tmp_path / "m.engine", tmp_path / "cache")
    sidecar_path(engine).write_text("{ truncated")
    for cached in (tmp_path / "cache").glob("*.engine.json"):
        cached.write_text("{ truncated")
    env.build(model, engine, tmp_path / "cache")
    assert len(trt.builds) == 2 and any("rebuilding" in line for line in env.lines)
    engine.write_bytes(b"garbage")
    for cached in (tmp_path / "cache").glob("*.engine"):
        cached.write_bytes(b"garbage")
    env.build(model, engine, tmp_path / "cache")
    assert len(trt.builds) == 3 and engine.read_bytes().startswith(ENGINE_MAGIC)


def test_new_tensorrt_version_gets_a_new_engine(env: Env, model: Path, tmp_path: Path) -> None:
    env.trt("10.3.0")
    old = env.build(model, None, tmp_path / "cache")
    trt = env.trt("10.3.1")
    new = env.build(model, None, tmp_path / "cache")
    assert new != old and len(trt.builds) == 1
    assert read_sidecar(new).env.trt_version == "10.3.1"
    assert len(list((tmp_path / "cache").glob("timing-*.cache"))) == 2


def test_corrupt_timing_cache_does_not_stop_the_build(env: Env, model: Path, tmp_path: Path) -> None:
    trt = env.trt("10.3.0")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "timing-trt10.3.0-nvidia-jetson-agx-orin-sm87.cache").write_bytes(b"CORRUPT")
    env.build(model, None, cache)
    assert len(trt.builds) == 1 and any("ignoring corrupt timing cache" in line for line in env.lines)


def test_trt85_fp16_is_fp32_onnx_plus_fp16_flag(env: Env, model: Path, tmp_path: Path) -> None:
    trt = env.trt("8.5.2.2")
    engine = env.build(model, None, tmp_path / "cache", precision="fp16")
    (record,) = trt.builds
    assert (record["strongly_typed"], record["fp16"], record["int8"]) == (False, True, False)  # Polygraphy adds EXPLICIT_BATCH
    assert any("reports no build progress" in line for line in env.lines)
    sidecar = read_sidecar(engine)
    assert sidecar.precision == "fp16" and sidecar.spec.precision == "fp16"
    assert sidecar.builder["onnx_precision"] == "fp32"


def test_trt85_int8_qdq_gets_int8_flag(env: Env, tmp_path: Path) -> None:
    from dataclasses import replace

    qdq = write_contract_onnx(tmp_path / "tiny_int8.onnx", replace(SPEC, precision="int8"))
    trt = env.trt("8.6.2.3")
    env.build(qdq, None, tmp_path / "cache")
    assert (trt.builds[0]["fp16"], trt.builds[0]["int8"]) == (False, True)


def test_trt11_builds_with_no_flags(env: Env, model: Path, tmp_path: Path) -> None:
    trt = env.trt("11.4.0.106")
    env.build(model, None, tmp_path / "cache")
    record = trt.builds[0]
    assert (record["strongly_typed"], record["fp16"], record["int8"]) == (False, False, False)  # strongly typed always


def test_impossible_precision_fails_before_any_tensorrt_object(env: Env, model: Path, tmp_path: Path) -> None:
    trt = env.trt("11.1.0")
    with pytest.raises(OftsrError, match="strongly typed"):
        env.build(model, None, tmp_path / "cache", precision="fp16")
    assert trt.calls == []


def test_no_gpu_fails_before_any_tensorrt_object(env: Env, model: Path, tmp_path: Path) -> None:
    trt = env.trt("10.3.0")
    env.cudart = FakeCudart(count_error=35)
    with pytest.raises(OftsrError, match="TensorRT needs a CUDA GPU.*cudaErrorInsufficientDriver"):
        env.build(model, None, tmp_path / "cache")
    assert trt.calls == []


def test_missing_tensorrt_is_a_missing_extra(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(MissingExtraError, match=r"JetPack .*NVIDIA .*docs/jetson\.md") as info:
        build_engine(model, None, cache_dir=tmp_path)
    assert "[trt]" not in str(info.value)  # that extra holds no TensorRT


def test_parse_and_build_failures_are_one_line_errors(env: Env, model: Path, tmp_path: Path) -> None:
    env.trt("10.3.0", parse_ok=False)
    with pytest.raises(OftsrError, match="cannot parse .*Conv"):
        env.build(model, None, tmp_path / "cache")
    env.trt("10.3.0", network_inputs=("x", "t"))
    with pytest.raises(OftsrError, match="expected inputs"):
        env.build(model, None, tmp_path / "cache")
    env.trt("10.3.0", build_ok=False)
    with pytest.raises(OftsrError, match="failed to build"):
        env.build(model, None, tmp_path / "cache")
    assert list((tmp_path / "cache").glob("*.engine")) == []


def test_bad_workspace_and_profile(env: Env, model: Path, tmp_path: Path) -> None:
    env.trt("10.3.0")
    with pytest.raises(OftsrError, match="workspace must be positive"):
        env.build(model, None, tmp_path / "cache", workspace_gib=0)
    with pytest.raises(OftsrError, match="multiple of the model's 4"):
        env.build(model, None, tmp_path / "cache", tile=30)


def test_polygraphy_stays_off_stdout(env: Env, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``build`` prints only its result on stdout; TensorRT's messages (through Polygraphy) go to the log."""
    env.trt("10.3.0")
    env.build(model, None, tmp_path / "cache")
    assert capsys.readouterr().out == "" and "[TensorRT warning] fake warning from the builder" in env.lines


def test_missing_polygraphy_is_a_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "polygraphy.backend.trt", None)
    with pytest.raises(MissingExtraError, match=r"needs Polygraphy: pip install 'oftsr-edge\[trt\]'"):
        builder._polygraphy()


def test_check_network_io() -> None:
    check_network_io([INPUT_T, INPUT_LR, INPUT_NOISE], [OUTPUT_HR])  # any input order
    with pytest.raises(OftsrError, match="expected inputs"):
        check_network_io(list(INPUT_NAMES), [OUTPUT_HR, "extra"])
    with pytest.raises(OftsrError, match="expected inputs"):
        check_network_io([INPUT_LR, INPUT_NOISE], [OUTPUT_HR])


def test_sidecar_records_the_key_the_cache_checks(env: Env, model: Path, tmp_path: Path) -> None:
    env.trt("10.3.0")
    engine = env.build(model, None, tmp_path / "cache")
    data = json.loads(sidecar_path(engine).read_text())
    from oftsr_edge.runtime.backends.tensorrt.engine_cache import EngineEnvironment

    assert usable_engine(engine, EngineEnvironment("10.3.0", "NVIDIA Jetson AGX Orin", "8.7"), data["key"])[0]


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_real_build(tmp_path: Path) -> None:
    """Builds the contract graph with the real TensorRT on a real GPU."""
    pytest.importorskip("tensorrt", reason="needs TensorRT: not installed")
    from oftsr_edge.runtime.backends.tensorrt.cuda_probe import probe_gpus

    probe = probe_gpus()
    if not probe.available:
        pytest.skip(f"needs a CUDA GPU: {probe.reason}")
    model = write_contract_onnx(tmp_path / "contract.onnx")
    engine = build_engine(model, tmp_path / "contract.engine", tile=32, batch=2, cache_dir=tmp_path / "cache")
    assert read_sidecar(engine).precision == "fp32"
    assert build_engine(model, engine, tile=32, batch=2, cache_dir=tmp_path / "cache") == engine
