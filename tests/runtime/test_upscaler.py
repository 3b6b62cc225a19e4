"""The Python API on the real exported tiny model: tiling exactness, seeds, t, layouts, bad models, fp32 fallback,
and the one check of every option (t, seed, tile, overlap, batch_size, backend) and of the image."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.contract import METADATA_KEY, ModelSpec
from oftsr_edge.errors import OftsrError, OptionError
from oftsr_edge.runtime.backends.base import CPU
from oftsr_edge.runtime.backends.options import OrtCpu
from oftsr_edge.runtime.io.image_io import read_image, write_image
from oftsr_edge.runtime.upscaler import Upscaler, resize_alpha
from tests.runtime.onnx_edits import edit_onnx


class NumpyBackend:
    """A stand-in backend: nearest-neighbour ×4 in numpy, with the tiny model's spec."""

    name = "numpy"
    device = CPU
    fixed_shape = True
    profile_tile = None

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    def run(self, lr: np.ndarray, noise: np.ndarray, t: float) -> np.ndarray:
        return lr.repeat(4, axis=2).repeat(4, axis=3)

    def close(self) -> None:
        pass


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


@pytest.fixture(scope="module")
def photo(photos: Path) -> np.ndarray:
    """A real LR photo (48×64, houses) as float32 in [0, 1]."""
    return read_image(photos / "LR_bicubic" / "X4" / "kodim08.png").astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def upscaler(tiny_onnx_fp32: Path) -> Upscaler:
    with Upscaler(tiny_onnx_fp32, tile=16, overlap=8) as up:
        yield up


def test_spec_comes_from_the_model_metadata(tiny_onnx_fp32: Path, upscaler: Upscaler) -> None:
    import onnx

    props = {p.key: p.value for p in onnx.load(str(tiny_onnx_fp32)).metadata_props}
    assert upscaler.spec == ModelSpec.from_json(props[METADATA_KEY])
    assert upscaler.backend_name == "ort-cpu"
    default = Upscaler(tiny_onnx_fp32)  # tile "auto": a small image fits the memory budget, so one whole call
    assert default.tiling.auto and default.tiling.plan(64, 64).whole and default.overlap >= 8
    fixed = Upscaler(tiny_onnx_fp32, tile=default.spec.tile)
    assert not fixed.tiling.auto and fixed.tile == default.spec.tile and fixed.overlap >= 8


@pytest.mark.parametrize("tile,overlap", [(16, 4), (16, 8), (24, 8), (32, 8), (32, 16)])
def test_tiled_output_matches_the_whole_image(
    tiny_onnx_fp32: Path, photo: np.ndarray, tile: int, overlap: int
):
    whole = Upscaler(tiny_onnx_fp32, tile=0).upscale(photo, t=0.5, seed=3)
    tiled = Upscaler(tiny_onnx_fp32, tile=tile, overlap=overlap).upscale(photo, t=0.5, seed=3)
    value = psnr(tiled, whole)
    assert value >= 45.0, f"tile {tile} overlap {overlap}: {value:.1f} dB"


def test_batches_give_the_same_output(tiny_onnx_fp32: Path, photo: np.ndarray, upscaler: Upscaler) -> None:
    batched = Upscaler(tiny_onnx_fp32, tile=16, overlap=8, batch_size=3).upscale(photo, t=0.5, seed=3)
    np.testing.assert_allclose(batched, upscaler.upscale(photo, t=0.5, seed=3), atol=1e-5)


def test_seed_and_t_control_the_output(upscaler: Upscaler, photo: np.ndarray) -> None:
    a = upscaler.upscale(photo, t=0.5, seed=1)
    np.testing.assert_array_equal(a, upscaler.upscale(photo, t=0.5, seed=1))
    assert np.abs(a - upscaler.upscale(photo, t=0.5, seed=2)).max() > 1e-3
    # the trained tiny fixture's t path moves pixels by a few 8-bit levels: ask for at least half a level
    assert (
        np.abs(upscaler.upscale(photo, t=0.1, seed=1) - upscaler.upscale(photo, t=0.9, seed=1)).max() > 2e-3
    )
    random = upscaler.upscale(photo, t=0.5, seed=None)
    assert random.shape == a.shape and np.isfinite(random).all()
    np.testing.assert_array_equal(
        upscaler.upscale(photo, seed=1), upscaler.upscale(photo, t=upscaler.spec.default_t, seed=1)
    )


def test_odd_sizes_layouts_and_dtypes(upscaler: Upscaler) -> None:
    rng = np.random.default_rng(0)
    rgb8 = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    out = upscaler.upscale(rgb8, t=0.3)
    assert out.shape == (148, 212, 3) and out.dtype == np.uint8
    gray = upscaler.upscale(rgb8[..., 0], t=0.3)
    assert gray.shape == (148, 212) and gray.dtype == np.uint8
    rgba = np.dstack([rgb8, rng.integers(0, 256, (37, 53), dtype=np.uint8)])
    out4 = upscaler.upscale(rgba, t=0.3)
    assert out4.shape == (148, 212, 4)
    np.testing.assert_array_equal(out4[..., 3], resize_alpha(rgba[..., 3], 4))
    np.testing.assert_array_equal(out4[..., :3], out)  # alpha never touches the colour
    la = upscaler.upscale(rgba[..., 2:], t=0.3)
    assert la.shape == (148, 212, 2)
    rgb16 = rgb8.astype(np.uint16) * 257
    out16 = upscaler.upscale(rgb16, t=0.3)
    assert out16.dtype == np.uint16 and np.abs(out16 / 257.0 - out).max() <= 1.0
    outf = upscaler.upscale(rgb8.astype(np.float32) / 255, t=0.3)
    assert outf.dtype == np.float32 and outf.min() >= 0 and outf.max() <= 1


@pytest.mark.parametrize("t", [-0.01, 1.01, float("nan"), "high"])
def test_t_outside_unit_interval_is_rejected(upscaler: Upscaler, photo: np.ndarray, t) -> None:
    with pytest.raises(OptionError, match="t must"):
        upscaler.upscale(photo, t=t)


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, "3", True])
def test_bad_seeds_are_rejected(upscaler: Upscaler, photo: np.ndarray, seed) -> None:
    with pytest.raises(OptionError, match="seed must"):
        upscaler.upscale(photo, seed=seed)


@pytest.mark.parametrize(
    "knobs,message",
    [
        ({"tile": -1}, "tile must be an integer ≥ 0"),
        ({"tile": 1.5}, "tile must be an integer"),
        ({"overlap": -2}, "overlap must be an integer ≥ 0"),
        ({"batch_size": 0}, "batch_size must be an integer ≥ 1"),
        ({"tile": 16, "overlap": 16}, "overlap 16 must be smaller than the tile 16"),
        ({"tile": 15, "overlap": 15}, "overlap 16 must be smaller than the tile 16"),  # after rounding up
    ],
)
def test_bad_tiling_is_one_line(tiny_onnx_fp32: Path, knobs: dict, message: str) -> None:
    spec = Upscaler(tiny_onnx_fp32).spec
    with pytest.raises(OptionError, match=message):
        Upscaler.from_backend(NumpyBackend(spec), **knobs)
    with pytest.raises(OptionError, match=message):
        Upscaler(tiny_onnx_fp32, **knobs)


def test_bad_knobs_are_found_before_the_model_is_opened(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="tile must"):
        Upscaler(tmp_path / "missing.onnx", tile=-1)
    with pytest.raises(OftsrError, match="unknown backend"):
        Upscaler(tmp_path / "missing.onnx", backend="cuda")
    with pytest.raises(OftsrError, match="backend must be a name"):
        Upscaler(tmp_path / "missing.onnx", backend=0)  # type: ignore[arg-type]


def test_backend_by_name_or_by_options(tiny_onnx_fp32: Path, photo: np.ndarray, upscaler: Upscaler) -> None:
    by_name = Upscaler(tiny_onnx_fp32, "ort-cpu", tile=16, overlap=8)
    by_options = Upscaler(tiny_onnx_fp32, OrtCpu(threads=1), tile=16, overlap=8)
    assert by_name.backend_name == by_options.backend_name == "ort-cpu"
    expected = upscaler.upscale(photo, t=0.5, seed=3)
    for up in (by_name, by_options):
        np.testing.assert_array_equal(up.upscale(photo, t=0.5, seed=3), expected)


def test_bad_arrays_are_rejected(upscaler: Upscaler) -> None:
    bad_arrays = (
        np.zeros((8, 8, 5), np.uint8),
        np.zeros((8, 8), np.int32),
        np.zeros((8,), np.uint8),
        np.zeros((0, 8), np.uint8),
        np.zeros((8, 0, 3), np.float32),
        [[0.5]],
    )
    for bad in bad_arrays:
        with pytest.raises(OftsrError):
            upscaler.upscale(bad)  # type: ignore[arg-type]


def test_files_that_are_not_oftsr_models(tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    (tmp_path / "notes.onnx").write_text("hello")
    edit_onnx(tiny_onnx_fp32, tmp_path / "plain.onnx", drop_metadata=True)
    cases = {"missing.onnx": "no such model file", "notes.onnx": "not a loadable ONNX model",
             "plain.onnx": "not an oftsr-edge model"}  # fmt: skip
    for name, message in cases.items():
        with pytest.raises(OftsrError, match=message):
            Upscaler(tmp_path / name)


def test_nan_from_fp16_falls_back_to_the_fp32_sibling(tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    """The sibling is found by metadata: the fp32 model hides under a misleading name."""
    fp16 = edit_onnx(
        tiny_onnx_fp32, tmp_path / "model_fp32.onnx", metadata={"precision": "fp16"}, poison=True
    )
    shutil.copy(tiny_onnx_fp32, tmp_path / "zz_fp16_export.onnx")
    edit_onnx(tiny_onnx_fp32, tmp_path / "other_fp32.onnx", metadata={"checkpoint_sha256": "0" * 64})
    image = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    up = Upscaler(fp16, tile=16, overlap=8)
    assert up.spec.precision == "fp16"
    with pytest.warns(RuntimeWarning, match="falling back to the fp32 model"):
        out = up.upscale(image, t=0.4, seed=9)
    assert up.spec.precision == "fp32" and up.model_path == tmp_path / "zz_fp16_export.onnx"
    np.testing.assert_array_equal(
        out, Upscaler(tiny_onnx_fp32, tile=16, overlap=8).upscale(image, t=0.4, seed=9)
    )

    alone = tmp_path / "alone"
    alone.mkdir()
    lonely = Upscaler(shutil.copy(fp16, alone / "m.onnx"), tile=16, overlap=8)
    with warnings.catch_warnings(), pytest.raises(OftsrError, match="NaN/Inf"):
        warnings.simplefilter("error")
        lonely.upscale(image)


def test_upscale_file_writes_atomically_and_never_over_its_input(tmp_path: Path, upscaler: Upscaler) -> None:
    src = write_image(
        tmp_path / "in.png", np.random.default_rng(0).integers(0, 65536, (10, 12, 3), np.uint16)
    )
    result = upscaler.upscale_file(src, tmp_path / "out" / "in.png", t=0.5)
    assert result.hr_size == (40, 48) and read_image(result.target).dtype == np.uint16
    with pytest.raises(OftsrError, match="overwrite its input"):
        upscaler.upscale_file(src, src)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["in.png"]


def test_any_backend_object_can_be_wrapped(tiny_onnx_fp32: Path) -> None:
    up = Upscaler.from_backend(NumpyBackend(Upscaler(tiny_onnx_fp32).spec), tile=16, overlap=4)
    image = np.random.default_rng(0).random((19, 23, 3)).astype(np.float32)
    np.testing.assert_allclose(up.upscale(image), image.repeat(4, 0).repeat(4, 1), atol=1e-6)
    assert up.backend_name == "numpy"
    json.dumps(up.spec.to_json())
