"""Atomic file writes and file hashing, shared by every part that writes for the user.

Every output (images, ONNX models, engines, checkpoints, reports) is written to a temporary name in the target
folder and renamed into place, so an interrupted or failed write never leaves a half-written file that looks valid.
Torch-free: the runtime uses it too.

Temporary names are ``.<name>.<pid>.<random>.oftsr.tmp``: hidden, shortened to fit the folder's name limit (a
255-byte output name must not fail because its temporary name is longer), and carrying the writer's process id,
so :func:`sweep_stale` can remove what a killed run (SIGKILL, power loss) left behind without touching the
temporaries of a run that is still alive.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import tempfile
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
_TEMP_NAME = re.compile(r"^\..*\.(\d+)\.[A-Za-z0-9_]+" + re.escape(TEMP_SUFFIX) + "$", re.DOTALL)
_RANDOM_PART = 8  # what mkstemp/mkdtemp put between prefix and suffix


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def temp_prefix(folder: Path, name: str) -> str:
    """``.<name>.<pid>.`` with ``name`` cut (at a character boundary) so the whole temporary name fits the
    folder's file-name limit."""
    pid = f".{os.getpid()}."
    room = _name_max(folder) - len(pid) - _RANDOM_PART - len(TEMP_SUFFIX) - 1
    encoded = os.fsencode(name)
    if len(encoded) > room:
        name = os.fsdecode(encoded[: max(room, 1)].decode("utf-8", "ignore").encode("utf-8")) or "x"
    return f".{name}{pid}"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's live process, or not a pid at all: leave it alone
    return True


def sweep_stale(folder: str | os.PathLike) -> list[Path]:
    """Remove this package's temporaries in ``folder`` whose writer process is gone; returns what was removed.

    Only names :func:`atomic_path` and :func:`temp_dir` make are touched, and only when the process id in the name
    is not running: a concurrent run's temporaries stay."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or _pid_alive(int(match.group(1))):
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


def temp_dir(parent: str | os.PathLike, name: str) -> Path:
    """A new hidden staging folder in ``parent`` for ``name`` (renamed into place when complete), named so that
    :func:`sweep_stale` recognises it once its process is gone."""
    parent = Path(parent)
    return Path(tempfile.mkdtemp(dir=parent, prefix=temp_prefix(parent, name), suffix=TEMP_SUFFIX))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``, on error removed.

    For libraries that write by file name (onnx.save_model, safetensors, torch.save). The file gets the usual
    permissions (mkstemp's 0600 would make outputs unreadable to others).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
