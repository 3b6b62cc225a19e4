"""End-to-end rows of ``bench --photos``: the network, the Upscaler and the file pipeline over the same photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from oftsr_edge import Upscaler
from oftsr_edge.evaluation.e2e import E2ERow, bench_folder, e2e_markdown, network_inputs
from oftsr_edge.runtime.io import image_io


def _photos(folder: Path, count: int = 3) -> list[Path]:
    rng = np.random.default_rng(2)
    folder.mkdir(parents=True, exist_ok=True)
    return [image_io.write_image(folder / f"p{k}.png", rng.integers(0, 256, (18, 26, 3), dtype=np.uint8))
            for k in range(count)]  # fmt: skip


def test_network_inputs_are_what_the_upscaler_feeds(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    """The network row must time the same call the default path makes: feeding its inputs gives its output."""
    image = image_io.read_image(_photos(tmp_path)[0])
    with Upscaler(tiny_onnx_fp32, "ort-cpu", tile=0) as up:
        hr = up.backend.run(*network_inputs(up, image, 0.5, 4))[0]
        expected = up.upscale(image, t=0.5, seed=4)
    got = np.rint(np.clip(hr[:, : expected.shape[0], : expected.shape[1]], 0, 1) * 255).transpose(1, 2, 0)
    assert np.array_equal(got.astype(np.uint8), expected)


def test_rows_count_images_and_megapixels(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    paths = _photos(tmp_path)
    with Upscaler(tiny_onnx_fp32, "ort-cpu") as up:
        rows = bench_folder(up, paths, runs=1)
    assert [r.images for r in rows] == [3, 3, 3]
    assert all(r.out_mp == pytest.approx(3 * 18 * 26 * 16 / 1e6) and r.seconds > 0 for r in rows)
    table = e2e_markdown(rows)
    assert table.count("\n") == 4 and "| 1.00 |" in table and "png (compression 1)" in table


def test_row_arithmetic() -> None:
    row = E2ERow("x", seconds=2.0, images=4, out_mp=8.0)
    assert row.images_per_s == 2.0 and row.s_per_mp == 0.25 and row.to_dict()["s_per_mp"] == 0.25


def test_bench_cli_with_photos(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    from oftsr_edge.evaluation.bench_command import bench

    _photos(tmp_path / "photos")
    out = tmp_path / "b.json"
    args = ["--model", str(tiny_onnx_fp32), "--tile", "0", "--image-size", "64x64", "--runs", "1", "--warmup-runs",
            "0", "--peers", "none", "--photos", str(tmp_path / "photos"), "--json", str(out)]  # fmt: skip
    result = CliRunner().invoke(bench, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "End to end, 3 photos" in result.output
    assert len(json.loads(out.read_text())["end_to_end"]) == 3
