"""OpenVINO backend for CPUs: the exported ONNX compiled by OpenVINO's CPU plugin (the ``[openvino]`` extra).

Why it exists: on this project's x86 CPU it runs our FP32 and INT8 models faster than ONNX Runtime with the same
thread count (benchmarks/README.md, "CPU engines"). The model is compiled once with its dynamic N, h, w axes: a
static-shape compile per tile shape measured no faster, and a folder of differently sized images would otherwise
compile once per size. Inference precision is pinned to f32 so a CPU with bf16 units does not silently lower it (an
INT8 model still runs its Q/DQ parts in int8). Thread count is ``INFERENCE_NUM_THREADS``. An INT8 file is checked at open:
OpenVINO's low-precision transformations (which turn Q/DQ pairs into int8 kernels) computed SMFANet-based graphs 26–31
dB away from the same file run without them, so the backend runs one smooth test tile both ways and, when the two
disagree (:data:`~oftsr_edge.runtime.backends.agreement.AGREE_DB`), keeps the file's exact arithmetic and says so in
one warning (:attr:`OpenVinoBackend.low_precision` tells which). That verdict is measured once per file, OpenVINO
version and CPU and then cached (:mod:`~oftsr_edge.runtime.backends.int8_verdict`). Both contract formats run:
a two-time (MeanFlow) graph gets state 0 and r = 0 in ``run`` and its few-step calls through ``run_step``.

``openvino`` is imported only inside functions, so importing this module never fails on a box without it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from oftsr_edge import contract
from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.runtime.backends.agreement import AGREE_DB, agreement_db, smooth_tile
from oftsr_edge.runtime.backends.base import CPU, BackendBase, one_step_only


def import_openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise MissingExtraError(
            "backend 'openvino' needs OpenVINO, which is not installed: pip install 'oftsr-edge[openvino]'"
        ) from None
    return openvino


def compile_model(
    path: str | Path, *, threads: int = 0, hint: str = "LATENCY", shapes: Mapping[str, Any] | None = None,
    low_precision: bool = True,
) -> Any:
    """``path`` compiled for the CPU; ``shapes`` (input name -> array or shape) fixes the input shapes;
    ``low_precision=False`` runs an INT8 file's Q/DQ pairs as written instead of fusing them into int8 kernels."""
    ov = import_openvino()
    core = ov.Core()
    try:
        model = core.read_model(str(path))
        if shapes is not None:
            model.reshape({name: list(getattr(v, "shape", v)) for name, v in shapes.items()})
        config: dict[str, Any] = {"PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT": "f32"}
        if not low_precision:
            config["LP_TRANSFORMS_MODE"] = False
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        return core.compile_model(model, "CPU", config)
    except MemoryError:
        raise
    except Exception as exc:  # OpenVINO raises RuntimeError with multi-line text
        text = str(exc).strip().splitlines()
        raise OftsrError(f"{path}: OpenVINO cannot compile it ({text[0] if text else type(exc).__name__})") from None


class OpenVinoBackend(BackendBase):
    """Runs an exported ONNX model with OpenVINO on the CPU (``name``: "openvino")."""

    name = "openvino"
    device = CPU  # the CPU plugin: an automatic tiling's budget is free RAM
    fixed_shape = False  # any multiple of the model's multiple_of, like ONNX Runtime on the CPU
    profile_tile = None

    def __init__(self, model_path: str | Path, threads: int = 0) -> None:
        import_openvino()
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise OftsrError(f"{self.model_path}: no such model file")
        self.spec = contract.read_spec(self.model_path, via="onnxruntime", allow_two_time=True)
        self.threads = threads
        self.low_precision = True  # int8 kernels where the file has Q/DQ pairs (see _int8_verdict)
        self._request: Any = None
        self._outputs: list[Any] = []
        if self.spec.precision == "int8":
            self.low_precision = self._int8_verdict()  # a measured verdict leaves its request open
        if self._request is None:
            self._request, self._outputs = self._open(low_precision=self.low_precision)

    def _open(self, low_precision: bool) -> tuple[Any, list[Any]]:
        """A compiled infer request and its output ports by contract name (hr, and next_state for a two-time
        graph), in the contract's order."""
        request = compile_model(self.model_path, threads=self.threads, low_precision=low_precision)
        request = request.create_infer_request()
        ports = {name: port for port in request.model_outputs for name in port.get_names()}
        return request, [ports[name] for name in self.spec.output_names]

    def _int8_verdict(self) -> bool:
        """Whether OpenVINO's int8 kernels compute this file: cached, else one smooth test tile run with and
        without them (:data:`AGREE_DB`). On disagreement the exact path is used (about fp32's speed) and one
        warning says so, on every open — the cache saves the measuring, not the news."""
        from oftsr_edge.runtime.backends import int8_verdict

        key = int8_verdict.verdict_key(self.model_path, str(import_openvino().get_version()))
        verdict = int8_verdict.cached_verdict(key)
        if verdict is None:
            lr, noise = smooth_tile(2 * self.spec.multiple_of, self.spec.scale)
            opened, outputs = {}, []
            for low_precision in (True, False):
                self._request, self._outputs = opened[low_precision] = self._open(low_precision=low_precision)
                outputs.append(self.run(lr, noise, 0.5))
            agree = agreement_db(*outputs)
            verdict = int8_verdict.Verdict(low_precision=agree >= AGREE_DB, agree_db=agree)
            int8_verdict.store_verdict(key, verdict)
            self._request, self._outputs = opened[verdict.low_precision]
        if not verdict.low_precision:
            warnings.warn(f"openvino: {self.model_path.name}: OpenVINO's int8 kernels are {verdict.agree_db:.1f} dB "
                          "off this file's own arithmetic, so it runs without them (about fp32's speed); ONNX "
                          "Runtime runs it in int8", RuntimeWarning, stacklevel=3)
        return verdict.low_precision

    def run(self, lr: np.ndarray, noise: np.ndarray, t: float) -> np.ndarray:
        return self._infer(contract.first_step_feeds(self.spec, lr, noise, t))[0]

    def run_step(
        self, lr: np.ndarray, noise: np.ndarray, t: np.ndarray, state: np.ndarray, r: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        if not self.spec.two_time:
            raise one_step_only(self)
        hr, next_state = self._infer(contract.feeds(lr, noise, t, state, r))
        return hr, next_state

    def _infer(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Every output, as fresh float32 arrays (the tiler blends one while the next call runs)."""
        request = self._request
        if request is None:
            raise OftsrError("the OpenVINO backend is closed")
        try:
            result = request.infer(feeds)
        except MemoryError:
            raise OftsrError(
                f"openvino: out of memory for a batch of shape {feeds[contract.INPUT_LR].shape}: use a smaller "
                "--tile or --batch-size"
            ) from None
        except Exception as exc:
            text = str(exc).strip().splitlines()
            raise OftsrError(f"openvino: inference failed ({text[0] if text else type(exc).__name__})") from None
        return [np.array(result[port], dtype=np.float32, copy=True) for port in self._outputs]

    def close(self) -> None:
        self._request = None
