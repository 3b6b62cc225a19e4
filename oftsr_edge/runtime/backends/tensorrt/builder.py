"""Build a TensorRT engine from an exported ONNX: one profile, cached by key, timing cache per TensorRT + GPU.

Torch-free and on the runtime side: a Jetson builds its engines on-device with nothing of the export side.
Polygraphy (the ``[trt]`` extra) makes the TensorRT calls — ``network_from_onnx_path`` parses (explicit batch
before TensorRT 10, strongly typed when the plan says so), ``Profile`` + ``CreateConfig`` set the optimisation
profile, workspace pool, precision flags and progress monitor, ``engine_bytes_from_network`` builds. What stays
here is ours: which ONNX and precision (:mod:`.versions`), the profile shapes (:mod:`.profiles`), the cache key,
sidecar and reuse rule (:mod:`.engine_cache`), the timing-cache policy (a corrupt or mismatched cache is replaced,
the cache is written atomically) and the contract check of the parsed network.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oftsr_edge.contract import INPUT_NAMES, OUTPUT_NAMES, ModelSpec, read_spec
from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.extras import require_tensorrt
from oftsr_edge.fileio import sha256_file, write_bytes_atomic
from oftsr_edge.runtime.backends.tensorrt.build_log import Log, polygraphy_messages, progress_monitor
from oftsr_edge.runtime.backends.tensorrt.cuda_probe import GpuInfo, cuda_check, require_cudart, require_gpu
from oftsr_edge.runtime.backends.tensorrt.engine_cache import (
    EngineEnvironment,
    EngineSidecar,
    cache_entry_path,
    default_cache_dir,
    engine_cache_key,
    sidecar_path,
    timing_cache_path,
    usable_engine,
    write_engine,
)
from oftsr_edge.runtime.backends.tensorrt.profiles import ProfileShapes, make_profile
from oftsr_edge.runtime.backends.tensorrt.versions import BuildPlan, plan_build

GIB = 1 << 30


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class TensorRTConfig:
    """Options of a TensorRT engine build (vs-mlrt style: one dataclass of commented defaults)."""

    tile: int = 128  # LR tile edge: the profile's opt (and max) h = w, the runtime's fixed tile
    batch: int = 1  # tiles per call: profile N from 1 to batch
    min_shape: str | Sequence[int] | None = None  # override of the lr shape "Nx3xhxw" at min
    opt_shape: str | Sequence[int] | None = None  # ... at opt
    max_shape: str | Sequence[int] | None = None  # ... at max
    workspace_gib: float = 1.0  # builder scratch (WORKSPACE pool); small keeps Jetson builds from OOM
    cache_dir: Path | None = None  # engine + timing caches; default: default_cache_dir()
    precision: str | None = None  # None: the ONNX's own precision (fp16 from fp32 ONNX only on TensorRT 8.x)
    device: int = 0  # CUDA device index
    verbose: bool = False  # forward TensorRT INFO messages too

    def profile(self, spec: ModelSpec) -> ProfileShapes:
        return make_profile(
            spec.scale, spec.multiple_of, tile=self.tile, batch=self.batch,
            min_shape=self.min_shape, opt_shape=self.opt_shape, max_shape=self.max_shape,
        )  # fmt: skip

    @property
    def workspace_bytes(self) -> int:
        if self.workspace_gib <= 0:
            raise OftsrError(f"workspace must be positive, got {self.workspace_gib} GiB")
        return int(self.workspace_gib * GIB)


def check_network_io(inputs: Sequence[str], outputs: Sequence[str]) -> None:
    """The network TensorRT parsed must have exactly the contract's tensors (docs/architecture.md §3)."""
    if sorted(inputs) != sorted(INPUT_NAMES) or tuple(outputs) != OUTPUT_NAMES:
        raise OftsrError(
            f"the ONNX has inputs {list(inputs)} and outputs {list(outputs)}; "
            f"expected inputs {list(INPUT_NAMES)} and outputs {list(OUTPUT_NAMES)}"
        )


def _load_timing_cache(config: Any, path: Path, log: Log) -> Any:
    """Attach the persisted timing cache (or a fresh one when it is missing or unreadable)."""
    data = b""
    if path.is_file():
        try:
            data = path.read_bytes()
        except OSError as exc:
            log(f"[build] ignoring unreadable timing cache {path} ({exc})")
    try:
        cache = config.create_timing_cache(data)
    except Exception as exc:  # noqa: BLE001 - a corrupt cache must not stop the build
        log(f"[build] ignoring corrupt timing cache {path} ({exc})")
        cache = None
    if cache is None:
        cache = config.create_timing_cache(b"")
    if not config.set_timing_cache(cache, False):
        log(f"[build] timing cache {path} does not match this TensorRT/GPU; starting a fresh one")
        config.set_timing_cache(config.create_timing_cache(b""), False)
    return cache


def _polygraphy() -> Any:
    """``polygraphy.backend.trt``, whose loaders make every TensorRT call of a build (tests swap in a fake)."""
    try:
        from polygraphy.backend import trt as polygraphy_trt
    except ImportError:
        raise MissingExtraError("building TensorRT engines needs Polygraphy: pip install 'oftsr-edge[trt]'") from None
    return polygraphy_trt


def _build_serialized(
    trt: Any,
    onnx_path: Path,
    plan: BuildPlan,
    profile: ProfileShapes,
    config: TensorRTConfig,
    timing: Path,
    log: Log,
) -> bytes:
    """Parse, configure (precision, workspace, profile, timing cache, progress) and build, through Polygraphy."""
    poly = _polygraphy()
    from polygraphy.exception import PolygraphyException

    with polygraphy_messages(log, config.verbose) as errors:
        try:
            builder, network, parser = poly.network_from_onnx_path(
                str(onnx_path), strongly_typed="STRONGLY_TYPED" in plan.network_flags
            )
        except PolygraphyException as exc:
            raise OftsrError(f"TensorRT cannot parse {onnx_path}: {errors[0] if errors else exc}") from None
        check_network_io(
            [network.get_input(i).name for i in range(network.num_inputs)],
            [network.get_output(i).name for i in range(network.num_outputs)],
        )
        shapes = poly.Profile()
        for name, (lo, mid, hi) in profile.per_input().items():
            shapes.add(name, min=lo, opt=mid, max=hi)
        monitor = None
        if plan.version.has_progress_monitor and hasattr(trt, "IProgressMonitor"):
            monitor = progress_monitor(trt, log)
        else:
            log(f"[build] TensorRT {plan.version} reports no build progress; this can take several minutes")
        create_config = poly.CreateConfig(
            profiles=[shapes],
            memory_pool_limits={trt.MemoryPoolType.WORKSPACE: config.workspace_bytes},
            fp16="FP16" in plan.builder_flags,
            int8="INT8" in plan.builder_flags,
            # TensorRT turns TF32 on by default; Polygraphy clears it unless asked, which would change the engine
            tf32=True if hasattr(trt.BuilderFlag, "TF32") else None,
            progress_monitor=monitor,
        )
        try:
            build_config = create_config(builder, network)
            _load_timing_cache(build_config, timing, log)
            serialized = poly.engine_bytes_from_network((builder, network, parser), config=build_config)
        except PolygraphyException as exc:
            detail = errors[0] if errors else str(exc)
            raise OftsrError(f"TensorRT failed to build an engine from {onnx_path}: {detail}") from None
    write_bytes_atomic(timing, bytes(memoryview(build_config.get_timing_cache().serialize())))
    del monitor
    return bytes(memoryview(serialized))


def _copy_engine(source: Path, target: Path) -> Path:
    """Copy a cached engine and its sidecar to ``target`` atomically (temp + rename for both)."""
    write_bytes_atomic(target, source.read_bytes())
    write_bytes_atomic(sidecar_path(target), sidecar_path(source).read_bytes())
    return target


def check_one_step(spec: ModelSpec, source: object) -> None:
    """Native engines take the one-step graph only (their I/O check, buffers and run are written for it); a
    two-time (MeanFlow) student runs its few-step path on ONNX Runtime, whose TensorRT EP gets state and r shapes."""
    if spec.two_time:
        raise OftsrError(
            f"{source}: a two-time MeanFlow student (contract format {spec.format_version}): native TensorRT "
            "engines are built for one-step models only; use --backend ort-trt (TensorRT through ONNX Runtime), "
            "ort-cuda or ort-cpu"
        )


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path | None = None,
    *,
    tile: int = 128,
    batch: int = 1,
    min_shape: str | Sequence[int] | None = None,
    opt_shape: str | Sequence[int] | None = None,
    max_shape: str | Sequence[int] | None = None,
    workspace_gib: float = 1.0,
    cache_dir: str | Path | None = None,
    precision: str | None = None,
    device: int = 0,
    verbose: bool = False,
    log: Log | None = None,
) -> Path:
    """Build (or reuse from the cache) the engine for ``onnx_path``; return its path.

    The engine lands in the cache (``cache_dir``, default :func:`default_cache_dir`) under its key, and is copied
    to ``engine_path`` when given, each with its JSON sidecar. A cached or existing engine is reused only when its
    sidecar matches the key, this TensorRT and this GPU and the file's sha256; otherwise it is rebuilt.
    """
    config = TensorRTConfig(
        tile=tile, batch=batch, min_shape=min_shape, opt_shape=opt_shape, max_shape=max_shape,
        workspace_gib=workspace_gib, cache_dir=Path(cache_dir) if cache_dir else None, precision=precision,
        device=device, verbose=verbose,
    )  # fmt: skip
    return build_engine_with_config(onnx_path, engine_path, config, log=log)


def build_engine_with_config(
    onnx_path: str | Path, engine_path: str | Path | None, config: TensorRTConfig, *, log: Log | None = None
) -> Path:
    """:func:`build_engine` with a :class:`TensorRTConfig`."""
    log = log or _stderr
    onnx_path = Path(onnx_path)
    # The one contract reader: with the onnx package when installed (it also sees a folded t), else onnxruntime.
    spec = read_spec(onnx_path, allow_two_time=True)
    check_one_step(spec, onnx_path)
    profile = config.profile(spec)
    workspace = config.workspace_bytes
    require_tensorrt()
    import tensorrt as trt

    plan = plan_build(str(trt.__version__), spec.precision, config.precision)
    cudart = require_cudart()
    # Probe before any TensorRT object exists: a builder on a machine without a usable GPU can segfault.
    gpu: GpuInfo = require_gpu(config.device, cudart)
    env = EngineEnvironment(str(trt.__version__), gpu.name, gpu.compute_capability)
    onnx_sha = sha256_file(onnx_path)
    key = engine_cache_key(onnx_sha, env, plan.precision, profile)
    cache_dir = config.cache_dir or default_cache_dir()
    entry = cache_entry_path(cache_dir, spec.name, key)
    target = Path(engine_path) if engine_path is not None else entry

    existing, reason = usable_engine(target, env, key)
    if existing is not None:
        log(f"[build] {target} is up to date (key {key[:16]})")
        return target
    cached, cache_reason = usable_engine(entry, env, key) if entry != target else (None, reason)
    if cached is not None:
        log(f"[build] reusing cached engine {entry}")
        return _copy_engine(entry, target)
    if target.exists():
        log(f"[build] rebuilding {target}: {reason}")
    elif entry.exists():
        log(f"[build] rebuilding cached {entry}: {cache_reason}")

    log(
        f"[build] {onnx_path.name} -> {plan.precision} engine on {gpu.name} (sm {gpu.compute_capability}), "
        f"TensorRT {plan.version}, {'strongly typed' if plan.strongly_typed else 'weakly typed'}"
        f"{', flags ' + '+'.join(plan.builder_flags) if plan.builder_flags else ''}; profile {profile.describe()}"
    )
    cuda_check(cudart.cudaSetDevice(config.device), "cudaSetDevice")
    timing = timing_cache_path(cache_dir, env)
    engine = _build_serialized(trt, onnx_path, plan, profile, config, timing, log)
    sidecar = EngineSidecar(
        key=key, onnx_sha256=onnx_sha, env=env, precision=plan.precision, profile=profile,
        engine_sha256=hashlib.sha256(engine).hexdigest(), engine_bytes=len(engine), spec=spec.with_precision(plan.precision),
        builder={
            "network_flags": list(plan.network_flags), "builder_flags": list(plan.builder_flags),
            "workspace_bytes": workspace, "onnx_precision": plan.onnx_precision, "onnx": onnx_path.name,
        },
    )  # fmt: skip
    write_engine(entry, engine, sidecar)
    if target != entry:
        _copy_engine(entry, target)
    log(f"[build] wrote {target} ({len(engine) / 1e6:.1f} MB)")
    return target
