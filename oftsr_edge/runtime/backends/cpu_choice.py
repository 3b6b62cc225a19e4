"""What ``--backend auto`` runs a model with on a machine without a GPU: the fastest CPU engine and precision
*measured here*, once per machine and model, then cached.

Which is fastest depends on the CPU: on one Intel Xeon OpenVINO's int8 beat ONNX Runtime's fp32 by a quarter while
ONNX Runtime's own fp16 and int8 were slower than its fp32; on a 2-core AMD EPYC the ranking differs again
(benchmarks/README.md, "CPU engines"). So instead of a rule, a short timing run: every candidate (ONNX Runtime, and
OpenVINO when it is installed, on each precision file the model has) runs a few calls on one small tile, and the
fastest wins — but only by a clear margin (:data:`MARGIN`) over ONNX Runtime fp32, the output auto gave before, so
timing noise never changes what a user gets — and only if its output agrees with ONNX Runtime fp32's on the same
smooth test tile (:data:`AGREE_DB`): OpenVINO's int8 ran SMFANet-based graphs 10 dB worse than fp32 while being the
fastest, and speed must never buy a broken picture.

Candidates: a bundled model named without a precision (or the bundled default) offers all its files; a file path,
or ``NAME_PRECISION``, is that file only (then only the engine is chosen). With a single candidate nothing is
measured. The result is cached in ``<cache>/cpu-choice.json`` (``$OFTSR_EDGE_CACHE``, else ``$XDG_CACHE_HOME/
oftsr-edge``, else ``~/.cache/oftsr-edge``), written atomically and keyed by the candidates' sha256s, the engines'
versions, the CPU and the thread count: a new model, engine release or CPU measures again, never reuses a stale
answer. ``OFTSR_AUTO_MEASURE=0`` turns it off (auto = ONNX Runtime on the file asked for, as before): the test suite
sets it, so no test's output depends on which engine is faster on the machine running it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.backends.agreement import AGREE_DB, agreement_db, smooth_tile
from oftsr_edge.runtime.backends.keyed_cache import cpu_name, read_entries, write_entry

ENV = "OFTSR_AUTO_MEASURE"
CACHE_FILE = "cpu-choice.json"
CACHE_VERSION = 3  # 2: choices are checked for agreement with ONNX Runtime fp32; 3: OpenVINO int8 checks its own
#                   low-precision kernels (the backend), so its int8 files may be candidates again, and equally fast
#                   candidates resolve to the highest precision: older choices are measured again
MARGIN = 0.10  # a candidate must be this much faster than ONNX Runtime fp32 to replace it
MEASURE_TILE = 64  # LR pixels: one 64² tile (a 256² x4 output) per call
MEASURE_RUNS = 3  # timed calls per candidate, after one untimed; the fastest call counts (least disturbed)
BASELINE = ("ort-cpu", "fp32")
PRECISION_ORDER = ("fp32", "fp16", "int8")  # most exact first: the tie-break among equally fast candidates
BASELINE_LABEL = " ".join(BASELINE)  # Candidate.label of the baseline


@dataclass(frozen=True)
class Candidate:
    engine: str  # "ort-cpu" or "openvino"
    precision: str
    path: Path

    @property
    def label(self) -> str:
        return f"{self.engine} {self.precision}"


@dataclass(frozen=True)
class CpuChoice:
    """What auto runs (``engine``, ``precision``, ``path``), and the timings it was chosen from."""

    engine: str
    precision: str
    path: str
    ms: dict[str, float]  # label -> fastest call, ms
    tile: int
    measured_at: str

    @property
    def label(self) -> str:
        return f"{self.engine} {self.precision}"

    def summary(self) -> str:
        times = ", ".join(f"{k} {v:.0f} ms" for k, v in sorted(self.ms.items(), key=lambda kv: kv[1]))
        return f"{self.label} (one {self.tile}² tile: {times}; measured {self.measured_at})"


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "no", "off", "false")


def cache_path() -> Path:
    """``$OFTSR_EDGE_CACHE/cpu-choice.json``, else under ``$XDG_CACHE_HOME/oftsr-edge``, else ``~/.cache``."""
    from oftsr_edge.fileio import cache_root

    return cache_root() / CACHE_FILE


def _openvino_version() -> str | None:
    try:
        import openvino
    except Exception:  # noqa: BLE001 - any failure to import means: not a candidate
        return None
    return str(getattr(openvino, "__version__", None) or openvino.get_version())


def candidates(files: dict[str, Path], with_openvino: bool) -> list[Candidate]:
    """Each engine on each precision file, ONNX Runtime fp32 first."""
    engines = ["ort-cpu", "openvino"] if with_openvino else ["ort-cpu"]
    order = sorted(files, key=lambda p: (p != "fp32", p))
    return [Candidate(engine, precision, Path(files[precision])) for engine in engines for precision in order]


def cache_key(found: list[Candidate], threads: int) -> str:
    from oftsr_edge.fileio import sha256_file
    from oftsr_edge.runtime.backends.onnxruntime import import_onnxruntime

    parts = {
        "files": sorted({f"{c.precision}:{sha256_file(c.path)}" for c in found}),
        "engines": sorted({c.engine for c in found}),
        "onnxruntime": import_onnxruntime().__version__,
        "openvino": _openvino_version() if any(c.engine == "openvino" for c in found) else None,
        "cpu": cpu_name(),
        "threads": threads,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _read_cache(path: Path) -> dict[str, Any]:
    """The cache's entries (an unreadable or foreign file counts as empty)."""
    return read_entries(path, CACHE_VERSION)


def _write_cache(path: Path, key: str, choice: CpuChoice) -> None:
    """Add one entry; a cache that cannot be written only costs a measurement next time."""
    write_entry(path, CACHE_VERSION, key, asdict(choice), "auto will measure again")


def cached(found: list[Candidate], threads: int) -> CpuChoice | None:
    """The cached choice for these candidates here (with this installation's path), or None."""
    entry = _read_cache(cache_path()).get(cache_key(found, threads))
    try:
        choice = CpuChoice(**entry) if isinstance(entry, dict) else None
    except TypeError:
        return None
    match = next((c for c in found if choice is not None and c.label == choice.label), None)
    if choice is None or match is None:
        return None
    return CpuChoice(choice.engine, choice.precision, str(match.path), choice.ms, choice.tile, choice.measured_at)


def _timer(candidate: Candidate, threads: int, tile: int) -> tuple[Any, Callable[[], None]]:
    """The open backend of ``candidate`` and one call of it on a ``tile``² input, ready to time."""
    from oftsr_edge.runtime.backends.options import OpenVino, OrtCpu
    from oftsr_edge.runtime.backends.select import open_backend

    options = OpenVino(threads=threads) if candidate.engine == "openvino" else OrtCpu(threads=threads)
    with warnings.catch_warnings():  # an engine's notes on a file (OpenVINO's int8 check) are for the run, not this
        warnings.simplefilter("ignore")
        backend = open_backend(candidate.path, options)
    scale = backend.spec.scale
    tile = -(-tile // backend.spec.multiple_of) * backend.spec.multiple_of
    lr, noise = smooth_tile(tile, scale)
    return backend, lambda: backend.run(lr, noise, 0.5)


def measure(found: list[Candidate], threads: int, tile: int = MEASURE_TILE, runs: int = MEASURE_RUNS,
            note: Callable[[str], None] | None = None) -> dict[str, float]:  # fmt: skip
    """label -> fastest of ``runs`` calls in ms; a candidate that fails to open or run is left out (timing is
    only a choice: it must never be why an upscale fails), and so is one whose output disagrees with ONNX Runtime
    fp32's by more than :data:`AGREE_DB` (said through ``note``)."""
    opened: dict[str, tuple[Any, Callable[[], Any]]] = {}
    times: dict[str, list[float]] = {}
    outputs: dict[str, Any] = {}
    try:
        for candidate in found:
            try:
                opened[candidate.label] = _timer(candidate, threads, tile)
                # untimed: first-call allocations, OpenVINO's shape compile; its output is checked below
                outputs[candidate.label] = opened[candidate.label][1]()
                times[candidate.label] = []
            except OftsrError:
                continue
        reference = outputs.get(BASELINE_LABEL)
        for label, out in outputs.items():
            if reference is None or out is None or label == BASELINE_LABEL:
                continue
            agree = agreement_db(np.asarray(out), np.asarray(reference))
            if agree < AGREE_DB:
                del times[label]
                if note:
                    note(f"auto: {label} left out: its output is {agree:.1f} dB from ONNX Runtime fp32's "
                         f"(needs {AGREE_DB:.0f})")
        for _ in range(runs):  # interleaved rounds, so a burst of other load hits every candidate alike
            for label in list(times):
                start = time.perf_counter()
                try:
                    opened[label][1]()
                except OftsrError:
                    del times[label]
                    continue
                times[label].append((time.perf_counter() - start) * 1000)
    finally:
        for backend, _ in opened.values():
            backend.close()
    return {label: min(ms) for label, ms in times.items() if ms}


def pick(found: list[Candidate], ms: dict[str, float], tile: int) -> CpuChoice | None:
    """The fastest candidate if it beats ONNX Runtime fp32 by :data:`MARGIN`, else ONNX Runtime fp32 (or, for a
    file without fp32, ONNX Runtime on it). Candidates within :data:`MARGIN` of the fastest count as equally fast,
    and of those the highest precision wins: a lower one is taken only for speed it really gives."""
    if not ms:
        return None
    by_label = {c.label: c for c in found}
    base = next((c for c in found if (c.engine, c.precision) == BASELINE), found[0])
    fastest = min(ms.values())
    level = [by_label[label] for label, t in ms.items() if t * (1 - MARGIN) <= fastest]
    best = min(level, key=lambda c: (PRECISION_ORDER.index(c.precision), ms[c.label]))
    if base.label in ms and ms[best.label] > (1 - MARGIN) * ms[base.label]:
        best = base
    stamp = time.strftime("%Y-%m-%d %H:%M")
    return CpuChoice(best.engine, best.precision, str(best.path), {k: round(v, 1) for k, v in ms.items()}, tile, stamp)


def choose(found: list[Candidate], threads: int, *, tile: int = MEASURE_TILE, runs: int = MEASURE_RUNS,
           note: Callable[[str], None] | None = None) -> CpuChoice | None:  # fmt: skip
    """The cached choice, else measured now and cached; None with a single candidate (nothing to choose)."""
    if len(found) < 2:
        return None
    choice = cached(found, threads)
    if choice is not None:
        return choice
    say = note or (lambda text: print(f"oftsr-edge: {text}", file=sys.stderr))
    say(f"auto: timing {len(found)} CPU engine/precision pairs once on this machine (cached in {cache_path()})")
    choice = pick(found, measure(found, threads, tile, runs, note=say), tile)
    if choice is not None:
        _write_cache(cache_path(), cache_key(found, threads), choice)
        say(f"auto: {choice.summary()}")
    return choice


def model_candidates(model: Any, path: Path) -> list[Candidate]:
    """The candidates for ``model`` as the user named it (None, NAME, NAME_PRECISION or a path) resolved to
    ``path``: a bundled name without precision offers every file of its card, anything else that file alone."""
    from oftsr_edge.contract import read_spec
    from oftsr_edge.runtime.models import default_name, find_bundled

    with_openvino = _openvino_version() is not None
    files: dict[str, Path] = {}
    if model is None or not Path(str(model)).is_file():
        try:
            found = find_bundled(default_name() if model is None else str(model))
        except OftsrError:
            found = None
        if found is not None and found[1] is None:
            files = {p: f for p, f in found[0].files.items() if f.is_file()}
    if not files and with_openvino:  # one file: only the engine is chosen
        try:
            files = {read_spec(path, via="onnxruntime", allow_two_time=True).precision: path}
        except OftsrError:
            return []
    return candidates(files, with_openvino) if files else []


def resolve_auto(model: Any, path: Path, options: Any) -> tuple[Path, Any] | None:
    """(file, concrete options) for ``--backend auto`` on a CPU-only machine, or None to leave auto as it is
    (turned off, a TensorRT engine, a GPU provider present, nothing to choose between)."""
    from oftsr_edge.errors import MissingExtraError
    from oftsr_edge.runtime.backends.onnxruntime import available_providers
    from oftsr_edge.runtime.backends.options import Auto, OpenVino, OrtAuto, OrtCpu
    from oftsr_edge.runtime.backends.select import is_engine

    if not enabled() or not isinstance(options, (Auto, OrtAuto)) or is_engine(path):
        return None
    try:
        if available_providers()[:1] != ["cpu"]:
            return None
    except MissingExtraError:
        return None
    choice = choose(model_candidates(model, path), options.threads)
    if choice is None:
        return None
    engine = OpenVino if choice.engine == "openvino" else OrtCpu
    return Path(choice.path), engine(threads=options.threads)


def describe(model: Any = None, threads: int = 0) -> str:
    """One line for ``bench`` and ``doctor``: what auto runs for ``model`` here, from the cache (never measures)."""
    from oftsr_edge.errors import MissingExtraError
    from oftsr_edge.runtime.backends.onnxruntime import available_providers
    from oftsr_edge.runtime.models import default_name, resolve_model

    name = default_name() if model is None else str(model)
    if not enabled():
        return f"auto for {name}: ONNX Runtime on the file asked for (timing turned off: {ENV}=0)"
    try:
        provider = (available_providers() or ["cpu"])[0]
    except MissingExtraError as exc:
        return f"auto for {name}: nothing runs ({exc})"
    if provider != "cpu":
        return f"auto for {name}: ONNX Runtime's {provider} provider (a GPU: no CPU timing)"
    found = model_candidates(model, resolve_model(model))
    if len(found) < 2:
        hint = "" if _openvino_version() else "; pip install 'oftsr-edge[openvino]' adds OpenVINO to the choice"
        return f"auto for {name}: ONNX Runtime on {resolve_model(model).name} (one candidate{hint})"
    choice = cached(found, threads)
    if choice is None:
        return (f"auto for {name}: not timed on this machine yet ({len(found)} engine/precision pairs; the first "
                "upscale with --backend auto times them once)")  # fmt: skip
    return f"auto for {name} on this CPU: {choice.summary()}"
