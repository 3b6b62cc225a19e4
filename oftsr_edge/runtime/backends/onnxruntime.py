"""ONNX Runtime backend: CPU, CUDA EP or TensorRT EP, one session per model, spec read from the model's metadata.

Which provider, and its settings, is one options object: :class:`~oftsr_edge.runtime.backends.options.OrtCpu`,
``OrtCuda`` or ``OrtTensorRT`` (already checked when made).

CPU sessions get explicit thread settings (``intra_op_num_threads``; spinning off, so the threads that decode and
encode images get the cores back between ops — edge-notes §5.4). GPU sessions bind inputs and output to device
buffers that are reused across calls (IOBinding; one buffer set per tile shape), which is what fixed-shape tiling
and CUDA graphs need. The TensorRT EP always gets explicit min/opt/max profiles for the runtime's tile and batch and
an engine + timing cache (:mod:`oftsr_edge.runtime.backends.tensorrt.ort_ep_options`); without them it rebuilds
engines for every new shape.

This module imports ``onnxruntime`` only inside functions, so importing it never fails on a box without it.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from oftsr_edge import contract
from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.runtime.backends.baked_inputs import bake_inputs
from oftsr_edge.runtime.backends.base import CPU, BackendBase, Device, one_step_only
from oftsr_edge.runtime.backends.options import OrtCpu, OrtCuda, OrtOptions, OrtTensorRT
from oftsr_edge.runtime.tiling.geometry import profile_tile

PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_SHORT = {OrtTensorRT: "tensorrt", OrtCuda: "cuda", OrtCpu: "cpu"}  # options class -> provider short name
_LABELS = {"tensorrt": "ort-trt", "cuda": "ort-cuda", "cpu": "ort-cpu"}
_BAKED_SESSIONS = 4  # t-baked CPU sessions kept open per backend
_CONV_ALGO_SEARCH = "HEURISTIC"  # CUDA EP: EXHAUSTIVE benchmarks every new shape (slow start)


def import_onnxruntime() -> Any:
    """``onnxruntime``, or a one-line error saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingExtraError(
            "backend 'ort' needs onnxruntime, which is not installed: pip install onnxruntime "
            "(or onnxruntime-gpu for the CUDA/TensorRT execution providers)"
        ) from None
    return onnxruntime


def available_providers() -> list[str]:
    """Short names of the execution providers this onnxruntime build offers, best first."""
    ort = import_onnxruntime()
    offered = set(ort.get_available_providers())
    return [short for short, full in PROVIDERS.items() if full in offered]


def require_provider(options: OrtOptions) -> str:
    """The provider ``options`` ask for (short name), or a one-line error if this onnxruntime build lacks it."""
    provider = _SHORT[type(options)]
    offered = available_providers()
    if provider not in offered:
        raise MissingExtraError(
            f"ONNX Runtime's {PROVIDERS[provider]} is not available here (installed: {', '.join(offered)}): "
            "pip install onnxruntime-gpu (and CUDA/TensorRT libraries) for GPU execution"
        )
    return provider


def _first_line(exc: BaseException) -> str:
    """The gist of an onnxruntime error: "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from X failed:Y"
    becomes "INVALID_PROTOBUF: Y"."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    match = re.match(r"\[ONNXRuntimeError\] : \d+ : (\w+) : (?:Load model from .* failed:)?(.*)", line)
    return f"{match.group(1)}: {match.group(2).strip()}" if match else line


def _session_options(ort: Any, threads: int, optimize: bool) -> Any:
    so = ort.SessionOptions()
    level = "ORT_ENABLE_ALL" if optimize else "ORT_DISABLE_ALL"
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    if threads == 0:  # ONNX Runtime's own default counts the host's cores, not the container's
        from oftsr_edge.runtime.device.threads import usable_cores

        threads = usable_cores()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # no busy-waiting between ops: the CPU is shared with image decode/encode
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.log_severity_level = 3  # errors only: EP fallbacks and shape hints would otherwise flood stderr
    return so


def open_session(
    path: Path, providers: list[Any], *, threads: int = 0, optimize: bool = True, model: bytes | None = None
) -> Any:
    """An ``InferenceSession`` with the runtime's session settings (``threads`` intra-op threads, 0 = ONNX
    Runtime's default; ``optimize`` False skips graph optimisation); a non-ONNX file is one line naming it.
    ``model``: the bytes to load instead of the file (an edit of it, e.g. :func:`baked_inputs.bake_inputs`)."""
    ort = import_onnxruntime()
    if model is None and not path.is_file():
        raise OftsrError(f"{path}: no such model file")
    try:
        return ort.InferenceSession(
            str(path) if model is None else model, sess_options=_session_options(ort, threads, optimize),
            providers=providers,
        )
    except Exception as exc:  # onnxruntime raises its own pybind exception types (InvalidProtobuf, Fail, ...)
        raise OftsrError(f"{path}: not a loadable ONNX model ({_first_line(exc)})") from None


def _trt_provider(
    spec: ModelSpec, options: OrtTensorRT, tile: int | None, batch: int
) -> tuple[str, dict[str, object]]:
    """The TensorRT EP with explicit profiles for the tiles the tiler will cut, and its engine + timing cache."""
    from oftsr_edge.runtime.backends.tensorrt.engine_cache import ort_trt_cache_dir
    from oftsr_edge.runtime.backends.tensorrt.ort_ep_options import ort_trt_provider_options
    from oftsr_edge.runtime.backends.tensorrt.profiles import make_profile

    edge = profile_tile(tile, spec.tile, spec.multiple_of)
    profile = make_profile(spec.scale, spec.multiple_of, tile=edge, batch=batch)
    cache = options.cache_dir or ort_trt_cache_dir(spec)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OftsrError(
            f"{cache}: cannot create the TensorRT EP cache folder ({exc.strerror or exc})"
        ) from None
    return PROVIDERS["tensorrt"], ort_trt_provider_options(
        profile, cache, device_id=options.device, legacy_fp16=options.legacy_fp16, two_time=spec.two_time
    )


class OrtBackend(BackendBase):
    """Runs an exported ONNX model with ONNX Runtime (``name``: "ort-cpu", "ort-cuda" or "ort-trt").

    ``tile`` (LR edge, None = the model's) and ``batch`` are the tiling the TensorRT EP's profile is built for;
    the CPU and CUDA providers take any shape.
    """

    def __init__(
        self,
        model_path: str | Path,
        options: OrtOptions | None = None,
        *,
        tile: int | None = None,
        batch: int = 1,
    ) -> None:
        self.model_path = Path(model_path)
        self.options = options if options is not None else OrtCpu()
        require_provider(self.options)
        providers: list[Any] = []
        if isinstance(self.options, OrtTensorRT):
            spec = contract.read_spec(self.model_path, via="onnxruntime", allow_two_time=True)
            providers.append(_trt_provider(spec, self.options, tile, batch))
        if isinstance(self.options, (OrtTensorRT, OrtCuda)):
            cuda = {"device_id": self.options.device, "cudnn_conv_algo_search": _CONV_ALGO_SEARCH}
            providers.append((PROVIDERS["cuda"], cuda))
        providers.append(PROVIDERS["cpu"])
        threads = self.options.threads if isinstance(self.options, OrtCpu) else 0
        self._session = open_session(self.model_path, providers, threads=threads)
        # both formats: a two-time (MeanFlow) graph gets state 0 and r = 0 in run, and run_step for the chain
        self.spec = contract.spec_from_session(self._session, self.model_path, allow_two_time=True)
        active = self._session.get_providers()[0]
        self.provider = next((short for short, full in PROVIDERS.items() if full == active), "cpu")
        self.name = _LABELS[self.provider]
        gpu = self.provider != "cpu"
        self.device: Device = Device("cuda", getattr(self.options, "device", 0)) if gpu else CPU
        self.profile_tile: int | None = None  # the TensorRT EP builds its profiles per tile itself
        self._bind = gpu or (isinstance(self.options, OrtCpu) and self.options.io_binding)
        self._buffers: dict[tuple[str, tuple[int, ...]], Any] = {}
        # ort-cpu, one-step graphs: a session per t value with t baked in (baked_inputs.py says why); the general
        # session above serves mixed-t batches. A few t values at most are live (tune-t sweeps, the video knob).
        self._bake_t = isinstance(self.options, OrtCpu) and self.options.bake_t and not self.spec.two_time
        self._baked: OrderedDict[float, Any] = OrderedDict()
        self._model_bytes: bytes | None = None
        self._threads = threads

    @property
    def fixed_shape(self) -> bool:
        """The TensorRT EP wants the profile's one tile shape; CPU/CUDA take any multiple of ``multiple_of``."""
        return self.provider == "tensorrt"

    def run(self, lr: np.ndarray, noise: np.ndarray, t: float) -> np.ndarray:
        session = self._session_with_t(t) if self._bake_t else None
        if session is not None:  # t is a constant of this session's graph: no t feed
            return self._infer(contract.image_feeds(lr, noise), contract.OUTPUT_NAMES, session)[0]
        return self._infer(contract.first_step_feeds(self.spec, lr, noise, t), contract.OUTPUT_NAMES)[0]

    def _session_with_t(self, t: float) -> Any:
        """The session for this model with ``t`` baked in; made on first use, the least recently used dropped
        beyond ``_BAKED_SESSIONS``. None when this model cannot be baked (e.g. its weights live in an external
        data file that a session made from bytes cannot find): baking is only a speed-up, so the general session
        serves from then on."""
        if self._session is None:
            raise OftsrError("the ONNX Runtime backend is closed")
        session = self._baked.get(t)
        if session is not None:
            self._baked.move_to_end(t)
            return session
        try:
            if self._model_bytes is None:
                self._model_bytes = self.model_path.read_bytes()
            baked = bake_inputs(self._model_bytes, {contract.INPUT_T: np.array([t], np.float32)})
            session = open_session(self.model_path, [PROVIDERS["cpu"]], threads=self._threads, model=baked)
        except (OSError, ValueError, OftsrError):
            self._bake_t, self._model_bytes = False, None
            return None
        self._baked[t] = session
        while len(self._baked) > _BAKED_SESSIONS:
            self._baked.popitem(last=False)
        return session

    def run_step(
        self, lr: np.ndarray, noise: np.ndarray, t: np.ndarray, state: np.ndarray, r: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        if not self.spec.two_time:
            raise one_step_only(self)
        hr, next_state = self._infer(contract.feeds(lr, noise, t, state, r), contract.TWO_TIME_OUTPUT_NAMES)
        return hr, next_state

    def _infer(
        self, feeds: dict[str, np.ndarray], outputs: tuple[str, ...], session: Any = None
    ) -> list[np.ndarray]:
        """The named outputs of one call of ``session`` (default: the general one); every failure is one line."""
        if self._session is None:
            raise OftsrError("the ONNX Runtime backend is closed")
        session = session if session is not None else self._session
        try:
            if self._bind:
                return self._run_bound(session, feeds, outputs)
            return session.run(list(outputs), feeds)
        except MemoryError:
            raise OftsrError(
                f"{self.name}: out of memory for a batch of shape {feeds[contract.INPUT_LR].shape}: "
                "use a smaller --tile or --batch-size"
            ) from None
        except Exception as exc:  # ORT raises its own types (Fail, RuntimeException, EP errors): one line
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise OftsrError(f"{self.name}: inference failed ({reason})") from None

    def _buffer(self, name: str, shape: tuple[int, ...]) -> Any:
        """A device OrtValue for ``name`` at ``shape``, allocated once and reused (stable addresses)."""
        key = (name, shape)
        value = self._buffers.get(key)
        if value is None:
            if len(self._buffers) > 16:  # a long run of differently shaped calls: start over
                self._buffers.clear()
            ort = import_onnxruntime()
            device = self.device.kind, self.device.index
            value = ort.OrtValue.ortvalue_from_shape_and_type(list(shape), np.float32, *device)
            self._buffers[key] = value
        return value

    def _run_bound(self, session: Any, feeds: dict[str, np.ndarray], outputs: tuple[str, ...]) -> list[np.ndarray]:
        binding = session.io_binding()
        for name, array in feeds.items():
            value = self._buffer(name, array.shape)
            value.update_inplace(array)
            binding.bind_ortvalue_input(name, value)
        for name in self.spec.output_names:  # every output bound (all have the noise's shape), the asked ones read
            binding.bind_ortvalue_output(name, self._buffer(name, feeds[contract.INPUT_NOISE].shape))
        binding.synchronize_inputs()
        session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        values = dict(zip(self.spec.output_names, binding.copy_outputs_to_cpu()))
        return [values[name] for name in outputs]

    def close(self) -> None:
        self._buffers.clear()
        self._baked.clear()
        self._session = None
