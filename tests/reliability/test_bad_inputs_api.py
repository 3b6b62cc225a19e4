"""Bad inputs to the Python API (``Upscaler``, ``read_image``, ``upscale_file``, ``upscale_frames``): every one is
an :class:`OftsrError` (an ``OptionError`` for a knob) with a message that names the problem, never another
exception type and never a silently wrong result."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.errors import OftsrError, OptionError
from oftsr_edge.runtime.backends.options import OrtCuda
from oftsr_edge.runtime.io.image_io import read_image
from oftsr_edge.runtime.upscaler import Upscaler
from tests.helpers.contract_onnx import make_contract_onnx
from tests.reliability.conftest import photo

IMAGE = np.zeros((9, 12, 3), np.uint8)


def _upscale(image: object, **call: object) -> Callable[[Upscaler, Path], object]:
    return lambda up, tmp: up.upscale(image, **call)


def _open(**knobs: object) -> Callable[[Upscaler, Path], object]:
    return lambda up, tmp: Upscaler(up.model_path, "ort-cpu", **knobs)


def _read_fifo(up: Upscaler, tmp: Path) -> object:
    os.mkfifo(tmp / "pipe.png")
    return read_image(tmp / "pipe.png")


def _file_onto_itself(up: Upscaler, tmp: Path) -> object:
    src = photo(tmp / "a.png")
    return up.upscale_file(src, tmp / "." / "a.png")


def _lying_model(up: Upscaler, tmp: Path) -> object:
    """Metadata x2 on an x4 graph whose axis names agree with the lie: only a call can tell."""
    return Upscaler(make_contract_onnx(tmp / "lie.onnx", metadata_scale=2), "ort-cpu")


def _lying_names(up: Upscaler, tmp: Path) -> object:
    """Metadata x2 on an x4 graph whose axis names say x4 (a re-labelled export): refused from the names."""
    return Upscaler(make_contract_onnx(tmp / "lie4.onnx", metadata_scale=2, dim_scale=4), "ort-cpu")


@contextlib.contextmanager
def _fake_tensorrt(version: str = "10.3.0") -> Iterator[None]:
    """TensorRT and cuda-python stand-ins (tests/helpers/fake_tensorrt.py) for the engine cases."""
    from oftsr_edge.runtime.backends.tensorrt import backend as backend_module
    from tests.helpers.fake_tensorrt import FakeCudart, make_fake_trt

    saved = sys.modules.get("tensorrt"), backend_module.require_cudart
    sys.modules["tensorrt"] = make_fake_trt(version)
    backend_module.require_cudart = lambda: FakeCudart()
    try:
        yield
    finally:
        if saved[0] is None:
            sys.modules.pop("tensorrt", None)
        else:
            sys.modules["tensorrt"] = saved[0]
        backend_module.require_cudart = saved[1]


def _engine(tmp: Path, env: tuple[str, str, str] = ("10.3.0", "NVIDIA Jetson AGX Orin", "8.7")) -> Path:
    from oftsr_edge.runtime.backends.tensorrt.engine_cache import EngineEnvironment
    from tests.runtime.tensorrt.test_backend import write_fake_engine

    return write_fake_engine(tmp / "m.engine", env=EngineEnvironment(*env))


def _engine_case(edit: Callable[[Path], object] = lambda engine: None, **env: str) -> Callable[[Upscaler, Path], object]:
    def call(up: Upscaler, tmp: Path) -> object:
        with _fake_tensorrt():
            engine = _engine(tmp, tuple(env.get(k, d) for k, d in (("trt", "10.3.0"), ("gpu", "NVIDIA Jetson AGX Orin"),
                                                                   ("cc", "8.7"))))  # fmt: skip
            edit(engine)
            return Upscaler(engine, "trt")

    return call


def _corrupt(engine: Path) -> None:
    engine.write_bytes(engine.read_bytes()[:-3] + b"xyz")


def _corrupt_sidecar(engine: Path) -> None:
    from oftsr_edge.runtime.backends.tensorrt.engine_cache import sidecar_path

    sidecar_path(engine).write_text('{"engine_sha256": ')


#: bad call -> (exception type, words of its message)
API_CASES: dict[str, tuple[Callable[[Upscaler, Path], object], type, str]] = {
    "image is a list": (_upscale([[0, 1]]), OftsrError, "image must be a numpy array"),
    "int64 image": (_upscale(np.zeros((4, 4, 3), np.int64)), OftsrError, "dtype must be uint8, uint16 or float32"),
    "float64 image": (_upscale(np.zeros((4, 4, 3))), OftsrError, "dtype must be uint8, uint16 or float32"),
    "five channels": (_upscale(np.zeros((4, 4, 5), np.uint8)), OftsrError, "C in 1-4"),
    "4-d image": (_upscale(np.zeros((1, 4, 4, 3), np.uint8)), OftsrError, "C in 1-4"),
    "empty image": (_upscale(np.zeros((0, 4, 3), np.uint8)), OftsrError, "image is empty"),
    "float32 in 0-255": (_upscale(np.full((4, 4, 3), 200.0, np.float32)), OftsrError,
                         "values must be in [0, 1], got [200, 200] (0-255 values? divide by 255"),
    "float32 with NaN": (_upscale(np.full((4, 4, 3), np.nan, np.float32)), OftsrError, "NaN or Inf"),
    "t NaN": (_upscale(IMAGE, t=float("nan")), OptionError, "t must be in [0, 1]"),
    "t inf": (_upscale(IMAGE, t=float("inf")), OptionError, "t must be in [0, 1]"),
    "t -0.1": (_upscale(IMAGE, t=-0.1), OptionError, "t must be in [0, 1]"),
    "t text": (_upscale(IMAGE, t="soft"), OptionError, "t must be a number"),
    "seed negative": (_upscale(IMAGE, seed=-1), OptionError, "seed must be in [0, 2**64)"),
    "seed 2**64": (_upscale(IMAGE, seed=2**64), OptionError, "seed must be in [0, 2**64)"),
    "seed float": (_upscale(IMAGE, seed=1.5), OptionError, "seed must be an integer"),
    "seed bool": (_upscale(IMAGE, seed=True), OptionError, "seed must be an integer"),
    "tile negative": (_open(tile=-1), OptionError, "tile must be an integer ≥ 0"),
    "tile text": (_open(tile="big"), OptionError, "tile must be an integer ≥ 0"),
    "tile 3": (_open(tile=3), OptionError, "tile 3 is smaller than the smallest useful tile for this model, 8"),
    "overlap = tile": (_open(tile=16, overlap=16), OptionError, "overlap 16 must be smaller than the tile 16"),
    "batch 0": (_open(batch_size=0), OptionError, "batch_size must be an integer ≥ 1"),
    "memory budget 0": (_open(memory_budget=0), OptionError, "memory_budget must be an integer ≥ 1"),
    "unknown backend name": (lambda up, tmp: Upscaler(up.model_path, "cuda9"), OftsrError, "cuda9"),
    "GPU provider missing": (lambda up, tmp: Upscaler(up.model_path, OrtCuda()), OftsrError, "not available here"),
    "model file missing": (lambda up, tmp: Upscaler(tmp / "gone.onnx"), OftsrError, "gone.onnx"),
    "metadata lies about the scale": (_lying_model, OftsrError,
                                      "test call at the metadata's scale x2 fails, so the metadata does not describe"),
    "axis names contradict the metadata": (_lying_names, OftsrError, "the metadata says x2, but the graph's 'noise'"),
    "engine built for another TensorRT": (_engine_case(trt="8.6.2.3"), OftsrError,
                                          "built with TensorRT 8.6.2.3, this is 10.3.0"),
    "engine built for another GPU": (_engine_case(gpu="NVIDIA GeForce RTX 4090", cc="8.9"), OftsrError,
                                     "built for NVIDIA GeForce RTX 4090"),
    "corrupt engine file": (_engine_case(_corrupt), OftsrError, "does not match its sidecar"),
    "corrupt engine sidecar": (_engine_case(_corrupt_sidecar), OftsrError, "not valid JSON"),
    "read a FIFO": (_read_fifo, OftsrError, "is a FIFO, not a regular file"),
    "read a folder": (lambda up, tmp: read_image(tmp), OftsrError, "is a directory, not an image"),
    "upscale_file onto its input": (_file_onto_itself, OftsrError, "output would overwrite its input"),
    "upscale_file to an unknown format": (lambda up, tmp: up.upscale_file(photo(tmp / "a.png"), tmp / "a.gif"),
                                          OftsrError, "unsupported image format '.gif'"),
    "frames in 0-255 float": (lambda up, tmp: list(up.upscale_frames([np.full((4, 4, 3), 9.0, np.float32)])),
                              OftsrError, "values must be in [0, 1]"),
}


@pytest.fixture(scope="module")
def upscaler(model: Path) -> Upscaler:
    with Upscaler(model, "ort-cpu", tile=0) as opened:
        yield opened


@pytest.mark.parametrize("name", list(API_CASES))
def test_bad_api_call(name: str, upscaler: Upscaler, tmp_path: Path) -> None:
    call, kind, words = API_CASES[name]
    with pytest.raises(OftsrError) as raised:
        call(upscaler, tmp_path)
    assert isinstance(raised.value, kind)
    assert words in str(raised.value)
    assert "\n" not in str(raised.value)
