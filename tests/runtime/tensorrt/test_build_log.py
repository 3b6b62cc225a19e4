"""Build log lines: TensorRT's phase callbacks and messages as one short line each (pure Python + stand-in)."""

from __future__ import annotations

from oftsr_edge.runtime.backends.tensorrt.build_log import BuildProgress, progress_monitor, trt_logger
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


def test_logger_shows_info_only_when_verbose() -> None:
    trt = make_fake_trt("10.3.0")
    severity = trt.ILogger.Severity
    lines: list[str] = []
    quiet, verbose = trt_logger(trt, lines.append, False), trt_logger(trt, lines.append, True)
    quiet.log(severity.INFO, "hidden")
    quiet.log(severity.ERROR, "shown")
    verbose.log(severity.INFO, "details")
    verbose.log(severity.VERBOSE, "never")
    assert lines == ["[TensorRT error] shown", "[TensorRT info] details"]
