"""How the ``oftsr-edge`` process reacts to signals, so every way a run is stopped ends the same clean way.

- SIGTERM (``kill``, ``timeout``, a job scheduler, systemd) is turned into :class:`KeyboardInterrupt`, exactly what
  Ctrl-C raises: temporary files are removed as the stack unwinds, the command prints its summary, and the process
  exits with 130 instead of dying silently with 143 and a half-written temporary file.
- SIGXFSZ (a file-size limit, ``ulimit -f``) is ignored, so a write past the limit fails with ``EFBIG`` and is
  reported like a full disk (one line naming the file) instead of killing the process mid-write.

SIGKILL cannot be caught; what it leaves behind (hidden temporaries) is swept on the next start
(:func:`oftsr_edge.fileio.sweep_stale`). Handlers can only be installed from the main thread; elsewhere this does
nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """Within this block SIGTERM raises KeyboardInterrupt and SIGXFSZ is ignored; the previous handlers come back
    afterwards (the CLI is also called in-process, e.g. by tests)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = {signal.SIGTERM: _raise_interrupt}
    if hasattr(signal, "SIGXFSZ"):
        wanted[signal.SIGXFSZ] = signal.SIG_IGN
    previous = {signum: signal.signal(signum, handler) for signum, handler in wanted.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
