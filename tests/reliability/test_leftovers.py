"""Temporaries carry an owner that outlives pid reuse, and every write sweeps what killed runs left.

In a container every run is pid 1: a temporary named by pid alone looked like the live run's own and was kept
forever. Names now carry pid, process start time and boot; these tests make the container case without a container
(a killed run's temporary that carries *our* pid) and check that writing through :mod:`oftsr_edge.fileio` alone
sweeps it, whatever command writes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from oftsr_edge import fileio
from oftsr_edge.fileio import TEMP_SUFFIX, atomic_path, owner_token, sweep_stale, write_bytes_atomic
from tests.reliability.conftest import REPO, dead_pid


def _temp(folder: Path, owner: str, name: str = "a.png") -> Path:
    path = folder / f".{name}.{owner}.abcd1234{TEMP_SUFFIX}"
    path.write_bytes(b"partial")
    return path


def test_a_killed_runs_temporary_with_our_own_pid_is_swept(tmp_path: Path) -> None:
    """pid 1 in a container: the killed run had our pid; its start time (or the old pid-only name) tells it apart."""
    pid = os.getpid()
    start = int(owner_token().split("-")[1])
    boot = owner_token().split("-")[2]
    old_style = _temp(tmp_path, str(pid), "old.png")  # what earlier versions wrote: pid only
    earlier = _temp(tmp_path, f"{pid}-{start - 1}-{boot}", "earlier.png")  # same pid, started before us
    other_boot = _temp(tmp_path, f"{pid}-{start}-{'0' if boot != '0' * len(boot) else '1'}{boot[1:]}", "boot.png")
    ours = _temp(tmp_path, owner_token(), "ours.png")  # this process's live temporary
    removed = sweep_stale(tmp_path)
    assert sorted(removed) == sorted([old_style, earlier, other_boot])
    assert ours.exists()


def test_a_live_process_keeps_its_temporaries_and_a_dead_ones_go(tmp_path: Path) -> None:
    parent = os.getppid()
    parent_start = fileio._start_ticks(parent)
    boot = owner_token().split("-")[2]
    alive = _temp(tmp_path, f"{parent}-{parent_start}-{boot}", "alive.png")
    reused = _temp(tmp_path, f"{parent}-{parent_start + 1}-{boot}", "reused.png")  # the pid, reused since
    dead = _temp(tmp_path, f"{dead_pid()}-5-{boot}", "dead.png")
    foreign = tmp_path / ".notes.tmp"
    foreign.write_bytes(b"not ours")
    assert sorted(sweep_stale(tmp_path)) == sorted([reused, dead])
    assert alive.exists() and foreign.exists()


def test_any_atomic_write_sweeps_its_folder_once(tmp_path: Path) -> None:
    """No command has to remember to sweep: the first atomic write into a folder does it."""
    stale = _temp(tmp_path, str(dead_pid()))
    write_bytes_atomic(tmp_path / "result.bin", b"x")
    assert not stale.exists() and (tmp_path / "result.bin").read_bytes() == b"x"
    again = _temp(tmp_path, str(dead_pid()), "b.png")
    write_bytes_atomic(tmp_path / "result2.bin", b"y")  # the same folder again: not scanned twice
    assert again.exists()


def test_a_sigkilled_writer_in_a_child_leaves_a_temporary_that_the_next_write_removes(tmp_path: Path) -> None:
    code = (
        "import os, sys, time\n"
        "from oftsr_edge.fileio import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_bytes(b'half'); print(tmp.name, flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "out.bin")], stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))  # fmt: skip
    name = proc.stdout.readline().strip()
    assert (tmp_path / name).exists()
    assert not fileio.is_stale_temp(name)  # its writer is alive
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert fileio.is_stale_temp(name)
    with atomic_path(tmp_path / "other.bin") as tmp:
        tmp.write_bytes(b"ok")
    assert not (tmp_path / name).exists()
