"""``oftsr-edge doctor`` on this machine (no GPU, no TensorRT here): a complete report, valid JSON, exit 0 even when
every probe fails, and a next command that exists. The probes' own parsing is checked on stand-ins."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from oftsr_edge.doctor import advice as advice_module
from oftsr_edge.doctor import probe
from oftsr_edge.runtime.backends.tensorrt import cuda_probe
from tests.doctor.cli_check import command_problems
from tests.helpers.cli import assert_one_line_error, run_main
from tests.helpers.fake_tensorrt import FakeCudart, make_fake_trt

REPO = Path(__file__).resolve().parents[2]
SECTIONS = ("Python", "Packages", "ONNX Runtime", "TensorRT", "cuda-python", "GPU", "Jetson", "Memory", "Device",
            "Preset", "What runs where", "Next")  # fmt: skip


def test_text_report_is_complete_and_its_next_command_exists(capsys: pytest.CaptureFixture[str]) -> None:
    done = run_main(capsys, "doctor")
    assert done.code == 0 and "Traceback" not in done.out + done.err
    lines = done.out.splitlines()
    for section in SECTIONS:
        assert any(line.startswith(section) for line in lines), section
    models = probe.probe_models()
    for model in models:
        assert any(line.split()[:2] == [model["name"], "ort-cpu"] for line in lines)
    first = next(line.split("$ ", 1)[1] for line in lines if line.strip().startswith("$ "))
    if first.startswith("oftsr-edge "):
        assert command_problems(first, capsys) == []


def test_json_report_on_stdout_is_valid_and_complete(capsys: pytest.CaptureFixture[str]) -> None:
    done = run_main(capsys, "doctor", "--json")
    assert done.code == 0
    data = json.loads(done.out)
    assert data["format"] == "oftsr-edge-doctor" and set(data["facts"]) == set(probe.PROBES)
    assert all(set(f) == {"ok", "value", "error"} for f in data["facts"].values())
    assert data["next"] == data["steps"][0] and data["next"]["command"]
    assert data["facts"]["python"]["value"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert {r["backend"] for r in data["runs"]} == {"ort-cpu", "ort-cuda", "ort-trt", "trt", "openvino"}
    assert data["facts"]["onnxruntime"]["ok"] and "CPUExecutionProvider" in data["facts"]["onnxruntime"]["value"]["providers"]


def test_json_to_a_file_keeps_the_text_and_a_bad_path_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done = run_main(capsys, "doctor", "--json", str(tmp_path / "doctor.json"))
    assert done.code == 0 and "What runs where" in done.out and f"wrote {tmp_path / 'doctor.json'}" in done.out
    assert json.loads((tmp_path / "doctor.json").read_text())["format"] == "oftsr-edge-doctor"
    (tmp_path / "a-file").write_text("")
    assert_one_line_error(run_main(capsys, "doctor", "--json", str(tmp_path / "a-file" / "x.json")),
                          "cannot write")  # fmt: skip
    assert_one_line_error(run_main(capsys, "doctor", "--device", "-1"), "--device")


def test_every_probe_failing_still_answers(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def boom() -> None:
        raise OSError("simulated: /proc is not mounted")

    monkeypatch.setattr(probe, "PROBES", dict.fromkeys(probe.PROBES, boom))
    done = run_main(capsys, "doctor")
    assert done.code == 0 and "Traceback" not in done.out + done.err
    assert "OSError: simulated" in done.out and "Next" in done.out
    data = json.loads(run_main(capsys, "doctor", "--json").out)
    assert not any(f["ok"] for f in data["facts"].values())
    assert all("simulated" in f["error"] for f in data["facts"].values())


def test_a_bug_in_the_advice_still_prints_the_facts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("gpus")

    monkeypatch.setattr(advice_module, "advise", broken)
    done = run_main(capsys, "doctor")
    assert done.code == 0
    data = json.loads(done.out)
    assert "KeyError" in data["error"] and data["facts"]["python"]["ok"]


def test_doctor_runs_without_torch_or_onnx() -> None:
    """A Jetson's base install has neither: doctor still reports every bundled model (read with onnxruntime)."""
    code = ("import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None\n"
            "from oftsr_edge.cli import main\nmain(['doctor', '--json'])\n")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    models = data["facts"]["models"]["value"]
    assert models and all("spec" in f for m in models for f in m["files"].values())
    assert data["facts"]["packages"]["ok"]


def test_tensorrt_probe_reports_version_or_why_and_jetpacks_bindings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindings = tmp_path / "usr/lib/python3.10/dist-packages/tensorrt"
    bindings.mkdir(parents=True)
    monkeypatch.setattr(probe, "SYSTEM_TRT_GLOB", str(tmp_path / "usr/lib/python3*/dist-packages/tensorrt"))
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    missing = probe.guarded(probe.probe_tensorrt)
    assert not missing.ok and "import tensorrt failed" in missing.error
    assert missing.value == {"system_bindings": [str(bindings)]}
    monkeypatch.setitem(sys.modules, "tensorrt", make_fake_trt("10.3.0.30"))
    found = probe.guarded(probe.probe_tensorrt)
    assert found.ok and found.value["version"] == "10.3.0.30"


def test_gpu_and_cuda_python_probes_on_the_cuda_python_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    cudart = FakeCudart([("Orin", 8, 7)])
    cudart.cudaDriverGetVersion = lambda: (0, 12060)
    cudart.cudaMemGetInfo = lambda: (0, 5 << 30, 7 << 30)
    monkeypatch.setattr(cuda_probe, "import_cudart", lambda: cudart)
    gpus = probe.guarded(probe.probe_gpus)
    assert gpus.ok and gpus.value["gpus"][0] == {
        "index": 0, "name": "Orin", "compute_capability": "8.7", "total_memory": 1 << 34, "free_memory": 5 << 30,
    }  # fmt: skip
    assert probe.guarded(probe.probe_cuda_python).value["driver_cuda"] == "12.6"
    no_device = FakeCudart(count_error=100)
    monkeypatch.setattr(cuda_probe, "import_cudart", lambda: no_device)
    failed = probe.guarded(probe.probe_gpus)
    assert not failed.ok and "cudaErrorNoDevice" in failed.error


def test_gpus_from_nvidia_smi_when_cuda_python_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """``nvidia-smi --query-gpu=... --format=csv,noheader,nounits`` prints one comma-separated row per GPU."""
    out = ("0, NVIDIA H200, 143771, 143138, 570.124.06, 9.0\n1, NVIDIA GeForce RTX 4090, 24564, 23000, 570.124.06, 8.9\n"
           "0, Orin (nvgpu), [N/A], [N/A], 540.4.0, 8.7\n")  # fmt: skip
    monkeypatch.setattr(cuda_probe, "import_cudart", lambda: None)
    monkeypatch.setattr(probe.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(probe.subprocess, "run", lambda *a, **k: types.SimpleNamespace(stdout=out))
    gpus = probe.guarded(probe.probe_gpus).value["gpus"]
    assert [g["name"] for g in gpus] == ["NVIDIA H200", "NVIDIA GeForce RTX 4090", "Orin (nvgpu)"]
    assert gpus[1]["total_memory"] == 24564 << 20 and gpus[0]["driver"] == "570.124.06"
    assert gpus[2]["total_memory"] is None  # an unreadable cell is unknown, not a failed probe
    monkeypatch.setattr(probe.shutil, "which", lambda name: None)
    assert "nvidia-smi is not on PATH" in probe.guarded(probe.probe_gpus).error


def test_memory_and_python_probes(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text("MemTotal:        7802000 kB\nMemAvailable:    5000000 kB\n")
    assert probe.probe_memory(str(tmp_path)) == {"total": 7802000 * 1024, "available": 5000000 * 1024, "swap": None}
    assert not probe.guarded(lambda: probe.probe_memory(str(tmp_path / "none"))).ok
    assert probe.probe_python()["venv"] == (sys.prefix != sys.base_prefix)


def test_auto_tile_uses_the_memory_model_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("oftsr_edge.runtime.tiling.memory_plan")
    fake.default_budget = lambda on_gpu=False: 512 << 20
    fake.memory_model = lambda spec: types.SimpleNamespace(source="measured here")
    fake.largest_square_tile = lambda spec, budget: 256 if budget == 512 << 20 else 0
    monkeypatch.setitem(sys.modules, "oftsr_edge.runtime.tiling.memory_plan", fake)
    fact = probe.guarded(probe.probe_auto_tile)
    assert fact.ok and fact.value["largest_tile"] == 256 and fact.value["budget_bytes"] == 512 << 20
    monkeypatch.setitem(sys.modules, "oftsr_edge.runtime.tiling.memory_plan", None)
    absent = probe.guarded(probe.probe_auto_tile)
    assert not absent.ok and "no memory model" in absent.error
