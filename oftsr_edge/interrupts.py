"""How the ``oftsr-edge`` process reacts to signals, so every way a run is stopped ends the same clean way.

- SIGTERM (``kill``, ``timeout``, a job scheduler, systemd) is turned into :class:`KeyboardInterrupt`, exactly what
  Ctrl-C raises: temporary files are removed as the stack unwinds, the command prints its summary, and the process
  exits with 130 instead of dying silently with 143 and a half-written temporary file.
- SIGXFSZ (a file-size limit, ``ulimit -f``) is ignored, so a write past the limit fails with ``EFBIG`` and is
  reported like a full disk (one line naming the file) instead of killing the process mid-write.

SIGKILL cannot be caught; what it leaves behind (hidden temporaries) is swept on the next start
(:func:`oftsr_edge.fileio.sweep_stale`). Handlers can only be installed from the main thread; elsewhere this does
nothing.

A real ``oftsr-edge`` process also gets :func:`guard_process`: a KeyboardInterrupt alone cannot promise an end.
The main thread may sit in a long native call (an inference), and once it has unwound, the interpreter waits at
exit for every non-daemon thread — an executor worker orphaned by an interrupt that landed inside the executor's
own code waited forever ("stopped early", then no exit, about once in 100 interrupts). So the signals also wake a
watcher thread (through Python's signal wake-up fd, written by the C-level handler whatever the main thread is
doing), which ends the process itself if it has not ended :data:`GRACE_S` seconds later (exit 130, with the one
"stopped early" line).
:func:`requested` lets code that turns failures into user errors tell an interrupt from a real failure (an import
interrupted midway raises ImportError: that is not "not installed").
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

#: seconds between a stop signal and the watcher ending a process that has not ended by itself
GRACE_S = 1.0
_REQUESTED = threading.Event()  # a stop signal arrived
_REPORTED = threading.Event()  # the "stopped early" line is printed
_FINISHING = threading.Event()  # the command is done: a late signal changes nothing


def requested() -> bool:
    """True once SIGINT or SIGTERM has arrived in this process."""
    return _REQUESTED.is_set()


def mark_reported() -> None:
    """The command printed its own "stopped early" line: no other is printed."""
    _REPORTED.set()


def reported() -> bool:
    return _REPORTED.is_set()


def finishing(own_process: bool = False) -> None:
    """The command has finished: from now on a stop signal is ignored (the process is about to exit; in a process
    of its own, SIGINT and SIGTERM are ignored outright, so a late one cannot turn a finished run into a kill)."""
    _FINISHING.set()
    if own_process and threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)


def _raise_interrupt(signum: int, frame: Any) -> None:
    _REQUESTED.set()
    raise KeyboardInterrupt(signal.Signals(signum).name)


def guard_process(stopped_line: Callable[[], str]) -> bool:
    """For a real process (never a caller's: it takes over the signal wake-up fd): SIGINT and SIGTERM raise
    KeyboardInterrupt in the main thread as usual, and Python's C-level handler also writes them to a pipe that a
    watcher thread reads at once, from any thread and in the middle of any native call. :data:`GRACE_S` seconds
    after a signal the watcher prints ``stopped_line()`` (unless a "stopped early" line is out) and ends the
    process with 130, if the main thread has not ended it by then. True when installed."""
    if threading.current_thread() is not threading.main_thread():
        return False
    read_end, write_end = os.pipe()
    try:
        os.set_blocking(write_end, False)
        signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    except (ValueError, OSError, AttributeError):
        os.close(read_end)
        os.close(write_end)
        return False
    for signum in (signal.SIGINT, signal.SIGTERM):  # a Python-level handler: the wake-up fd is written only then
        signal.signal(signum, _raise_interrupt)
    stops = {int(signal.SIGINT), int(signal.SIGTERM)}

    def watch() -> None:
        while True:
            try:
                data = os.read(read_end, 64)
            except OSError:
                return
            if not data:
                return
            if stops & set(data) and not _FINISHING.is_set():
                break
        _REQUESTED.set()
        threading.Event().wait(GRACE_S)  # the main thread ends the process itself (end_now) unless it is stuck
        end_now(stopped_line())

    try:
        threading.Thread(target=watch, name="oftsr-signals", daemon=True).start()
    except RuntimeError:  # no thread to be had: plain KeyboardInterrupt handling it is
        signal.set_wakeup_fd(-1)
        return False
    return True


def end_now(line: str | None, code: int = 130) -> None:
    """Print ``line`` (unless a "stopped early" line is out already), flush, and end the process at once: no wait
    for threads that may never end."""
    try:
        if line and not _REPORTED.is_set():
            _REPORTED.set()
            sys.stdout.write(line + "\n")
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


@contextlib.contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """Within this block SIGTERM raises KeyboardInterrupt and SIGXFSZ is ignored; the previous handlers come back
    afterwards (the CLI is also called in-process, e.g. by tests)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = {signal.SIGTERM: _raise_interrupt, signal.SIGINT: _raise_interrupt}
    if hasattr(signal, "SIGXFSZ"):
        wanted[signal.SIGXFSZ] = signal.SIG_IGN
    previous = {signum: signal.signal(signum, handler) for signum, handler in wanted.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
