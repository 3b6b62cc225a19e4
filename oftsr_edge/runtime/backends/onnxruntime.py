"""ONNX Runtime backend: CPU, CUDA EP or TensorRT EP, one session per model, spec read from the model's metadata.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.runtime.backends.base import Backend
from oftsr_edge.runtime.model_spec import INPUT_NAMES, METADATA_KEY, OUTPUT_NAME, ModelSpec

PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_LABELS = {"tensorrt": "ort-trt", "cuda": "ort-cuda", "cpu": "ort-cpu"}
_OPT_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


@dataclass(frozen=True)
class OrtOptions:
    """Session settings, one dataclass per backend (vs-mlrt style); the defaults suit a tiled runtime."""

    provider: str = "auto"  # "auto" = best installed (tensorrt > cuda > cpu), or "tensorrt" / "cuda" / "cpu"
    device_id: int = 0  # GPU index for the CUDA / TensorRT EPs
    intra_op_threads: int = 0  # CPU threads per op; 0 = ONNX Runtime's default (one per physical core)
    allow_spinning: bool = False  # busy-wait between ops: off, the CPU is shared with image decode/encode
    graph_optimization: str = "all"  # "disable" | "basic" | "extended" | "all"
    io_binding: bool | None = None  # reuse device buffers for I/O; None = on for GPU providers
    tile: int | None = None  # TensorRT EP profile: LR tile edge (None: the model's recommended tile)
    batch: int = 1  # TensorRT EP profile: max tiles per call (min 1, for the last partial group)
    cache_dir: Path | None = (
        None  # TensorRT EP engine + timing cache; None = <oftsr-edge cache>/ort-trt/<model>
    )
    trt_legacy_fp16: bool = (
        False  # TensorRT ≤ 10 only: run an fp32 graph in fp16 (precision lives in the ONNX)
    )
    cudnn_conv_algo_search: str = "HEURISTIC"  # CUDA EP: EXHAUSTIVE benchmarks every new shape (slow start)


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


def resolve_provider(provider: str) -> str:
    """Turn "auto" into the best installed provider; reject one that this onnxruntime build lacks."""
    offered = available_providers()
    if provider == "auto":
        return offered[0] if offered else "cpu"
    if provider not in PROVIDERS:
        raise OftsrError(f"unknown ONNX Runtime provider {provider!r} (auto, {', '.join(PROVIDERS)})")
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


def _session_options(ort: Any, options: OrtOptions) -> Any:
    if options.graph_optimization not in _OPT_LEVELS:
        raise OftsrError(
            f"graph_optimization must be one of {list(_OPT_LEVELS)}, got {options.graph_optimization!r}"
        )
    so = ort.SessionOptions()
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _OPT_LEVELS[options.graph_optimization])
    so.intra_op_num_threads = max(0, int(options.intra_op_threads))
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    spin = "1" if options.allow_spinning else "0"
    so.add_session_config_entry("session.intra_op.allow_spinning", spin)
    so.add_session_config_entry("session.inter_op.allow_spinning", spin)
    so.log_severity_level = 3  # errors only: EP fallbacks and shape hints would otherwise flood stderr
    return so


def open_session(path: Path, providers: list[Any], options: OrtOptions) -> Any:
    """An ``InferenceSession``; an unreadable or non-ONNX file is one line naming it."""
    ort = import_onnxruntime()
    if not path.is_file():
        raise OftsrError(f"{path}: no such model file")
    try:
        return ort.InferenceSession(
            str(path), sess_options=_session_options(ort, options), providers=providers
        )
    except Exception as exc:  # onnxruntime raises its own pybind exception types (InvalidProtobuf, Fail, ...)
        raise OftsrError(f"{path}: not a loadable ONNX model ({_first_line(exc)})") from None


def spec_from_session(session: Any, path: Path) -> ModelSpec:
    """The model's :class:`ModelSpec` from its metadata, after checking the I/O names of DESIGN §2."""
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        raise OftsrError(
            f"{path}: not an oftsr-edge model (no '{METADATA_KEY}' metadata); export one with 'oftsr-edge export'"
        )
    spec = ModelSpec.from_json(meta[METADATA_KEY], source=str(path))
    inputs = sorted(i.name for i in session.get_inputs())
    outputs = [o.name for o in session.get_outputs()]
    if inputs != sorted(INPUT_NAMES) or OUTPUT_NAME not in outputs:
        raise OftsrError(
            f"{path}: inputs {inputs} / outputs {outputs} do not match the oftsr-edge contract (lr, noise, t -> hr)"
        )
    return spec


def read_onnx_spec(path: str | Path) -> ModelSpec:
    """Read an ONNX model's :class:`ModelSpec` with a CPU session that skips graph optimisation (cheap)."""
    path = Path(path)
    session = open_session(path, ["CPUExecutionProvider"], OrtOptions(graph_optimization="disable"))
    return spec_from_session(session, path)


def _trt_provider(path: Path, spec: ModelSpec, options: OrtOptions) -> tuple[str, dict[str, object]]:
    from oftsr_edge.runtime.backends.tensorrt.engine_cache import default_cache_dir
    from oftsr_edge.runtime.backends.tensorrt.ort_ep_options import ort_trt_provider_options
    from oftsr_edge.runtime.backends.tensorrt.profiles import make_profile

    tile = -(-(options.tile or spec.tile) // spec.multiple_of) * spec.multiple_of  # as the tiler rounds it
    profile = make_profile(spec.scale, spec.multiple_of, tile=tile, batch=max(1, options.batch))
    cache = options.cache_dir or (
        default_cache_dir().parent / "ort-trt" / f"{spec.name}-{spec.precision}-{spec.checkpoint_sha256[:12]}"
    )
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OftsrError(
            f"{cache}: cannot create the TensorRT EP cache folder ({exc.strerror or exc})"
        ) from None
    return PROVIDERS["tensorrt"], ort_trt_provider_options(
        profile, cache, device_id=options.device_id, legacy_fp16=options.trt_legacy_fp16
    )


class OrtBackend(Backend):
    """Runs an exported ONNX model with ONNX Runtime (``name``: "ort-cpu", "ort-cuda" or "ort-trt")."""

    def __init__(self, model_path: str | Path, options: OrtOptions | None = None) -> None:
        self.model_path = Path(model_path)
        self.options = options or OrtOptions()
        provider = resolve_provider(self.options.provider)
        providers: list[Any] = []
        if provider == "tensorrt":
            providers.append(_trt_provider(self.model_path, read_onnx_spec(self.model_path), self.options))
        if provider in ("tensorrt", "cuda"):
            cuda = {
                "device_id": self.options.device_id,
                "cudnn_conv_algo_search": self.options.cudnn_conv_algo_search,
            }
            providers.append((PROVIDERS["cuda"], cuda))
        providers.append(PROVIDERS["cpu"])
        self._session = open_session(self.model_path, providers, self.options)
        self.spec = spec_from_session(self._session, self.model_path)
        active = self._session.get_providers()[0]
        self.provider = next((short for short, full in PROVIDERS.items() if full == active), "cpu")
        self.name = _LABELS[self.provider]
        gpu = self.provider != "cpu"
        self._bind = gpu if self.options.io_binding is None else self.options.io_binding
        self._device = ("cuda", self.options.device_id) if gpu else ("cpu", 0)
        self._buffers: dict[tuple[str, tuple[int, ...]], Any] = {}

    @property
    def fixed_shape(self) -> bool:
        """The TensorRT EP wants the profile's one tile shape; CPU/CUDA take any multiple of ``multiple_of``."""
        return self.provider == "tensorrt"

    def run(self, lr: np.ndarray, noise: np.ndarray, t: np.ndarray) -> np.ndarray:
        if self._session is None:
            raise OftsrError("the ONNX Runtime backend is closed")
        feeds = {
            "lr": np.ascontiguousarray(lr, dtype=np.float32),
            "noise": np.ascontiguousarray(noise, dtype=np.float32),
            "t": np.ascontiguousarray(np.reshape(t, (-1,)), dtype=np.float32),
        }
        try:
            if self._bind:
                return self._run_bound(feeds)
            return self._session.run([OUTPUT_NAME], feeds)[0]
        except MemoryError:
            raise OftsrError(f"{self.name}: out of memory for a batch of shape {feeds['lr'].shape}: "
                             "use a smaller --tile or --batch") from None
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
            value = ort.OrtValue.ortvalue_from_shape_and_type(list(shape), np.float32, *self._device)
            self._buffers[key] = value
        return value

    def _run_bound(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        binding = self._session.io_binding()
        for name, array in feeds.items():
            value = self._buffer(name, array.shape)
            value.update_inplace(array)
            binding.bind_ortvalue_input(name, value)
        output = self._buffer(OUTPUT_NAME, feeds["noise"].shape)
        binding.bind_ortvalue_output(OUTPUT_NAME, output)
        binding.synchronize_inputs()
        self._session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return binding.copy_outputs_to_cpu()[0]

    def close(self) -> None:
        self._buffers.clear()
        self._session = None
