"""``--model auto``: the evidence (JPEG quality, lossy WebP, noise, 8×8 blocks), the choice table in models.json,
and the upscale command's default: the choice printed in one line and recorded; explicit --model / --t win."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oftsr_edge.errors import OftsrError
from oftsr_edge.fileio import sha256_file
from oftsr_edge.runtime import auto_model
from oftsr_edge.runtime.auto_model import (
    BLOCKINESS,
    JPEG_CLEAN_QUALITY,
    NOISE_SIGMA,
    choose,
    choose_for_file,
    inspect_header,
    jpeg_quality,
    measure,
)
from oftsr_edge.runtime.models import MODELS_DIR, auto_table, load_cards, resolve_model
from oftsr_edge.runtime.provenance import read_record
from tests.helpers.cli import run_main

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos" / "HR"


def _photo(name: str = "kodim05.png") -> np.ndarray:
    return np.asarray(Image.open(PHOTOS / name).convert("RGB"))


def _jpeg(pixels: np.ndarray, quality: int) -> Image.Image:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf)


@pytest.mark.parametrize("quality", [30, 50, 75, 90, 95, 98])
def test_jpeg_quality_is_read_back_from_the_quantisation_table(quality: int) -> None:
    assert abs(jpeg_quality(_jpeg(_photo(), quality).quantization) - quality) <= 1
    assert jpeg_quality({}) is None


def test_noise_and_blocks_separate_clean_from_damaged() -> None:
    rng = np.random.default_rng(0)
    flat = np.full((96, 96, 3), 120.0) + np.linspace(0, 40, 96)[None, :, None]  # a smooth ramp
    assert measure(flat.astype(np.uint8)).noise_sigma < NOISE_SIGMA
    noisy = np.clip(flat + rng.normal(0, 8, flat.shape), 0, 255).astype(np.uint8)
    assert measure(noisy).noise_sigma > NOISE_SIGMA
    clean = _photo("kodim15.png")
    assert measure(clean).blockiness < BLOCKINESS
    blocky = np.asarray(_jpeg(clean, 20).convert("RGB"))  # decoded: no tables left, the grid remains
    assert measure(blocky).blockiness > BLOCKINESS
    assert measure(blocky).lossy_reasons() and not measure(_photo("kodim01.png")).lossy_reasons()


def test_files_by_format(tmp_path: Path) -> None:
    pixels = _photo()
    Image.fromarray(pixels).save(tmp_path / "a.jpg", quality=75)
    Image.fromarray(pixels).save(tmp_path / "b.jpg", quality=98)
    Image.fromarray(pixels).save(tmp_path / "c.webp", lossless=False, quality=80)
    Image.fromarray(pixels).save(tmp_path / "d.webp", lossless=True)
    Image.fromarray(pixels).save(tmp_path / "e.png")
    assert inspect_header(tmp_path / "a.jpg").jpeg_quality == 75
    assert [inspect_header(tmp_path / n).lossy_webp for n in ("c.webp", "d.webp")] == [True, False]
    kinds = {n: choose_for_file(tmp_path / n).kind for n in ("a.jpg", "b.jpg", "c.webp", "d.webp", "e.png")}
    assert kinds == {"a.jpg": "lossy", "b.jpg": "clean", "c.webp": "lossy", "d.webp": "clean", "e.png": "clean"}
    assert 75 < JPEG_CLEAN_QUALITY <= 98


def test_the_table_is_data_and_a_broken_one_is_one_line(tmp_path: Path) -> None:
    table = auto_table()
    assert set(table) == {"clean", "lossy"}
    lossy = choose(auto_model.Evidence("jpeg", 50), table)
    assert (lossy.kind, lossy.model, lossy.t) == ("lossy", table["lossy"]["model"], table["lossy"].get("t"))
    assert "JPEG quality ~50" in lossy.reason
    data = json.loads((MODELS_DIR / "models.json").read_text())
    data["auto"]["lossy"] = {"model": "no-such-model"}
    shutil.copytree(MODELS_DIR, tmp_path / "m", ignore=shutil.ignore_patterns("*.onnx"))
    (tmp_path / "m" / "models.json").write_text(json.dumps(data))
    with pytest.raises(OftsrError, match="auto.lossy must name a bundled model"):
        load_cards(tmp_path / "m")


def test_upscale_without_flags_chooses_per_input_prints_and_records(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    lr = _photo("kodim13.png")[:32, :32]
    Image.fromarray(lr).save(tmp_path / "web.jpg", quality=60)
    Image.fromarray(_photo("kodim01.png")).save(tmp_path / "clean.png")  # measured clean above
    out = tmp_path / "out"
    proc = run_main(capsys, "upscale", str(tmp_path / "web.jpg"), str(tmp_path / "clean.png"), "-o", str(out), "-q")
    assert proc.code == 0, proc.err
    table = auto_table()
    lines = [line for line in proc.out.splitlines() if "--model auto" in line]
    assert len(lines) == 2 and any("web.jpg: lossy (JPEG quality ~60)" in line for line in lines)
    web, clean = read_record(out / "web.jpg"), read_record(out / "clean.png")
    assert web["model_sha256"] == sha256_file(resolve_model(table["lossy"]["model"]))
    assert web["t"] == table["lossy"]["t"] and web["model_choice"]["kind"] == "lossy"
    assert clean["model_sha256"] == sha256_file(resolve_model(table["clean"]["model"]))
    assert clean["model_choice"]["kind"] == "clean"
    # explicit --t wins over the table's t; explicit --model turns the choice off
    proc = run_main(capsys, "upscale", str(tmp_path / "web.jpg"), "-o", str(tmp_path / "t.png"), "-q", "--t", "0.3")
    assert proc.code == 0 and read_record(tmp_path / "t.png")["t"] == pytest.approx(0.3)
    proc = run_main(capsys, "upscale", str(tmp_path / "web.jpg"), "-o", str(tmp_path / "m.png"), "-q", "--model",
                    table["clean"]["model"])
    record = read_record(tmp_path / "m.png")
    assert proc.code == 0 and "--model auto" not in proc.out and "model_choice" not in record
    assert record["model_sha256"] == sha256_file(resolve_model(table["clean"]["model"]))


def test_the_api_chooses_per_image_with_auto(tmp_path: Path) -> None:
    from oftsr_edge import Upscaler

    table = auto_table()
    rng = np.random.default_rng(1)
    noisy = np.clip(np.full((24, 24, 3), 128.0) + rng.normal(0, 12, (24, 24, 3)), 0, 255).astype(np.uint8)
    clean = _photo("kodim01.png")[:48, :48]
    with Upscaler("auto", tile=0) as up, Upscaler(table["lossy"]["model"], tile=0) as lossy, \
            Upscaler(table["clean"]["model"], tile=0) as plain:  # fmt: skip
        assert up.auto and up.spec.name == table["clean"]["model"]
        assert np.array_equal(up.upscale(noisy), lossy.upscale(noisy, t=table["lossy"].get("t")))
        assert np.array_equal(up.upscale(clean), plain.upscale(clean))
        assert np.array_equal(up.upscale(noisy, t=0.5), lossy.upscale(noisy, t=0.5))  # an explicit t wins
        Image.fromarray(clean[:24, :24]).save(tmp_path / "in.jpg", quality=50)
        up.upscale_file(tmp_path / "in.jpg", tmp_path / "out.png")
        assert read_record(tmp_path / "out.png")["model_choice"]["model"] == table["lossy"]["model"]
    with Upscaler(tile=0) as plain_default:  # None stays one model: frame streams need one model per stream
        assert not plain_default.auto
