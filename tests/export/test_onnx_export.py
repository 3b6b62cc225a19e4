"""ONNX export of the student: the docs/architecture.md §3 contract, metadata, parity with PyTorch, t as a live input, opset 17."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from oftsr_edge import contract  # noqa: E402
from oftsr_edge.contract import INPUT_LR, INPUT_NAMES, INPUT_T, METADATA_KEY, OUTPUT_HR, ModelSpec  # noqa: E402
from oftsr_edge.errors import OftsrError  # noqa: E402
from oftsr_edge.export.fp16 import input_dependencies  # noqa: E402
from oftsr_edge.export.onnx_export import export_onnx, write_model  # noqa: E402
from oftsr_edge.export.simplify import simplify  # noqa: E402
from oftsr_edge.export.verify import ort_session, random_feed, verify_against_torch  # noqa: E402


def _dims(value) -> list:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def _metadata(model) -> str:
    return next(p.value for p in model.metadata_props if p.key == METADATA_KEY)


def _student_config(run_dir: Path) -> tuple[dict, Path]:
    from oftsr_edge.train.checkpoint import WEIGHTS, resolve_checkpoint

    ckpt_dir = resolve_checkpoint(run_dir)
    return json.loads((ckpt_dir / "config.json").read_text()), ckpt_dir / WEIGHTS


def test_graph_inputs_are_exactly_lr_noise_t_with_named_dynamic_axes(tiny_onnx_fp32: Path) -> None:
    model = onnx.load(str(tiny_onnx_fp32))
    assert [v.name for v in model.graph.input] == list(INPUT_NAMES)
    assert [v.name for v in model.graph.output] == [OUTPUT_HR]
    types = {v.name: v.type.tensor_type.elem_type for v in [*model.graph.input, *model.graph.output]}
    assert set(types.values()) == {onnx.TensorProto.FLOAT}
    assert _dims(model.graph.input[0]) == ["N", 3, "h", "w"]
    assert _dims(model.graph.input[1]) == ["N", 3, "4*h", "4*w"]
    assert _dims(model.graph.input[2]) == ["N"]
    assert _dims(model.graph.output[0]) == ["N", 3, "4*h", "4*w"]
    onnx.checker.check_model(model, full_check=True)


def test_metadata_round_trips_through_model_spec(tiny_onnx_fp32: Path, tiny_student_dir: Path) -> None:
    config, weights = _student_config(tiny_student_dir)
    text = _metadata(onnx.load(str(tiny_onnx_fp32)))
    spec = ModelSpec.from_json(text)
    assert ModelSpec.from_json(spec.to_json()) == spec
    assert spec.precision == "fp32" and spec.opset == 18 and spec.tile == 32 and spec.default_t == 0.5
    assert spec.scale == config["scale"] == 4
    assert spec.sigma_p == pytest.approx(config["sigma_p"])
    assert spec.multiple_of == 2 ** (len(config["model"]["channels"]) - 1)
    assert spec.name == (config.get("name") or f"oftsr-{config['model']['name']}-x4")
    assert spec.degradation == config.get("degradation", "unknown")
    assert spec.checkpoint_sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_onnx_runtime_matches_pytorch_on_two_shapes_and_three_t(
    tiny_onnx_fp32: Path, tiny_student_dir: Path
) -> None:
    deviations = verify_against_torch(tiny_onnx_fp32, tiny_student_dir)
    assert {d.shape for d in deviations} == {(1, 32, 32), (2, 16, 24)}
    assert {d.t for d in deviations} == {0.0, 0.5, 1.0}
    assert max(d.max_abs for d in deviations) <= 1e-4, deviations


def test_t_is_a_live_graph_input_not_a_folded_constant(tiny_onnx_fp32: Path) -> None:
    model = onnx.load(str(tiny_onnx_fp32))
    producer = next(n for n in model.graph.node if OUTPUT_HR in n.output)
    # t reaches the output through the graph
    assert input_dependencies(model)[producer.name] == set(INPUT_NAMES)
    session = ort_session(tiny_onnx_fp32)
    feed = random_feed(2, 16, 24, 4, 0.0, seed=3)
    outputs = [
        session.run([OUTPUT_HR], {**feed, INPUT_T: np.full(2, t, np.float32)})[0] for t in (0.0, 0.5, 1.0)
    ]
    # at least half an 8-bit level apart (the trained tiny fixture moves up to ~4 levels between t = 0 and 0.5)
    assert np.abs(outputs[0] - outputs[1]).max() > 2e-3
    assert np.abs(outputs[1] - outputs[2]).max() > 2e-3
    # per-sample t: each batch item follows its own t
    mixed = session.run([OUTPUT_HR], {**feed, INPUT_T: np.array([0.0, 1.0], np.float32)})[0]
    np.testing.assert_allclose(mixed[0], outputs[0][0], atol=1e-5)
    np.testing.assert_allclose(mixed[1], outputs[2][1], atol=1e-5)


def test_opset17_torchscript_export_validates_and_matches(tmp_path: Path, tiny_student_dir: Path) -> None:
    path = export_onnx(tiny_student_dir, tmp_path / "m17.onnx", opset=17, tile=32)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {17}
    spec = contract.read_spec(path, expect_precision="fp32")
    assert spec.opset == 17
    deviations = verify_against_torch(path, tiny_student_dir, shapes=[(2, 16, 24)], t_values=(0.25, 0.75))
    assert max(d.max_abs for d in deviations) <= 1e-4
    assert [p.name for p in tmp_path.iterdir()] == ["m17.onnx"]  # no temp files left behind


def test_teacher_checkpoint_is_refused_in_one_line(tmp_path: Path) -> None:
    from oftsr_edge.train.checkpoint import save_checkpoint
    from oftsr_edge.train.model import CONFIGS, OFTSRUNet

    net = OFTSRUNet(CONFIGS["tiny"], 4)
    config = {"kind": "teacher", "scale": 4, "sigma_p": 0.2, "model": CONFIGS["tiny"].to_dict()}
    save_checkpoint(tmp_path / "teacher", config, 1, net, net)
    with pytest.raises(OftsrError, match="teacher checkpoint") as info:
        export_onnx(tmp_path / "teacher", tmp_path / "out" / "m.onnx")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("kwargs", "message"), [({"tile": 31}, "multiple of"), ({"opset": 16}, "opset 16")])
def test_bad_export_options_are_one_line_errors(
    tmp_path: Path, tiny_student_dir: Path, kwargs, message
) -> None:
    with pytest.raises(OftsrError, match=message):
        export_onnx(tiny_student_dir, tmp_path / "m.onnx", **kwargs)
    assert not any(tmp_path.iterdir())


def test_unknown_simplifier_is_refused(tiny_onnx_fp32: Path) -> None:
    with pytest.raises(OftsrError, match="unknown simplifier"):
        simplify(onnx.load(str(tiny_onnx_fp32)), "magic")


def test_write_model_leaves_nothing_when_the_graph_breaks_the_contract(
    tmp_path: Path, tiny_onnx_fp32: Path
) -> None:
    """The contract's own breaches are covered in tests/test_contract.py; here: write_model runs that check."""
    model = onnx.load(str(tiny_onnx_fp32))
    spec = ModelSpec.from_json(_metadata(model))
    model.graph.input[0].name = "image"
    for node in model.graph.node:
        node.input[:] = ["image" if name == INPUT_LR else name for name in node.input]
    with pytest.raises(OftsrError, match="do not match the oftsr-edge contract"):
        write_model(model, tmp_path / "m.onnx", spec)
    assert not any(tmp_path.iterdir())
