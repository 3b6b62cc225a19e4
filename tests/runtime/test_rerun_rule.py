"""Honest outputs: a rerun skips an existing output only when the settings recorded in it match, rewrites every other
one and says so; mismatched --format and out-of-range float input are clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import sha256_file
from oftsr_edge.runtime.io.image_io import read_image, read_note, write_image
from oftsr_edge.runtime.provenance import read_record
from oftsr_edge.runtime.records import planned_record
from oftsr_edge.runtime.upscaler import Upscaler
from tests.helpers.cli import run_main

RNG = np.random.default_rng(5)


def upscale(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    result = run_main(capsys, "upscale", "-q", *map(str, args))
    return result.code, result.out, result.err


def photo(path: Path, shape: tuple[int, ...] = (20, 28, 3), dtype: type = np.uint8) -> Path:
    return write_image(path, RNG.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype))


def test_same_settings_skip_and_any_change_rewrites(capsys, tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    photo(src / "a.png")
    photo(src / "b.png")
    run = ("--model", tiny_onnx_fp32, "--t", "0.3")
    assert upscale(capsys, src, "-o", out, *run)[0] == 0
    made = {name: (out / name).read_bytes() for name in ("a.png", "b.png")}
    record = read_record(out / "a.png")
    assert record["t"] == 0.3 and record["seed"] == 0 and record["backend"] == "ort-cpu"
    assert record["input_sha256"] == sha256_file(src / "a.png")
    assert record["model_sha256"] == sha256_file(tiny_onnx_fp32)

    code, stdout, _ = upscale(capsys, src, "-o", out, *run)
    assert code == 0 and "nothing to do; 2 skipped (made from the same input with the same model" in stdout
    assert {name: (out / name).read_bytes() for name in made} == made

    code, stdout, _ = upscale(capsys, src, "-o", out, "--model", tiny_onnx_fp32, "--t", "0.7")
    assert code == 0 and "upscaled 2 image(s)" in stdout and "2 rewritten (made with other settings" in stdout
    assert read_record(out / "b.png")["t"] == 0.7

    photo(src / "b.png")  # the input changed under the same name
    (out / "a.png").write_bytes((out / "b.png").read_bytes())  # and a's output is not what made it
    code, stdout, _ = upscale(capsys, src, "-o", out, "--model", tiny_onnx_fp32, "--t", "0.7")
    assert code == 0 and "upscaled 2 image(s)" in stdout and "2 rewritten" in stdout

    for change in (("--seed", "3"), ("--tile", "8"), ("--overlap", "4")):
        code, stdout, _ = upscale(capsys, src / "a.png", "-o", out, "--model", tiny_onnx_fp32, "--t", "0.7", *change)
        assert code == 0 and "upscaled 1 image(s)" in stdout and "1 rewritten" in stdout, change


def test_random_seed_and_overwrite_never_skip_and_bmp_needs_overwrite(
    capsys, tmp_path: Path, tiny_onnx_fp32: Path
) -> None:
    src = photo(tmp_path / "a.png")
    for extra in (("--seed", "random"), ("--overwrite",), ("-f", "bmp", "--overwrite")):
        out = tmp_path / f"out{len(extra)}{extra[-1]}"
        assert upscale(capsys, src, "-o", out, "--model", tiny_onnx_fp32, *extra)[0] == 0
        code, stdout, _ = upscale(capsys, src, "-o", out, "--model", tiny_onnx_fp32, *extra)
        assert code == 0 and "upscaled 1 image(s)" in stdout, extra
    bmp = tmp_path / "out3--overwrite" / "a.bmp"
    assert read_note(bmp) is None  # BMP has no place for a record: it cannot be told from a file not ours
    code, _, err = upscale(capsys, src, "-o", bmp.parent, "--model", tiny_onnx_fp32, "-f", "bmp")
    assert code == 2 and "holds no oftsr-edge settings record" in err and "--overwrite replaces it" in err
    assert read_record(tmp_path / "out2random" / "a.png")["random_seed"] is True


def test_help_states_the_rule(capsys) -> None:
    text = " ".join(run_main(capsys, "upscale", "--help").out.split())
    assert "skipped only when the settings recorded in it" in text and "rewritten" in text


@pytest.mark.parametrize("name", ["x.png", "x.jpg", "x.webp", "x.tif"])
def test_every_noted_format_keeps_its_record(tmp_path: Path, tiny_onnx_fp32: Path, name: str) -> None:
    src = photo(tmp_path / "in.png", (20, 28, 3), np.uint16)  # a 16-bit PNG output goes through png16
    with Upscaler(tiny_onnx_fp32) as up:
        up.upscale_file(src, tmp_path / name, t=0.2, seed=4)
        assert read_record(tmp_path / name) == planned_record(up, src, up.resolve(up.settings.replace(t=0.2, seed=4)), tmp_path / name)
    assert read_image(tmp_path / name).shape[:2] == (80, 112)


def test_a_failed_image_says_its_old_output_stays(capsys, tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    photo(src / "a.png")
    photo(src / "b.png")
    assert upscale(capsys, src, "-o", out, "--model", tiny_onnx_fp32)[0] == 0
    (src / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    code, _, err = upscale(capsys, src, "-o", out, "--model", tiny_onnx_fp32)
    assert code != 0 and f"({out / 'b.png'} is left as it was)" in err


def test_format_must_match_the_output_extension(capsys, tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    src = photo(tmp_path / "a.png")
    code, _, err = upscale(capsys, src, "-o", tmp_path / "b.webp", "--format", "jpg", "--model", tiny_onnx_fp32)
    assert code == 2 and err.strip().splitlines() == [
        f"oftsr-edge: error: {tmp_path / 'b.webp'}: --format jpg does not match the file name's extension '.webp'; "
        "name the output .jpg or drop --format"
    ]
    assert not (tmp_path / "b.webp").exists()
    assert upscale(capsys, src, "-o", tmp_path / "c.jpeg", "--format", "jpg", "--model", tiny_onnx_fp32)[0] == 0


def test_float_images_outside_unit_range_are_refused(tiny_onnx_fp32: Path) -> None:
    image = RNG.random((12, 12, 3), dtype=np.float32)
    with Upscaler(tiny_onnx_fp32) as up:
        assert up.upscale(image).dtype == np.float32
        with pytest.raises(OftsrError, match=r"must be in \[0, 1\], got \[.*\] \(0-255 values\? divide by 255"):
            up.upscale(image * 255)
        with pytest.raises(OftsrError, match=r"must be in \[0, 1\]"):
            up.upscale(image - 0.5)
        bad = image.copy()
        bad[0, 0, 0] = np.nan
        with pytest.raises(OftsrError, match="NaN or Inf"):
            up.upscale(bad)
