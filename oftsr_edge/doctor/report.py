"""Doctor's two outputs: one screen of text for a person, one JSON document for scripts. Both come from the same
facts and advice; a fact a probe could not find is printed with its reason, never left out."""

from __future__ import annotations

import json
from typing import Any

from oftsr_edge.doctor.advice import Advice
from oftsr_edge.doctor.probe import Fact
from oftsr_edge.version import __version__

GIB = 1 << 30
JSON_FORMAT = "oftsr-edge-doctor"
JSON_VERSION = 1


def _gib(n: Any) -> str:
    return f"{n / GIB:.1f} GiB" if isinstance(n, (int, float)) and n else "?"


def _why(fact: Fact | None) -> str:
    return fact.error if fact is not None and fact.error else "not found"


def _system(given: dict[str, Fact]) -> list[str]:
    missing = Fact(False, None, "not probed")
    facts = {name: given.get(name, missing) for name in (
        "python", "packages", "onnxruntime", "openvino", "tensorrt", "cuda_python", "gpus", "jetson", "memory")}  # fmt: skip
    lines = []
    py = facts["python"].value if facts["python"].ok else None
    if py:
        venv = "venv" + (" with system site-packages" if py["system_site_packages"] else "") if py["venv"] else "no venv"
        lines.append(f"Python        {py['version']} ({py['executable']}, {venv}) on {py['system']} {py['machine']}")
    else:
        lines.append(f"Python        ? ({_why(facts['python'])})")
    pkgs = facts["packages"].value if facts["packages"].ok else {}
    listed = " · ".join(f"{k} {v or '—'}" for k, v in pkgs.items())
    lines.append(f"Packages      {listed or _why(facts['packages'])}")
    ort = facts["onnxruntime"]
    text = f"{ort.value['version']}: {', '.join(ort.value['providers'])}" if ort.ok else f"not usable ({ort.error})"
    lines.append(f"ONNX Runtime  {text}")
    ov = facts["openvino"]
    lines.append(f"OpenVINO      {ov.value['version']}: {', '.join(ov.value['devices'])}" if ov.ok and ov.value
                 else f"OpenVINO      {ov.error or 'not probed'}")  # fmt: skip
    trt = facts["tensorrt"]
    system = ((trt.value or {}).get("system_bindings") or []) if isinstance(trt.value, dict) else []
    text = f"{trt.value['version']} ({trt.value['path']})" if trt.ok else f"not usable: {trt.error}"
    if not trt.ok and system:
        text += f"; JetPack's bindings are in {', '.join(system)}"
    lines.append(f"TensorRT      {text}")
    cuda = facts["cuda_python"]
    text = cuda.value["module"] + (f", driver supports CUDA {cuda.value['driver_cuda']}" if cuda.value.get(
        "driver_cuda") else "") if cuda.ok else f"not usable: {cuda.error}"  # fmt: skip
    lines.append(f"cuda-python   {text}")
    gpus = facts["gpus"]
    if gpus.ok and gpus.value["gpus"]:
        for g in gpus.value["gpus"]:
            free = f", {_gib(g['free_memory'])} free" if g.get("free_memory") else ""
            driver = f", driver {g['driver']}" if g.get("driver") else ""
            lines.append(f"GPU {g['index']}         {g['name']} (sm {g['compute_capability']}, "
                         f"{_gib(g['total_memory'])}{free}{driver}; via {gpus.value['source']})")  # fmt: skip
    else:
        lines.append(f"GPU           none: {gpus.error or 'no CUDA device found'}")
    jetson = facts["jetson"]
    if not jetson.ok:
        lines.append(f"Jetson        ? ({jetson.error})")
    elif jetson.value is None:
        lines.append("Jetson        no (no /etc/nv_tegra_release, no Tegra device tree)")
    else:
        j = jetson.value
        module = f", module {j['module']}" if j["module"] else ""
        lines.append(f"Jetson        {j['model'] or '?'} ({j['family'] or 'unknown family'}{module}, "
                     f"{j['memory_gib'] or '?'} GB{', Super' if j['super'] else ''})")  # fmt: skip
        if j["l4t"]:
            expected = (f"JetPack {j['jetpack']} → CUDA {j['expected_cuda']}, TensorRT {j['expected_tensorrt']}"
                        + ("" if j["table_verified"] else " (from user reports)")) if j["jetpack"] else (
                        "not in this version's JetPack table")  # fmt: skip
            lines.append(f"L4T           {j['l4t']}: {expected}")
        else:
            lines.append(f"L4T           unknown ({j['l4t_error']})")
    mem = facts["memory"]
    lines.append(f"Memory        {_gib(mem.value['total'])} total, {_gib(mem.value['available'])} available"
                 if mem.ok else f"Memory        ? ({mem.error})")  # fmt: skip
    return lines


def render_text(facts: dict[str, Fact], advice: Advice) -> str:
    lines = [f"oftsr-edge {__version__} doctor: what this machine can run", "", *_system(facts), ""]
    lines.append(f"Device        {advice.device}")
    p = advice.preset
    lines.append(f"Preset        {p['name']} ({p['why']}): workspace {p['workspace_gib']:g} GiB, tile {p['tile']}, "
                 f"batch {p['batch']} — oftsr-edge build uses these unless --workspace/--tile/--batch-size/--preset"
                 if p else "Preset        none: no CUDA GPU, so no engine to build (upscale runs on the CPU)")  # fmt: skip
    auto = facts.get("auto_tile")
    if auto is not None:
        lines.append(f"Auto tile     {auto.value['model']}: largest tile {auto.value['largest_tile']} within "
                     f"{_gib(auto.value['budget_bytes'])} of RAM (--tile auto)" if auto.ok else
                     f"Auto tile     not available: {auto.error}")  # fmt: skip
    auto_backend = facts.get("auto_backend")
    if auto_backend is not None:
        lines.append(f"Auto backend  {auto_backend.value['summary']}" if auto_backend.ok else
                     f"Auto backend  not known: {auto_backend.error}")  # fmt: skip
    lines += ["", "What runs where (bundled models; trt = an engine built here with 'oftsr-edge build')"]
    for row in advice.runs:
        runs = ", ".join(row["precisions"]) or "—"
        why = f"  ({row['why']})" if row["why"] else ""
        lines.append(f"  {row['model']:<18} {row['backend']:<9} {runs}{why}")
    if not advice.runs:
        lines.append(f"  no bundled models ({_why(facts.get('models'))})")
    if advice.notes:
        lines += ["", "Notes", *(f"  - {n}" for n in advice.notes)]
    lines += ["", "Next"]
    for i, step in enumerate(advice.steps):
        where = "" if step.where == "here" else f"   (on the {step.where})"
        lines.append(f"  {'$' if i == 0 else 'then:'} {step.command}{where}")
        lines.append(f"      {step.why}")
    return "\n".join(lines) + "\n"


def render_json(facts: dict[str, Fact], advice: Advice) -> str:
    data = {
        "format": JSON_FORMAT, "format_version": JSON_VERSION, "version": __version__,
        "facts": {name: fact.to_dict() for name, fact in facts.items()}, **advice.to_dict(),
    }  # fmt: skip
    return json.dumps(data, indent=2, default=str) + "\n"
