"""The OpenVINO backend against ONNX Runtime on the same model and photo: FP32 parity (per tile and through the
tiler), INT8 close to ORT's INT8, one compile per tile shape, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.backends.options import OpenVino, OrtCpu, parse_backend
from oftsr_edge.runtime.backends.select import open_backend
from oftsr_edge.runtime.io.image_io import read_image
from oftsr_edge.runtime.upscaler import Upscaler
from tests.helpers.cli import assert_one_line_error, run_main

pytest.importorskip("openvino", reason="could not import 'openvino' (in the [dev] extra: pip install -e '.[dev]')")


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


@pytest.fixture(scope="module")
def photo(photos: Path) -> np.ndarray:
    return read_image(photos / "LR_bicubic" / "X4" / "kodim08.png")  # 48 x 64 RGB


def test_fp32_matches_onnx_runtime(photo: np.ndarray) -> None:
    with Upscaler(backend=OrtCpu(threads=1), tile=32) as ort, Upscaler(backend=OpenVino(threads=1), tile=32) as ov:
        assert ov.backend_name == "openvino" and ov.spec == ort.spec
        a, b = ort.upscale(photo, t=0.5, seed=1), ov.upscale(photo, t=0.5, seed=1)
        # per call: float32 rounding only
        lr = np.ascontiguousarray(photo[:32, :32].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        noise = np.random.default_rng(0).standard_normal((1, 3, 128, 128)).astype(np.float32)
        t = 0.7
        raw_a, raw_b = ort.backend.run(lr, noise, t), ov.backend.run(lr, noise, t)
    assert np.abs(raw_a - raw_b).max() < 1e-4
    assert a.shape == b.shape == (192, 256, 3)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1 and psnr(a, b) > 55


def test_int8_model_is_close_to_onnx_runtimes_int8(tiny_onnx_fp32: Path, photos: Path, tmp_path: Path,
                                                   photo: np.ndarray) -> None:  # fmt: skip
    from oftsr_edge.export.int8 import convert_int8

    int8 = convert_int8(tiny_onnx_fp32, tmp_path / "tiny_int8.onnx", photos / "HR", tiles=4)
    with Upscaler(int8, OrtCpu(threads=1), tile=32) as ort, Upscaler(int8, OpenVino(threads=1), tile=32) as ov:
        assert ov.spec.precision == "int8"
        a, b = ort.upscale(photo, seed=2), ov.upscale(photo, seed=2)
    # two INT8 kernels round differently; both are far closer to each other than to a plain enlargement
    assert psnr(a, b) > 35
    assert psnr(a, b) > psnr(a, photo.repeat(4, 0).repeat(4, 1)) + 10


def test_any_image_size_runs_on_one_compiled_model(photo: np.ndarray) -> None:
    backend = open_backend(Upscaler().model_path, parse_backend("openvino", threads=1))
    try:
        with Upscaler.from_backend(backend, tile=0) as up, Upscaler(backend=OrtCpu(threads=1), tile=0) as ort:
            assert not backend.fixed_shape
            for image in (photo, photo[:20, :36]):  # whole images of two sizes, one compile (dynamic axes)
                assert np.abs(up.upscale(image, seed=0).astype(int) - ort.upscale(image, seed=0)).max() <= 1
        with pytest.raises(OftsrError, match="closed"):
            backend.run(np.zeros((1, 3, 32, 32), np.float32), np.zeros((1, 3, 128, 128), np.float32),
                        0.5)  # fmt: skip
    finally:
        backend.close()


def test_bad_model_and_engine_files_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(OftsrError):
        open_backend(bad, OpenVino())
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x")
    with pytest.raises(OftsrError, match="runs only on backend 'trt'"):
        open_backend(engine, OpenVino())
    photo = tmp_path / "in.png"
    photo.write_bytes(b"")
    result = run_main(capsys, "upscale", str(photo), "-o", str(tmp_path / "o.png"), "--backend", "openvino",
                      "--device", "1")  # fmt: skip
    assert_one_line_error(result, "backend 'openvino' has no option device")
