"""Accuracy gate for exported variants: run backends on real LR tiles and compare their ``hr`` with a reference.

Candidates: a TensorRT engine (when ``engine`` is given; TensorRT + GPU needed) and the ONNX model itself under
ONNX Runtime on CPU when it differs from the reference (fp16 / int8 variants against the fp32 ONNX). The gate is a
PSNR on the ``hr`` tensor (peak 1.0, RGB) at every tile × t, plus a check that no output is NaN/Inf (the usual fp16
failure: docs/architecture.md §7). Torch-free.

Runners come from Polygraphy when it is installed (``OnnxrtRunner`` over a CPU session and
``Comparator.run(runners, data_loader=feeds)``: NVIDIA/TensorRT tools/Polygraphy examples/api/01_comparing_frameworks;
polygraphy/comparator/comparator.py), with the TensorRT engine wrapped as a Polygraphy runner around our own
:class:`~oftsr_edge.runtime.backends.tensorrt.backend.TensorRTBackend`, so the check exercises the runtime's real
code path.
Without Polygraphy the same feeds go through plain ONNX Runtime sessions and the backend, with the same gate.

Caveat: ONNX Runtime's CPU provider runs most fp16 nodes by casting them to float32, so an ORT-only check of the fp16
variant measures weight rounding and the graph conversion, not fp16 arithmetic (overflow in norms shows up only on
a GPU): gate the fp16 and int8 *engines* with ``--engine`` on the device.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Tuple

import numpy as np

from oftsr_edge import contract
from oftsr_edge.contract import INPUT_LR, INPUT_NOISE, INPUT_T, OUTPUT_HR, ModelSpec
from oftsr_edge.errors import OftsrError
from oftsr_edge.export.check_data import (
    CheckResult,
    Feed,
    compare_outputs,
    lr_tiles_from,
    make_feeds,
    synthetic_tiles,
)

RunnerSpec = Tuple[str, str, Path]


def _ort_session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - a model ORT cannot load is a user-facing failure
        raise OftsrError(f"{path}: ONNX Runtime cannot load the model ({exc})") from None


def _backend_runner_class() -> type:
    """A Polygraphy runner around any oftsr-edge :class:`Backend` factory (Polygraphy's BaseRunner interface:
    ``activate_impl``, ``get_input_metadata_impl``, ``infer_impl``, ``deactivate_impl``)."""
    from polygraphy.backend.base import BaseRunner
    from polygraphy.common import TensorMetadata

    class BackendRunner(BaseRunner):
        def __init__(self, factory: Callable[[], Any], name: str) -> None:
            super().__init__(name=name, prefix="oftsr-backend")
            self._factory = factory

        def activate_impl(self) -> None:
            self.backend = self._factory()

        def get_input_metadata_impl(self) -> Any:
            meta = TensorMetadata()
            image = (None, contract.CHANNELS, None, None)  # N, 3, h, w: only the channels are fixed
            for name, shape in ((INPUT_LR, image), (INPUT_NOISE, image), (INPUT_T, (None,))):
                meta.add(name, dtype=contract.DTYPE, shape=shape)
            return meta

        def infer_impl(self, feed_dict: dict[str, np.ndarray]) -> OrderedDict[str, np.ndarray]:
            import time

            start = time.perf_counter()
            hr = self.backend.run(feed_dict[INPUT_LR], feed_dict[INPUT_NOISE], float(feed_dict[INPUT_T][0]))
            self.inference_time = time.perf_counter() - start
            return OrderedDict([(OUTPUT_HR, hr)])

        def deactivate_impl(self) -> None:
            self.backend.close()
            del self.backend

    return BackendRunner


def _trt_backend(engine: Path, device: int) -> Callable[[], Any]:
    def factory() -> Any:
        from oftsr_edge.runtime.backends.tensorrt.backend import TensorRTBackend

        return TensorRTBackend(engine, device=device)

    return factory


def _run_polygraphy(
    specs: Sequence[RunnerSpec], feeds: list[Feed], device: int
) -> dict[str, list[np.ndarray]]:
    from polygraphy.backend.onnxrt import OnnxrtRunner
    from polygraphy.comparator import Comparator
    from polygraphy.logger import G_LOGGER

    runners = []
    for label, kind, path in specs:
        if kind == "onnx":
            runners.append(OnnxrtRunner(lambda p=path: _ort_session(p), name=label))
        else:
            runners.append(_backend_runner_class()(_trt_backend(path, device), name=label))
    # Keep Polygraphy's per-runner INFO lines out of the CLI output.
    with G_LOGGER.verbosity(G_LOGGER.WARNING):
        results = Comparator.run(runners, data_loader=feeds)
    return {name: [np.array(it[OUTPUT_HR]) for it in iterations] for name, iterations in results.items()}


def _run_plain(specs: Sequence[RunnerSpec], feeds: list[Feed], device: int) -> dict[str, list[np.ndarray]]:
    outputs: dict[str, list[np.ndarray]] = {}
    for label, kind, path in specs:
        if kind == "onnx":
            session = _ort_session(path)
            outputs[label] = [session.run([OUTPUT_HR], feed)[0] for feed in feeds]
        else:
            backend = _trt_backend(path, device)()
            try:
                outputs[label] = [
                    backend.run(feed[INPUT_LR], feed[INPUT_NOISE], float(feed[INPUT_T][0])) for feed in feeds
                ]
            finally:
                backend.close()
    return outputs


def _have_polygraphy() -> bool:
    try:
        import polygraphy.comparator  # noqa: F401
    except ImportError:
        return False
    return True


def run_check(
    model: str | Path,
    *,
    engine: str | Path | None = None,
    reference: str | Path | None = None,
    images: str | Path | None = None,
    t_values: Iterable[float] = (0.0, 0.5, 1.0),
    min_psnr: float = 40.0,
    tiles: int = 4,
    seed: int = 0,
    device: int = 0,
    use_polygraphy: bool | None = None,
) -> CheckResult:
    """Compare ``engine`` (TensorRT) and/or ``model`` (ONNX Runtime) against ``reference``.

    The default reference is the FP32 export of the same checkpoint found beside ``model`` (by metadata): an
    fp16/int8 model is always compared with FP32. Only an fp32 model checked against its own engine uses itself.
    """
    from oftsr_edge.fileio import sha256_file
    from oftsr_edge.runtime.backends.tensorrt.engine_cache import read_sidecar

    model = Path(model)
    spec: ModelSpec = contract.read_spec(model)
    if reference is None and spec.precision != "fp32":
        from oftsr_edge.runtime.backends.select import find_fp32_sibling

        sibling = find_fp32_sibling(model, spec)
        if sibling is None:
            raise OftsrError(f"{model} is {spec.precision}: pass --reference FP32.onnx (no fp32 export of the same "
                             "checkpoint lies beside it)")
        reference = sibling
    ref_path = Path(reference) if reference is not None else model
    if ref_path != model:
        ref_spec = contract.read_spec(ref_path)
        if ref_spec.scale != spec.scale:
            raise OftsrError(f"{ref_path} is x{ref_spec.scale}, {model} is x{spec.scale}: not the same model")
    t_values = tuple(t_values)
    if not t_values or any(not 0.0 <= t <= 1.0 for t in t_values):
        raise OftsrError(f"t values must be in [0, 1], got {t_values}")
    if tiles < 1:
        raise OftsrError(f"tiles must be positive, got {tiles}")

    tile = spec.tile
    ref_label = f"onnxrt:{ref_path.name}"
    specs: list[RunnerSpec] = [(ref_label, "onnx", ref_path)]
    if engine is not None:
        engine = Path(engine)
        if not engine.is_file():
            raise OftsrError(f"{engine}: no such engine file")
        sidecar = read_sidecar(engine)
        if sidecar.onnx_sha256 != sha256_file(model):
            raise OftsrError(
                f"{engine} was not built from {model} (ONNX sha256 differs); pass the ONNX it came from"
            )
        tile = sidecar.profile.opt[1]
        if sidecar.profile.opt[1] != sidecar.profile.opt[2]:
            raise OftsrError(
                f"{engine}: the check needs a square opt tile, profile is {sidecar.profile.describe()}"
            )
        specs.append((f"trt:{engine.name}", "trt", engine))
    if ref_path != model:
        specs.append((f"onnxrt:{model.name}", "onnx", model))
    if len({label for label, _, _ in specs}) != len(specs):
        raise OftsrError("the model and the reference have the same file name; rename one of them")

    if images is not None:
        lr_tiles, source = lr_tiles_from(images, tile, tiles, seed), str(images)
    else:
        lr_tiles, source = (
            synthetic_tiles(tile, tiles, seed),
            "synthetic gradients (pass --images for photos)",
        )
    feeds = make_feeds(lr_tiles, t_values, spec.scale, seed)
    t_per_feed = [float(f[INPUT_T][0]) for f in feeds]

    polygraphy = _have_polygraphy() if use_polygraphy is None else use_polygraphy
    outputs = (_run_polygraphy if polygraphy else _run_plain)(specs, feeds, device)
    ref_outputs = outputs[ref_label]
    candidates = specs[1:] or specs  # the model alone: compared with itself, i.e. the non-finite check
    comparisons = tuple(
        compare_outputs(label, ref_label, outputs[label], ref_outputs, t_per_feed, min_psnr)
        for label, _, _ in candidates
    )
    runner = "polygraphy" if polygraphy else "onnxruntime"
    return CheckResult(comparisons, min_psnr, len(lr_tiles), tile, t_values, source, runner)
