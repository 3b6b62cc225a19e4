"""Atomic file writes and file hashing, shared by every part that writes for the user.

Every output (images, ONNX models, engines, checkpoints, reports) is written to a temporary name in the target
folder and renamed into place, so an interrupted or failed write never leaves a half-written file that looks valid.
Torch-free: the runtime uses it too.

Temporary names are ``.<name>.<owner>.<random>.oftsr.tmp``: hidden, shortened to fit the folder's name limit (a
255-byte output name must not fail because its temporary name is longer), and carrying their writer's *owner*:
process id, the process's start time (clock ticks since boot) and a short hash of the boot id. A pid alone is not an
owner: in a container every run is pid 1, so a killed run's temporaries looked like the live run's and stayed
forever. :func:`sweep_stale` removes a temporary whose owner is gone (no such pid, or a pid now held by a process
that started at another time or in another boot) and leaves a live run's alone; every atomic write sweeps its
folder once per process (:func:`sweep_once`), so each command that writes through this module cleans up after
killed runs without doing anything itself.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    """The process umask, read once: reading it means setting it, which must not race with writer threads."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: every temporary file or folder this package makes ends with this
TEMP_SUFFIX = ".oftsr.tmp"
# owner = pid, or (this format) pid-starttime-boothash; an older version wrote the pid alone
_TEMP_NAME = re.compile(
    r"^\..*\.(\d+)(?:-(\d+)-([0-9a-f]+))?\.[A-Za-z0-9_]+" + re.escape(TEMP_SUFFIX) + "$", re.DOTALL
)
_RANDOM_PART = 8  # what mkstemp/mkdtemp put between prefix and suffix
_BOOT_HASH = 4  # hex digits of the boot id kept in a name


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def _start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, /proc/PID/stat field 22); None when unknown
    (no /proc, or no such process)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        return int(text[text.rindex(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


@functools.lru_cache(maxsize=1)
def _boot_hash() -> str:
    """A short hash of this boot's id: a pid and start time repeat after a reboot, the boot id does not."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    return hashlib.sha256(boot.encode()).hexdigest()[:_BOOT_HASH]


_OWNER: tuple[int, str] | None = None


def owner_token() -> str:
    """This process's owner mark in temporary names: ``<pid>-<start ticks>-<boot hash>`` (computed per pid, so a
    forked child gets its own)."""
    global _OWNER
    pid = os.getpid()
    if _OWNER is None or _OWNER[0] != pid:
        _OWNER = (pid, f"{pid}-{_start_ticks(pid) or 0}-{_boot_hash()}")
    return _OWNER[1]


def temp_prefix(folder: Path, name: str) -> str:
    """``.<name>.<owner>.`` with ``name`` cut (at a character boundary) so the whole temporary name fits the
    folder's file-name limit."""
    owner = f".{owner_token()}."
    room = _name_max(folder) - len(owner) - _RANDOM_PART - len(TEMP_SUFFIX) - 1
    encoded = os.fsencode(name)
    if len(encoded) > room:
        name = os.fsdecode(encoded[: max(room, 1)].decode("utf-8", "ignore").encode("utf-8")) or "x"
    return f".{name}{owner}"


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's live process, or not a pid at all: leave it alone
    return True


def owner_alive(pid: int, start: int | None = None, boot: str | None = None) -> bool:
    """Whether the writer of a temporary (its pid, and the start time and boot hash when the name has them) still
    runs. Without a start time (an older version's name) only the pid is known: one equal to ours cannot be the
    writer's (we never write that form), any other is trusted while it exists."""
    if start is None:
        return pid != os.getpid() and _pid_exists(pid)
    if boot is not None and boot != _boot_hash():
        return False  # written before a reboot
    if pid == os.getpid():
        return owner_token() == f"{pid}-{start}-{boot}"
    ticks = _start_ticks(pid)
    if ticks is not None:
        return ticks == start  # else the pid was reused by a newer process
    return _pid_exists(pid) if not Path("/proc/self/stat").exists() else False


def is_stale_temp(name: str) -> bool:
    """True for one of this package's temporary names whose owner is gone."""
    match = _TEMP_NAME.match(name)
    if match is None:
        return False
    pid, start, boot = match.groups()
    return not owner_alive(int(pid), None if start is None else int(start), boot)


_SWEPT: set[tuple[int, str]] = set()
_SWEPT_LOCK = threading.Lock()


def sweep_stale(folder: str | os.PathLike) -> list[Path]:
    """Remove this package's temporaries in ``folder`` whose owner is gone (:func:`is_stale_temp`); returns what
    was removed. Only names :func:`atomic_path` and :func:`temp_dir` make are touched: a concurrent run's
    temporaries stay, and so does every file that is not ours."""
    folder = Path(folder)
    removed: list[Path] = []
    with _SWEPT_LOCK:
        _SWEPT.add((os.getpid(), os.path.abspath(folder)))
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not is_stale_temp(entry.name):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def sweep_once(folder: str | os.PathLike) -> list[Path]:
    """:func:`sweep_stale` the first time this process writes into ``folder``; later calls do nothing (a
    scandir per written file would cost a folder of many outputs dearly)."""
    key = (os.getpid(), os.path.abspath(folder))
    with _SWEPT_LOCK:
        if key in _SWEPT:
            return []
    return sweep_stale(folder)


def temp_dir(parent: str | os.PathLike, name: str) -> Path:
    """A new hidden staging folder in ``parent`` for ``name`` (renamed into place when complete), named so that
    :func:`sweep_stale` recognises it once its process is gone."""
    parent = Path(parent)
    sweep_once(parent)
    return Path(tempfile.mkdtemp(dir=parent, prefix=temp_prefix(parent, name), suffix=TEMP_SUFFIX))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``, on error removed.

    For libraries that write by file name (onnx.save_model, safetensors, torch.save). The file gets the usual
    permissions (mkstemp's 0600 would make outputs unreadable to others).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_once(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path.parent, path.name), suffix=TEMP_SUFFIX)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; flushed, synced and renamed to ``path`` on success."""
    with atomic_path(path) as tmp, open(tmp, mode) as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cache_root() -> Path:
    """The user cache every cached artefact lives under: ``$OFTSR_EDGE_CACHE``, else ``$XDG_CACHE_HOME/oftsr-edge``,
    else ``~/.cache/oftsr-edge`` — never the repository, so a clone stays clean."""
    if os.environ.get("OFTSR_EDGE_CACHE"):
        return Path(os.environ["OFTSR_EDGE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "oftsr-edge"
