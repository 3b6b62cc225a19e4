"""``oftsr-edge degrade``: the layout eval reads, seeded reproducibility, and no mixing with or loss of earlier sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oftsr_edge.evaluation.dataset import bicubic_down, load_pairs
from tests.helpers.cli import assert_one_line_error, run_main

pytest.importorskip("torch")

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos" / "HR"


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def _hr(tmp_path: Path, count: int = 2) -> Path:
    folder = tmp_path / "hr"
    folder.mkdir()
    for src in sorted(PHOTOS.glob("*.png"))[:count]:
        (folder / src.name).write_bytes(src.read_bytes())
    return folder


def test_writes_the_validation_layout_that_eval_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "set"
    result = run_main(capsys, "degrade", "--hr", str(_hr(tmp_path)), "-o", str(out), "--crop", "64")
    assert result.code == 0, result.err
    assert "wrote 2 pairs" in result.out and "oftsr-edge eval --hr" in result.out
    pairs = load_pairs(out / "HR", 4, lr_dir=out / "LR_realesrgan" / "X4")
    assert [p.hr.shape for p in pairs] == [(64, 64, 3)] * 2
    assert [p.lr.shape for p in pairs] == [(16, 16, 3)] * 2
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no staging folder left


def test_same_seed_same_pairs_other_seed_other_pairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hr = _hr(tmp_path, 1)
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        assert run_main(capsys, "degrade", "--hr", str(hr), "-o", str(tmp_path / name), "--crop", "48",
                        "--seed", seed).code == 0
    lr = {n: _pixels(next((tmp_path / n / "LR_realesrgan" / "X4").glob("*.png"))) for n in "abc"}
    crops = {n: _pixels(next((tmp_path / n / "HR").glob("*.png"))) for n in "abc"}
    assert np.array_equal(lr["a"], lr["b"]) and np.array_equal(crops["a"], crops["b"])
    assert not np.array_equal(lr["a"], lr["c"])


def test_bicubic_pairs_equal_evals_own_bicubic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "set"
    assert run_main(capsys, "degrade", "--hr", str(_hr(tmp_path, 1)), "-o", str(out), "--degradation", "bicubic",
                    "--scale", "2").code == 0
    hr = _pixels(next((out / "HR").glob("*.png")))
    assert np.array_equal(_pixels(next((out / "LR_bicubic" / "X2").glob("*.png"))), bicubic_down(hr, 2))


def test_refuses_to_mix_sets_and_keeps_the_old_one_when_a_rerun_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hr, out = _hr(tmp_path), tmp_path / "set"
    assert run_main(capsys, "degrade", "--hr", str(hr), "-o", str(out), "--crop", "32").code == 0
    before = sorted(p.name for p in (out / "HR").iterdir())
    assert_one_line_error(run_main(capsys, "degrade", "--hr", str(hr), "-o", str(out)), "pass --overwrite")
    failed = run_main(capsys, "degrade", "--hr", str(hr), "-o", str(out), "--overwrite", "--crop", "4000")
    assert_one_line_error(failed, "at least 4000 pixels")
    assert sorted(p.name for p in (out / "HR").iterdir()) == before
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert_one_line_error(run_main(capsys, "degrade", "--hr", str(hr), "-o", str(foreign), "--overwrite"),
                          "did not write")
    assert (foreign / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("extra", "needle"),
    [(("--scale", "3"), "--scale must be 2, 4 or 8"), (("--crop", "50"), "not a multiple of the scale")],
)
def test_bad_options_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple, needle: str) -> None:
    assert_one_line_error(run_main(capsys, "degrade", "--hr", str(_hr(tmp_path, 1)), "-o", str(tmp_path / "o"),
                                   *extra), needle)


def test_two_inputs_with_one_output_name_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hr = _hr(tmp_path, 1)
    src = next(hr.glob("*.png"))
    Image.open(src).convert("RGB").save(hr / f"{src.stem}.jpg")
    assert_one_line_error(run_main(capsys, "degrade", "--hr", str(hr), "-o", str(tmp_path / "o")),
                          f"would both be written as {src.stem}.png")


def test_an_output_that_holds_the_hr_folder_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`degrade --hr ds/HR -o ds --overwrite` once replaced ds, deleting the photos it read."""
    ds = tmp_path / "ds"
    first = run_main(capsys, "degrade", "--hr", str(_hr(tmp_path)), "-o", str(ds), "--crop", "32",
                     "--degradation", "bicubic")
    assert first.code == 0, first.err
    photos = sorted((ds / "HR").iterdir())
    for out in (ds, ds / "HR"):
        result = run_main(capsys, "degrade", "--hr", str(ds / "HR"), "-o", str(out), "--crop", "32", "--overwrite",
                          "--degradation", "bicubic")
        assert_one_line_error(result, "is or contains the --hr folder")
    assert sorted((ds / "HR").iterdir()) == photos


def test_an_unreadable_photo_is_skipped_with_one_warning_and_leaves_no_staging_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hr = _hr(tmp_path, 2)
    bad = sorted(hr.glob("*.png"))[0]
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 3])  # truncated, as by an interrupted copy
    out = tmp_path / "set"
    result = run_main(capsys, "degrade", "--hr", str(hr), "-o", str(out), "--crop", "32", "--degradation", "bicubic")
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("oftsr-edge: warning: skipped: ") and bad.name in lines[0]
    assert "wrote 1 pairs" in result.out and "1 unreadable skipped" in result.out
    assert [p.name for p in (out / "HR").iterdir()] == [sorted(hr.glob("*.png"))[1].name]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hr", "set"]  # no staging folder left


def test_a_killed_runs_staging_folder_is_swept_and_a_failed_run_leaves_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from oftsr_edge.fileio import TEMP_SUFFIX
    from tests.reliability.conftest import dead_pid

    hr = _hr(tmp_path, 1)
    killed = tmp_path / f".set.{dead_pid()}.abcd1234{TEMP_SUFFIX}"  # what a SIGKILLed run leaves
    (killed / "set" / "HR").mkdir(parents=True)
    failed = run_main(capsys, "degrade", "--hr", str(hr), "-o", str(tmp_path / "set"), "--crop", "4000",
                      "--degradation", "bicubic")
    assert_one_line_error(failed, "at least 4000 pixels")
    assert sorted(p.name for p in tmp_path.iterdir()) == [hr.name]


def test_without_torch_the_default_degradation_is_one_line_naming_the_way_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # a base install
    result = run_main(capsys, "degrade", "--hr", str(_hr(tmp_path, 1)), "-o", str(tmp_path / "o"))
    assert_one_line_error(result, "--degradation realesrgan (the default) needs torch")
    assert "--degradation bicubic" in result.err
    assert run_main(capsys, "degrade", "--hr", str(tmp_path / "hr"), "-o", str(tmp_path / "o"),
                    "--degradation", "bicubic").code == 0
