"""``export`` of an FP32 ONNX a user has: weights in external data (which ``upscale`` runs as is) export to one
self-contained file; external data that points out of the model's folder is one line; a killed export's staging
folder carries its owner and is swept by the next export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.contract import read_spec
from oftsr_edge.fileio import TEMP_SUFFIX
from tests.helpers.cli import assert_one_line_error, run_main
from tests.reliability.conftest import dead_pid

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _external(model: Path, folder: Path, location: str = "weights.bin") -> Path:
    """``model`` saved with every initializer in the external file ``location``."""
    folder.mkdir(parents=True, exist_ok=True)
    from onnx import numpy_helper

    proto = onnx.load(str(model))
    raw = [numpy_helper.from_array(numpy_helper.to_array(t), t.name) for t in proto.graph.initializer]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(raw)  # raw_data: what onnx moves to external files
    path = folder / "external.onnx"
    onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    if location != "weights.bin":
        proto = onnx.load(str(path), load_external_data=False)
        for tensor in proto.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = location
        onnx.save_model(proto, str(path))
    proto = onnx.load(str(path), load_external_data=False)
    assert len(proto.graph.initializer) >= 3 and all(t.external_data for t in proto.graph.initializer)
    return path


def _initializers(path: Path) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


def test_an_onnx_with_external_weights_exports_to_one_self_contained_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    source = _external(model, tmp_path / "src")
    result = run_main(capsys, "export", str(source), "-o", str(tmp_path / "out"), "--precision", "fp32")
    assert result.code == 0, result.err
    (written,) = sorted((tmp_path / "out").iterdir())
    assert written.name == "contract-x4_fp32.onnx"
    graph_only = onnx.load(str(written), load_external_data=False)
    assert not any(t.external_data for t in graph_only.graph.initializer)  # needs no companion file
    assert read_spec(written) == read_spec(model)
    expected, got = _initializers(model), _initializers(written)
    assert expected.keys() == got.keys() and all(np.array_equal(expected[k], got[k]) for k in expected)


@pytest.mark.parametrize("location", ["../../../etc/passwd", "/etc/passwd", "missing.bin"])
def test_external_data_outside_the_models_folder_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path, location: str
) -> None:
    source = _external(model, tmp_path / "a" / "b" / "c", location)
    result = run_main(capsys, "export", str(source), "-o", str(tmp_path / "out"), "--precision", "fp32")
    assert_one_line_error(result, f"{source}: its external weight data cannot be read")
    assert not (tmp_path / "out").exists()


def test_a_killed_exports_staging_folder_is_swept_by_the_next_export(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    out = tmp_path / "out"
    killed = out / f".export.{dead_pid()}.abcd1234{TEMP_SUFFIX}"  # what a SIGKILLed export leaves
    (killed / "model_fp32.onnx").parent.mkdir(parents=True)
    (killed / "model_fp32.onnx").write_bytes(b"half")
    result = run_main(capsys, "export", str(model), "-o", str(out), "--precision", "fp32")
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == ["contract-x4_fp32.onnx"]


def test_an_export_names_its_staging_folder_with_its_owner(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The staging folder, seen while the export runs, is one that the sweep recognises (owner pid in it)."""
    import os

    from oftsr_edge.export import commands
    from oftsr_edge.fileio import sweep_stale

    seen: list[str] = []
    real = commands.publish

    def spy(stem: str, staged: dict[str, Path], output_dir: Path) -> list[Path]:
        seen.extend(p.name for p in output_dir.iterdir() if p.name.startswith("."))
        assert sweep_stale(output_dir) == []  # this process is alive: its folder stays
        return real(stem, staged, output_dir)

    monkeypatch.setattr(commands, "publish", spy)
    assert run_main(capsys, "export", str(model), "-o", str(tmp_path / "out"), "--precision", "fp32").code == 0
    from oftsr_edge.fileio import owner_token

    assert owner_token().startswith(f"{os.getpid()}-")
    assert len(seen) == 1 and f".{owner_token()}." in seen[0] and seen[0].endswith(TEMP_SUFFIX), seen
