"""t baked into the CPU session: the protobuf edit is exactly "input t → initializer t", the outputs do not change,
mixed-t batches still run through the general session, and the cache of baked sessions stays bounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.contract import INPUT_LR, INPUT_NOISE, INPUT_T
from oftsr_edge.runtime.backends import onnxruntime as ort_backend
from oftsr_edge.runtime.backends.baked_inputs import bake_inputs, graph_input_names
from oftsr_edge.runtime.backends.onnxruntime import OrtBackend
from oftsr_edge.runtime.backends.options import OrtCpu

BUNDLED = Path(__file__).resolve().parents[2] / "oftsr_edge" / "models" / "oftsr-flat48x8-x4_fp32.onnx"


def _inputs(n: int, t: float, h: int = 12, w: int = 10) -> tuple[np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(1)
    return rng.random((n, 3, h, w), dtype=np.float32), rng.standard_normal((n, 3, 4 * h, 4 * w), dtype=np.float32), t


def test_the_edit_turns_exactly_the_named_input_into_an_initializer(tiny_onnx_fp32: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    original = tiny_onnx_fp32.read_bytes()
    baked = bake_inputs(original, {INPUT_T: np.array([0.25], np.float32)})
    before, after = onnx.load_from_string(original), onnx.load_from_string(baked)
    onnx.checker.check_model(after)
    assert [i.name for i in after.graph.input] == [INPUT_LR, INPUT_NOISE] == graph_input_names(baked)
    assert graph_input_names(original) == [INPUT_LR, INPUT_NOISE, INPUT_T]
    added = [i for i in after.graph.initializer if i.name == INPUT_T]
    assert len(added) == 1 and numpy_helper.to_array(added[0]).tolist() == [0.25]
    assert after.graph.node == before.graph.node and after.graph.output == before.graph.output
    assert after.metadata_props == before.metadata_props and after.opset_import == before.opset_import
    assert len(after.graph.initializer) == len(before.graph.initializer) + 1


def test_a_name_that_is_no_input_and_broken_bytes_are_value_errors(tiny_onnx_fp32: Path) -> None:
    model = tiny_onnx_fp32.read_bytes()
    with pytest.raises(ValueError, match="not graph inputs: r"):
        bake_inputs(model, {"r": np.zeros(1, np.float32)})
    with pytest.raises(ValueError, match="truncated"):
        bake_inputs(model[: len(model) // 2], {INPUT_T: np.zeros(1, np.float32)})
    with pytest.raises(ValueError, match="no graph"):
        graph_input_names(b"")


@pytest.mark.parametrize("model", ["tiny", "bundled"])
def test_baked_sessions_give_the_general_sessions_output(model: str, tiny_onnx_fp32: Path) -> None:
    path = tiny_onnx_fp32 if model == "tiny" else BUNDLED
    baked, general = OrtBackend(path, OrtCpu(threads=1)), OrtBackend(path, OrtCpu(threads=1, bake_t=False))
    for t in (0.0, 0.5, 1.0, 0.5):
        args = _inputs(2, t)
        np.testing.assert_allclose(baked.run(*args), general.run(*args), atol=2e-5)
    assert sorted(baked._baked) == [0.0, 0.5, 1.0]  # one session per t value, reused
    assert not general._baked


def test_the_baked_session_cache_keeps_the_most_recent_few(tiny_onnx_fp32: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = OrtBackend(tiny_onnx_fp32, OrtCpu(threads=1))
    opened: list[float] = []
    real_bake = ort_backend.bake_inputs

    def counting_bake(model: bytes, values: dict) -> bytes:
        opened.append(float(values[INPUT_T][0]))
        return real_bake(model, values)

    monkeypatch.setattr(ort_backend, "bake_inputs", counting_bake)
    for t in (0.1, 0.2, 0.1, 0.3, 0.4, 0.5, 0.6, 0.1):
        backend.run(*_inputs(1, t))
    assert len(backend._baked) == ort_backend._BAKED_SESSIONS
    assert opened == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.1])  # 0.1 reused while cached, re-made once it was dropped
    backend.close()
    assert not backend._baked


def test_two_time_models_are_not_baked(tiny_meanflow_onnx: Path) -> None:
    backend = OrtBackend(tiny_meanflow_onnx, OrtCpu(threads=1))
    backend.run(*_inputs(1, 0.5))
    assert not backend._baked


def test_a_model_that_cannot_be_baked_runs_on_the_general_session(
    tiny_onnx_fp32: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Baking is a speed-up only: an edit or session that fails leaves the general session serving, same output."""
    general = OrtBackend(tiny_onnx_fp32, OrtCpu(threads=1, bake_t=False))
    backend = OrtBackend(tiny_onnx_fp32, OrtCpu(threads=1))

    def refuse(model: bytes, values: dict) -> bytes:
        raise ValueError("truncated field")

    monkeypatch.setattr(ort_backend, "bake_inputs", refuse)
    args = _inputs(1, 0.4)
    np.testing.assert_array_equal(backend.run(*args), general.run(*args))
    assert not backend._bake_t and not backend._baked
