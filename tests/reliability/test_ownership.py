"""Class 1, ownership: a run replaces only files it wrote (a readable settings record) or that --overwrite names, and
an output is never an input of the same run; ``-o`` means what it says (a folder, or one image file).

Each case was a finding: an input replaced by another input's upscale, a user's photo replaced without a word,
``-o x.png/`` writing a file, ``-o x.gif`` and ``-o out.png`` with two inputs silently becoming folders, ``-r``
skipping symlinked folders, ``--model DIR`` answering "no such file".
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oftsr_edge.runtime.io.image_io import list_images, read_image
from oftsr_edge.runtime.provenance import read_record
from tests.helpers.cli import assert_one_line_error, run_main
from tests.reliability.conftest import partial_files, photo


def _upscale(capsys: pytest.CaptureFixture[str], model: Path, *args: object):
    return run_main(capsys, "upscale", "--quiet", "--model", str(model), *map(str, args))


def test_an_output_that_is_another_input_of_the_run_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    pics = tmp_path / "pics"
    cat, other = photo(pics / "cat.png", seed=1), photo(pics / "cat_x4.png", seed=2)
    before = {p: p.read_bytes() for p in (cat, other)}
    result = _upscale(capsys, model, cat, other, "-o", pics, "--suffix", "_x4")
    assert_one_line_error(result, "would overwrite the input")
    assert result.code == 2 and {p: p.read_bytes() for p in (cat, other)} == before
    assert sorted(p.name for p in pics.iterdir()) == ["cat.png", "cat_x4.png"]  # nothing written at all


def test_a_hard_link_to_the_input_is_the_input(capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path) -> None:
    src = photo(tmp_path / "a.png")
    os.link(src, tmp_path / "b.png")
    result = _upscale(capsys, model, src, "-o", tmp_path / "b.png")
    assert_one_line_error(result, "would overwrite its input")
    assert read_image(src).shape == (9, 12, 3)


def test_a_file_we_did_not_write_is_replaced_only_with_overwrite(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    photo(src / "a.png", seed=1)
    photo(src / "b.png", seed=2)
    theirs = photo(out / "a.png", (30, 20), seed=9)  # the user's own photo, where an output would go
    kept = theirs.read_bytes()
    result = _upscale(capsys, model, src, "-o", out)
    assert result.code == 2 and "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert "a.png: exists and holds no oftsr-edge settings record" in lines[0] and "--overwrite" in lines[0]
    assert theirs.read_bytes() == kept and read_record(out / "b.png") is not None  # b went on
    assert "upscaled 1 image(s)" in result.out
    again = _upscale(capsys, model, src, "-o", out, "--overwrite")
    assert again.code == 0, again.err
    assert read_record(theirs) is not None and read_image(theirs).shape == (36, 48, 3)
    assert partial_files(tmp_path) == []


def test_a_single_output_file_not_ours_is_kept(capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path) -> None:
    src = photo(tmp_path / "a.png", seed=1)
    theirs = photo(tmp_path / "a_big.png", seed=3)
    kept = theirs.read_bytes()
    result = _upscale(capsys, model, src, "-o", theirs)
    assert_one_line_error(result, "holds no oftsr-edge settings record")
    assert theirs.read_bytes() == kept


def test_a_trailing_slash_makes_the_output_a_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    src = photo(tmp_path / "a.png")
    result = _upscale(capsys, model, src, "-o", f"{tmp_path / 'x.png'}/")
    assert result.code == 0, result.err
    assert (tmp_path / "x.png").is_dir() and read_image(tmp_path / "x.png" / "a.png").shape == (36, 48, 3)


@pytest.mark.parametrize(
    ("output", "inputs", "needle"),
    [
        ("x.gif", 1, "unsupported output format '.gif'"),
        ("x.tga", 1, "unsupported output format"),
        ("out.png", 2, "names an image file, but this run writes 2 image(s)"),
    ],
    ids=["gif", "tga", "image name with two inputs"],
)
def test_an_output_name_that_cannot_be_what_it_looks_like_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path, output: str, inputs: int, needle: str
) -> None:
    sources = [photo(tmp_path / "in" / f"{k}.png", seed=k) for k in range(inputs)]
    result = _upscale(capsys, model, *sources, "-o", tmp_path / output)
    assert_one_line_error(result, needle)
    assert not (tmp_path / output).exists()


def test_recursive_follows_symlinked_folders_once_and_says_so_for_a_loop(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    src, elsewhere = tmp_path / "in", tmp_path / "elsewhere"
    photo(src / "a.png", seed=1)
    photo(elsewhere / "deep" / "b.png", seed=2)
    (src / "linked").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "deep" / "back").symlink_to(src, target_is_directory=True)  # a loop: in/linked/deep/back = in
    result = _upscale(capsys, model, src, "-o", tmp_path / "out", "-r")
    assert result.code == 0, result.err
    made = sorted(str(p.relative_to(tmp_path / "out")) for p in list_images(tmp_path / "out", True))
    assert made == ["a.png", "linked/deep/b.png"]
    assert "already read; not read twice" in result.err and "Traceback" not in result.err


def test_model_folder_is_named_a_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path) -> None:
    src = photo(tmp_path / "a.png")
    result = _upscale(capsys, model.parent, src, "-o", tmp_path / "out")
    assert_one_line_error(result, "is a folder, not a model file")
    assert model.name in result.err


def test_a_suffix_that_makes_a_name_too_long_is_refused_before_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    src = photo(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    result = _upscale(capsys, model, src.parent, "-o", out, "--suffix", "_" + "x" * 260)
    assert_one_line_error(result, "over the limit of 255")
    assert not out.exists()
