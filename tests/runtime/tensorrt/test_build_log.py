"""Build log lines: TensorRT's phase callbacks and messages as one short line each (pure Python + stand-in)."""

from __future__ import annotations

import pytest

from oftsr_edge.runtime.backends.tensorrt.build_log import (
    BuildProgress,
    polygraphy_messages,
    progress_monitor,
)
from tests.helpers.fake_tensorrt import make_fake_trt


def test_build_progress_lines() -> None:
    lines: list[str] = []
    progress = BuildProgress(lines.append)
    progress.phase_start("Building engine", None, 3)
    progress.phase_start("Tactic timing", "Building engine", 10)
    assert progress.step_complete("Tactic timing", 4)
    progress.phase_finish("Tactic timing")
    assert progress.step_complete("Building engine", 0)
    progress.phase_finish("Building engine")
    assert lines == [
        "[build] Building engine (3 steps)",
        "  [build] Tactic timing (10 steps)",
        "[build] Building engine: 1/3",
        "[build] Building engine done",
    ]
    progress.cancelled = True
    assert progress.step_complete("x", 0) is False


def test_progress_monitor_is_a_tensorrt_monitor_and_ctrl_c_cancels() -> None:
    trt = make_fake_trt("10.3.0")
    lines: list[str] = []
    monitor = progress_monitor(trt, lines.append)
    assert isinstance(monitor, trt.IProgressMonitor)
    monitor.phase_start("Building engine", None, 2)
    assert monitor.step_complete("Building engine", 0)
    assert lines == ["[build] Building engine (2 steps)", "[build] Building engine: 1/2"]

    def interrupted(line: str) -> None:
        raise KeyboardInterrupt

    cancelled = progress_monitor(trt, interrupted)
    # a Ctrl-C inside a callback must not escape into TensorRT: it cancels the build instead
    cancelled.phase_start("Building engine", None, 1)
    assert cancelled.step_complete("Building engine", 0) is False


def test_polygraphy_messages_reach_the_log_and_nothing_else(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs the real Polygraphy logger (no TensorRT needed): TensorRT's messages arrive through it."""
    G_LOGGER = pytest.importorskip("polygraphy.logger").G_LOGGER  # noqa: N806 - Polygraphy's own name

    before = (G_LOGGER.use_python_logging_system, G_LOGGER.module_severity, G_LOGGER.colors)
    lines: list[str] = []
    with polygraphy_messages(lines.append, verbose=False) as errors:
        G_LOGGER.info("hidden")
        G_LOGGER.warning("careful")
        G_LOGGER.error("In node 3 (Conv): unsupported")
    with polygraphy_messages(lines.append, verbose=True):
        G_LOGGER.info("details")
        G_LOGGER.verbose("never")
    assert lines == ["[TensorRT warning] careful", "[TensorRT error] In node 3 (Conv): unsupported",
                     "[TensorRT info] details"]
    assert errors == ["In node 3 (Conv): unsupported"]
    assert capsys.readouterr().out == ""  # Polygraphy prints to stdout unless routed
    assert (G_LOGGER.use_python_logging_system, G_LOGGER.module_severity, G_LOGGER.colors) == before
