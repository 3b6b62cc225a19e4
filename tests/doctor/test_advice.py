"""Doctor's advice on hand-written facts of the machines issue 15 names: a CPU box, Jetsons on JetPack 5 / 6 in
each state of TensorRT setup, a desktop GPU. Every ``oftsr-edge`` command it suggests must exist as written."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from oftsr_edge.doctor.advice import advise
from oftsr_edge.doctor.probe import Fact, probe_models
from oftsr_edge.runtime.models import default_name
from tests.doctor.cli_check import command_problems

GIB = 1 << 30
BUNDLED = probe_models()  # the real bundled models (opset 18 fp32)


def opset17(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bundled models as if exported at opset 17 (what JetPack 5 / 6.0 need)."""
    models = copy.deepcopy(models)
    for model in models:
        for entry in model["files"].values():
            entry["spec"]["opset"] = 17
    return models


def jetson(l4t: str, jetpack: str, cuda: str, trt: str, family: str = "orin-nano", gib: int = 8) -> dict[str, Any]:
    return {
        "model": "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super", "compatible": [],
        "module": "p3767-0005", "soc": "tegra234", "family": family, "memory_gib": gib, "super": True, "l4t": l4t,
        "l4t_error": None, "jetpack": jetpack, "expected_cuda": cuda, "expected_tensorrt": trt, "table_source": "t",
        "table_verified": True,
    }  # fmt: skip


def facts(
    *,
    board: dict[str, Any] | None = None,
    trt: str | None = None,
    trt_error: str = "import tensorrt failed (ModuleNotFoundError: No module named 'tensorrt')",
    system_bindings: tuple[str, ...] = (),
    cuda: bool = False,
    gpus: list[dict[str, Any]] | None = None,
    venv: bool = False,
    system_site: bool | None = None,
    providers: tuple[str, ...] = ("CPUExecutionProvider",),
    models: list[dict[str, Any]] | None = None,
    openvino: str | None = None,
) -> dict[str, Fact]:
    gpu_fact = Fact(True, {"source": "cuda-python", "gpus": gpus}) if gpus else Fact(False, None, "no CUDA device")
    return {
        "python": Fact(True, {"version": "3.10.12", "executable": "/usr/bin/python3", "venv": venv,
                              "system_site_packages": system_site, "machine": "aarch64", "system": "Linux"}),
        "packages": Fact(True, {"numpy": "1.26.4"}),
        "onnxruntime": Fact(True, {"version": "1.20.0", "providers": list(providers)}),
        "openvino": Fact(True, {"version": openvino, "devices": ["CPU"]}) if openvino
        else Fact(False, None, "not installed (ModuleNotFoundError): pip install 'oftsr-edge[openvino]'"),
        "tensorrt": Fact(True, {"version": trt, "path": "/x", "system_bindings": list(system_bindings)}) if trt
        else Fact(False, {"system_bindings": list(system_bindings)}, trt_error),
        "cuda_python": Fact(True, {"module": "cuda.bindings.runtime"}) if cuda else Fact(False, None, "not installed"),
        "gpus": gpu_fact,
        "jetson": Fact(True, board),
        "memory": Fact(True, {"total": int(7.4 * GIB), "available": 5 * GIB, "swap": 0}),
        "models": Fact(True, BUNDLED if models is None else models),
    }  # fmt: skip


ORIN = [{"index": 0, "name": "Orin", "compute_capability": "8.7", "total_memory": int(7.4 * GIB)}]
JP62 = jetson("36.4.3", "6.2", "12.6", "10.3")
JP512 = jetson("35.4.1", "5.1.2", "11.4", "8.5.2")


def _next(advice: Any) -> str:
    return advice.steps[0].command


def _row(advice: Any, backend: str) -> dict[str, Any]:
    return next(r for r in advice.runs if r["backend"] == backend)


def test_cpu_box_upscales_on_the_cpu() -> None:
    advice = advise(facts(), example=True)
    assert _next(advice) == "oftsr-edge upscale examples/kodim23_lr.png -o kodim23_x4.png --backend ort-cpu"
    assert advice.preset is None and advice.device.startswith("CPU only")
    assert _row(advice, "ort-cpu")["precisions"] == ["fp32"]
    trt = _row(advice, "trt")
    assert trt["precisions"] == [] and trt["why"].startswith("TensorRT not importable")
    assert "JetPack" in trt["why"] and "docs/jetson.md" in trt["why"] and "[trt]" not in trt["why"]
    assert advise(facts()).steps[0].command.startswith("oftsr-edge upscale INPUT.png -o OUTPUT.png")


def test_openvino_is_named_when_installed_and_suggested_on_an_x86_cpu_when_not() -> None:
    x86 = facts()
    x86["python"].value["machine"] = "x86_64"
    without = advise(x86)
    row = _row(without, "openvino")
    assert row["precisions"] == [] and "pip install 'oftsr-edge[openvino]'" in row["why"]
    assert any("oftsr-edge[openvino]" in n for n in without.notes)
    with_ov = advise({**x86, "openvino": Fact(True, {"version": "2025.1.0", "devices": ["CPU"]})})
    default = next(m for m in BUNDLED if m["default"])
    row = next(r for r in with_ov.runs if r["backend"] == "openvino" and r["model"] == default["name"])
    assert row["precisions"] == [p for p in ("fp32", "fp16", "int8") if p in default["files"]] and not row["why"]
    assert any("OpenVINO 2025.1.0 is installed" in n and "--backend auto" in n for n in with_ov.notes)
    assert not any("probe openvino failed" in n for n in without.notes)  # missing is advice, not a failure


def test_jetson_venv_that_cannot_see_jetpacks_tensorrt() -> None:
    advice = advise(facts(board=JP62, system_bindings=("/usr/lib/python3.10/dist-packages/tensorrt",), venv=True,
                          system_site=False))  # fmt: skip
    assert _next(advice) == "python3.10 -m venv --system-site-packages ~/.venvs/oftsr"
    assert "/usr/lib/python3.10/dist-packages/tensorrt" in advice.steps[0].why
    assert advice.preset is not None and advice.preset["name"] == "orin-nano-8gb"  # known before any GPU probe
    assert advice.steps[1].command.endswith("--backend ort-cpu")  # meanwhile


def test_jetson_without_tensorrt_bindings_installs_them_from_jetpack() -> None:
    advice = advise(facts(board=JP512))
    assert _next(advice) == "sudo apt install python3-libnvinfer"
    assert any("nvpmodel" in n and "jetson_clocks" in n for n in advice.notes)


@pytest.mark.parametrize(("board", "spec"), [(JP62, '"cuda-python==12.*"'), (JP512, '"cuda-python==11.*"')])
def test_tensorrt_without_cuda_python_installs_the_matching_major(board: dict[str, Any], spec: str) -> None:
    advice = advise(facts(board=board, trt=board["expected_tensorrt"]))
    assert _next(advice) == f"pip install {spec}"


def test_jetpack5_with_the_opset18_bundle_says_to_re_export_at_opset17() -> None:
    advice = advise(facts(board=JP512, trt="8.5.2.2", cuda=True, gpus=ORIN))
    assert advice.steps[0].where == "training machine" and "--opset 17" in _next(advice)
    assert advice.steps[1].command == "oftsr-edge build exported17 --precision fp16"
    trt_row = _row(advice, "trt")
    assert trt_row["precisions"] == [] and "opset" in trt_row["why"]


def test_jetpack5_with_an_opset17_model_builds_fp16_from_fp32() -> None:
    advice = advise(facts(board=JP512, trt="8.5.2.2", cuda=True, gpus=ORIN, models=opset17(BUNDLED)))
    name = default_name()
    assert _next(advice) == f"oftsr-edge build {name} -o {name}_fp16.engine"
    assert f"from {name}_fp32.onnx" in advice.steps[0].why  # the FP16 builder flag on the opset-17 fp32 file
    assert advice.steps[1].command.endswith(f"--model {name}_fp16.engine --backend trt")
    assert _row(advice, "trt")["precisions"] == ["fp32", "fp16"]  # int8 needs the Q/DQ file


def test_jetpack6_builds_the_default_from_its_fp16_onnx_and_fp32_only_models_stay_fp32() -> None:
    advice = advise(facts(board=JP62, trt="10.3.0.30", cuda=True, gpus=ORIN), device=0)
    name = default_name()
    assert _next(advice) == f"oftsr-edge build {name} -o {name}_fp16.engine"
    assert f"from {name}_fp16.onnx" in advice.steps[0].why  # strongly typed: the fp16 file, no builder flag
    small = _row(advice, "trt")  # oftsr-small-x4 ships fp32 only
    assert small["model"] == "oftsr-small-x4"
    assert small["precisions"] == ["fp32"] and "strongly typed" in small["why"]
    assert advice.preset["name"] == "orin-nano-8gb" and not any("shadow" in n for n in advice.notes)
    on_gpu1 = advise(facts(board=JP62, trt="10.3.0.30", cuda=True, gpus=ORIN), device=1)
    assert _next(on_gpu1).endswith("--device 1")


def test_a_pip_tensorrt_that_is_not_jetpacks_is_noted() -> None:
    advice = advise(facts(board=JP62, trt="10.7.0", cuda=True, gpus=ORIN))
    assert any("shadow" in n and "10.3" in n for n in advice.notes)


def test_desktop_gpu_without_tensorrt() -> None:
    gpu = [{"index": 0, "name": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9", "total_memory": 24 * GIB}]
    advice = advise(facts(gpus=gpu, providers=("CUDAExecutionProvider", "CPUExecutionProvider")))
    assert _next(advice) == "pip install tensorrt" and advice.steps[1].command.endswith("--backend ort-cuda")
    assert advice.preset["name"] == "gpu-24gb" and "24.0 GiB" in advice.preset["why"]
    assert _row(advice, "ort-cuda")["precisions"] == ["fp32"] and _row(advice, "ort-trt")["precisions"] == []


def test_a_gpu_of_unknown_memory_gets_no_preset_but_an_answer() -> None:
    gpu = [{"index": 0, "name": "Orin (nvgpu)", "compute_capability": "8.7", "total_memory": None}]
    advice = advise(facts(gpus=gpu))
    assert advice.device == "Orin (nvgpu) (memory unknown)" and advice.preset is None
    assert _next(advice) == "pip install tensorrt"


def test_too_old_tensorrt_falls_back_to_the_cpu() -> None:
    advice = advise(facts(board=jetson("35.1.0", "5.0.2", "11.4", "8.4.1"), trt="8.4.1", cuda=True, gpus=ORIN))
    assert _next(advice).endswith("--backend ort-cpu") and "JetPack 5.1" in advice.steps[1].command


def test_no_onnxruntime_is_the_first_thing_to_fix() -> None:
    broken = facts()
    broken["onnxruntime"] = Fact(False, None, "ModuleNotFoundError: No module named 'onnxruntime'")
    advice = advise(broken)
    assert _next(advice) == "pip install onnxruntime"
    assert all(r["precisions"] == [] for r in advice.runs if r["backend"].startswith("ort"))
    assert any("onnxruntime failed" in n for n in advice.notes)


SCENARIOS = [
    facts(), facts(board=JP512), facts(board=JP62, trt="10.3.0", cuda=True, gpus=ORIN),
    facts(board=JP512, trt="8.5.2.2", cuda=True, gpus=ORIN), facts(board=JP512, trt="8.5.2.2", cuda=True, gpus=ORIN,
    models=opset17(BUNDLED)), facts(gpus=ORIN),
]  # fmt: skip


@pytest.mark.parametrize("index", range(len(SCENARIOS)))
def test_every_suggested_command_exists_and_the_advice_is_json(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    advice = advise(SCENARIOS[index], example=True)
    json.dumps(advice.to_dict())
    for step in advice.steps:
        if step.command.startswith("oftsr-edge "):
            assert command_problems(step.command.replace("CHECKPOINT", "runs/student"), capsys) == []
