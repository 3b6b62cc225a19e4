"""torch.save files written without torch, opcode by opcode, so the torch-free reader is tested where torch is absent.

The layouts follow what torch writes (checked against ``torch.load`` in test_torch_pickle.py when torch is here):
the legacy stream of DISTS_pytorch 0.1's ``weights.pt`` and the zip archive of torch ≥ 1.6.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _text(value: str) -> bytes:
    raw = value.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw  # BINUNICODE


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)  # BININT


def _tuple(items: list[bytes]) -> bytes:
    return b"(" + b"".join(items) + b"t"  # MARK ... TUPLE


def _storage(array: np.ndarray) -> bytes:
    """The array's elements in memory order: with its strides, what a torch storage holds (C or F order only)."""
    assert array.flags.c_contiguous or array.flags.f_contiguous
    return array.astype("<f4").ravel(order="K").tobytes()


def state_dict_pickle(
    arrays: dict[str, np.ndarray], storage_global: bytes = b"ctorch\nFloatStorage\n", legacy: bool = True
) -> bytes:
    """The object pickle of a dict of float32 tensors (C or F order), storage i holding array i; a legacy storage id
    ends with view metadata (None), a zip one does not."""
    body = b"\x80\x02}("  # PROTO 2, EMPTY_DICT, MARK
    for i, (name, array) in enumerate(arrays.items()):
        strides = [s // array.itemsize for s in array.strides]
        storage = _tuple(
            [
                _text("storage"),
                storage_global,
                _text(str(i)),
                _text("cpu"),
                _int(array.size),
                *([b"N"] if legacy else []),
            ]
        )
        args = _tuple(
            [
                storage + b"Q",  # BINPERSID
                _int(0),
                _tuple([_int(n) for n in array.shape]),
                _tuple([_int(s) for s in strides]),
                b"\x89",  # NEWFALSE (requires_grad)
                b"ccollections\nOrderedDict\n)R",
            ]
        )
        body += _text(name) + b"ctorch._utils\n_rebuild_tensor_v2\n" + args + b"R"
    return body + b"u."  # SETITEMS, STOP


def legacy_file(arrays: dict[str, np.ndarray], main: bytes | None = None) -> bytes:
    """``torch.save(..., _use_new_zipfile_serialization=False)`` of float32 arrays (``main`` replaces the pickle)."""
    info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    out = pickle.dumps(LEGACY_MAGIC, 2) + pickle.dumps(1001, 2) + pickle.dumps(info, 2)
    out += main if main is not None else state_dict_pickle(arrays)
    out += pickle.dumps([str(i) for i in range(len(arrays))], 2)
    for array in arrays.values():
        out += struct.pack("<q", array.size) + _storage(array)
    return out


def zip_file(arrays: dict[str, np.ndarray], main: bytes | None = None) -> bytes:
    """The torch ≥ 1.6 zip layout of the same state dict."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "weights/data.pkl", main if main is not None else state_dict_pickle(arrays, legacy=False)
        )
        for i, array in enumerate(arrays.values()):
            archive.writestr(f"weights/data/{i}", _storage(array))
        archive.writestr("weights/version", "3\n")
    return buffer.getvalue()
