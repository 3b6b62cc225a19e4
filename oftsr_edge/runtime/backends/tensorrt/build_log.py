"""What a TensorRT build tells the user: its log messages and its phase progress, as one line each.

Kept apart from :mod:`.builder` because it is the only part that subclasses TensorRT interfaces (``ILogger``,
``IProgressMonitor``); the line formatting itself (:class:`BuildProgress`) is plain Python and tested without
TensorRT. ``trt`` is always passed in: nothing here imports TensorRT.
"""

from __future__ import annotations

from typing import Any, Callable

Log = Callable[[str], None]


class BuildProgress:
    """Build-progress lines from TensorRT's phase callbacks (``IProgressMonitor``), one line per phase start/end.

    Pure Python, so it is tested without TensorRT; :func:`progress_monitor` wraps it in the TensorRT interface.
    Phases nest (``parent_phase``); steps are reported only for top-level phases to keep the log short.
    """

    def __init__(self, log: Log) -> None:
        self.log = log
        self.depth: dict[str, int] = {}
        self.steps: dict[str, int] = {}
        self.cancelled = False

    def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
        depth = self.depth.get(parent_phase, -1) + 1 if parent_phase else 0
        self.depth[phase_name] = depth
        self.steps[phase_name] = int(num_steps)
        self.log(f"{'  ' * depth}[build] {phase_name} ({num_steps} steps)")

    def step_complete(self, phase_name: str, step: int) -> bool:
        if self.depth.get(phase_name) == 0 and self.steps.get(phase_name, 0) > 1:
            self.log(f"[build] {phase_name}: {step + 1}/{self.steps[phase_name]}")
        return not self.cancelled

    def phase_finish(self, phase_name: str) -> None:
        depth = self.depth.pop(phase_name, 0)
        self.steps.pop(phase_name, None)
        if depth == 0:
            self.log(f"[build] {phase_name} done")


def progress_monitor(trt: Any, log: Log) -> Any:
    """A ``trt.IProgressMonitor`` forwarding to :class:`BuildProgress` (TensorRT >= 10.0 only).

    Its ``__init__`` must call the base initializer (TensorRT sample simple_progress_monitor.py); a Ctrl-C inside a
    callback cancels the build through ``step_complete`` returning False.
    """
    progress = BuildProgress(log)

    class Monitor(trt.IProgressMonitor):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            try:
                progress.phase_start(phase_name, parent_phase, num_steps)
            except KeyboardInterrupt:
                progress.cancelled = True

        def step_complete(self, phase_name: str, step: int) -> bool:
            try:
                return progress.step_complete(phase_name, step)
            except KeyboardInterrupt:
                return False

        def phase_finish(self, phase_name: str) -> None:
            try:
                progress.phase_finish(phase_name)
            except KeyboardInterrupt:
                progress.cancelled = True

    return Monitor()


def trt_logger(trt: Any, log: Log, verbose: bool) -> Any:
    """A ``trt.ILogger`` that forwards warnings and errors (and INFO when verbose) to ``log``."""
    shown = {"INTERNAL_ERROR", "ERROR", "WARNING"} | ({"INFO"} if verbose else set())

    class Logger(trt.ILogger):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity: Any, msg: str) -> None:
            name = str(getattr(severity, "name", severity)).rsplit(".", 1)[-1]
            if name in shown:
                log(f"[TensorRT {name.lower()}] {msg}")

    return Logger()
