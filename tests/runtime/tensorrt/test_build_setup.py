"""``oftsr-edge build``'s defaults: flags win, then this device's preset, then the model's tile — checked in the pure
merge and end to end through the command against the TensorRT stand-in (the engine's recorded profile and
workspace are what the preset or the flags said)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

# the builder runs through Polygraphy (the [trt] / [check] / [dev] extras); a base install skips as for any extra
pytest.importorskip("polygraphy")

from oftsr_edge.contract import INPUT_LR
from oftsr_edge.runtime.backends.tensorrt import build_setup, builder
from oftsr_edge.runtime.backends.tensorrt.build_setup import merge_settings, prepare_build
from oftsr_edge.runtime.backends.tensorrt.cuda_probe import GpuInfo, GpuProbe
from oftsr_edge.runtime.backends.tensorrt.engine_cache import read_sidecar
from oftsr_edge.runtime.device.devices import PresetChoice, preset
from oftsr_edge.runtime.device.jetson import detect_jetson
from tests.doctor.test_jetson_detection import R35_3_1, R36_4_3, fake_root
from tests.helpers.cli import assert_one_line_error, run_main
from tests.helpers.fake_polygraphy import FakePolygraphy
from tests.helpers.fake_tensorrt import ENGINE_MAGIC, FakeCudart, make_fake_trt
from tests.runtime.tensorrt.test_builder import SPEC, write_contract_onnx

GIB = 1 << 30


def test_flags_win_over_the_preset() -> None:
    choice = PresetChoice(preset("agx-orin-64gb"), "test")
    s = merge_settings(SPEC, choice, tile=64, batch=3, workspace_gib=0.5)
    assert (s.tile, s.batch, s.workspace_gib, s.lines) == (64, 3, 0.5, ())
    partial = merge_settings(SPEC, choice, tile=None, batch=2, workspace_gib=None)
    assert (partial.tile, partial.batch, partial.workspace_gib) == (256, 2, 4.0)
    assert "tile 256, workspace 4 GiB from preset agx-orin-64gb" in partial.lines[0]


def test_without_a_preset_the_models_tile() -> None:
    s = merge_settings(SPEC, None, tile=None, batch=None, workspace_gib=None)
    assert (s.tile, s.batch, s.workspace_gib) == (SPEC.tile, 1, 1.0) and "no device preset" in s.lines[0]


def test_the_preset_tile_is_rounded_to_the_models_multiple() -> None:
    spec = dataclasses.replace(SPEC, multiple_of=128, tile=128)
    s = merge_settings(spec, PresetChoice(preset("orin-nx-16gb"), "t"), tile=None, batch=None, workspace_gib=None)
    assert s.tile == 128  # the preset's 192 is not a multiple of 128


def _models(folder: Path, opset: int) -> Path:
    folder.mkdir()
    for precision in ("fp32", "fp16"):
        spec = dataclasses.replace(SPEC, precision=precision, opset=opset)
        write_contract_onnx(folder / f"tiny_{precision}.onnx", spec)
    return folder


def test_prepare_on_a_jetson_orin_nano_with_jetpack_5(tmp_path: Path) -> None:
    board = detect_jetson(fake_root(
        tmp_path / "root", R35_3_1, "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit",
        ["nvidia,p3768-0000+p3767-0005", "nvidia,p3767-0005", "nvidia,tegra234"],
    ))  # fmt: skip
    orin = GpuProbe((GpuInfo(0, "Orin", 8, 7, int(7.4 * GIB)),))
    prepared = prepare_build(
        _models(tmp_path / "m", opset=17), precision=None, tile=None, batch=None, workspace_gib=None,
        preset_name=None, device=0, trt=make_fake_trt("8.5.2.2"), probe=lambda: orin, jetson=lambda: board,
    )  # fmt: skip
    assert prepared.choice.path.name == "tiny_fp32.onnx" and prepared.choice.precision == "fp16"
    assert prepared.settings.preset is not None and prepared.settings.preset.name == "orin-nano-8gb"
    assert (prepared.settings.tile, prepared.settings.batch, prepared.settings.workspace_gib) == (128, 2, 0.5)
    assert any("detected Jetson module (orin-nano-8gb)" in line for line in prepared.lines)


def test_prepare_on_a_desktop_gpu_with_tensorrt_10(tmp_path: Path) -> None:
    gpu = GpuProbe((GpuInfo(0, "NVIDIA GeForce RTX 4070", 8, 9, 12 * GIB - 1),))
    prepared = prepare_build(
        _models(tmp_path / "m", opset=18), precision=None, tile=None, batch=None, workspace_gib=None,
        preset_name=None, device=0, trt=make_fake_trt("10.3.0"), probe=lambda: gpu, jetson=lambda: None,
    )  # fmt: skip
    assert prepared.choice.path.name == "tiny_fp16.onnx" and prepared.settings.preset.name == "gpu-8gb"


class CommandEnv:
    """Fakes of TensorRT, Polygraphy's loaders and cuda-python behind ``oftsr-edge build`` run in-process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, version: str, board: object = None) -> None:
        self.trt = make_fake_trt(version)
        cudart = FakeCudart()  # one "NVIDIA Jetson AGX Orin" of 16 GiB
        monkeypatch.setitem(sys.modules, "tensorrt", self.trt)
        monkeypatch.setattr(builder, "require_cudart", lambda: cudart)
        self.poly = FakePolygraphy()
        monkeypatch.setattr(builder, "_polygraphy", lambda: self.poly)
        monkeypatch.setattr(build_setup, "import_cudart", lambda: cudart)
        monkeypatch.setattr(build_setup, "detect_jetson", lambda: board)


def _built_profile(engine: Path) -> tuple[list[int], dict]:
    sidecar = read_sidecar(engine)
    return sidecar.profile.to_dict()["max"], sidecar.builder


def test_build_command_uses_the_preset_and_flags_override_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    board = detect_jetson(fake_root(
        tmp_path / "root", R36_4_3, "NVIDIA Jetson AGX Orin Developer Kit",
        ["nvidia,p3737-0000+p3701-0005", "nvidia,p3701-0005", "nvidia,tegra234"],
    ))  # fmt: skip
    CommandEnv(monkeypatch, "10.3.0", board)
    models = _models(tmp_path / "m", opset=18)
    cache = str(tmp_path / "cache")
    done = run_main(capsys, "build", str(models), "-o", str(tmp_path / "a.engine"), "--cache-dir", cache)
    assert done.code == 0, done.err
    assert "preset agx-orin-64gb" in done.err and "from tiny_fp16.onnx" in done.err
    max_shape, recorded = _built_profile(tmp_path / "a.engine")
    assert max_shape == [8, 256, 256] and recorded["workspace_bytes"] == 4 * GIB
    assert recorded["onnx"] == "tiny_fp16.onnx" and recorded["network_flags"] == ["STRONGLY_TYPED"]
    assert (tmp_path / "a.engine").read_bytes().startswith(ENGINE_MAGIC)

    done = run_main(capsys, "build", str(models / "tiny_fp16.onnx"), "-o", str(tmp_path / "b.engine"),
                    "--cache-dir", cache, "--tile", "64", "--batch-size", "1", "--workspace", "0.25")  # fmt: skip
    assert done.code == 0, done.err
    assert "preset" not in done.err  # every value came from a flag
    max_shape, recorded = _built_profile(tmp_path / "b.engine")
    assert max_shape == [1, 64, 64] and recorded["workspace_bytes"] == GIB // 4

    done = run_main(capsys, "build", str(models), "-o", str(tmp_path / "c.engine"), "--cache-dir", cache,
                    "--preset", "orin-nano-4gb")  # fmt: skip
    assert done.code == 0 and "preset orin-nano-4gb (chosen with --preset)" in done.err
    assert _built_profile(tmp_path / "c.engine")[0] == [1, 128, 128]


def test_build_command_on_tensorrt_8_takes_the_fp32_file_with_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = CommandEnv(monkeypatch, "8.6.2.3")
    models = _models(tmp_path / "m", opset=17)
    done = run_main(capsys, "build", str(models / "tiny_fp16.onnx"), "-o", str(tmp_path / "e.engine"),
                    "--cache-dir", str(tmp_path / "cache"))  # fmt: skip
    assert done.code == 0, done.err
    assert "builds fp16 engines from tiny_fp32.onnx (with the FP16 builder flag)" in done.err
    assert "preset gpu-16gb (GPU memory 16.0 GiB)" in done.err  # the stand-in GPU has 16 GiB
    assert env.poly.builds[-1]["fp16"] is True
    assert json.loads((tmp_path / "e.engine.json").read_text())["precision"] == "fp16"
    assert env.poly.builds[-1]["profiles"][0][INPUT_LR][2] == [4, 3, 256, 256]


def test_build_command_errors_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    CommandEnv(monkeypatch, "8.5.2.2")
    models = _models(tmp_path / "m", opset=18)
    assert_one_line_error(run_main(capsys, "build", str(models)), "--opset 17")
    assert_one_line_error(run_main(capsys, "build", str(models), "--preset", "nope"), "'nope' is not one of")
    assert_one_line_error(run_main(capsys, "build", "no-such-model"), "not a bundled model name")

