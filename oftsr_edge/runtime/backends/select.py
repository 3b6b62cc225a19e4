"""Choose and open the backend for a model file, and find a reduced-precision model's fp32 sibling.

``auto``: a TensorRT engine (``.engine`` / ``.plan``) runs on the native TensorRT backend; an ONNX file runs on ONNX
Runtime with the best execution provider installed (TensorRT EP > CUDA EP > CPU). ``ort`` forces ONNX Runtime (best
provider), ``ort-cpu`` / ``ort-cuda`` / ``ort-trt`` one provider, ``trt`` native TensorRT (an ONNX is first built
into a cached engine). The backend's ``name`` says what was picked. Backend modules are imported only here and only
when chosen, so a box without TensorRT never imports it, and a missing library is one line naming the install.
"""

from __future__ import annotations

from pathlib import Path

from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.extras import require
from oftsr_edge.runtime.backends.base import Backend
from oftsr_edge.runtime.model_spec import ModelSpec

BACKENDS = ("auto", "ort", "trt", "ort-cpu", "ort-cuda", "ort-trt")
ENGINE_SUFFIXES = (".engine", ".plan")
_ORT_PROVIDER = {"auto": "auto", "ort": "auto", "ort-cpu": "cpu", "ort-cuda": "cuda", "ort-trt": "tensorrt"}


def is_engine(path: str | Path) -> bool:
    return Path(path).suffix.lower() in ENGINE_SUFFIXES


def _check_model_path(path: Path) -> None:
    if not path.exists():
        raise OftsrError(f"{path}: no such model file")
    if not path.is_file():
        raise OftsrError(f"{path}: is not a model file")


def _require_tensorrt() -> None:
    try:
        require("trt", "tensorrt")
    except MissingExtraError:
        raise MissingExtraError(
            "backend 'trt' needs TensorRT's Python bindings (tensorrt + cuda-python), which are not installed: "
            "pip install 'oftsr-edge[trt]' (on Jetson: JetPack's python3-libnvinfer), or use --backend ort"
        ) from None


def _open_engine(path: Path, device: int) -> Backend:
    _require_tensorrt()
    from oftsr_edge.runtime.backends.tensorrt.backend import TensorRTBackend

    return TensorRTBackend(path, device=device)


def _engine_for_onnx(path: Path, tile: int | None, batch: int, device: int, cache_dir: Path | None) -> Path:
    """Build (or reuse from the engine cache) a TensorRT engine for the ONNX at ``path``."""
    _require_tensorrt()
    from oftsr_edge.runtime.backends.onnxruntime import read_onnx_spec
    from oftsr_edge.runtime.backends.tensorrt.builder import build_engine

    spec = read_onnx_spec(path)
    edge = -(-(tile or spec.tile) // spec.multiple_of) * spec.multiple_of  # as the tiler rounds it
    return build_engine(path, tile=edge, batch=max(1, batch), device=device, cache_dir=cache_dir)


def open_backend(
    model_path: str | Path,
    backend: str = "auto",
    device: int = 0,
    *,
    tile: int | None = None,
    batch: int = 1,
    threads: int = 0,
    cache_dir: str | Path | None = None,
) -> Backend:
    """Open ``model_path`` on the requested backend (see the module docstring); errors are one line."""
    if backend not in BACKENDS:
        raise OftsrError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    path = Path(model_path)
    _check_model_path(path)
    cache = Path(cache_dir) if cache_dir is not None else None
    if is_engine(path):
        if backend not in ("auto", "trt"):
            raise OftsrError(
                f"{path}: a TensorRT engine runs only on backend 'trt' (or 'auto'), not {backend!r}"
            )
        return _open_engine(path, device)
    if backend == "trt":
        return _open_engine(_engine_for_onnx(path, tile, batch, device, cache), device)
    from oftsr_edge.runtime.backends.onnxruntime import OrtBackend, OrtOptions

    options = OrtOptions(
        provider=_ORT_PROVIDER[backend],
        device_id=device,
        intra_op_threads=threads,
        tile=tile,
        batch=batch,
        cache_dir=cache,
    )
    return OrtBackend(path, options)


def find_fp32_sibling(model_path: str | Path, spec: ModelSpec) -> Path | None:
    """An ``.onnx`` beside ``model_path`` whose metadata says fp32 and the same checkpoint_sha256, or None.

    Found by reading each candidate's metadata, never by its name.
    """
    from oftsr_edge.runtime.backends.onnxruntime import read_onnx_spec

    model_path = Path(model_path)
    for candidate in sorted(model_path.parent.glob("*.onnx")):
        if candidate.resolve() == model_path.resolve():
            continue
        try:
            other = read_onnx_spec(candidate)
        except OftsrError:
            continue
        if other.precision == "fp32" and other.checkpoint_sha256 == spec.checkpoint_sha256:
            return candidate
    return None
