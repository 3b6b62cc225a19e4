"""Bad inputs to ``oftsr-edge upscale``, each with its expected exit code and the words of its one-line message.

Every case runs the CLI in-process and checks: the exit code, that stderr holds no traceback, that an error is one
line naming the problem, and that no partial or temporary file is left in the output folder. Cases that are not
errors (odd but valid files) must succeed with the right output, so "handled" never means "refused everything".
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oftsr_edge.runtime.io.image_io import read_image, write_image
from tests.helpers.cli import assert_one_line_error, run_main
from tests.reliability.conftest import partial_files, photo


@dataclass(frozen=True)
class Case:
    """``build(tmp, model)`` makes the files and returns the command-line arguments after ``upscale``."""

    build: Callable[[Path, Path], list[object]]
    code: int  # expected exit status
    needle: str  # words the error line (code != 0) or stdout (code == 0) must contain


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def huge_png(path: Path, width: int, height: int, depth: int = 8, colour: int = 2) -> Path:
    """A tiny PNG file whose header declares ``width × height`` (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
                     + _png_chunk(b"IEND", b""))  # fmt: skip
    return path


def _out(tmp: Path) -> Path:
    return tmp / "out"


def _one(tmp: Path, model: Path, name: str = "a.png", *extra: object, **kw: object) -> list[object]:
    return [photo(tmp / "in" / name, **kw), "-o", _out(tmp), "--model", model, *extra]


def _with(make: Callable[[Path], Path], *extra: object) -> Callable[[Path, Path], list[object]]:
    """A case whose input file is made by ``make(folder)``."""

    def build(tmp: Path, model: Path) -> list[object]:
        (tmp / "in").mkdir(exist_ok=True)
        return [make(tmp / "in"), "-o", _out(tmp), "--model", model, *extra]

    return build


def _write(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name

    return make


def _truncated(name: str, fmt: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        full = photo(folder / f"full_{name}", (40, 30), format=fmt)
        (folder / name).write_bytes(full.read_bytes()[: full.stat().st_size // 2])
        return folder / name

    return make


def _onnx_variant(edit: dict | None = None, drop: bool = False, data: bytes | None = None) -> Callable:
    def build(tmp: Path, model: Path) -> list[object]:
        other = tmp / "variant.onnx"
        if data is not None:
            other.write_bytes(data if data else model.read_bytes()[: model.stat().st_size // 2])
        else:
            from tests.runtime.onnx_edits import edit_onnx

            edit_onnx(model, other, metadata=edit, drop_metadata=drop)
        return [photo(tmp / "in" / "a.png"), "-o", _out(tmp), "--model", other]

    return build


def _fifo(tmp: Path, model: Path) -> list[object]:
    (tmp / "in").mkdir()
    os.mkfifo(tmp / "in" / "pipe.png")
    return [tmp / "in" / "pipe.png", "-o", _out(tmp), "--model", model]


def _same_output_twice(tmp: Path, model: Path) -> list[object]:
    return [photo(tmp / "in" / "a.png"), photo(tmp / "in" / "a.jpg"), "--format", "png", "-o", _out(tmp),
            "--model", model]  # fmt: skip


def _output_is_input(tmp: Path, model: Path) -> list[object]:
    src = photo(tmp / "in" / "a.png")
    return [src, "-o", src, "--model", model]


def _folder_into_itself(tmp: Path, model: Path) -> list[object]:
    photo(tmp / "in" / "a.png")
    return [tmp / "in", "-o", tmp / "in", "--model", model]


def _output_under_a_file(tmp: Path, model: Path) -> list[object]:
    (tmp / "file.txt").write_text("x")
    return [photo(tmp / "in" / "a.png"), "-o", tmp / "file.txt" / "out", "--model", model]


def _output_on_readonly_fs(tmp: Path, model: Path) -> list[object]:
    return [photo(tmp / "in" / "a.png"), "-o", "/proc/oftsr-edge-out", "--model", model]


def _output_exists_as_file(tmp: Path, model: Path) -> list[object]:
    photo(tmp / "in" / "a.png")
    photo(tmp / "in" / "b.png")
    (tmp / "taken").write_text("x")
    return [tmp / "in", "-o", tmp / "taken", "--model", model]


def _dangling_link(tmp: Path, model: Path) -> list[object]:
    (tmp / "in").mkdir()
    (tmp / "in" / "gone.png").symlink_to(tmp / "nowhere.png")
    return [tmp / "in" / "gone.png", "-o", _out(tmp), "--model", model]


def _through_a_file(tmp: Path, model: Path) -> list[object]:
    photo(tmp / "in" / "a.png")
    return [tmp / "in" / "a.png" / "b.png", "-o", _out(tmp), "--model", model]


def _empty_folder(tmp: Path, model: Path) -> list[object]:
    (tmp / "in").mkdir()
    (tmp / "in" / "notes.txt").write_text("no images here")
    return [tmp / "in", "-o", _out(tmp), "--model", model]


def _float_tiff(folder: Path) -> Path:
    Image.fromarray(np.random.default_rng(0).random((9, 12), dtype=np.float32), "F").save(folder / "f.tif")
    return folder / "f.tif"


def _gif(folder: Path) -> Path:
    frames = [Image.new("P", (12, 9), i) for i in range(3)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:])
    return folder / "anim.gif"


def _zero_width_png(folder: Path) -> Path:
    return huge_png(folder / "zero.png", 0, 9)


def _text_as_png(folder: Path) -> Path:
    (folder / "notes.png").write_text("this is not an image")
    return folder / "notes.png"


def _long_name(length: int) -> Callable[[Path, Path], list[object]]:
    def build(tmp: Path, model: Path) -> list[object]:
        name = "n" * (length - 4) + ".png"
        src = photo(tmp / "in" / "short.png")
        return [src, "-o", _out(tmp) / name, "--model", model]

    return build


BOMB = "is 400,000,000 pixels, over the limit of 178,956,970 (a guard against decompression bombs); --max-pixels"

#: the bad (or odd) input -> expected exit code and words
CASES: dict[str, Case] = {
    "missing input": Case(lambda tmp, m: [tmp / "nope.png", "-o", _out(tmp), "--model", m], 2,
                          "no such file or directory"),
    "dangling symlink input": Case(_dangling_link, 2, "no such file or directory"),
    "input path through a file": Case(_through_a_file, 2, "no such file or directory"),
    "fifo input": Case(_fifo, 2, "is a FIFO, not a regular file"),
    "folder without images": Case(_empty_folder, 2, "no images found"),
    "zero-byte png": Case(_with(_write("empty.png", b"")), 2, "not a readable image"),
    "zero-byte jpeg": Case(_with(_write("empty.jpg", b"")), 2, "not a readable image"),
    "truncated png": Case(_with(_truncated("cut.png", "PNG")), 2, "corrupt or truncated image"),
    "truncated jpeg": Case(_with(_truncated("cut.jpg", "JPEG")), 2, "corrupt or truncated image"),
    "text named .png": Case(_with(_text_as_png), 2, "not a readable image"),
    "png content named .jpg": Case(lambda tmp, m: _one(tmp, m, "real_png.jpg", format="PNG"), 0, "upscaled 1"),
    "unsupported extension": Case(_with(_write("a.xyz", b"x")), 2, "unsupported image format '.xyz'"),
    "animated gif": Case(_with(_gif), 2, "unsupported image format '.gif'"),
    "1x1 image": Case(lambda tmp, m: _one(tmp, m, size=(1, 1)), 0, "upscaled 1"),
    "0-width png": Case(_with(_zero_width_png), 2, "zero.png"),
    "huge declared 8-bit png": Case(_with(lambda f: huge_png(f / "bomb8.png", 20000, 20000)), 2, BOMB),
    "huge declared 16-bit png": Case(_with(lambda f: huge_png(f / "bomb16.png", 20000, 20000, depth=16)), 2, BOMB),
    "image over a lowered --max-pixels": Case(lambda tmp, m: _one(tmp, m, "big.png", "--max-pixels", "100"), 2,
                                              "big.png: is 108 pixels, over the limit of 100"),
    "float tiff": Case(_with(_float_tiff), 2, "unsupported pixel mode 'F'"),
    "t nan": Case(lambda tmp, m: _one(tmp, m, "a.png", "--t", "nan"), 2, "t must be in [0, 1]"),
    "t inf": Case(lambda tmp, m: _one(tmp, m, "a.png", "--t", "inf"), 2, "t must be in [0, 1]"),
    "t -0.1": Case(lambda tmp, m: _one(tmp, m, "a.png", "--t", "-0.1"), 2, "t must be in [0, 1]"),
    "t 1.5": Case(lambda tmp, m: _one(tmp, m, "a.png", "--t", "1.5"), 2, "t must be in [0, 1]"),
    "t text": Case(lambda tmp, m: _one(tmp, m, "a.png", "--t", "sharp"), 2, "Invalid value for '--t': 'sharp' is not a valid float"),
    "seed negative": Case(lambda tmp, m: _one(tmp, m, "a.png", "--seed", "-1"), 2, "Invalid value for '--seed': -1 is not in the range x>=0"),
    "seed 2**64": Case(lambda tmp, m: _one(tmp, m, "a.png", "--seed", str(2**64)), 2, "seed must be in [0, 2**64)"),
    "seed text": Case(lambda tmp, m: _one(tmp, m, "a.png", "--seed", "lucky"), 2, "Invalid value for '--seed': 'lucky' is not a valid integer or random"),
    "tile 1": Case(lambda tmp, m: _one(tmp, m, "a.png", "--tile", "1"), 2, "tile 1 is smaller than"),
    "tile 3 (below the model's multiple)": Case(lambda tmp, m: _one(tmp, m, "a.png", "--tile", "3"), 2,
                                               "tile 3 is smaller than"),
    "overlap equal to tile": Case(lambda tmp, m: _one(tmp, m, "a.png", "--tile", "16", "--overlap", "16"), 2,
                                  "must be smaller than the tile"),
    "batch size 0": Case(lambda tmp, m: _one(tmp, m, "a.png", "--batch-size", "0"), 2, "batch_size must be"),
    "memory budget 0": Case(lambda tmp, m: _one(tmp, m, "a.png", "--memory-budget", "0"), 2,
                            "Invalid value for '--memory-budget': 0 is not in the range x>=1"),
    "scale other than the model's": Case(lambda tmp, m: _one(tmp, m, "a.png", "--scale", "2"), 2,
                                         "--scale 2: contract-x4 upscales x4"),
    "unknown backend": Case(lambda tmp, m: _one(tmp, m, "a.png", "--backend", "cuda9"), 2,
                            "Invalid value for '--backend': 'cuda9' is not one of 'auto'"),
    "missing optional backend (trt)": Case(lambda tmp, m: _one(tmp, m, "a.png", "--backend", "trt"), 2,
                                           "needs TensorRT's Python bindings"),
    "missing GPU provider (ort-cuda)": Case(lambda tmp, m: _one(tmp, m, "a.png", "--backend", "ort-cuda"), 2,
                                            "is not available here"),
    "unknown --format": Case(lambda tmp, m: _one(tmp, m, "a.png", "--format", "gif"), 2,
                             "'--format': 'gif' is not one of 'auto'"),
    "--format against the output's extension": Case(
        lambda tmp, m: [photo(tmp / "in" / "a.png"), "-o", tmp / "x.jpg", "--model", m, "--format", "png"], 2,
        "does not match the file name's extension"),
    "model that is not ONNX": Case(_onnx_variant(data=b"definitely not protobuf"), 2, "not a loadable ONNX model"),
    "truncated ONNX": Case(_onnx_variant(data=b""), 2, "not a loadable ONNX model"),
    "ONNX that is not ours": Case(_onnx_variant(drop=True), 2, "not an oftsr-edge model"),
    "wrong metadata version": Case(_onnx_variant({"format_version": 99}), 2, "format_version 99 is not supported"),
    "metadata without scale": Case(_onnx_variant({"scale": None}), 2, "metadata has a bad value"),
    "missing model file": Case(lambda tmp, m: _one(tmp, m, "a.png")[:-1] + [tmp / "gone.onnx"], 2, "gone.onnx"),
    "output equal to the input": Case(_output_is_input, 2, "would overwrite its input"),
    "folder output into itself": Case(_folder_into_itself, 2, "is the input folder"),
    "output folder above the input folder": Case(lambda tmp, m: [photo(tmp / "in" / "sub" / "a.png").parent, "-o",
                                                                 tmp / "in", "--model", m], 0, "upscaled 1"),
    "two inputs, one output name": Case(_same_output_twice, 2, "two inputs would write the same output"),
    "output folder under a file": Case(_output_under_a_file, 2, "cannot write"),
    "output on a read-only filesystem": Case(_output_on_readonly_fs, 2, "cannot write"),
    "output folder is an existing file": Case(_output_exists_as_file, 2, "exists and is not a folder"),
    "--suffix with a slash": Case(lambda tmp, m: _one(tmp, m, "a.png", "--suffix", "_x4/.."), 2,
                                  "--suffix '_x4/..' must not contain '/'"),
    "output name of 255 bytes": Case(_long_name(255), 0, "upscaled 1"),
    "output name of 242 bytes": Case(_long_name(242), 0, "upscaled 1"),
    "output name of 256 bytes": Case(_long_name(256), 2, "is 256 bytes, over the limit of 255"),
    "output into a missing folder": Case(lambda tmp, m: [photo(tmp / "in" / "a.png"), "-o",
                                                         tmp / "new" / "deeper", "--model", m], 0, "upscaled 1"),
    "input name with spaces": Case(lambda tmp, m: _one(tmp, m, "a photo of me.png"), 0, "upscaled 1"),
    "input name in unicode": Case(lambda tmp, m: _one(tmp, m, "fotoğraf_写真.png"), 0, "upscaled 1"),
    "input name with a leading dash": Case(lambda tmp, m: ["-o", _out(tmp), "--model", m, "--",
                                                           photo(tmp / "in" / "-x.png")], 0, "upscaled 1"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path) -> None:
    case = CASES[name]
    args = case.build(tmp_path, model)
    result = run_main(capsys, "upscale", "--quiet", *map(str, args))
    assert result.code == case.code, (result.code, result.err)
    assert "Traceback" not in result.err + result.out
    if case.code:
        assert_one_line_error(result, case.needle)
    else:
        assert case.needle in result.out, result.err
    assert partial_files(tmp_path) == []


def test_the_suite_tries_at_least_40_bad_inputs() -> None:
    from tests.reliability.test_bad_inputs_api import API_CASES

    assert len(CASES) + len(API_CASES) >= 40


def test_odd_but_valid_layouts_come_out_right(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                              model: Path) -> None:
    """16-bit, palette with transparency, CMYK, LA, RGBA, I;16, EXIF orientation: upscaled in their own layout."""
    src = tmp_path / "in"
    photo(src / "palette.png", mode="P", transparency=0)
    photo(src / "cmyk.jpg", mode="CMYK")
    photo(src / "la.png", mode="LA")
    photo(src / "rgba.png", mode="RGBA")
    write_image(src / "deep.png", np.random.default_rng(1).integers(0, 65536, (9, 12, 3), dtype=np.uint16))
    Image.fromarray(np.random.default_rng(2).integers(0, 65536, (9, 12), dtype=np.uint16)).save(src / "i16.png")
    rotated = Image.new("RGB", (12, 9))
    exif = rotated.getexif()
    exif[0x0112] = 6  # stored sideways: upright it is 12 high, 9 wide
    rotated.save(src / "exif.jpg", exif=exif.tobytes())
    result = run_main(capsys, "upscale", "--quiet", str(src), "-o", str(tmp_path / "out"), "--model", str(model))
    assert result.code == 0, result.err
    assert "upscaled 7 image(s)" in result.out
    shapes = {p.name: (read_image(p).shape, read_image(p).dtype.name) for p in (tmp_path / "out").iterdir()}
    assert shapes == {
        "palette.png": ((36, 48, 4), "uint8"), "cmyk.jpg": ((36, 48, 3), "uint8"), "la.png": ((36, 48, 2), "uint8"),
        "rgba.png": ((36, 48, 4), "uint8"), "deep.png": ((36, 48, 3), "uint16"), "i16.png": ((36, 48), "uint16"),
        "exif.jpg": ((48, 36, 3), "uint8"),
    }  # fmt: skip


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_multi_frame_inputs_say_only_the_first_frame_is_used(
    fmt: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    frames = [Image.new("RGB", (12, 9), (i * 60, 0, 0)) for i in range(3)]
    src = tmp_path / f"anim.{fmt.lower()[:4].replace('tiff', 'tif')}"
    frames[0].save(src, format=fmt, save_all=True, append_images=frames[1:])
    result = run_main(capsys, "upscale", "--quiet", str(src), "-o", str(tmp_path / "out"), "--model", str(model))
    assert result.code == 0, result.err
    assert "has 3 frames (animated or multi-page); only the first frame is upscaled" in result.err
    assert "Traceback" not in result.err
