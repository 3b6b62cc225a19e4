"""The torch-free torch.save reader: both layouts, strided views, refusal of code, and agreement with torch.load."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest

from oftsr_edge.metrics.torch_pickle import TorchPickleError, load_torch_file
from tests.metrics.torch_files import legacy_file, state_dict_pickle, zip_file

ARRAYS = {
    "alpha": np.linspace(0.0, 1.0, 12, dtype=np.float32).reshape(1, 12, 1, 1),
    "beta": np.arange(6, dtype=np.float32).reshape(2, 3).T,  # a transposed (non-contiguous) tensor
}


@pytest.mark.parametrize("writer", [legacy_file, zip_file])
def test_reads_both_layouts(writer: object) -> None:
    state = load_torch_file(writer(ARRAYS))
    assert list(state) == ["alpha", "beta"]
    for name, array in ARRAYS.items():
        assert state[name].dtype == np.float32 and np.array_equal(state[name], array), name


@pytest.mark.parametrize("writer", [legacy_file, zip_file])
def test_refuses_code(writer: object) -> None:
    evil = pickle.dumps({"alpha": os.getcwd}, 2)  # any global but a tensor's must be refused
    with pytest.raises(TorchPickleError, match="refusing posix.getcwd|refusing nt.getcwd"):
        load_torch_file(writer(ARRAYS, main=evil))


def test_refuses_integer_storages_and_truncation() -> None:
    longs = state_dict_pickle(ARRAYS, storage_global=b"ctorch\nLongStorage\n")
    with pytest.raises(TorchPickleError, match="LongStorage"):
        load_torch_file(legacy_file(ARRAYS, main=longs))
    with pytest.raises(TorchPickleError, match="truncated"):
        load_torch_file(legacy_file(ARRAYS)[:-4])
    with pytest.raises(TorchPickleError):
        load_torch_file(b"not a torch file at all")


def test_agrees_with_torch_both_ways() -> None:
    """Our hand-written files load in torch, and torch's own files (both layouts) load here, value for value."""
    torch = pytest.importorskip("torch")
    for writer in (legacy_file, zip_file):
        theirs = torch.load(io.BytesIO(writer(ARRAYS)), weights_only=True)
        assert all(np.array_equal(theirs[k].numpy(), v) for k, v in ARRAYS.items())
    state = {
        "a": torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)[:, 1:, ::2],
        "p": torch.nn.Parameter(torch.linspace(-1, 1, 5, dtype=torch.float64)),
        "h": torch.ones(3, dtype=torch.float16),
    }
    for new_zip in (True, False):
        buffer = io.BytesIO()
        torch.save(state, buffer, _use_new_zipfile_serialization=new_zip)
        ours = load_torch_file(buffer.getvalue())
        for key, tensor in state.items():
            expect = tensor.detach().numpy()
            assert ours[key].dtype == expect.dtype and np.array_equal(ours[key], expect), (new_zip, key)
