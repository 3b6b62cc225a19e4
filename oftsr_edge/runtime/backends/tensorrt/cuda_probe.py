"""Find a usable CUDA GPU with cuda-python before any TensorRT object exists.

Creating a TensorRT builder or runtime on a machine without a working GPU/driver can abort the process (segfault)
instead of raising, so the TensorRT code paths call :func:`require_gpu` first. cuda-python is optional: without it
the probe reports "no GPU" with the reason, it never raises at import.

Import path: ``cuda.bindings.runtime`` (cuda-python >= 12.6, the only path in 13.x) with a fall-back to the older
``cuda.cudart`` (cuda-python 11.x/12.x, used by NVIDIA's TensorRT samples: NVIDIA/TensorRT
samples/python/common_runtime.py). Every cuda-python runtime call returns a tuple whose first item is a
``cudaError_t`` (0 = cudaSuccess).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from oftsr_edge.errors import MissingExtraError, OftsrError


def import_cudart() -> ModuleType | None:
    """cuda-python's runtime module, or None when cuda-python is not installed."""
    for name in ("cuda.bindings.runtime", "cuda.cudart"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def require_cudart() -> ModuleType:
    cudart = import_cudart()
    if cudart is None:
        raise MissingExtraError(
            "TensorRT needs cuda-python, which is not installed: pip install 'oftsr-edge[trt]'"
        )
    return cudart


def _error_name(err: Any) -> str:
    return str(getattr(err, "name", None) or f"cudaError {int(err)}")


def cuda_check(result: Any, what: str) -> Any:
    """Unpack a cuda-python result tuple ``(err, *values)``; raise :class:`OftsrError` naming ``what`` on error."""
    if isinstance(result, tuple):
        err, values = result[0], result[1:]
    else:
        err, values = result, ()
    if int(err) != 0:
        raise OftsrError(f"CUDA error in {what}: {_error_name(err)}")
    if not values:
        return None
    return values[0] if len(values) == 1 else values


@dataclass(frozen=True)
class GpuInfo:
    """One CUDA device: what an engine is tied to (name and compute capability)."""

    index: int
    name: str
    major: int
    minor: int
    total_memory: int = 0

    @property
    def compute_capability(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def slug(self) -> str:
        """File-name-safe label, e.g. ``nvidia-jetson-agx-orin-sm87``."""
        name = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "gpu"
        return f"{name}-sm{self.major}{self.minor}"


@dataclass(frozen=True)
class GpuProbe:
    """Result of a probe: the GPUs found, or why there are none."""

    gpus: tuple[GpuInfo, ...]
    reason: str = ""

    @property
    def available(self) -> bool:
        return bool(self.gpus)


def _device_name(raw: Any) -> str:
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw).split(b"\0", 1)[0].decode("utf-8", "replace")
    return str(raw).strip() or "unknown GPU"


def probe_gpus(cudart: ModuleType | None = None) -> GpuProbe:
    """List CUDA devices with ``cudaGetDeviceCount`` / ``cudaGetDeviceProperties``; never raises."""
    if cudart is None:
        cudart = import_cudart()
        if cudart is None:
            return GpuProbe((), "cuda-python is not installed (pip install 'oftsr-edge[trt]')")
    try:
        err, count = cudart.cudaGetDeviceCount()
        if int(err) != 0:
            return GpuProbe((), f"no usable CUDA device ({_error_name(err)})")
        gpus = []
        for index in range(int(count or 0)):
            err, prop = cudart.cudaGetDeviceProperties(index)
            if int(err) != 0:
                continue
            gpus.append(
                GpuInfo(
                    index, _device_name(prop.name), int(prop.major), int(prop.minor), int(prop.totalGlobalMem)
                )
            )
    except Exception as exc:  # a broken driver/toolkit must read as "no GPU", never as a crash
        return GpuProbe((), f"CUDA probe failed ({type(exc).__name__}: {exc})")
    if not gpus:
        return GpuProbe((), "no CUDA device found")
    return GpuProbe(tuple(gpus))


def require_gpu(device: int = 0, cudart: ModuleType | None = None) -> GpuInfo:
    """The :class:`GpuInfo` of ``device``, or an :class:`OftsrError` saying why TensorRT cannot run here."""
    probe = probe_gpus(cudart)
    if not probe.available:
        raise OftsrError(f"TensorRT needs a CUDA GPU: {probe.reason}")
    for gpu in probe.gpus:
        if gpu.index == device:
            return gpu
    raise OftsrError(f"CUDA device {device} does not exist ({len(probe.gpus)} device(s) found)")
