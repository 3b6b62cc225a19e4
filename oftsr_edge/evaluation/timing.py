"""Honest timing: warm-up, N timed calls, percentiles and spread, peak memory, and what machine produced them.

Every timed call must return host memory (a numpy array): the backends copy results back to the host, which
synchronises the GPU, so wall time covers the work and not just its launch. A ``sync`` hook is still accepted for
callables that return device buffers. Model load / engine build time is measured by the caller and reported
separately, never mixed into the per-call numbers.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata


@dataclass(frozen=True)
class TimingStats:
    """Summary of repeated wall times, in milliseconds; ``cv`` = std/mean says how noisy the machine was."""

    runs: int
    mean_ms: float
    std_ms: float
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def cv(self) -> float:
        return self.std_ms / self.mean_ms if self.mean_ms > 0 else 0.0

    @classmethod
    def from_seconds(cls, seconds: Sequence[float]) -> TimingStats:
        if not seconds:
            raise ValueError("no timings to summarise")
        ms = sorted(s * 1000.0 for s in seconds)
        n = len(ms)
        mean = sum(ms) / n
        std = (sum((x - mean) ** 2 for x in ms) / (n - 1)) ** 0.5 if n > 1 else 0.0
        return cls(n, mean, std, ms[0], _percentile(ms, 50), _percentile(ms, 90), _percentile(ms, 99), ms[-1])

    def scaled(self, factor: float) -> TimingStats:
        """The same statistics multiplied by ``factor`` (per-call → per-tile when a call runs a batch of tiles)."""
        return TimingStats(self.runs, *(v * factor for v in list(asdict(self).values())[1:]))

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "cv": self.cv}


def _percentile(sorted_ms: list[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default), so small N gives sensible p90/p99."""
    if len(sorted_ms) == 1:
        return sorted_ms[0]
    pos = (len(sorted_ms) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(sorted_ms) - 1)
    return sorted_ms[lo] + (sorted_ms[hi] - sorted_ms[lo]) * (pos - lo)


def time_calls(
    fn: Callable[[], object], runs: int, warmup: int = 1, sync: Callable[[], None] | None = None
) -> TimingStats:
    """Call ``fn`` ``warmup`` times untimed, then ``runs`` times timed (each call synchronised via ``sync``)."""
    if runs < 1:
        raise ValueError("runs must be ≥ 1")
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        if sync:
            sync()
        seconds.append(time.perf_counter() - start)
    return TimingStats.from_seconds(seconds)


def time_interleaved(
    fns: Sequence[Callable[[], object] | None], runs: int, warmup: int = 1,
    on_call: Callable[[int], None] | None = None,
) -> list[TimingStats | None]:
    """Time several callables round-robin (warm-up rounds first): call i of every function runs under the same
    machine conditions, so their ratio survives background load that comes and goes. None entries stay None.
    ``on_call(i)`` runs after each call of function i, outside the timed span (a progress bar)."""
    if runs < 1:
        raise ValueError("runs must be ≥ 1")
    live = [(i, fn) for i, fn in enumerate(fns) if fn is not None]
    done = on_call or (lambda _i: None)
    for _ in range(warmup):
        for i, fn in live:
            fn()
            done(i)
    seconds: dict[int, list[float]] = {i: [] for i, _ in live}
    for _ in range(runs):
        for i, fn in live:
            start = time.perf_counter()
            fn()
            seconds[i].append(time.perf_counter() - start)
            done(i)
    return [TimingStats.from_seconds(seconds[i]) if i in seconds else None for i in range(len(fns))]


def timed(fn: Callable[..., object], *args: object) -> tuple[object, float]:
    """(result, seconds) of ``fn(*args)``: for load and engine-build times, reported apart from per-call numbers."""
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def _status_mib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


class PeakRss:
    """Peak resident memory of this process over a block of work, in MiB, and its growth over the start.

    On Linux the kernel's high-water mark (VmHWM) is reset through ``/proc/self/clear_refs`` so the peak belongs to
    this configuration alone (``scope`` "configuration"); it still includes every model the process holds, so
    ``delta_mib`` (peak − resident at start) is the working memory of the runs themselves. Elsewhere the
    process-lifetime peak (``ru_maxrss``) is reported and ``scope`` says "process".
    """

    def __init__(self) -> None:
        self.scope = "process"
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            self.scope = "configuration"
        except OSError:
            pass
        self.start_mib = _status_mib("VmRSS")

    def peak_mib(self) -> float:
        peak = _status_mib("VmHWM") if self.scope == "configuration" else None
        if peak is not None:
            return peak
        import resource

        raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return raw / (1024.0 * 1024.0) if sys.platform == "darwin" else raw / 1024.0

    def delta_mib(self) -> float | None:
        if self.scope != "configuration" or self.start_mib is None:
            return None
        return max(0.0, self.peak_mib() - self.start_mib)


def gpu_memory_used_mib(device: int = 0) -> float | None:
    """Device-wide GPU memory in use (MiB) via the CUDA runtime, or None without a GPU / cuda-python."""
    try:
        from cuda.bindings import runtime as cudart  # type: ignore[import-not-found]
    except ImportError:
        try:
            from cuda import cudart  # type: ignore[import-not-found,no-redef]
        except ImportError:
            return None
    try:
        (err,) = cudart.cudaSetDevice(device)[:1]
        err, free, total = cudart.cudaMemGetInfo()
        if int(err) != 0:
            return None
        return (total - free) / (1024.0 * 1024.0)
    except Exception:  # a broken driver must not break a benchmark
        return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, object]:
    """What produced the numbers: CPU, cores, OS, Python and library versions, ONNX Runtime providers."""
    info: dict[str, object] = {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    for dist in (
        "oftsr-edge",
        "numpy",
        "pillow",
        "onnxruntime",
        "onnxruntime-gpu",
        "tensorrt",
        "torch",
        "ncnn",
    ):
        info[dist] = _version(dist)
    try:
        import onnxruntime

        info["ort_providers"] = onnxruntime.get_available_providers()
    except ImportError:
        info["ort_providers"] = []
    from oftsr_edge.runtime.backends.tensorrt.cuda_probe import probe_gpus

    probe = probe_gpus()  # never raises; no cuda-python or no GPU reads as "none"
    info["gpu"] = ", ".join(f"{g.name} (sm {g.compute_capability})" for g in probe.gpus) or None
    return info
