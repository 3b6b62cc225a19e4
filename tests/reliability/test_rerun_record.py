"""Class 2: the rerun record covers every setting that changes an output's bytes, and a skipped output must decode
completely at its size; anything else is redone, never kept as if it were current.

Findings: outputs cut to a third kept their record in the header and were skipped ("nothing to do"); a run with
``--quality 20`` skipped the ``--quality 95`` outputs, and ``--png-compression`` likewise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oftsr_edge.runtime.io.image_io import read_image
from oftsr_edge.runtime.provenance import read_record
from tests.helpers.cli import run_main
from tests.reliability.conftest import photo


def _upscale(capsys: pytest.CaptureFixture[str], model: Path, *args: object):
    result = run_main(capsys, "upscale", "--quiet", "--model", str(model), *map(str, args))
    assert result.code == 0 and "Traceback" not in result.err, result.err
    return result


@pytest.mark.parametrize("fmt", ["png", "jpg", "tif"])
def test_a_truncated_earlier_output_is_redone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path, fmt: str
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    photo(src / "a.png", (40, 30), seed=1)
    photo(src / "b.png", (40, 30), seed=2)
    _upscale(capsys, model, src, "-o", out, "-f", fmt)
    for name in ("a", "b"):
        path = out / f"{name}.{fmt}"
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
        assert read_record(path) is not None  # the record survives in the header: it alone cannot tell
    result = _upscale(capsys, model, src, "-o", out, "-f", fmt)
    assert "upscaled 2 image(s)" in result.out and "2 rewritten" in result.out
    assert all(read_image(out / f"{n}.{fmt}").shape == (120, 160, 3) for n in ("a", "b"))
    assert "nothing to do; 2 skipped" in _upscale(capsys, model, src, "-o", out, "-f", fmt).out


@pytest.mark.parametrize(
    ("fmt", "first", "second"),
    [
        ("jpg", ("--quality", "95"), ("--quality", "20")),
        ("webp", ("--quality", "90"), ("--quality", "30")),
        ("png", ("--png-compression", "1"), ("--png-compression", "9")),
    ],
)
def test_a_changed_encoding_setting_rewrites(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path, fmt: str, first: tuple, second: tuple
) -> None:
    src, out = photo(tmp_path / "a.png", (40, 30)), tmp_path / "out"
    _upscale(capsys, model, src, "-o", out, "-f", fmt, *first)
    made = (out / f"a.{fmt}").read_bytes()
    assert "1 skipped" in _upscale(capsys, model, src, "-o", out, "-f", fmt, *first).out
    result = _upscale(capsys, model, src, "-o", out, "-f", fmt, *second)
    assert "upscaled 1 image(s)" in result.out and "1 rewritten" in result.out
    assert (out / f"a.{fmt}").read_bytes() != made
    assert "1 skipped" in _upscale(capsys, model, src, "-o", out, "-f", fmt, *second).out


def test_a_setting_a_format_does_not_use_does_not_void_its_record(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    """--quality means nothing to a PNG: changing it must not rewrite PNGs (the record holds only what counts)."""
    src, out = photo(tmp_path / "a.png"), tmp_path / "out"
    _upscale(capsys, model, src, "-o", out, "--quality", "90")
    assert "1 skipped" in _upscale(capsys, model, src, "-o", out, "--quality", "40").out
    encoding = read_record(out / "a.png")["encoding"]
    assert encoding["format"] == "PNG" and encoding["png_compression"] == 1 and "quality" not in encoding


def test_a_truncated_webp_has_lost_its_record_and_is_not_replaced_without_overwrite(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    """WebP keeps EXIF after the image data: cut short, nothing says it is ours, so it is not ours to replace."""
    src, out = photo(tmp_path / "a.png", (40, 30)), tmp_path / "out"
    _upscale(capsys, model, src, "-o", out, "-f", "webp")
    path = out / "a.webp"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    refused = run_main(capsys, "upscale", "-q", "--model", str(model), str(src), "-o", str(out), "-f", "webp")
    assert refused.code == 2 and "holds no oftsr-edge settings record" in refused.err
    assert "upscaled 1 image(s)" in _upscale(capsys, model, src, "-o", out, "-f", "webp", "--overwrite").out
    assert read_image(path).shape == (120, 160, 3)
