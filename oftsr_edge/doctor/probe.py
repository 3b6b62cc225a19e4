"""The facts ``oftsr-edge doctor`` reports, each found by one guarded probe.

Every probe returns plain JSON-able data. :func:`collect` runs each inside ``try``: a probe that raises becomes a
:class:`Fact` with ``ok = False`` and the reason, so doctor answers on any machine (no GPU, no TensorRT, a broken
driver, a container without /proc files) and never shows a traceback. Nothing here creates a TensorRT object: only
``import tensorrt`` and cuda-python's device queries (a builder on a machine without a working GPU can abort the
process, runtime/backends/tensorrt/cuda_probe.py).
"""

from __future__ import annotations

import glob
import importlib
import importlib.metadata
import json
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: distributions whose versions doctor lists (metadata only: nothing is imported for this)
DISTRIBUTIONS = (
    "numpy", "Pillow", "onnxruntime", "onnxruntime-gpu", "openvino", "onnx", "torch", "cuda-python", "tensorrt",
    "polygraphy",
)  # fmt: skip
#: where JetPack's apt package python3-libnvinfer puts TensorRT's bindings (JetPack 5: python3.8, 6: python3.10)
SYSTEM_TRT_GLOB = "/usr/lib/python3*/dist-packages/tensorrt"


@dataclass
class Fact:
    ok: bool
    value: Any = None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "value": self.value, "error": self.error or None}


class ProbeError(Exception):
    """A probe that found out why something is unavailable, with what it learned on the way."""

    def __init__(self, reason: str, value: Any = None) -> None:
        super().__init__(reason)
        self.reason, self.value = reason, value


def _why(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ProbeError) else f"{type(exc).__name__}: {exc}".strip()


def guarded(probe: Callable[[], Any]) -> Fact:
    """Run one probe; any exception (a missing library, an unreadable file, a driver error) becomes its reason."""
    try:
        return Fact(True, probe())
    except ProbeError as exc:
        return Fact(False, exc.value, exc.reason)
    except Exception as exc:  # noqa: BLE001 - doctor must answer whatever a probe hits
        return Fact(False, None, _why(exc))


def probe_python() -> dict[str, Any]:
    in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    system_site = None
    if in_venv:
        cfg = Path(sys.prefix) / "pyvenv.cfg"
        text = cfg.read_text() if cfg.is_file() else ""
        match = re.search(r"include-system-site-packages\s*=\s*(\w+)", text)
        system_site = bool(match) and match[1].lower() == "true"
    return {
        "version": platform.python_version(), "executable": sys.executable, "venv": in_venv,
        "system_site_packages": system_site, "machine": platform.machine(), "system": platform.system(),
    }  # fmt: skip


def probe_packages() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in DISTRIBUTIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def probe_onnxruntime() -> dict[str, Any]:
    import onnxruntime

    return {"version": onnxruntime.__version__, "providers": list(onnxruntime.get_available_providers())}


def probe_openvino() -> dict[str, Any]:
    """OpenVINO's version and devices: on x86 CPUs it often runs int8 models faster than ONNX Runtime."""
    try:
        ov = importlib.import_module("openvino")
    except Exception as exc:  # noqa: BLE001 - ImportError, or a broken install
        raise ProbeError(f"not installed ({_why(exc)}): pip install 'oftsr-edge[openvino]'") from None
    version = getattr(ov, "__version__", None) or ov.get_version()
    return {"version": str(version), "devices": list(ov.Core().available_devices)}


def probe_auto_backend() -> dict[str, Any]:
    """What ``--backend auto`` runs for the default model here, from its timing cache (never times anything)."""
    from oftsr_edge.runtime.backends.cpu_choice import cache_path, describe

    return {"summary": describe(None), "cache": str(cache_path())}


def probe_tensorrt() -> dict[str, Any]:
    """TensorRT's version, or why ``import tensorrt`` fails plus where JetPack's own bindings are (if anywhere)."""
    system = sorted(glob.glob(SYSTEM_TRT_GLOB))
    try:
        trt = importlib.import_module("tensorrt")
    except Exception as exc:  # ImportError, or an OSError from a missing libnvinfer
        raise ProbeError(f"import tensorrt failed ({_why(exc)})", {"system_bindings": system}) from None
    version = getattr(trt, "__version__", None)
    if not version:
        raise ProbeError("import tensorrt gave a module without __version__", {"system_bindings": system})
    return {"version": str(version), "path": str(getattr(trt, "__file__", "") or ""), "system_bindings": system}


def probe_cuda_python() -> dict[str, Any]:
    from oftsr_edge.runtime.backends.tensorrt.cuda_probe import import_cudart

    cudart = import_cudart()
    if cudart is None:
        raise ProbeError("cuda-python is not installed")
    info: dict[str, Any] = {"module": getattr(cudart, "__name__", type(cudart).__name__)}
    try:
        err, driver = cudart.cudaDriverGetVersion()  # e.g. 12060 = the driver runs CUDA 12.6 programs
        if int(err) == 0:
            info["driver_cuda"] = f"{int(driver) // 1000}.{int(driver) % 1000 // 10}"
    except Exception as exc:  # noqa: BLE001 - importable but the driver query failed: say so, keep the fact
        info["driver_error"] = _why(exc)
    return info


def _number(cell: str, unit: int) -> int | None:
    """A numeric nvidia-smi cell times ``unit``; None for a cell such as "[N/A]" or "[Not Supported]"."""
    try:
        return int(float(cell) * unit)
    except ValueError:
        return None


def _nvidia_smi() -> list[dict[str, Any]]:
    """GPUs from ``nvidia-smi`` (desktop drivers; absent on most Jetsons), for when cuda-python is missing."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        raise ProbeError("cuda-python is not installed and nvidia-smi is not on PATH")
    query = "index,name,memory.total,memory.free,driver_version,compute_cap"
    out = subprocess.run([exe, f"--query-gpu={query}", "--format=csv,noheader,nounits"], capture_output=True,
                         text=True, timeout=20, check=True).stdout  # fmt: skip
    gpus = []
    for line in out.strip().splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != 6:
            continue
        gpus.append({
            "index": _number(cells[0], 1), "name": cells[1], "total_memory": _number(cells[2], 1 << 20),
            "free_memory": _number(cells[3], 1 << 20), "driver": cells[4], "compute_capability": cells[5],
        })  # fmt: skip
    return gpus


def probe_gpus() -> dict[str, Any]:
    """CUDA devices through cuda-python (name, compute capability, memory), else through nvidia-smi."""
    from oftsr_edge.runtime.backends.tensorrt.cuda_probe import import_cudart, probe_gpus

    cudart = import_cudart()
    if cudart is None:
        return {"source": "nvidia-smi", "gpus": _nvidia_smi()}
    found = probe_gpus(cudart)
    if not found.available:
        raise ProbeError(found.reason, {"source": "cuda-python", "gpus": []})
    gpus = []
    for gpu in found.gpus:
        entry = {"index": gpu.index, "name": gpu.name, "compute_capability": gpu.compute_capability,
                 "total_memory": gpu.total_memory}  # fmt: skip
        try:  # free memory needs a context on that device: best effort
            err = cudart.cudaSetDevice(gpu.index)[0]
            err, free, _ = cudart.cudaMemGetInfo() if int(err) == 0 else (err, None, None)
            if int(err) == 0:
                entry["free_memory"] = int(free)
        except Exception:  # noqa: BLE001
            pass
        gpus.append(entry)
    return {"source": "cuda-python", "gpus": gpus}


def probe_jetson(root: str = "/") -> dict[str, Any] | None:
    from oftsr_edge.runtime.device.jetson import detect_jetson

    info = detect_jetson(root)
    return None if info is None else info.to_dict()


def probe_memory(root: str = "/") -> dict[str, Any]:
    text = (Path(root) / "proc" / "meminfo").read_text()
    values = {k: int(v) * 1024 for k, v in re.findall(r"^(MemTotal|MemAvailable|SwapTotal):\s+(\d+)\s*kB", text, re.M)}
    if "MemTotal" not in values:
        raise ProbeError("no MemTotal in /proc/meminfo")
    return {"total": values["MemTotal"], "available": values.get("MemAvailable"), "swap": values.get("SwapTotal")}


def probe_models() -> list[dict[str, Any]]:
    """Every bundled model's files with the metadata build and the runtime go by (opset, multiple_of, tile)."""
    from oftsr_edge.contract import read_spec
    from oftsr_edge.runtime.models import bundled_cards, default_name

    default = default_name()
    models = []
    for name, card in bundled_cards().items():
        files = {}
        for precision, path in card.files.items():
            try:
                files[precision] = {"path": str(path), "spec": json.loads(read_spec(path).to_json())}
            except Exception as exc:  # noqa: BLE001 - one unreadable file must not hide the others
                files[precision] = {"path": str(path), "error": _why(exc)}
        models.append({"name": name, "default": name == default, "scale": card.scale, "files": files})
    return models


def probe_auto_tile() -> dict[str, Any]:
    """What ``--tile auto`` (runtime/tiling/memory_plan.py, another module's memory model) would allow here for the default
    model: the memory budget and the largest square tile of one call. Read-only; absent in versions without it."""
    try:
        memory = importlib.import_module("oftsr_edge.runtime.tiling.memory_plan")
    except ImportError:
        raise ProbeError("this version has no memory model for --tile auto (oftsr_edge/runtime/tiling/memory_plan.py)") from None
    from oftsr_edge.contract import read_spec
    from oftsr_edge.runtime.models import resolve_model

    spec = read_spec(resolve_model(None))
    budget = int(memory.default_budget(on_gpu=False))
    model = memory.memory_model(spec)
    return {
        "model": spec.name, "budget_bytes": budget, "largest_tile": int(memory.largest_square_tile(spec, budget)),
        "memory_model": str(getattr(model, "source", "")),
    }  # fmt: skip


#: name → probe, in report order
PROBES: dict[str, Callable[[], Any]] = {
    "python": probe_python,
    "packages": probe_packages,
    "onnxruntime": probe_onnxruntime,
    "openvino": probe_openvino,
    "tensorrt": probe_tensorrt,
    "cuda_python": probe_cuda_python,
    "gpus": probe_gpus,
    "jetson": probe_jetson,
    "memory": probe_memory,
    "models": probe_models,
    "auto_tile": probe_auto_tile,
    "auto_backend": probe_auto_backend,
}


def collect(probes: dict[str, Callable[[], Any]] | None = None) -> dict[str, Fact]:
    """Run every probe, guarded."""
    return {name: guarded(probe) for name, probe in (probes or PROBES).items()}
