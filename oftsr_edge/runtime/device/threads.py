"""How many threads this process may use, and what a failure to start one means to a user.

Why: ``--threads 10000`` asked ONNX Runtime for ten thousand threads (16.8 GB of stacks at 100000, a run that never
finished and ignored SIGTERM), and in a container ONNX Runtime's default counts the host's cores, not the ones the
cgroup grants. So a thread count is clamped to the usable cores — the CPU affinity mask, cut to the cgroup's CPU
quota — with a one-line warning, and the default is that number. When the system refuses a new thread (a pids
limit, no memory for a stack), Python raises ``RuntimeError("can't start new thread")``: that becomes one line.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

from oftsr_edge.errors import OftsrError


def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs the cgroup's quota allows (v2 ``cpu.max``, else v1 ``cpu.cfs_quota_us / cpu.cfs_period_us``)."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def usable_cores() -> int:
    """The cores this process may run on: its affinity mask, cut to the cgroup's CPU quota (rounded up), ≥ 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def clamp_threads(threads: int) -> int:
    """``threads`` (0 = not given) as the number to use: at most :func:`usable_cores`, with a warning when cut."""
    usable = usable_cores()
    if threads > usable:
        warnings.warn(f"threads {threads}: this process may use {usable} core(s); using {usable} threads",
                      RuntimeWarning, stacklevel=3)  # fmt: skip
        return usable
    return threads


def is_thread_start_failure(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and "can't start new thread" in str(exc)


def thread_start_error(exc: BaseException) -> OftsrError:
    """The one line for a thread the system would not start."""
    return OftsrError(f"the system refused to start a thread ({exc}): the process or container limit on threads "
                      "(ulimit -u, pids.max) or memory is exhausted; use fewer --threads or free some")  # fmt: skip
