"""Native TensorRT backend: one code path for TensorRT 8.5 → 11.x, buffers and stream through cuda-python.

It loads an engine built by ``oftsr-edge build`` and refuses anything its sidecar says was built for another
TensorRT version, another GPU, or that no longer matches its sha256 (see :mod:`.engine_cache`).
The model's :class:`ModelSpec` comes from the sidecar, so no ONNX and no onnx package are needed at run time.

TensorRT API (present in 8.5, 10.x and 11.x: NVIDIA/TensorRT python/src/infer/pyCore.cpp @release/8.5, v10.x, v11.1):
``Runtime(logger).deserialize_cuda_engine``, ``ICudaEngine.num_io_tensors / get_tensor_name / get_tensor_mode /
get_tensor_dtype / get_tensor_profile_shape(name, profile)``, ``create_execution_context``,
``IExecutionContext.set_input_shape / get_tensor_shape / set_tensor_address / execute_async_v3(stream_handle)``.
Engines are data, never code: the runtime's ``engine_host_code_allowed`` (TensorRT ≥ 8.6: "whether this runtime is
allowed to deserialize engines that contain host executable code", docs.nvidia.com python_api/infer/Core/Runtime)
is set to False explicitly and read back before any engine is deserialized, so an engine carrying host code (a
version-compatible engine with an embedded lean runtime, or plugins) is refused whatever the library's default;
a TensorRT 10+ without the switch is refused too.
Memory: device buffers (``cudaMalloc``) sized for the profile's max shapes and pinned host staging buffers
(``cudaMallocHost``) reused across calls, ``cudaMemcpyAsync`` on one stream, one ``cudaStreamSynchronize`` per
chunk (the pattern of NVIDIA/TensorRT samples/python/common_runtime.py).
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oftsr_edge.contract import INPUT_LR, INPUT_NOISE, INPUT_T, OUTPUT_HR, io_shapes
from oftsr_edge.errors import OftsrError
from oftsr_edge.extras import require_tensorrt
from oftsr_edge.runtime.backends.base import BackendBase, Device
from oftsr_edge.runtime.backends.tensorrt.cuda_probe import cuda_check, require_cudart, require_gpu
from oftsr_edge.runtime.backends.tensorrt.engine_cache import (
    EngineEnvironment,
    read_sidecar,
    sidecar_problems,
)
from oftsr_edge.runtime.backends.tensorrt.profiles import ProfileShapes, check_run_shapes, split_batches


def check_engine_io(tensors: Sequence[tuple[str, str, str]]) -> None:
    """``tensors`` = (name, mode, dtype) from the engine, modes/dtypes as enum member names ("INPUT", "FLOAT").

    The engine must expose exactly lr/noise/t as float32 inputs and hr as a float32 output (fp16/int8 variants
    keep float32 I/O, docs/architecture.md §3), so the host side never converts.
    """
    expected = {INPUT_LR: "INPUT", INPUT_NOISE: "INPUT", INPUT_T: "INPUT", OUTPUT_HR: "OUTPUT"}
    found = {name: mode for name, mode, _ in tensors}
    if found != expected:
        raise OftsrError(
            f"engine tensors {sorted(found.items())} do not match the contract {sorted(expected.items())}"
        )
    wrong = [f"{name}: {dtype}" for name, _, dtype in tensors if dtype != "FLOAT"]
    if wrong:
        raise OftsrError(f"engine I/O must be float32, found {', '.join(wrong)}; re-export with float32 I/O")


def refuse_host_code(runtime: Any, version: str, source: Path) -> None:
    """Make ``runtime`` refuse engines that carry host executable code, and check that it does."""
    if hasattr(runtime, "engine_host_code_allowed"):
        runtime.engine_host_code_allowed = False
        if runtime.engine_host_code_allowed is not False:
            raise OftsrError(f"{source}: TensorRT {version} did not turn off engine host code; not loading it")
        return
    if int(version.split(".")[0]) >= 10:  # 8.5 has no host code in engines; 8.6+ has the switch
        raise OftsrError(
            f"{source}: TensorRT {version}'s Runtime has no engine_host_code_allowed switch, so engines with host "
            "code cannot be refused; not loading it"
        )


def _enum_name(value: Any) -> str:
    return str(getattr(value, "name", value)).rsplit(".", 1)[-1]


def _pinned_array(ptr: int, count: int) -> np.ndarray:
    """A float32 numpy view of ``count`` elements of pinned host memory at ``ptr``."""
    return np.ctypeslib.as_array((ctypes.c_float * count).from_address(int(ptr)))


def _handle(obj: Any) -> int:
    """A cuda-python handle (``cudaStream_t``) or pointer as the integer TensorRT's Python API takes."""
    return int(obj)


class TensorRTBackend(BackendBase):
    """Runs a TensorRT engine on one GPU. Batches larger than the profile's max are split into chunks."""

    name = "trt"
    fixed_shape = True  # one engine profile: smaller images are padded up to its tile

    def __init__(self, engine_path: str | Path, device: int = 0) -> None:
        self._closed = True
        self.engine_path = Path(engine_path)
        if not self.engine_path.is_file():
            raise OftsrError(f"{self.engine_path}: no such engine file")
        sidecar = read_sidecar(self.engine_path)
        require_tensorrt()
        import tensorrt as trt

        cudart = require_cudart()
        gpu = require_gpu(device, cudart)  # before any TensorRT object: a GPU-less runtime can segfault
        env = EngineEnvironment(str(trt.__version__), gpu.name, gpu.compute_capability)
        problems = sidecar_problems(sidecar, env, self.engine_path)
        if problems:
            raise OftsrError(f"{self.engine_path}: {problems[0]}; rebuild it with 'oftsr-edge build'")
        self.spec = sidecar.spec
        self.profile: ProfileShapes = sidecar.profile
        self.device = Device("cuda", device)
        self._trt = trt
        self._cudart = cudart
        self._device_ptrs: dict[str, int] = {}
        self._host_ptrs: dict[str, int] = {}
        self._host: dict[str, np.ndarray] = {}
        self._stream: Any = None
        self._closed = False
        try:
            self._open(trt, cudart)
        except BaseException:
            self.close()
            raise

    def _open(self, trt: Any, cudart: Any) -> None:
        cuda_check(cudart.cudaSetDevice(self.device.index), "cudaSetDevice")
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        refuse_host_code(self._runtime, str(trt.__version__), self.engine_path)  # before any deserialization
        self._engine = self._runtime.deserialize_cuda_engine(self.engine_path.read_bytes())
        if self._engine is None:
            raise OftsrError(f"{self.engine_path}: TensorRT could not deserialize the engine; rebuild it")
        engine = self._engine
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        check_engine_io(
            [
                (n, _enum_name(engine.get_tensor_mode(n)), _enum_name(engine.get_tensor_dtype(n)))
                for n in names
            ]
        )
        self._context = engine.create_execution_context()
        if self._context is None:
            raise OftsrError(
                f"{self.engine_path}: TensorRT could not create an execution context (GPU memory?)"
            )
        self._stream = cuda_check(cudart.cudaStreamCreate(), "cudaStreamCreate")
        # The engine's own profile is authoritative for buffer sizes (sidecar and engine agree when valid).
        n, h, w = (int(v) for v in _lr_max(engine))
        for name, shape in io_shapes(self.spec, n, h, w).items():
            count = math.prod(shape)
            nbytes = count * 4
            self._device_ptrs[name] = int(cuda_check(cudart.cudaMalloc(nbytes), "cudaMalloc"))
            self._host_ptrs[name] = int(cuda_check(cudart.cudaMallocHost(nbytes), "cudaMallocHost"))
            self._host[name] = _pinned_array(self._host_ptrs[name], count)

    @property
    def profile_tile(self) -> int | None:
        """The square LR tile of the engine's profile (its opt shape), None for a non-square profile."""
        opt = self.profile.opt
        return int(opt[1]) if len(opt) == 3 and opt[1] == opt[2] else None

    def run(self, lr: np.ndarray, noise: np.ndarray, t: float) -> np.ndarray:
        if self._closed:
            raise OftsrError("the TensorRT backend is closed")
        lr = np.ascontiguousarray(lr, dtype=np.float32)
        noise = np.ascontiguousarray(noise, dtype=np.float32)
        t_feed = np.full((lr.shape[0],), t, dtype=np.float32)
        check_run_shapes(self.profile, lr.shape, noise.shape, t_feed.shape)
        out = np.empty(noise.shape, dtype=np.float32)
        min_batch = self.profile.min[0]
        for start, stop in split_batches(lr.shape[0], self.profile.max_batch):
            chunk = [a[start:stop] for a in (lr, noise, t_feed)]
            short = min_batch - (stop - start)
            if short > 0:  # a last chunk below the profile's min batch: pad with copies, drop their output
                chunk = [np.concatenate([a, np.repeat(a[-1:], short, axis=0)]) for a in chunk]
            result = self._run_chunk(*chunk)
            out[start:stop] = result[: stop - start]
        return out

    def _run_chunk(self, lr: np.ndarray, noise: np.ndarray, t: np.ndarray) -> np.ndarray:
        cudart, context, stream = self._cudart, self._context, _handle(self._stream)
        to_device = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        for name, array in ((INPUT_LR, lr), (INPUT_NOISE, noise), (INPUT_T, t)):
            host = self._host[name][: array.size]
            host[...] = array.reshape(-1)
            cuda_check(
                cudart.cudaMemcpyAsync(
                    self._device_ptrs[name], host.ctypes.data, array.nbytes, to_device, stream
                ),
                "cudaMemcpyAsync",
            )
            if context.set_input_shape(name, tuple(array.shape)) is False:
                raise OftsrError(f"TensorRT rejected input shape {name}{tuple(array.shape)}")
            context.set_tensor_address(name, self._device_ptrs[name])
        context.set_tensor_address(OUTPUT_HR, self._device_ptrs[OUTPUT_HR])
        shape = tuple(int(d) for d in context.get_tensor_shape(OUTPUT_HR))
        if shape != noise.shape:
            raise OftsrError(f"engine output shape {shape} does not match {noise.shape}")
        if not context.execute_async_v3(stream):
            raise OftsrError("TensorRT execute_async_v3 failed (see the TensorRT messages above)")
        count = math.prod(shape)
        host = self._host[OUTPUT_HR][:count]
        cuda_check(
            cudart.cudaMemcpyAsync(
                host.ctypes.data,
                self._device_ptrs[OUTPUT_HR],
                count * 4,
                cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost,
                stream,
            ),
            "cudaMemcpyAsync",
        )
        cuda_check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize")
        return host.reshape(shape).copy()

    def close(self) -> None:
        """Free buffers and the stream, then drop context, engine and runtime (in that order)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        cudart = self._cudart
        for ptr in self._device_ptrs.values():
            cudart.cudaFree(ptr)
        for ptr in self._host_ptrs.values():
            cudart.cudaFreeHost(ptr)
        self._device_ptrs.clear()
        self._host_ptrs.clear()
        self._host.clear()
        if self._stream is not None:
            cudart.cudaStreamDestroy(self._stream)
            self._stream = None
        for attr in ("_context", "_engine", "_runtime"):
            if hasattr(self, attr):
                delattr(self, attr)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown may have torn cuda-python down already
            pass


def _lr_max(engine: Any) -> Sequence[int]:
    """(N, h, w) of ``lr`` at the max of profile 0, from ``get_tensor_profile_shape(name, profile_index)``."""
    shapes = engine.get_tensor_profile_shape(INPUT_LR, 0)
    dims = tuple(int(d) for d in shapes[2])
    if len(dims) != 4:
        raise OftsrError(f"engine lr profile shape {dims} is not (N, 3, h, w)")
    return dims[0], dims[2], dims[3]
