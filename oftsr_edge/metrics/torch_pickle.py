"""Float tensors from a ``torch.save`` file, without torch and without running code from the file.

Third-party metric weights (DISTS's ``weights.pt``) come as torch pickles; the runtime must not need torch, and a
plain ``pickle.load`` would run whatever a tampered file asks. This reader understands both layouts torch writes:

- the zip archive (torch ≥ 1.6): ``<name>/data.pkl`` plus one raw entry ``<name>/data/<key>`` per storage;
- the legacy stream (DISTS_pytorch 0.1's file): magic number, protocol, system-info and object pickles, the list of
  storage keys, then per key an int64 element count and the raw little-endian bytes.

The object pickle is loaded by an unpickler that resolves only the globals a tensor needs (``_rebuild_tensor_v2``,
``_rebuild_parameter``, a float storage type, ``OrderedDict``), each mapped to a numpy stand-in, so the result is
nested dicts/lists of ``np.ndarray``.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_READ_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    KeyError,
    IndexError,
    ValueError,
    struct.error,
    zipfile.BadZipFile,
)
_FLOAT_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16}


class TorchPickleError(ValueError):
    """The bytes are not a torch.save file this reader accepts (the caller turns it into a one-line error)."""


@dataclass(frozen=True)
class _StorageType:
    dtype: type


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: type
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    """A tensor whose storage bytes may come later in the file (legacy layout): resolved after the pickle."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple, stride: tuple, *_: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(data: _TensorRef, *_: Any) -> _TensorRef:
    return data


def _ordered_dict(*args: Any) -> collections.OrderedDict:
    return collections.OrderedDict(*args)


class _TensorsOnly(pickle.Unpickler):
    """Resolves the few globals of a float-tensor state dict; anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _FLOAT_STORAGES:
            return _StorageType(_FLOAT_STORAGES[name])
        if module == "collections" and name == "OrderedDict":
            return _ordered_dict
        raise TorchPickleError(f"refusing {module}.{name} (only float tensors are read)")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise TorchPickleError(f"unexpected persistent id {pid!r:.60}")
        kind, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(kind, _StorageType):
            raise TorchPickleError(f"storage type {kind!r:.60} is not a float storage")
        if len(pid) > 5 and pid[5] is not None:
            raise TorchPickleError("storage views (legacy view metadata) are not supported")
        return _Storage(str(key), kind.dtype, int(numel))


class _NothingGlobal(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise TorchPickleError(f"refusing {module}.{name} in a torch.save header")


def load_torch_file(data: bytes) -> Any:
    """The object a ``torch.save`` wrote, with every float tensor as an ``np.ndarray``; raises TorchPickleError."""
    try:
        if data[:4] == b"PK\x03\x04":
            return _load_zip(data)
        return _load_legacy(data)
    except TorchPickleError:
        raise
    except _READ_ERRORS as exc:
        raise TorchPickleError(f"not a readable torch.save file ({type(exc).__name__}: {exc})") from None


def _load_zip(data: bytes) -> Any:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise TorchPickleError("a torch zip file holds exactly one data.pkl")
        prefix = pkl[0][: -len("data.pkl")]
        tree = _TensorsOnly(io.BytesIO(archive.read(pkl[0]))).load()
        cache: dict[str, bytes] = {}

        def raw(storage: _Storage) -> bytes:
            if storage.key not in cache:
                cache[storage.key] = archive.read(f"{prefix}data/{storage.key}")
            return cache[storage.key]

        return _resolve(tree, raw)


def _load_legacy(data: bytes) -> Any:
    stream = io.BytesIO(data)
    magic = _NothingGlobal(stream).load()
    if magic != _LEGACY_MAGIC:
        raise TorchPickleError("neither a torch zip file nor a legacy torch.save stream (bad magic number)")
    _NothingGlobal(stream).load()  # protocol version
    info = _NothingGlobal(stream).load()
    if not isinstance(info, dict) or not info.get("little_endian", False):
        raise TorchPickleError("only little-endian torch files are read")
    tree = _TensorsOnly(stream).load()
    keys = _NothingGlobal(stream).load()
    if not isinstance(keys, list):
        raise TorchPickleError("legacy storage key list missing")
    storages = {s.key: s for s in _storages(tree)}
    blobs: dict[str, bytes] = {}
    for key in keys:
        (count,) = struct.unpack("<q", stream.read(8))
        storage = storages.get(str(key))
        if storage is None or count != storage.numel:
            raise TorchPickleError(f"storage {key} does not match the tensors that use it")
        width = np.dtype(storage.dtype).itemsize
        blob = stream.read(count * width)
        if len(blob) != count * width:
            raise TorchPickleError(f"storage {key} is truncated")
        blobs[str(key)] = blob
    return _resolve(tree, lambda s: blobs[s.key])


def _storages(tree: Any) -> list[_Storage]:
    if isinstance(tree, _TensorRef):
        return [tree.storage]
    if isinstance(tree, dict):
        return [s for v in tree.values() for s in _storages(v)]
    if isinstance(tree, (list, tuple)):
        return [s for v in tree for s in _storages(v)]
    return []


def _resolve(tree: Any, raw: Any) -> Any:
    """Replace every tensor reference by a numpy copy of its (offset, size, stride) view of the storage bytes."""
    if isinstance(tree, _TensorRef):
        storage = tree.storage
        if 0 in tree.size:
            return np.zeros(tree.size, storage.dtype)
        flat = np.frombuffer(
            raw(storage), dtype=np.dtype(storage.dtype).newbyteorder("<"), count=storage.numel
        )
        last = tree.offset + sum((n - 1) * s for n, s in zip(tree.size, tree.stride))
        if len(tree.size) != len(tree.stride) or min(tree.stride, default=0) < 0 or last >= storage.numel:
            raise TorchPickleError(f"tensor {tree.size} runs past its storage of {storage.numel}")
        strides = tuple(s * flat.itemsize for s in tree.stride)
        view = np.lib.stride_tricks.as_strided(flat[tree.offset :], tree.size, strides, writeable=False)
        return np.array(view, dtype=storage.dtype)
    if isinstance(tree, dict):
        return type(tree)((k, _resolve(v, raw)) for k, v in tree.items())
    if isinstance(tree, list):
        return [_resolve(v, raw) for v in tree]
    if isinstance(tree, tuple):
        return tuple(_resolve(v, raw) for v in tree)
    return tree
