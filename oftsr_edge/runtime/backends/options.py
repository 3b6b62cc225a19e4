"""What a backend can be asked for: one frozen dataclass per backend, checked once, when it is made.

In the style of vs-mlrt's ``Backend.ORT_CPU / ORT_CUDA / TRT``: each class holds only the options its backend
understands, so nothing downstream re-checks which option fits which backend::

    OrtCpu(threads=4)                 ONNX Runtime on the CPU
    OrtCuda(device=1)                 ONNX Runtime, CUDA execution provider
    OrtTensorRT(device=0, cache_dir=) ONNX Runtime, TensorRT execution provider (engine + timing cache)
    TensorRT(device=0, cache_dir=)    native TensorRT (an ONNX is first built into a cached engine)
    OpenVino(threads=2)               OpenVINO on the CPU (the [openvino] extra; faster than ORT on x86, see benchmarks/)
    OrtAuto(...)                      ONNX Runtime with the best provider installed (TensorRT EP > CUDA EP > CPU)
    Auto(...)                         TensorRT for an engine file, else OrtAuto

``OrtAuto`` and ``Auto`` become one of the first four when the model is opened
(:func:`oftsr_edge.runtime.backends.select.resolve_backend`). The short names the CLI takes ("auto", "ort",
"ort-cpu", "ort-cuda", "ort-trt", "trt") become one of these classes in :func:`parse_backend`, the one place that maps
a name and its flags to options. The tile and batch a TensorRT profile is built for are not here: they are the
Upscaler's tiling, passed to the backend when it opens, so the two can never disagree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Union

from oftsr_edge.errors import OptionError
from oftsr_edge.runtime.checks import check_int


class _Checked:
    """Base of the options classes: one ``__post_init__`` checks the fields any of them may have."""

    def __post_init__(self) -> None:
        for name in ("device", "threads"):
            if hasattr(self, name):
                object.__setattr__(self, name, check_int(name, getattr(self, name), 0))
        if getattr(self, "threads", 0):  # never more threads than cores this process may use (a warning says so)
            from oftsr_edge.runtime.device.threads import clamp_threads

            object.__setattr__(self, "threads", clamp_threads(self.threads))
        cache_dir = getattr(self, "cache_dir", None)
        if cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(cache_dir))


@dataclass(frozen=True)
class OrtCpu(_Checked):
    """ONNX Runtime on the CPU."""

    name: ClassVar[str] = "ort-cpu"
    threads: int = 0  # intra-op threads; 0 = one per usable core (affinity and cgroup quota)
    io_binding: bool = False  # reuse bound I/O buffers: the GPU code path, on the CPU only to test it
    bake_t: bool = True  # a session per t with t as a constant: the FiLM folds into the convs (baked_inputs.py)


@dataclass(frozen=True)
class OrtCuda(_Checked):
    """ONNX Runtime with the CUDA execution provider."""

    name: ClassVar[str] = "ort-cuda"
    device: int = 0  # CUDA device index


@dataclass(frozen=True)
class OrtTensorRT(_Checked):
    """ONNX Runtime with the TensorRT execution provider (explicit profiles for the runtime's tile and batch)."""

    name: ClassVar[str] = "ort-trt"
    device: int = 0  # CUDA device index
    cache_dir: Path | None = None  # engine + timing cache; None = <oftsr-edge cache>/ort-trt/<model>
    legacy_fp16: bool = False  # TensorRT ≤ 10 only: run an fp32 graph in fp16 (precision lives in the ONNX)


@dataclass(frozen=True)
class TensorRT(_Checked):
    """Native TensorRT: runs a ``.engine`` as is; an ONNX is first built into an engine (cached) for the tiling."""

    name: ClassVar[str] = "trt"
    device: int = 0  # CUDA device index
    cache_dir: Path | None = None  # engines built from an ONNX; None = the default engine cache


@dataclass(frozen=True)
class OpenVino(_Checked):
    """OpenVINO's CPU plugin (compiled once per input shape, f32 inference precision)."""

    name: ClassVar[str] = "openvino"
    threads: int = 0  # INFERENCE_NUM_THREADS; 0 = OpenVINO's default (one per core)


@dataclass(frozen=True)
class OrtAuto(_Checked):
    """ONNX Runtime with the best execution provider installed; each option applies if its provider is picked."""

    name: ClassVar[str] = "ort"
    device: int = 0  # for the CUDA / TensorRT providers
    threads: int = 0  # for the CPU provider
    cache_dir: Path | None = None  # for the TensorRT provider

    def pick(self, provider: str) -> OrtCpu | OrtCuda | OrtTensorRT:
        """The options of ``provider`` ("tensorrt", "cuda" or "cpu"), carrying over what applies to it."""
        if provider == "tensorrt":
            return OrtTensorRT(device=self.device, cache_dir=self.cache_dir)
        if provider == "cuda":
            return OrtCuda(device=self.device)
        return OrtCpu(threads=self.threads)


@dataclass(frozen=True)
class Auto(_Checked):
    """The best backend for the model file: :class:`TensorRT` for an engine, :class:`OrtAuto` for an ONNX."""

    name: ClassVar[str] = "auto"
    device: int = 0
    threads: int = 0  # for ONNX Runtime's CPU provider
    cache_dir: Path | None = None  # for TensorRT builds / the TensorRT provider

    def pick(self, engine: bool) -> TensorRT | OrtAuto:
        if engine:
            return TensorRT(device=self.device, cache_dir=self.cache_dir)
        return OrtAuto(device=self.device, threads=self.threads, cache_dir=self.cache_dir)


#: Options of one ONNX Runtime execution provider (what ``OrtBackend`` opens).
OrtOptions = Union[OrtCpu, OrtCuda, OrtTensorRT]
#: Anything a model can be opened with.
BackendOptions = Union[Auto, OrtAuto, OrtCpu, OrtCuda, OrtTensorRT, TensorRT, OpenVino]

_BY_NAME: dict[str, type[Any]] = {
    cls.name: cls for cls in (Auto, OrtAuto, TensorRT, OrtCpu, OrtCuda, OrtTensorRT, OpenVino)
}
#: The short names :func:`parse_backend` takes, "auto" first.
BACKEND_NAMES = tuple(_BY_NAME)


def parse_backend(name: str, **given: Any) -> BackendOptions:
    """The options for backend ``name`` ("auto", "ort", "trt", "ort-cpu", "ort-cuda", "ort-trt") from the options
    that were given; ``None`` means not given. An option the backend does not understand is one line, not ignored."""
    cls = _BY_NAME.get(name)
    if cls is None:
        raise OptionError(f"unknown backend {name!r} (choose from {', '.join(BACKEND_NAMES)})")
    given = {key: value for key, value in given.items() if value is not None}
    known = [f.name for f in dataclasses.fields(cls)]
    wrong = sorted(set(given) - set(known))
    if wrong:
        takes = f"it takes {', '.join(known)}" if known else "it takes none"
        raise OptionError(f"backend {name!r} has no option {', '.join(wrong)} ({takes})")
    return cls(**given)


def as_options(backend: str | BackendOptions) -> BackendOptions:
    """A backend name (parsed with defaults) or an options object, as an options object."""
    if isinstance(backend, str):
        return parse_backend(backend)
    if not isinstance(backend, tuple(_BY_NAME.values())):
        raise OptionError(
            f"backend must be a name ({', '.join(BACKEND_NAMES)}) or one of "
            f"{', '.join(cls.__name__ for cls in _BY_NAME.values())}, got {backend!r}"
        )
    return backend
