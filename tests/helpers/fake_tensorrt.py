"""Stand-ins for ``tensorrt`` and cuda-python's runtime module, for tests on machines without either.

They implement only the calls oftsr-edge makes itself (engine builds go through Polygraphy, faked in
fake_polygraphy.py), with the names and signatures of TensorRT's Python API
(NVIDIA/TensorRT python/src/infer/pyCore.cpp) and cuda-python (``cuda.bindings.runtime``): enum members are looked
up by name, device memory is host memory (ctypes buffers) so copies are real, and a fake engine computes a simple
function of (lr, noise, t) so the backend's buffer plumbing is checked end to end. They prove the code's logic and
call sequence, not TensorRT's behaviour: that needs a real TensorRT and GPU.
"""

from __future__ import annotations

import ctypes
import enum
import importlib.machinery
import json
import math
import types
from typing import Any

import numpy as np

from oftsr_edge.contract import INPUT_LR, INPUT_NAMES, INPUT_NOISE, INPUT_T, OUTPUT_HR, OUTPUT_NAMES

ENGINE_MAGIC = b"FAKE-TRT-ENGINE\n"


def fake_compute(lr: np.ndarray, noise: np.ndarray, t: float | np.ndarray, scale: int) -> np.ndarray:
    """What a fake engine computes: nearest upsample of lr plus t-scaled noise, clamped (uses every input)."""
    up = lr.repeat(scale, axis=2).repeat(scale, axis=3)
    t_items = np.broadcast_to(np.asarray(t, np.float32).reshape(-1), (lr.shape[0],))
    return np.clip(up + 0.1 * t_items[:, None, None, None] * noise, 0.0, 1.0).astype(np.float32)


# --- cuda-python --------------------------------------------------------------------------------------------------


class cudaError_t(enum.IntEnum):  # noqa: N801 - cuda-python's name
    cudaSuccess = 0
    cudaErrorInsufficientDriver = 35
    cudaErrorNoDevice = 100


class cudaMemcpyKind(enum.IntEnum):  # noqa: N801
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2


class FakeStream:
    def __init__(self, handle: int) -> None:
        self.handle = handle

    def __int__(self) -> int:
        return self.handle


class FakeCudart:
    """``cuda.bindings.runtime`` subset: results are tuples whose first item is a ``cudaError_t``."""

    cudaError_t = cudaError_t
    cudaMemcpyKind = cudaMemcpyKind

    def __init__(self, gpus: list[tuple[str, int, int]] | None = None, count_error: int = 0) -> None:
        self.gpus = [("NVIDIA Jetson AGX Orin", 8, 7)] if gpus is None else gpus
        self.count_error = cudaError_t(count_error)
        self.buffers: dict[int, Any] = {}
        self.calls: list[str] = []

    def cudaGetDeviceCount(self) -> tuple[Any, ...]:  # noqa: N802
        self.calls.append("cudaGetDeviceCount")
        if self.count_error:
            return (self.count_error, None)
        return (cudaError_t.cudaSuccess, len(self.gpus))

    def cudaGetDeviceProperties(self, index: int) -> tuple[Any, ...]:  # noqa: N802
        name, major, minor = self.gpus[index]
        prop = types.SimpleNamespace(
            name=name.encode() + b"\0" * 8, major=major, minor=minor, totalGlobalMem=1 << 34
        )
        return (cudaError_t.cudaSuccess, prop)

    def cudaSetDevice(self, index: int) -> tuple[Any, ...]:  # noqa: N802
        self.calls.append(f"cudaSetDevice({index})")
        return (cudaError_t.cudaSuccess,)

    def _alloc(self, nbytes: int) -> int:
        buf = ctypes.create_string_buffer(nbytes)
        addr = ctypes.addressof(buf)
        self.buffers[addr] = buf
        return addr

    def cudaMalloc(self, nbytes: int) -> tuple[Any, ...]:  # noqa: N802
        self.calls.append("cudaMalloc")
        return (cudaError_t.cudaSuccess, self._alloc(nbytes))

    def cudaMallocHost(self, nbytes: int) -> tuple[Any, ...]:  # noqa: N802
        self.calls.append("cudaMallocHost")
        return (cudaError_t.cudaSuccess, self._alloc(nbytes))

    def cudaFree(self, ptr: int) -> tuple[Any, ...]:  # noqa: N802
        self.buffers.pop(int(ptr))
        return (cudaError_t.cudaSuccess,)

    cudaFreeHost = cudaFree

    def cudaStreamCreate(self) -> tuple[Any, ...]:  # noqa: N802
        self.calls.append("cudaStreamCreate")
        return (cudaError_t.cudaSuccess, FakeStream(4242))

    def cudaStreamDestroy(self, stream: Any) -> tuple[Any, ...]:  # noqa: N802
        self.calls.append("cudaStreamDestroy")
        return (cudaError_t.cudaSuccess,)

    def cudaStreamSynchronize(self, stream: Any) -> tuple[Any, ...]:  # noqa: N802
        self.calls.append("cudaStreamSynchronize")
        return (cudaError_t.cudaSuccess,)

    def cudaMemcpyAsync(self, dst: int, src: int, nbytes: int, kind: Any, stream: Any) -> tuple[Any, ...]:  # noqa: N802
        assert int(stream) == 4242
        ctypes.memmove(int(dst), int(src), int(nbytes))
        self.calls.append(f"cudaMemcpyAsync({kind.name})")
        return (cudaError_t.cudaSuccess,)


# --- tensorrt -----------------------------------------------------------------------------------------------------


def _flag_enums(major: int) -> tuple[type, type]:
    """NetworkDefinitionCreationFlag / BuilderFlag with each version's members and numbering (NvInfer.h)."""
    if major < 10:
        network = enum.IntEnum(
            "NetworkDefinitionCreationFlag", {"EXPLICIT_BATCH": 0, "EXPLICIT_PRECISION": 1}
        )
        builder = enum.IntEnum("BuilderFlag", {"FP16": 0, "INT8": 1, "DEBUG": 2, "TF32": 7})
    elif major == 10:
        network = enum.IntEnum("NetworkDefinitionCreationFlag", {"EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1})
        builder = enum.IntEnum("BuilderFlag", {"FP16": 0, "INT8": 1, "DEBUG": 2, "TF32": 7})
    else:  # 11: EXPLICIT_BATCH and every precision flag removed, STRONGLY_TYPED renumbered to 0
        network = enum.IntEnum("NetworkDefinitionCreationFlag", {"STRONGLY_TYPED": 0})
        builder = enum.IntEnum("BuilderFlag", {"DEBUG": 0, "TF32": 5})
    return network, builder


def make_fake_trt(
    version: str = "10.3.0",
    *,
    host_code_switch: bool | None = None,
    host_code_default: bool = False,
) -> types.ModuleType:
    """A ``tensorrt`` module for ``version``; ``trt.created`` lists every TensorRT object constructed.

    ``Runtime.engine_host_code_allowed`` exists from 8.6 on (``host_code_switch`` overrides that, e.g. to model a
    build without it), defaults to ``host_code_default`` (False in NVIDIA's docs) and records every assignment in
    ``trt.host_code_settings``; an engine whose record has ``"host_code": true`` deserializes only when allowed,
    and ``trt.host_code_loaded`` counts the ones that did."""
    major = int(version.split(".")[0])
    trt = types.ModuleType("tensorrt")
    trt.__spec__ = importlib.machinery.ModuleSpec("tensorrt", None)
    trt.__version__ = version
    trt.created = []
    trt.host_code_settings = []
    trt.host_code_loaded = 0
    minor = int(version.split(".")[1]) if "." in version else 0
    has_switch = (major, minor) >= (8, 6) if host_code_switch is None else host_code_switch
    trt.NetworkDefinitionCreationFlag, trt.BuilderFlag = _flag_enums(major)
    trt.MemoryPoolType = enum.IntEnum("MemoryPoolType", {"WORKSPACE": 0})
    trt.TensorIOMode = enum.IntEnum("TensorIOMode", {"NONE": 0, "INPUT": 1, "OUTPUT": 2})
    trt.DataType = enum.IntEnum("DataType", {"FLOAT": 0, "HALF": 1})

    class ILogger:
        Severity = enum.IntEnum(
            "Severity", {"INTERNAL_ERROR": 0, "ERROR": 1, "WARNING": 2, "INFO": 3, "VERBOSE": 4}
        )

        def __init__(self) -> None:
            pass

    class Logger(ILogger):
        WARNING = ILogger.Severity.WARNING

        def __init__(self, min_severity: Any = None) -> None:
            trt.created.append("Logger")

    trt.ILogger, trt.Logger = ILogger, Logger

    if major >= 10:

        class IProgressMonitor:
            def __init__(self) -> None:
                pass

        trt.IProgressMonitor = IProgressMonitor

    class Context:
        def __init__(self, engine: Engine) -> None:
            self.engine = engine
            self.shapes: dict[str, tuple[int, ...]] = {}
            self.addresses: dict[str, int] = {}

        def set_input_shape(self, name: str, shape: Any) -> bool:
            lo, _, hi = self.engine.get_tensor_profile_shape(name, 0)
            shape = tuple(shape)
            if any(not a <= s <= b for a, s, b in zip(lo, shape, hi)):
                return False
            self.shapes[name] = shape
            return True

        def get_tensor_shape(self, name: str) -> tuple[int, ...]:
            if name == OUTPUT_HR:
                return self.shapes[INPUT_NOISE]
            return self.shapes[name]

        def set_tensor_address(self, name: str, ptr: int) -> bool:
            self.addresses[name] = int(ptr)
            return True

        def _array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
            count = math.prod(shape)
            return np.ctypeslib.as_array((ctypes.c_float * count).from_address(self.addresses[name])).reshape(
                shape
            )

        def execute_async_v3(self, stream_handle: int) -> bool:
            assert isinstance(stream_handle, int)
            lr = self._array(INPUT_LR, self.shapes[INPUT_LR])
            noise = self._array(INPUT_NOISE, self.shapes[INPUT_NOISE])
            t = self._array(INPUT_T, self.shapes[INPUT_T])
            self._array(OUTPUT_HR, self.shapes[INPUT_NOISE])[...] = fake_compute(
                lr, noise, t, self.engine.scale
            )
            self.engine.executions.append(self.shapes[INPUT_LR][0])
            return True

    class Engine:
        def __init__(self, record: dict[str, Any], scale: int) -> None:
            self.profile = record["profiles"][0]
            self.scale = scale
            self.executions: list[int] = []
            self.names = [*INPUT_NAMES, *OUTPUT_NAMES]

        num_io_tensors = property(lambda self: len(self.names))

        def get_tensor_name(self, i: int) -> str:
            return self.names[i]

        def get_tensor_mode(self, name: str) -> Any:
            return trt.TensorIOMode.OUTPUT if name == OUTPUT_HR else trt.TensorIOMode.INPUT

        def get_tensor_dtype(self, name: str) -> Any:
            return trt.DataType.FLOAT

        def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[tuple[int, ...]]:
            return [tuple(s) for s in self.profile[name]]

        def create_execution_context(self) -> Context:
            return Context(self)

    class Runtime:
        def __init__(self, logger: Any) -> None:
            trt.created.append("Runtime")
            trt.engines = []
            self._host_code = host_code_default

        def deserialize_cuda_engine(self, data: bytes) -> Engine | None:
            if not data.startswith(ENGINE_MAGIC):
                return None
            record = json.loads(data[len(ENGINE_MAGIC) :])
            if record.get("host_code"):
                if not self._host_code:
                    return None  # TensorRT logs an error and returns null
                trt.host_code_loaded += 1
            lr_max = record["profiles"][0][INPUT_LR][2]
            noise_max = record["profiles"][0][INPUT_NOISE][2]
            engine = Engine(record, noise_max[2] // lr_max[2])
            trt.engines.append(engine)
            return engine

    if has_switch:

        def _get_host_code(self: Runtime) -> bool:
            return self._host_code

        def _set_host_code(self: Runtime, value: bool) -> None:
            trt.host_code_settings.append(bool(value))
            self._host_code = bool(value)

        Runtime.engine_host_code_allowed = property(_get_host_code, _set_host_code)

    trt.Runtime = Runtime
    return trt
