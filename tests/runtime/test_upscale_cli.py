"""``oftsr-edge upscale`` end to end on the tiny model: naming, skipping, layouts, and one clear line per problem."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oftsr_edge.fileio import sha256_file
from oftsr_edge.runtime import models
from oftsr_edge.runtime.backends.onnxruntime import available_providers
from oftsr_edge.runtime.io.image_io import read_image, write_image
from oftsr_edge.runtime.models import resolve_model
from oftsr_edge.runtime.provenance import read_record
from tests.helpers.cli import run_main
from tests.runtime.onnx_edits import edit_onnx

RNG = np.random.default_rng(0)


def upscale(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    result = run_main(capsys, "upscale", *map(str, args))
    return result.code, result.out, result.err


def photo(path: Path, shape: tuple[int, ...] = (20, 28, 3), dtype: type = np.uint8) -> Path:
    peak = np.iinfo(dtype).max
    return write_image(path, RNG.integers(0, peak + 1, shape, dtype=dtype))


def files(folder: Path) -> list[str]:
    return (
        sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        if folder.exists()
        else []
    )


def test_file_into_folder_with_summary(capsys, tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    src = photo(tmp_path / "a.png")
    code, out, err = upscale(capsys, src, "-o", tmp_path / "out", "--model", tiny_onnx_fp32, "--t", "0.3")
    assert code == 0, err
    assert read_image(tmp_path / "out" / "a.png").shape == (80, 112, 3)
    assert "upscaled 1 image(s)" in out and "MP/s" in out and "ort-cpu" in out


def test_single_file_to_a_named_output(capsys, tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    src = photo(tmp_path / "a.png")
    code, _, err = upscale(capsys, src, "-o", tmp_path / "big.jpg", "--model", tiny_onnx_fp32)
    assert code == 0, err
    assert Image.open(tmp_path / "big.jpg").format == "JPEG"


def test_folders_mirror_names_recursively_with_suffix_and_format(
    capsys, tmp_path: Path, tiny_onnx_fp32
) -> None:
    photo(tmp_path / "in" / "a.png")
    photo(tmp_path / "in" / "sub" / "b.jpg")
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    code, _, err = upscale(capsys, tmp_path / "in", "-o", tmp_path / "flat", "--model", tiny_onnx_fp32)
    assert code == 0, err
    assert files(tmp_path / "flat") == ["a.png"]
    code, _, err = upscale(capsys, tmp_path / "in", "-o", tmp_path / "tree", "--model", tiny_onnx_fp32, "-r",
                           "--suffix", "_x4", "--format", "png")  # fmt: skip
    assert code == 0, err
    assert files(tmp_path / "tree") == ["a_x4.png", "sub/b_x4.png"]


def test_layouts_survive_the_cli(capsys, tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    photo(tmp_path / "in" / "gray.png", (20, 28))
    photo(tmp_path / "in" / "deep.png", (20, 28, 3), np.uint16)
    photo(tmp_path / "in" / "alpha.png", (20, 28, 4))
    image = Image.fromarray(RNG.integers(0, 256, (8, 12, 3), dtype=np.uint8))
    exif = image.getexif()
    exif[0x0112] = 6  # stored sideways: upright it is 12 high, 8 wide
    image.save(tmp_path / "in" / "rotated.png", exif=exif.tobytes())
    code, _, err = upscale(capsys, tmp_path / "in", "-o", tmp_path / "out", "--model", tiny_onnx_fp32)
    assert code == 0, err
    gray, deep = read_image(tmp_path / "out" / "gray.png"), read_image(tmp_path / "out" / "deep.png")
    assert gray.shape == (80, 112) and gray.dtype == np.uint8
    assert deep.shape == (80, 112, 3) and deep.dtype == np.uint16
    assert read_image(tmp_path / "out" / "alpha.png").shape == (80, 112, 4)
    assert read_image(tmp_path / "out" / "rotated.png").shape == (48, 32, 3)


def test_seed_makes_runs_reproducible(capsys, tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    src = photo(tmp_path / "a.png")
    for name, seed in (("s1", "1"), ("s1b", "1"), ("s2", "2")):
        assert upscale(capsys, src, "-o", tmp_path / name, "--model", tiny_onnx_fp32, "--seed", seed)[0] == 0
    s1, s1b, s2 = (read_image(tmp_path / n / "a.png") for n in ("s1", "s1b", "s2"))
    assert np.array_equal(s1, s1b) and not np.array_equal(s1, s2)


def _bad_cases(tmp: Path, model: Path) -> dict[str, list[object]]:
    good = photo(tmp / "good.png")
    (tmp / "empty").mkdir()
    data = good.read_bytes()
    (tmp / "trunc.png").write_bytes(data[: len(data) // 2])
    (tmp / "corrupt.png").write_text("this is not a png")
    (tmp / "anim.gif").write_bytes(data)
    (tmp / "notes.onnx").write_text("not a model")
    plain = edit_onnx(model, tmp / "plain.onnx", drop_metadata=True)
    cases = {
        "missing file": [tmp / "missing.png", "--model", model],
        "folder without images": [tmp / "empty", "--model", model],
        "truncated image": [tmp / "trunc.png", "--model", model],
        "corrupt image": [tmp / "corrupt.png", "--model", model],
        "unsupported format": [tmp / "anim.gif", "--model", model],
        "t above 1": [good, "--model", model, "--t", "1.5"],
        "t below 0": [good, "--model", model, "--t", "-0.2"],
        "t not a number": [good, "--model", model, "--t", "high"],
        "bad seed": [good, "--model", model, "--seed", "abc"],
        "seed out of range": [good, "--model", model, "--seed", str(2**64)],
        "negative tile": [good, "--model", model, "--tile", "-1"],
        "overlap not below the tile": [good, "--model", model, "--tile", "16", "--overlap", "16"],
        "zero batch": [good, "--model", model, "--batch-size", "0"],
        "threads for tensorrt": [good, "--model", model, "--backend", "trt", "--threads", "2"],
        "device for the cpu": [good, "--model", model, "--backend", "ort-cpu", "--device", "1"],
        "negative threads": [good, "--model", model, "--threads", "-1"],
        "text file as model": [good, "--model", tmp / "notes.onnx"],
        "onnx without metadata": [good, "--model", plain],
        "unknown backend": [good, "--model", model, "--backend", "cuda"],
    }
    if importlib.util.find_spec("tensorrt") is None:
        cases["tensorrt not installed"] = [good, "--model", model, "--backend", "trt"]
    if "cuda" not in available_providers():
        cases["cuda provider not installed"] = [good, "--model", model, "--backend", "ort-cuda"]
    return cases


def test_each_bad_input_is_one_line_without_output(capsys, tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    for name, args in _bad_cases(tmp_path, tiny_onnx_fp32).items():
        out = tmp_path / f"out-{name.replace(' ', '-')}"
        code, _, err = upscale(capsys, *args, "-o", out)
        lines = err.strip().splitlines()
        assert code != 0, name
        assert len(lines) == 1 and lines[0].startswith("oftsr-edge: error:"), (name, err)
        assert "Traceback" not in err, name
        assert files(out) == [], name


def test_a_bad_option_stops_a_folder_at_the_first_image(capsys, tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    """t is wrong for every image: one line, not one per image, and no "n of m failed" summary."""
    for name in ("a.png", "b.png", "c.png"):
        photo(tmp_path / "in" / name)
    code, out, err = upscale(capsys, tmp_path / "in", "-o", tmp_path / "out", "--model", tiny_onnx_fp32,
                             "--t", "1.5")  # fmt: skip
    assert code != 0 and out == ""
    assert err.strip().splitlines() == ["oftsr-edge: error: t must be in [0, 1] (0 = fidelity, 1 = realism), got 1.5"]
    assert files(tmp_path / "out") == []


def test_backend_flags_become_one_options_object(capsys, tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    src = photo(tmp_path / "a.png")
    code, out, err = upscale(capsys, src, "-o", tmp_path / "out", "--model", tiny_onnx_fp32,
                             "--backend", "ort-cpu", "--threads", "1")  # fmt: skip
    assert code == 0, err
    assert "on ort-cpu" in out


def test_without_model_a_bundled_model_is_chosen_per_input(capsys, tmp_path: Path) -> None:
    code, out, err = upscale(capsys, photo(tmp_path / "a.png"), "-o", tmp_path / "out", "-q")
    assert code == 0, err
    assert read_image(tmp_path / "out" / "a.png").shape == (80, 112, 3)
    record = read_record(tmp_path / "out" / "a.png")  # uniform noise: the lossy side of --model auto
    assert record["model_choice"]["kind"] == "lossy" and "--model auto" in out
    assert record["model_sha256"] == sha256_file(resolve_model(models.auto_table()["lossy"]["model"]))


def test_an_install_without_bundled_models_says_so(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "MODELS_DIR", tmp_path / "models")
    models._bundled.cache_clear()
    try:
        code, _, err = upscale(capsys, photo(tmp_path / "a.png"), "-o", tmp_path / "out")
    finally:
        models._bundled.cache_clear()
    assert code != 0 and "no bundled models" in err and "--model PATH" in err
    assert len(err.strip().splitlines()) == 1


def test_one_bad_image_does_not_stop_a_folder(capsys, tmp_path: Path, tiny_onnx_fp32: Path) -> None:
    photo(tmp_path / "in" / "a.png")
    photo(tmp_path / "in" / "c.png")
    (tmp_path / "in" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    code, out, err = upscale(capsys, tmp_path / "in", "-o", tmp_path / "out", "--model", tiny_onnx_fp32)
    assert code != 0
    assert files(tmp_path / "out") == ["a.png", "c.png"]
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "b.png" in lines[0] and "1 of 3 image(s) failed" in lines[1]
    assert "upscaled 2 image(s)" in out and "1 failed" in out


def test_outputs_inside_the_input_folder_are_not_read_back(
    capsys, tmp_path: Path, tiny_onnx_fp32: Path
) -> None:
    photo(tmp_path / "in" / "a.png")
    for _ in range(2):
        code, out, err = upscale(
            capsys, tmp_path / "in", "-o", tmp_path / "in" / "x4", "-r", "--model", tiny_onnx_fp32
        )
        assert code == 0, err
    assert files(tmp_path / "in") == ["a.png", "x4/a.png"] and "nothing to do" in out
    code, _, err = upscale(
        capsys, tmp_path / "in", "-o", tmp_path / "in" / "a.png", "--model", tiny_onnx_fp32
    )
    assert code != 0 and "is not a folder" in err
