"""Open a model file on the backend its options ask for, and find a reduced-precision model's fp32 sibling.

The options are one of the dataclasses of :mod:`oftsr_edge.runtime.backends.options`. :func:`resolve_backend` turns
``Auto`` and ``OrtAuto`` into a concrete choice for the file: a TensorRT engine (``.engine`` / ``.plan``) runs on the
native TensorRT backend, an ONNX on ONNX Runtime with the best execution provider installed (TensorRT EP > CUDA EP >
CPU). ``TensorRT`` with an ONNX first builds a cached engine for the tiling. The backend's ``name`` says what was
picked. Backend modules are imported only here and only when chosen, so a box without TensorRT never imports it, and
a missing library is one line naming the install.
"""

from __future__ import annotations

from pathlib import Path

from oftsr_edge.contract import ModelSpec, read_spec
from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.extras import require_tensorrt
from oftsr_edge.runtime.backends.base import Backend
from oftsr_edge.runtime.backends.options import (
    Auto,
    BackendOptions,
    OpenVino,
    OrtAuto,
    OrtCpu,
    OrtCuda,
    OrtOptions,
    OrtTensorRT,
    TensorRT,
)
from oftsr_edge.runtime.tiling.geometry import profile_tile

ENGINE_SUFFIXES = (".engine", ".plan")


def is_engine(path: str | Path) -> bool:
    return Path(path).suffix.lower() in ENGINE_SUFFIXES


def _check_model_path(path: Path) -> None:
    if not path.exists():
        raise OftsrError(f"{path}: no such model file")
    if not path.is_file():
        raise OftsrError(f"{path}: is not a model file")


def _require_tensorrt() -> None:
    try:
        require_tensorrt()
    except MissingExtraError:
        raise MissingExtraError(
            "backend 'trt' needs TensorRT's Python bindings, which are not installed: on a Jetson they come with "
            "JetPack (sudo apt install python3-libnvinfer), on a desktop GPU from NVIDIA (pip install tensorrt), "
            "see docs/jetson.md; or use --backend ort"
        ) from None


def resolve_backend(options: BackendOptions, path: Path) -> OrtOptions | TensorRT | OpenVino:
    """The concrete backend ``options`` mean for the model at ``path`` (``Auto`` / ``OrtAuto`` choose here)."""
    if isinstance(options, Auto):
        options = options.pick(engine=is_engine(path))
    if is_engine(path) and not isinstance(options, TensorRT):
        raise OftsrError(
            f"{path}: a TensorRT engine runs only on backend 'trt' (or 'auto'), not {options.name!r}"
        )
    if isinstance(options, OrtAuto):
        from oftsr_edge.runtime.backends.onnxruntime import available_providers

        offered = available_providers()
        options = options.pick(offered[0] if offered else "cpu")
    if not isinstance(options, (OrtCpu, OrtCuda, OrtTensorRT, TensorRT, OpenVino)):
        raise OftsrError(f"not backend options: {options!r}")
    return options


def _open_tensorrt(path: Path, options: TensorRT, tile: int | None, batch: int) -> Backend:
    """A native TensorRT backend; an ONNX is first built (or found in the engine cache) for ``tile`` and ``batch``."""
    _require_tensorrt()
    from oftsr_edge.runtime.backends.tensorrt.backend import TensorRTBackend

    if not is_engine(path):
        from oftsr_edge.runtime.backends.tensorrt.builder import build_engine

        spec = read_spec(path, via="onnxruntime", allow_two_time=True)  # the builder refuses format 2 in one line
        edge = profile_tile(tile, spec.tile, spec.multiple_of)
        path = build_engine(path, tile=edge, batch=batch, device=options.device, cache_dir=options.cache_dir)
    return TensorRTBackend(path, device=options.device)


def open_backend(
    model_path: str | Path, options: BackendOptions | None = None, *, tile: int | None = None, batch: int = 1
) -> Backend:
    """Open ``model_path`` with ``options`` (None = :class:`Auto`); errors are one line.

    ``tile`` (LR edge, None = the model's) and ``batch`` (≥ 1) are the tiling the Upscaler will run, which the
    TensorRT profiles are built for; other backends take any shape.
    """
    path = Path(model_path)
    _check_model_path(path)
    chosen = resolve_backend(options if options is not None else Auto(), path)
    if isinstance(chosen, TensorRT):
        return _open_tensorrt(path, chosen, tile, batch)
    if isinstance(chosen, OpenVino):
        from oftsr_edge.runtime.backends.openvino import OpenVinoBackend

        return OpenVinoBackend(path, threads=chosen.threads)
    from oftsr_edge.runtime.backends.onnxruntime import OrtBackend

    return OrtBackend(path, chosen, tile=tile, batch=batch)


def find_fp32_sibling(model_path: str | Path, spec: ModelSpec) -> Path | None:
    """An ``.onnx`` beside ``model_path`` whose metadata says fp32 and the same checkpoint_sha256, or None.

    Found by reading each candidate's metadata, never by its name.
    """
    model_path = Path(model_path)
    for candidate in sorted(model_path.parent.glob("*.onnx")):
        if candidate.resolve() == model_path.resolve():
            continue
        try:
            other = read_spec(candidate, via="onnxruntime")
        except OftsrError:
            continue
        if other.precision == "fp32" and other.checkpoint_sha256 == spec.checkpoint_sha256:
            return candidate
    return None
