"""``oftsr-edge check`` on real exported ONNX models, plus the pure parts of the gate."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge import contract
from oftsr_edge.contract import INPUT_LR, INPUT_NOISE, INPUT_T, OUTPUT_HR
from oftsr_edge.errors import OftsrError
from oftsr_edge.export import polygraphy_check
from oftsr_edge.export.check_data import (
    compare_outputs,
    lr_tiles_from,
    make_feeds,
    psnr_unit,
    synthetic_tiles,
)
from oftsr_edge.export.polygraphy_check import run_check

REPO = Path(__file__).resolve().parents[2]
# The CLI as a user runs it, with torch and TensorRT made unimportable: proves both commands are torch-free.
NO_TORCH_CLI = (
    "import sys; sys.modules['torch'] = None; sys.modules['tensorrt'] = None; "
    "from oftsr_edge.cli import main; main(sys.argv[1:])"
)


def cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", NO_TORCH_CLI, *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def lr_images(photos: Path) -> Path:
    return photos / "LR_bicubic" / "X4"


def damaged_copy(model: Path, out: Path, factor: float = 4.0, nan: bool = False) -> Path:
    """The model with its output convolution's weights scaled (or one of them set to NaN): a broken variant."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    proto = onnx.load(str(model))
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    weight_name = convs[-1].input[1]
    for init in proto.graph.initializer:
        if init.name == weight_name:
            w = numpy_helper.to_array(init).astype(np.float32) * factor
            if nan:
                w.flat[0] = np.nan
            init.CopyFrom(numpy_helper.from_array(w, init.name))
    onnx.save(proto, str(out))
    return out


# --- the command on real exported models ---------------------------------------------------------------------------


def test_fp32_against_itself_passes(tiny_onnx_fp32: Path, lr_images: Path) -> None:
    done = cli("check", tiny_onnx_fp32, "--images", lr_images)
    assert done.returncode == 0, done.stderr
    assert "PASS" in done.stdout and done.stdout.strip().endswith("check: passed")
    assert "Traceback" not in done.stderr


def test_damaged_model_fails_the_gate(tiny_onnx_fp32: Path, lr_images: Path, tmp_path: Path) -> None:
    damaged = damaged_copy(tiny_onnx_fp32, tmp_path / "damaged.onnx")
    done = cli("check", damaged, "--reference", tiny_onnx_fp32, "--images", lr_images, "--t", "0,1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL  onnxrt:damaged.onnx vs onnxrt:" in done.stdout and "check: FAILED" in done.stdout


def test_non_finite_output_fails_even_with_a_low_gate(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    broken = damaged_copy(tiny_onnx_fp32, tmp_path / "nan.onnx", factor=1.0, nan=True)
    result = run_check(broken, reference=tiny_onnx_fp32, min_psnr=0.0, tiles=1, t_values=(0.5,))
    (comparison,) = result.comparisons
    assert comparison.nonfinite > 0 and not result.passed
    assert "non-finite" in comparison.line()


def test_fp16_variant_passes_against_fp32(tiny_onnx_fp32: Path, lr_images: Path, tmp_path: Path) -> None:
    fp16 = pytest.importorskip("oftsr_edge.export.fp16")
    variant = fp16.convert_fp16(tiny_onnx_fp32, tmp_path / "tiny_fp16.onnx")
    with_polygraphy = run_check(variant, reference=tiny_onnx_fp32, images=lr_images, tiles=2)
    plain = run_check(variant, reference=tiny_onnx_fp32, images=lr_images, tiles=2, use_polygraphy=False)
    assert with_polygraphy.passed and plain.passed
    assert plain.runner == "onnxruntime"
    assert with_polygraphy.comparisons[0].psnr_by_t == pytest.approx(plain.comparisons[0].psnr_by_t)


def test_missing_files_are_one_line_exit_2(tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    for args in (
        ("check", tmp_path / "missing.onnx"),
        ("check", tiny_onnx_fp32, "--reference", tmp_path / "missing_ref.onnx"),
        ("check", tiny_onnx_fp32, "--engine", tmp_path / "missing.engine"),
        ("check", tiny_onnx_fp32, "--images", tmp_path / "no_such_dir"),
        ("check", tiny_onnx_fp32, "--t", "0,2"),
        ("build", tmp_path / "missing.onnx", "-o", tmp_path / "x.engine"),
    ):
        done = cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("oftsr-edge: error: "), (args, done.stderr)


def test_build_and_engine_check_without_tensorrt_are_one_line(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    done = cli("build", tiny_onnx_fp32, "-o", tmp_path / "tiny.engine", "--tile", "32", "--batch-size", "4")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "needs tensorrt" in done.stderr and "JetPack" in done.stderr and "docs/jetson.md" in done.stderr
    assert "[trt]" not in done.stderr  # that extra holds no TensorRT
    engine = _engine_with_sidecar(tiny_onnx_fp32, tmp_path / "tiny.engine")
    done = cli("check", tiny_onnx_fp32, "--engine", engine, "--tiles", "1", "--t", "0.5")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "needs tensorrt" in done.stderr


def _engine_with_sidecar(model: Path, engine: Path, onnx_sha: str | None = None) -> Path:
    """A placeholder engine file whose sidecar says it was built from ``model`` (tile = the model's tile)."""
    from oftsr_edge.contract import read_spec
    from oftsr_edge.fileio import sha256_file
    from oftsr_edge.runtime.backends.tensorrt.engine_cache import (
        EngineEnvironment,
        EngineSidecar,
        write_engine,
    )
    from oftsr_edge.runtime.backends.tensorrt.profiles import make_profile

    spec = read_spec(model)
    profile = make_profile(spec.scale, spec.multiple_of, tile=spec.tile, batch=2)
    sidecar = EngineSidecar(
        key="00" * 32, onnx_sha256=onnx_sha or sha256_file(model), env=EngineEnvironment("10.3.0", "GPU", "8.7"),
        precision="fp32", profile=profile, engine_sha256=hashlib.sha256(b"x").hexdigest(), engine_bytes=1, spec=spec,
    )  # fmt: skip
    return write_engine(engine, b"x", sidecar)


class OrtBackend:
    """Runs the ONNX model under ONNX Runtime behind the Backend interface: stands in for TensorRTBackend."""

    def __init__(self, model: Path) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        self.closed = False

    def run(self, lr: np.ndarray, noise: np.ndarray, t: float) -> np.ndarray:
        return self.session.run([OUTPUT_HR], contract.feeds(lr, noise, t))[0]

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("use_polygraphy", [True, False])
def test_engine_path_runs_the_backend_as_a_polygraphy_runner(
    tiny_onnx_fp32: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_polygraphy: bool
) -> None:
    if use_polygraphy:
        pytest.importorskip("polygraphy")
    engine = _engine_with_sidecar(tiny_onnx_fp32, tmp_path / "tiny.engine")
    backends: list[OrtBackend] = []

    def factory(path: Path, device: int):
        def make() -> OrtBackend:
            backends.append(OrtBackend(tiny_onnx_fp32))
            return backends[-1]

        return make

    monkeypatch.setattr(polygraphy_check, "_trt_backend", factory)
    result = run_check(
        tiny_onnx_fp32, engine=engine, tiles=2, t_values=(0.0, 1.0), use_polygraphy=use_polygraphy
    )
    (comparison,) = result.comparisons
    assert comparison.candidate == "trt:tiny.engine" and comparison.reference == "onnxrt:tiny_fp32.onnx"
    assert result.passed and math.isinf(comparison.min_psnr)
    assert backends and all(b.closed for b in backends)


def test_engine_from_another_onnx_is_refused(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    engine = _engine_with_sidecar(tiny_onnx_fp32, tmp_path / "other.engine", onnx_sha="ee" * 32)
    with pytest.raises(OftsrError, match="was not built from"):
        run_check(tiny_onnx_fp32, engine=engine)


# --- pure parts -----------------------------------------------------------------------------------------------------


def test_psnr_unit() -> None:
    a = np.zeros((1, 3, 4, 4), np.float32)
    assert math.isinf(psnr_unit(a, a))
    assert psnr_unit(a, a + 0.01) == pytest.approx(40.0)
    assert math.isnan(psnr_unit(a, np.full_like(a, np.nan)))
    with pytest.raises(OftsrError, match="shapes differ"):
        psnr_unit(a, a[:, :2])


def test_compare_outputs_takes_the_worst_tile_per_t() -> None:
    ref = [np.zeros((1, 3, 4, 4), np.float32)] * 4
    cand = [ref[0] + 0.001, ref[0] + 0.01, ref[0], ref[0] + 0.001]
    c = compare_outputs("cand", "ref", cand, ref, [0.0, 0.0, 1.0, 1.0], min_psnr=45.0)
    assert c.psnr_by_t == {0.0: pytest.approx(40.0), 1.0: pytest.approx(60.0)}
    assert c.min_psnr == pytest.approx(40.0) and not c.passed
    assert compare_outputs("cand", "ref", cand, ref, [0.0, 0.0, 1.0, 1.0], min_psnr=39.0).passed
    nan = [ref[0], np.full_like(ref[0], np.inf), ref[0], ref[0]]
    c = compare_outputs("cand", "ref", nan, ref, [0.0, 0.0, 1.0, 1.0], min_psnr=0.0)
    assert c.nonfinite == 48 and math.isnan(c.min_psnr) and not c.passed
    with pytest.raises(OftsrError):
        compare_outputs("cand", "ref", cand[:1], ref, [0.0], min_psnr=0.0)


def test_tiles_from_photos_and_small_images(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(rng.integers(0, 256, (10, 12), dtype=np.uint8)).save(tmp_path / "small_gray.png")
    (tmp_path / "notes.txt").write_text("not an image")
    tiles = lr_tiles_from(tmp_path, 16, 5, seed=1)
    assert len(tiles) == 5 and all(t.shape == (3, 16, 16) and t.dtype == np.float32 for t in tiles)
    assert all(0.0 <= t.min() and t.max() <= 1.0 for t in tiles)
    assert np.array_equal(lr_tiles_from(tmp_path, 16, 5, seed=1)[4], tiles[4])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OftsrError, match="no images"):
        lr_tiles_from(empty, 16, 1)
    with pytest.raises(OftsrError, match="no such image folder"):
        lr_tiles_from(tmp_path / "missing", 16, 1)


def test_synthetic_tiles_and_feeds() -> None:
    tiles = synthetic_tiles(8, 2, seed=3)
    assert np.array_equal(tiles[1], synthetic_tiles(8, 2, seed=3)[1])
    feeds = make_feeds(tiles, (0.0, 1.0), scale=4, seed=0)
    assert [f[INPUT_T].tolist() for f in feeds] == [[0.0], [0.0], [1.0], [1.0]]
    assert feeds[0][INPUT_LR].shape == (1, 3, 8, 8) and feeds[0][INPUT_NOISE].shape == (1, 3, 32, 32)
    assert np.array_equal(feeds[1][INPUT_LR][0], tiles[1])
    again = make_feeds(tiles, (0.0, 1.0), scale=4, seed=0)
    assert np.array_equal(again[3][INPUT_NOISE], feeds[3][INPUT_NOISE])
