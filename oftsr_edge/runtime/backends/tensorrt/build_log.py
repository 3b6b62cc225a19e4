"""What a TensorRT build tells the user: its log messages and its phase progress, as one line each.

TensorRT's messages reach Python through Polygraphy's logger, which :func:`polygraphy_messages` routes to the
build's log. The progress lines come from a ``trt.IProgressMonitor`` (:func:`progress_monitor`, handed to
Polygraphy's ``CreateConfig``); their formatting (:class:`BuildProgress`) is plain Python, tested without TensorRT.
``trt`` is always passed in: nothing here imports TensorRT.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
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


class _Forward(logging.Handler):
    """Polygraphy's records as ``[TensorRT warning] ...`` lines (its "[W] " prefix dropped); errors kept."""

    def __init__(self, log: Log) -> None:
        super().__init__(level=1)
        self.forward = log
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text[:1] == "[" and text[2:4] == "] ":
            text = text[4:]
        if record.levelno >= logging.ERROR:
            self.errors.append(text)
        label = "error" if record.levelno >= logging.ERROR else "warning" if record.levelno >= logging.WARNING else "info"
        self.forward(f"[TensorRT {label}] {text}")


@contextmanager
def polygraphy_messages(log: Log, verbose: bool) -> Iterator[list[str]]:
    """Route Polygraphy's logger (which carries TensorRT's own messages) to ``log`` while a build runs: warnings
    and errors, INFO too when ``verbose``; yields the error lines seen, for a one-line failure message. Polygraphy
    prints to stdout otherwise, where ``build`` writes only its result."""
    from polygraphy.logger import G_LOGGER

    saved = (G_LOGGER.use_python_logging_system, G_LOGGER.module_severity, G_LOGGER.colors)
    logger = logging.getLogger("Polygraphy")
    handler, propagate, level = _Forward(log), logger.propagate, logger.level
    G_LOGGER.use_python_logging_system, G_LOGGER.colors = True, False
    G_LOGGER.module_severity = G_LOGGER.INFO if verbose else G_LOGGER.WARNING
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(1)  # Polygraphy's own severity decides
    try:
        yield handler.errors
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        logger.setLevel(level)
        G_LOGGER.use_python_logging_system, G_LOGGER.module_severity, G_LOGGER.colors = saved
