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

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oftsr_edge import contract
from oftsr_edge.contract import INPUT_LR, INPUT_NOISE, INPUT_T, OUTPUT_HR, ModelSpec
from oftsr_edge.errors import OftsrError

Feed = dict[str, np.ndarray]


def psnr_unit(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two same-shape arrays in [0, 1] (inf when identical, nan when either is non-finite)."""
    if a.shape != b.shape:
        raise OftsrError(f"output shapes differ: {a.shape} vs {b.shape}")
    diff = a.astype(np.float64) - b.astype(np.float64)
    if not np.isfinite(diff).all():
        return math.nan
    mse = float(np.mean(diff * diff))
    return math.inf if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def parse_t_values(text: str) -> tuple[float, ...]:
    """Parse ``"0,0.5,1"`` into (0.0, 0.5, 1.0); each in [0, 1] (the paper's range, docs/architecture.md §5)."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise OftsrError(f"--t must be comma-separated numbers, got {text!r}") from None
    if not values or any(not 0.0 <= v <= 1.0 for v in values):
        raise OftsrError(f"--t values must be in [0, 1], got {text!r}")
    return values


def lr_tiles_from(images: str | Path, tile: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` (3, tile, tile) tiles cut from the photos in ``images`` (used as LR input as they are), with the
    export side's calibration-tile cutter (:func:`oftsr_edge.export.calibration.load_tiles`: seeded positions,
    reflect padding for small images), so check and INT8 calibration see the same kind of data."""
    from oftsr_edge.export.calibration import load_tiles

    if not Path(images).is_dir():
        raise OftsrError(f"{images}: no such image folder")
    return list(load_tiles(images, tile, count=count, seed=seed))


def synthetic_tiles(tile: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """Smooth gradients with edges and mild texture, for when no photos are given (a weaker gate)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:tile, 0:tile].astype(np.float32) / max(tile - 1, 1)
    tiles = []
    for _ in range(count):
        base = [np.clip(a * xx + b * yy + c * (xx > d), 0, 1) for a, b, c, d in rng.uniform(0, 0.7, (3, 4))]
        image = np.stack(base) + 0.03 * rng.standard_normal((3, tile, tile)).astype(np.float32)
        tiles.append(np.clip(image, 0.0, 1.0).astype(np.float32))
    return tiles


def make_feeds(
    tiles: Sequence[np.ndarray], t_values: Sequence[float], scale: int, seed: int = 0
) -> list[Feed]:
    """One feed per (t, tile) with N = 1 and seeded noise (the calibration feeds' layout), identical for every
    backend, so each tile's PSNR is seen on its own."""
    from oftsr_edge.export.calibration import model_feeds

    return model_feeds(np.stack(tiles).astype(np.float32), scale, tuple(t_values), batch=1, seed=seed)


@dataclass(frozen=True)
class Comparison:
    """One candidate against the reference over all feeds."""

    candidate: str
    reference: str
    psnr_by_t: dict[float, float]  # worst PSNR at each t
    mean_psnr: float
    nonfinite: int  # NaN/Inf values in the candidate's outputs
    reference_nonfinite: int
    min_psnr_gate: float

    @property
    def min_psnr(self) -> float:
        values = list(self.psnr_by_t.values())
        return math.nan if any(math.isnan(v) for v in values) else min(values)

    @property
    def passed(self) -> bool:
        worst = self.min_psnr
        return (
            self.nonfinite == 0
            and self.reference_nonfinite == 0
            and not math.isnan(worst)
            and (worst >= self.min_psnr_gate)
        )

    def line(self) -> str:
        per_t = ", ".join(f"t={t:g}: {_db(v)}" for t, v in self.psnr_by_t.items())
        extra = f"; {self.nonfinite} non-finite values" if self.nonfinite else ""
        if self.reference_nonfinite:
            extra += f"; reference has {self.reference_nonfinite} non-finite values"
        verdict = "PASS" if self.passed else "FAIL"
        return f"{verdict}  {self.candidate} vs {self.reference}: worst {_db(self.min_psnr)} ({per_t}){extra}"


def _db(value: float) -> str:
    return "identical" if math.isinf(value) else ("nan" if math.isnan(value) else f"{value:.2f} dB")


def compare_outputs(
    candidate: str,
    reference: str,
    cand_outputs: Sequence[np.ndarray],
    ref_outputs: Sequence[np.ndarray],
    t_per_feed: Sequence[float],
    min_psnr: float,
) -> Comparison:
    """The gate for one candidate: worst PSNR per t, mean PSNR, non-finite counts."""
    if not len(cand_outputs) == len(ref_outputs) == len(t_per_feed):
        raise OftsrError("candidate and reference ran a different number of feeds")
    by_t: dict[float, float] = {}
    finite = []
    for cand, ref, t in zip(cand_outputs, ref_outputs, t_per_feed):
        value = psnr_unit(cand, ref)
        old = by_t.get(t, math.inf)
        by_t[t] = math.nan if math.isnan(value) or math.isnan(old) else min(old, value)
        if math.isfinite(value):
            finite.append(value)
    return Comparison(
        candidate=candidate,
        reference=reference,
        psnr_by_t=by_t,
        mean_psnr=float(np.mean(finite)) if finite else math.nan,
        nonfinite=int(sum(np.size(o) - np.count_nonzero(np.isfinite(o)) for o in cand_outputs)),
        reference_nonfinite=int(sum(np.size(o) - np.count_nonzero(np.isfinite(o)) for o in ref_outputs)),
        min_psnr_gate=min_psnr,
    )


@dataclass(frozen=True)
class CheckResult:
    """All comparisons of one ``check`` run; ``passed`` only when every one passes."""

    comparisons: tuple[Comparison, ...]
    min_psnr: float
    tiles: int
    tile: int
    t_values: tuple[float, ...]
    source: str  # where the tiles came from
    runner: str  # "polygraphy" or "onnxruntime"

    @property
    def passed(self) -> bool:
        return bool(self.comparisons) and all(c.passed for c in self.comparisons)

    def lines(self) -> list[str]:
        head = (
            f"check: {self.tiles} LR tiles {self.tile}x{self.tile} from {self.source} x t in "
            f"{{{', '.join(f'{t:g}' for t in self.t_values)}}}, seeded noise; gate PSNR >= {self.min_psnr:g} dB "
            f"(hr, peak 1.0) and no NaN/Inf; runner {self.runner}"
        )
        return [head, *(f"  {c.line()}" for c in self.comparisons)]


# --- runners --------------------------------------------------------------------------------------------------------

#: (label, kind, path): kind "onnx" runs under ONNX Runtime on CPU, "trt" runs a TensorRT engine
RunnerSpec = tuple[str, str, Path]


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
            hr = self.backend.run(feed_dict[INPUT_LR], feed_dict[INPUT_NOISE], feed_dict[INPUT_T])
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
                    backend.run(feed[INPUT_LR], feed[INPUT_NOISE], feed[INPUT_T]) for feed in feeds
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
