"""bench: every JSON field present, ratios to peers, honest skips; on a fake model and on the tiny ONNX model."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation.bench import BenchConfig, BenchRow, parse_sizes, run_bench
from oftsr_edge.evaluation.report import bench_markdown

SPEC = ModelSpec(
    name="fake-x4",
    scale=4,
    sigma_p=0.2,
    multiple_of=4,
    default_t=0.5,
    precision="fp32",
    opset=18,
    tile=32,
    degradation="bicubic",
    checkpoint_sha256="0" * 64,
)
TIMING_KEYS = {"runs", "mean_ms", "std_ms", "min_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms", "cv"}


class FakeModel:
    spec = SPEC
    backend_name = "ort-cpu"
    on_gpu = False
    overlap = 8
    tile = 32

    def __init__(self) -> None:
        self.closed = False

    def run_tiles(self, lr: np.ndarray, noise: np.ndarray, t: float) -> np.ndarray:
        return np.repeat(np.repeat(lr, 4, axis=2), 4, axis=3)

    def upscale(self, image: np.ndarray, t: float | None = None, seed: int = 0) -> np.ndarray:
        return np.repeat(np.repeat(image, 4, axis=0), 4, axis=1)

    def close(self) -> None:
        self.closed = True


def test_fake_model_rows_have_every_field() -> None:
    opened: list[FakeModel] = []

    def open_model(*args: object) -> FakeModel:
        opened.append(FakeModel())
        return opened[-1]

    cfg = BenchConfig(
        models=(Path("fake.onnx"),),
        tiles=(32,),
        batches=(1, 2),
        sizes=((64, 64), (128, 96)),
        runs=3,
        warmup=1,
        peers=("bicubic",),
    )
    result = run_bench(cfg, open_model)
    assert len(result.rows) == 2 * 2 * 2 and all(m.closed for m in opened)
    names = {f.name for f in fields(BenchRow)}
    for row in result.to_dict()["rows"]:
        assert set(row) == names
        assert set(row["image_ms"]) == TIMING_KEYS and row["out_mp_per_s"] > 0 and row["peak_rss_mib"] > 0
    ours = [r for r in result.rows if r.role == "oftsr"]
    assert all(set(r.ratio_to_peers) == {"bicubic"} and r.tile_ms is not None for r in ours)
    assert ours[1].lr_size == "32x24" and ours[1].out_size == "128x96"
    text = bench_markdown(result)
    assert "| fake-x4 | ort-cpu | fp32 | 32 | 2 | 128x96 |" in text and "bicubic" in text


def test_unopenable_backend_is_a_note_not_a_crash() -> None:
    def open_model(path: Path, backend: str, *rest: object) -> FakeModel:
        if backend == "trt":
            raise OftsrError("TensorRT needs a CUDA GPU")
        return FakeModel()

    cfg = BenchConfig(
        models=(Path("m.onnx"),), backends=("ort", "trt"), sizes=((64, 64),), runs=1, warmup=0, peers=()
    )
    result = run_bench(cfg, open_model)
    assert len(result.rows) == 1 and any("TensorRT needs a CUDA GPU" in note for note in result.notes)


def test_option_parsing() -> None:
    assert parse_sizes("256x256,1920X1080") == ((256, 256), (1920, 1080))
    for bad in ("256", "axb", "0x5"):
        with pytest.raises(OftsrError, match="--image-size"):
            parse_sizes(bad)


def test_cli_on_tiny_model_writes_full_json(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    from oftsr_edge.evaluation.bench_command import bench

    out = tmp_path / "bench.json"
    args = [
        "--model",
        str(tiny_onnx_fp32),
        "--tile",
        "32",
        "--batch-size",
        "1,2",
        "--image-size",
        "128x128",
        "--runs",
        "2",
        "--warmup-runs",
        "1",
        "--peers",
        "bicubic",
        "--json",
        str(out),
    ]
    result = CliRunner().invoke(bench, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert {"environment", "config", "notes", "rows"} <= set(data)
    assert data["environment"]["onnxruntime"] and data["environment"]["cpu_count"]
    names = {f.name for f in fields(BenchRow)}
    ours = [r for r in data["rows"] if r["role"] == "oftsr"]
    assert len(ours) == 2 and len(data["rows"]) == 4
    for row in data["rows"]:
        assert set(row) == names and row["load_s"] >= 0
    for row in ours:
        assert row["backend"] == "ort-cpu" and row["scale"] == 4 and row["precision"] == "fp32"
        assert set(row["tile_ms"]) == TIMING_KEYS and set(row["image_ms"]) == TIMING_KEYS
        assert row["ratio_to_peers"]["bicubic"] > 0
    assert "| oftsr-tiny-x4 | ort-cpu |" in result.output
    assert not list(tmp_path.glob(".*.tmp"))
