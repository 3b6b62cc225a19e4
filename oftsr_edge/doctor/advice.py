"""From doctor's facts to advice: what this device is, its memory preset, which bundled model runs on which
backend in which precision, and the exact commands to run next. Pure: facts in, advice out, so every branch is
tested with facts written by hand (tests/doctor/test_advice.py).

The TensorRT column uses the same rule as ``oftsr-edge build`` (runtime/backends/tensorrt/onnx_choice.py), and the
preset the same chooser (runtime/device/devices.py), so doctor never promises what build would refuse.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from oftsr_edge.contract import PRECISIONS, ModelSpec
from oftsr_edge.doctor.probe import Fact
from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.backends.tensorrt.onnx_choice import ModelSource, choose_onnx
from oftsr_edge.runtime.backends.tensorrt.versions import MIN_SUPPORTED, TrtVersion
from oftsr_edge.runtime.device.devices import choose_preset

GIB = 1 << 30
EXAMPLE = "examples/kodim23_lr.png"
#: where TensorRT comes from: no oftsr-edge extra holds it ([trt] is cuda-python and Polygraphy only)
TRT_SOURCE = "it comes with JetPack on a Jetson, from NVIDIA's packages on a desktop (docs/jetson.md)"
OPENVINO_MISSING = (
    "OpenVINO not installed: pip install 'oftsr-edge[openvino]' (on x86 CPUs often the faster engine, int8 "
    "especially; --backend auto then times it against ONNX Runtime once)"
)


@dataclass
class Step:
    command: str
    why: str
    where: str = "here"  # or "training machine": a step that needs torch/onnx


@dataclass
class Advice:
    device: str
    preset: dict[str, Any] | None
    runs: list[dict[str, Any]]  # one row per (model, backend): precisions that run, or why none
    steps: list[Step]  # steps[0] is the next command
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["next"] = data["steps"][0] if self.steps else None
        return data


def _value(facts: dict[str, Fact], name: str) -> Any:
    fact = facts.get(name)
    return fact.value if fact is not None and fact.ok else None


def _gpus(facts: dict[str, Fact]) -> list[dict[str, Any]]:
    return list((_value(facts, "gpus") or {}).get("gpus") or [])


def _trt_version(facts: dict[str, Fact]) -> TrtVersion | None:
    info = _value(facts, "tensorrt")
    try:
        return TrtVersion.parse(info["version"]) if info else None
    except (OftsrError, KeyError, TypeError):
        return None


def describe_device(facts: dict[str, Fact]) -> str:
    jetson = _value(facts, "jetson")
    if jetson:
        name = jetson.get("model") or "Jetson (unknown board)"
        size = f", {jetson['memory_gib']} GB" if jetson.get("memory_gib") else ""
        if jetson.get("l4t"):
            jp = f"JetPack {jetson['jetpack']}" if jetson.get("jetpack") else "JetPack unknown to this version"
            return f"{name}{size}: {jp} (L4T {jetson['l4t']})"
        return f"{name}{size}: L4T unknown ({jetson.get('l4t_error') or 'no nv_tegra_release'})"
    gpus = _gpus(facts)
    if gpus:
        sizes = [f"{g['total_memory'] / GIB:.1f} GiB" if g.get("total_memory") else "memory unknown" for g in gpus]
        return ", ".join(f"{g['name']} ({size})" for g, size in zip(gpus, sizes))
    return "CPU only (no CUDA GPU found)"


def device_preset(facts: dict[str, Fact], device: int = 0) -> dict[str, Any] | None:
    """The preset ``oftsr-edge build`` would pick here (same chooser), with how it was chosen."""
    jetson = _value(facts, "jetson") or {}
    gpu = next((g for g in _gpus(facts) if g.get("index") == device), None)
    memory = (gpu or {}).get("total_memory")
    if jetson and not memory:  # a Jetson's GPU memory is its RAM
        memory = (_value(facts, "memory") or {}).get("total")
    key = f"{jetson['family']}-{jetson['memory_gib']}gb" if jetson.get("family") and jetson.get("memory_gib") else None
    choice = choose_preset(jetson_key=key, jetson_family=jetson.get("family"), gpu_memory_bytes=memory)
    return None if choice is None else {**choice.preset.to_dict(), "why": choice.why}


def _source(model: dict[str, Any]) -> tuple[ModelSource, dict[Path, ModelSpec]]:
    specs = {Path(f["path"]): ModelSpec.from_json(json.dumps(f["spec"])) for f in model["files"].values() if "spec" in f}
    variants = {p: Path(f["path"]) for p, f in model["files"].items() if "spec" in f}
    return ModelSource(model["name"], variants, None), specs


def _reader(specs: dict[Path, ModelSpec]) -> Any:
    return lambda path: specs[Path(path)]


def _problem(text: str) -> str:
    """The problem part of a build error (its fix follows the first "; ")."""
    return text.split("; ", 1)[0]


def runs(facts: dict[str, Fact]) -> list[dict[str, Any]]:
    """Per bundled model and backend: the precisions that run here, or why not."""
    ort = _value(facts, "onnxruntime")
    providers = set((ort or {}).get("providers") or [])
    openvino = _value(facts, "openvino")
    gpus = _gpus(facts)
    version = _trt_version(facts)
    trt_missing = None
    if version is None:
        trt_missing = f"TensorRT not importable: {TRT_SOURCE}"
    elif (version.major, version.minor) < MIN_SUPPORTED:
        trt_missing = f"TensorRT {version} is older than 8.5"
    elif not _value(facts, "cuda_python"):
        trt_missing = "cuda-python missing"
    elif not gpus:
        trt_missing = "no CUDA GPU"
    rows = []
    for model in _value(facts, "models") or []:
        source, specs = _source(model)
        files = [p for p in PRECISIONS if p in source.variants]
        for backend, provider in (("ort-cpu", "CPUExecutionProvider"), ("ort-cuda", "CUDAExecutionProvider"),
                                  ("ort-trt", "TensorrtExecutionProvider")):  # fmt: skip
            why = ""
            if ort is None:
                why = "onnxruntime not importable"
            elif provider not in providers:
                why = f"no {provider} in this onnxruntime"
            elif backend != "ort-cpu" and not gpus:
                why = "no CUDA GPU"
            rows.append({"model": model["name"], "backend": backend, "precisions": [] if why else files, "why": why})
        ok, reasons = [], []
        for precision in PRECISIONS if trt_missing is None else ():
            try:
                choose_onnx(version, source, precision, _reader(specs))
                ok.append(precision)
            except OftsrError as exc:
                reasons.append(f"{precision}: {_problem(str(exc))}")
        rows.append({"model": model["name"], "backend": "trt", "precisions": ok,
                     "why": trt_missing or "; ".join(reasons)})  # fmt: skip
        rows.append({"model": model["name"], "backend": "openvino", "precisions": files if openvino else [],
                     "why": "" if openvino else OPENVINO_MISSING})  # fmt: skip
    return rows


def _cuda_major(facts: dict[str, Fact]) -> int | None:
    jetson = _value(facts, "jetson") or {}
    for text in (jetson.get("expected_cuda"), (_value(facts, "cuda_python") or {}).get("driver_cuda")):
        match = re.match(r"(\d+)", str(text or ""))
        if match:
            return int(match[1])
    return None


def _upscale(example: bool, backend: str, model: str | None = None) -> str:
    src, out = (EXAMPLE, "kodim23_x4.png") if example else ("INPUT.png", "OUTPUT.png")
    return f"oftsr-edge upscale {src} -o {out}" + (f" --model {model}" if model else "") + f" --backend {backend}"


def next_steps(facts: dict[str, Fact], example: bool = False, device: int = 0) -> list[Step]:
    """The commands to run next, most useful first."""
    python = _value(facts, "python") or {}
    jetson = _value(facts, "jetson")
    gpus = _gpus(facts)
    cpu = Step(_upscale(example, "ort-cpu"), "upscale on the CPU now (ONNX Runtime, the bundled default model)")
    if _value(facts, "onnxruntime") is None:
        return [Step("pip install onnxruntime", "the runtime needs ONNX Runtime (on a Jetson, NVIDIA's onnxruntime-gpu "
                     "wheel adds CUDA; docs/jetson.md)")]  # fmt: skip
    version = _trt_version(facts)
    if version is None and (jetson or gpus):
        trt_fact = facts.get("tensorrt") or Fact(False)
        system = (trt_fact.value or {}).get("system_bindings") or []
        if system and python.get("venv") and not python.get("system_site_packages"):
            py = re.search(r"python3\.\d+", system[0])
            return [Step(f"{py[0] if py else 'python3'} -m venv --system-site-packages ~/.venvs/oftsr",
                         f"JetPack's TensorRT bindings are in {system[0]}, which this venv does not see; "
                         "then activate it and install oftsr-edge in it"), cpu]  # fmt: skip
        if jetson:
            return [Step("sudo apt install python3-libnvinfer",
                         "TensorRT's Python bindings come with JetPack (apt), not from PyPI nor an oftsr-edge "
                         "extra (docs/jetson.md)"), cpu]  # fmt: skip
        return [Step("pip install tensorrt", "NVIDIA's TensorRT wheels for desktop GPUs (x86_64), not an oftsr-edge "
                     "extra (docs/tensorrt.md; on a Jetson, JetPack's: docs/jetson.md)"),
                Step(_upscale(example, "ort-cuda"), "or, with pip install onnxruntime-gpu, ONNX Runtime on the GPU")]
    if version is not None and (version.major, version.minor) < MIN_SUPPORTED:
        return [cpu, Step("upgrade to JetPack 5.1 or newer", f"TensorRT {version} predates the tensor-name API")]
    if version is not None and not _value(facts, "cuda_python"):
        major = _cuda_major(facts)
        spec = f'"cuda-python=={major}.*"' if major else "cuda-python"
        return [Step(f"pip install {spec}", "the TensorRT backend moves memory with cuda-python, whose major "
                     "version must match this CUDA"), cpu]  # fmt: skip
    if version is None or not gpus:
        reason = (facts.get("gpus") or Fact(False)).error or "no CUDA GPU"
        return [Step(cpu.command, f"{cpu.why}; TensorRT needs a CUDA GPU ({reason})")]
    return _build_steps(facts, version, example, f" --device {device}" if device else "")


def _build_steps(facts: dict[str, Fact], version: TrtVersion, example: bool, on: str) -> list[Step]:
    model = next((m for m in _value(facts, "models") or [] if m.get("default")), None)
    if model is None:
        return [Step("oftsr-edge build MODEL.onnx", "no bundled model found: build your exported ONNX")]
    source, specs = _source(model)
    try:
        choice = choose_onnx(version, source, None, _reader(specs))
    except OftsrError:
        fp32 = model["files"].get("fp32", {}).get("spec", {})
        if not version.strongly_typed and fp32.get("opset", 0) > 17:
            return [
                Step("oftsr-edge export CHECKPOINT -o exported17 --opset 17 --precision fp32",
                     f"TensorRT {version} parses ONNX up to opset 17 and the bundled {model['name']} is opset "
                     f"{fp32['opset']}: export it again where the [export] extra is installed", "training machine"),
                Step("oftsr-edge build exported17 --precision fp16", "then copy exported17/ here and build"),
            ]  # fmt: skip
        return [Step(f"oftsr-edge build {model['name']}", "build an engine from the bundled model")]
    engine = f"{model['name']}_{choice.precision}.engine"
    steps = [
        Step(f"oftsr-edge build {model['name']} -o {engine}{on}",
             f"an {choice.precision} engine from {choice.path.name} for TensorRT {version}, sized by this device's "
             "preset"),
        Step(_upscale(example, "trt", engine) + on, "then upscale with it"),
    ]  # fmt: skip
    if choice.precision == "fp32" and version.strongly_typed:
        fp32 = model["files"]["fp32"]["path"]
        steps.append(Step(f"oftsr-edge export {fp32} -o exported --precision fp32,fp16",
                          "for fp16 (TensorRT >= 10 takes it from an fp16 ONNX): derive it (needs the onnx "
                          "package), then oftsr-edge build exported"))  # fmt: skip
    return steps


def notes(facts: dict[str, Fact]) -> list[str]:
    found = []
    jetson = _value(facts, "jetson") or {}
    version = _trt_version(facts)
    expected = jetson.get("expected_tensorrt")
    if version is not None and expected and not str(version).startswith(expected.split(" ")[0]):
        found.append(f"TensorRT {version} is imported, but JetPack {jetson.get('jetpack')} ships {expected}: a pip "
                     "wheel may shadow JetPack's (PyPI's tensorrt wheels are SBSA builds, not L4T)")  # fmt: skip
    if jetson and jetson.get("table_verified") is False:
        found.append(f"the L4T {jetson.get('l4t')} row of the JetPack table is from user reports, not NVIDIA's notes")
    if jetson:
        found.append("before benchmarking: sudo nvpmodel -q (then the MAXN mode) and sudo jetson_clocks "
                     "(docs/jetson.md)")  # fmt: skip
    openvino = _value(facts, "openvino")
    if openvino:
        found.append(f"OpenVINO {openvino.get('version')} is installed: --backend openvino runs it, and --backend "
                     "auto on a CPU times it against ONNX Runtime once per model and runs the faster")  # fmt: skip
    elif not _gpus(facts) and (_value(facts, "python") or {}).get("machine") in ("x86_64", "AMD64"):
        found.append(OPENVINO_MISSING)
    for name, fact in facts.items():
        if not fact.ok and name not in ("tensorrt", "cuda_python", "gpus", "auto_tile", "openvino"):
            found.append(f"probe {name} failed: {fact.error}")
    return found


def advise(facts: dict[str, Fact], *, example: bool = False, device: int = 0) -> Advice:
    return Advice(describe_device(facts), device_preset(facts, device), runs(facts),
                  next_steps(facts, example, device), notes(facts))  # fmt: skip
