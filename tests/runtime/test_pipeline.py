"""The folder pipeline: same files as one-by-one ``upscale_file``, bounded read-ahead, one line per bad image."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.errors import OftsrError, OptionError
from oftsr_edge.runtime import pipeline
from oftsr_edge.runtime.io import image_io
from oftsr_edge.runtime.pipeline import Job, WriteOptions, run_folder
from oftsr_edge.runtime.provenance import read_record
from oftsr_edge.runtime.upscaler import Upscaler
from tests.helpers.cli import run_main

RNG = np.random.default_rng(5)


def _inputs(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    shapes = [(20, 28, 3), (16, 16), (24, 12, 4), (20, 28, 3)]
    return [
        image_io.write_image(folder / f"p{k}.png", RNG.integers(0, 256, shapes[k % 4], dtype=np.uint8))
        for k in range(count)
    ]


@pytest.fixture()
def upscaler(tiny_onnx_fp32: Path):
    with Upscaler(tiny_onnx_fp32, "ort-cpu") as up:
        yield up


def test_a_folder_run_writes_what_upscale_file_writes(tmp_path: Path, upscaler: Upscaler) -> None:
    sources = _inputs(tmp_path / "in", 6)
    jobs = [Job(p, tmp_path / "out" / p.name) for p in sources]
    (tmp_path / "out").mkdir()
    result = run_folder(upscaler, jobs, upscaler.settings.replace(t=0.3, seed=7))
    assert result.done == 6 and not result.failures and result.skipped == result.rewritten == 0
    for p in sources:
        upscaler.upscale_file(p, tmp_path / "ref.png", t=0.3, seed=7)
        assert np.array_equal(image_io.read_image(tmp_path / "out" / p.name), image_io.read_image(tmp_path / "ref.png"))
        assert read_record(tmp_path / "out" / p.name) == read_record(tmp_path / "ref.png")
    again = run_folder(upscaler, jobs, upscaler.settings.replace(t=0.3, seed=7))
    assert again.skipped == 6 and again.done == 0
    changed = run_folder(upscaler, jobs, upscaler.settings.replace(t=0.4, seed=7), write=WriteOptions(png_compression=9))
    assert changed.rewritten == 6 and changed.done == 6


def test_read_ahead_is_bounded(tmp_path: Path, upscaler: Upscaler, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader never gets more than the queue (2) plus the one it holds ahead of the network."""
    sources = _inputs(tmp_path / "in", 10)
    reads: list[int] = []
    lock = threading.Lock()
    real_read = image_io.read_image

    def counting_read(path: Path) -> np.ndarray:
        with lock:
            reads.append(1)
        return real_read(path)

    monkeypatch.setattr(pipeline.image_io, "read_image", counting_read)
    ahead = []
    real = upscaler._upscale_planned

    def slow(pixels, t, seed, progress=None):
        time.sleep(0.05)
        ahead.append(len(reads) - (len(ahead) + 1))
        return real(pixels, t, seed, progress)

    monkeypatch.setattr(upscaler, "_upscale_planned", slow)
    (tmp_path / "out").mkdir()
    run_folder(upscaler, [Job(p, tmp_path / "out" / p.name) for p in sources], upscaler.settings.replace(t=0.5, seed=0))
    assert max(ahead) <= 3 and len(reads) == 10


def test_bad_images_are_one_line_each_and_the_rest_complete(tmp_path: Path, upscaler: Upscaler) -> None:
    sources = _inputs(tmp_path / "in", 4)
    sources[1].write_bytes(b"not an image")
    out = tmp_path / "out"
    out.mkdir()
    (out / sources[2].name).mkdir()  # the write of this one fails: its target is a folder
    seen: list[str] = []
    result = run_folder(upscaler, [Job(p, out / p.name) for p in sources], upscaler.settings.replace(t=0.5, seed=0),
                        on_error=lambda job, exc: seen.append(str(exc)))  # fmt: skip
    assert result.done == 2 and len(result.failures) == 2 == len(seen)
    assert any(sources[1].name in line for line in seen) and any(sources[2].name in line for line in seen)


def test_a_single_image_raises_its_error(tmp_path: Path, upscaler: Upscaler) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    with pytest.raises(OftsrError, match="bad.png"):
        run_folder(upscaler, [Job(bad, tmp_path / "o.png")], upscaler.settings.replace(t=0.5, seed=0))


def test_an_option_error_stops_the_run(tmp_path: Path, upscaler: Upscaler) -> None:
    sources = _inputs(tmp_path / "in", 3)
    with pytest.raises(OptionError):
        run_folder(upscaler, [Job(p, tmp_path / p.name) for p in sources], upscaler.settings.replace(t=1.5, seed=0))
    assert not any((tmp_path / p.name).exists() for p in sources)


def test_cli_compression_quality_and_budget(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                            tiny_onnx_fp32: Path) -> None:  # fmt: skip
    src = _inputs(tmp_path / "in", 2)[0]
    fast, small = tmp_path / "fast.png", tmp_path / "small.png"
    for target, level in ((fast, 0), (small, 9)):
        code = run_main(capsys, "upscale", str(src), "-o", str(target), "--model", str(tiny_onnx_fp32),
                        "--png-compression", str(level), "-q").code  # fmt: skip
        assert code == 0
    assert np.array_equal(image_io.read_image(fast), image_io.read_image(small))
    assert small.stat().st_size < fast.stat().st_size
    jpg = tmp_path / "q.jpg"
    assert run_main(capsys, "upscale", str(src), "-o", str(jpg), "--model", str(tiny_onnx_fp32), "--quality", "30",
                    "-q").code == 0  # fmt: skip
    # a budget too small for the whole image makes tiles, recorded in the output
    tiled = tmp_path / "tiled.png"
    assert run_main(capsys, "upscale", str(src), "-o", str(tiled), "--model", str(tiny_onnx_fp32),
                    "--memory-budget", "1", "-q").code == 0  # fmt: skip
    assert read_record(fast)["tile"] == 0 and read_record(tiled)["tile"] != 0
    bad = run_main(capsys, "upscale", str(src), "-o", str(tmp_path / "x.png"), "--model", str(tiny_onnx_fp32),
                   "--png-compression", "12")  # fmt: skip
    assert bad.code != 0 and "Traceback" not in bad.err
