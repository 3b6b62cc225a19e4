"""``eval --report``: one self-contained HTML file whose pictures and numbers are eval's own, and whose t slider,
swipe, side-by-side view and zoomed crops really work in a headless Chromium.

The report is made once per module by the real command on the shipped photos with the bundled model. The browser
test drives the page as a user does (keys on the sliders, clicks) and checks what is displayed; it skips only when
no Chromium binary exists here (``.ci/run`` installs Debian's chromium and chromium-driver).
"""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oftsr_edge.cli import main
from oftsr_edge.contract import read_spec
from oftsr_edge.evaluation import html_images as hi
from oftsr_edge.evaluation.dataset import Pair
from oftsr_edge.evaluation.html_report import RunInfo, render
from oftsr_edge.evaluation.html_svg import line_chart, nice_ticks
from oftsr_edge.evaluation.methods import bicubic_method
from oftsr_edge.evaluation.quality import Method, evaluate
from oftsr_edge.metrics.fidelity import psnr
from oftsr_edge.runtime.models import resolve_model
from oftsr_edge.runtime.upscaler import Upscaler
from tests.helpers.browser import INSTALL, chromium, console_errors, find_browser
from tests.helpers.cli import assert_one_line_error, run_main

TS = (0.0, 0.5, 1.0)
SEED = 3


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, photos: Path) -> tuple[Path, dict]:
    """(report path, eval's --json output) from one real ``eval --report`` run on two shipped photos."""
    out = tmp_path_factory.mktemp("report")
    args = ["eval", "--model", str(resolve_model()), "--hr", str(photos / "HR"), "--lr"]
    args += [str(photos / "LR_bicubic" / "X4"), "--t", ",".join(f"{t:g}" for t in TS), "--peers", "none"]
    args += [
        "--limit",
        "2",
        "--seed",
        str(SEED),
        "--json",
        str(out / "r.json"),
        "--report",
        str(out / "r.html"),
    ]
    try:
        main(args)
    except SystemExit as exc:
        assert not exc.code, f"eval exited with {exc.code}"
    return out / "r.html", json.loads((out / "r.json").read_text())


def _payload(text: str) -> dict:
    block = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S)
    assert block, "the report carries no data block"
    return json.loads(block.group(1))


def _decode(uri: str) -> np.ndarray:
    head, data = uri.split(",", 1)
    assert head in ("data:image/webp;base64", "data:image/jpeg;base64", "data:image/png;base64"), head
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


class _Links(HTMLParser):
    """Every attribute that could make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data", "action", "xlink:href") or tag == "link":
                self.found.append((tag, name, value or ""))


def test_report_is_one_self_contained_file(made: tuple[Path, dict]) -> None:
    text = made[0].read_text(encoding="utf-8")
    links = _Links()
    links.feed(text)
    assert links.found == [], "the report must load nothing from outside itself"
    assert "url(" not in text and "@import" not in text and "http://" not in text and "https://" not in text
    assert made[0].stat().st_size < 1_500_000, "two small photos should make a small report"


def test_header_names_model_and_settings(made: tuple[Path, dict]) -> None:
    text = made[0].read_text(encoding="utf-8")
    spec = read_spec(resolve_model())
    for chip in (
        f"model <b>{spec.name}</b>",
        f"scale <b>×{spec.scale}</b>",
        f"precision <b>{spec.precision}</b>",
        f"seed <b>{SEED}</b>",
        "backend <b>ort-cpu</b>",
        "t <b>0, 0.5, 1</b>",
        "images <b>2</b>",
    ):
        assert f'<span class="chip">{chip}</span>' in text, chip
    assert f"<td>checkpoint sha256</td><td>{spec.checkpoint_sha256}</td>" in text


def test_tables_show_evals_own_numbers(made: tuple[Path, dict]) -> None:
    text = made[0].read_text(encoding="utf-8")
    sections = text.split('<section class="viewer')[1:]
    images = sorted({row["image"] for row in made[1]["images"]})
    assert len(sections) == len(images) == 2
    kinds = {s["method"]: s for s in made[1]["summary"]}
    for row in made[1]["images"]:
        section = sections[images.index(row["image"])]
        t = kinds[row["method"]]["t"]
        psnr_cell = "—" if row["psnr_y"] is None else f"{row['psnr_y']:.2f}"
        cells = f"<td>{row['method']}</td><td>{'—' if t is None else f'{t:.2f}'}</td><td>{psnr_cell}</td>"
        assert cells in section, (row["image"], row["method"])
    assert text.count('<svg class="chart"') == 4 * 3, "four charts per image and four for the means"
    assert "not computed: no --lpips-weights" in text


def test_viewer_images_are_the_evaluated_outputs(made: tuple[Path, dict], photos: Path) -> None:
    """Each t's picture is exactly what the runtime returns at that t and seed (lossless: two photos fit the
    budget), HR is HR."""
    data = _payload(made[0].read_text(encoding="utf-8"))
    assert data["t_labels"] == ["0", "0.5", "1"]
    first = data["images"][0]
    name = sorted(p.name for p in (photos / "HR").iterdir())[0]
    lr = np.asarray(Image.open(photos / "LR_bicubic" / "X4" / name).convert("RGB"))
    hr = np.asarray(Image.open(photos / "HR" / name).convert("RGB"))
    x, y, w, h = first["box"]
    assert (x, y, w, h) == (0, 0, hr.shape[1], hr.shape[0]), "a small photo is shown whole"
    shown = [_decode(uri) for uri in first["student"]]
    upscaler = Upscaler(resolve_model())
    for t, picture in zip(TS, shown):
        assert np.array_equal(picture, upscaler.upscale(lr, t=t, seed=SEED)), (
            f"t={t}: not the runtime's output"
        )
    assert psnr(shown[0], shown[2]) < 40.0, "t = 0 and t = 1 should look different"
    refs = {r["label"]: r for r in first["refs"]}
    model = data["model"]
    assert list(refs) == ["bicubic", "HR", "LR (nearest)", *(f"{model} t={t}" for t in data["t_labels"])]
    # the model at t = 0 and t = 1 can face each other: those references point at the student images, no copy
    assert [refs[f"{model} t={t}"]["t"] for t in data["t_labels"]] == list(range(len(data["t_labels"])))
    assert all("src" not in refs[f"{model} t={t}"] for t in data["t_labels"])
    assert np.array_equal(_decode(refs["HR"]["src"]), hr)
    assert np.array_equal(_decode(refs["LR (nearest)"]["src"]), lr), "the LR view is lossless PNG"


def _pair(name: str, height: int, width: int, seed: int) -> Pair:
    rng = np.random.default_rng(seed)
    hr = np.full((height, width, 3), 120, np.uint8)
    hr[40:80, 60:100] = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)  # one textured patch
    lr = np.asarray(Image.fromarray(hr).resize((width // 4, height // 4), Image.BICUBIC))
    return Pair(name, hr, lr)


def test_large_images_are_cropped_on_the_scale_grid_and_open_on_detail() -> None:
    images = hi.ReportImages(scale=4, max_side=64)
    pair = _pair("big", 150, 212, 0)
    images.add(bicubic_method(4), pair, np.zeros_like(pair.hr))
    assert images.format == "lossless" and _decode(images.shown["big"].hr).shape == (64, 64, 3)
    shown = images.shown["big"]
    x, y, w, h = shown.box
    assert (w, h) == (64, 64) and x % 4 == 0 and y % 4 == 0 and shown.cropped
    assert np.array_equal(_decode(shown.lr), pair.lr[y // 4 : (y + h) // 4, x // 4 : (x + w) // 4])
    fx, fy = hi.busiest_point(pair.hr, 20)
    assert 60 <= fx < 100 and 40 <= fy < 80, "the zoom should open on the textured patch"
    gray = Pair("gray", pair.hr[..., :1].copy(), pair.lr[..., :1].copy())
    images.add(bicubic_method(4), gray, gray.hr)
    x, y, w, h = images.shown["gray"].box
    assert np.array_equal(_decode(images.shown["gray"].hr)[..., 0], gray.hr[y : y + h, x : x + w, 0])


def test_a_report_over_budget_switches_every_view_to_jpeg() -> None:
    pairs = [_pair(f"p{i}", 96, 128, i) for i in range(3)]
    assert hi.ReportImages(4, pairs, views=5).format == "lossless"
    images = hi.ReportImages(4, pairs, views=5, budget=3 * 96 * 128 * 5 * hi.LOSSLESS_BYTES_PER_PIXEL - 1)
    assert images.format == "jpeg" and "JPEG (quality 95" in images.describe()
    sr = bicubic_method(4).upscale(pairs[0].lr)
    images.add(bicubic_method(4), pairs[0], sr)
    uri = images.shown["p0"].others["bicubic"]
    assert uri.startswith("data:image/jpeg;base64,") and psnr(_decode(uri), sr) > 38.0


def test_viewer_cap_escaping_and_missing_metrics() -> None:
    """Names are escaped, images past the cap stay in the tables, a metric no row has says so."""
    pairs = [_pair("<b>x</b>&", 96, 128, 1), _pair("second", 96, 128, 2)]

    def brighter(t: float) -> Method:
        up = bicubic_method(4).upscale
        return Method(
            f"m t={t:g}", "student", lambda lr: np.clip(up(lr) + 40 * t, 0, 255).astype(np.uint8), t
        )

    images = hi.ReportImages(scale=4, max_images=1)
    result = evaluate(pairs, [bicubic_method(4), brighter(0.0), brighter(1.0)], 4, None, False, images.add)
    spec = read_spec(resolve_model())
    text = render(result, images, RunInfo("m.onnx", spec, "ort-cpu", 128, 0, "synthetic"))
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in text and "<b>x</b>&" not in text
    assert text.count('<section class="viewer') == 1 and images.left_out == ["second"]
    assert "1 more are in the tables" in text and "<td>second</td>" not in text
    assert text.count("not computed: --no-niqe") == text.count("not computed: no --lpips-weights") == 2


def test_chart_axes_and_marker() -> None:
    ticks, digits = nice_ticks(0.805, 0.888)
    assert ticks == [0.82, 0.84, 0.86, 0.88] and digits == 2
    svg = line_chart("PSNR-Y (dB) ↑", [0.0, 0.5, 1.0], [30.0, None, 28.0], marker_index=1)
    assert svg.count('class="dot"') == 2 and 'visibility="hidden"' in svg, (
        "a missing value is neither drawn nor marked"
    )
    pts = re.search(r'data-pts="([^"]*)"', svg).group(1).split(";")
    assert len(pts) == 3 and pts[1] == "" and "t (0 = fidelity, 1 = realism)" in svg


def test_report_to_a_folder_is_a_one_line_error(
    tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", "--model", str(resolve_model()), "--hr", str(photos / "HR"), "--limit", "1"]
    assert_one_line_error(run_main(capsys, *args, "--report", str(tmp_path)), "--report wants a file name")


def _pixels(driver: object, img: object) -> str:
    """A digest of the pixels the browser decoded for ``img`` (what is on screen, not just its attribute)."""
    return driver.execute_async_script(
        "var img = arguments[0], done = arguments[1];"
        "img.decode().then(function () {"
        "  var c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;"
        "  var g = c.getContext('2d'); g.drawImage(img, 0, 0);"
        "  var d = g.getImageData(0, 0, c.width, c.height).data, h = 0;"
        "  for (var i = 0; i < d.length; i++) { h = (h * 31 + d[i]) % 1000000007; }"
        "  done(c.width + 'x' + c.height + ':' + h);"
        "});",
        img,
    )


def test_report_works_in_headless_chromium(made: tuple[Path, dict]) -> None:
    if find_browser() is None:
        pytest.skip(f"no Chromium binary to test the report in: {INSTALL}")
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with chromium() as driver:
        driver.get(made[0].resolve().as_uri())
        data = driver.execute_script("return JSON.parse(document.getElementById('report-data').textContent)")
        viewer = driver.find_elements(By.CSS_SELECTOR, "section.viewer")[0]
        slider = viewer.find_element(By.CSS_SELECTOR, "input.tslider")
        shown = viewer.find_element(By.CSS_SELECTOR, ".cell.a img")
        crop = viewer.find_element(By.CSS_SELECTOR, ".crop.student img")
        student = data["images"][0]["student"]

        slider.send_keys(Keys.HOME)
        assert shown.get_attribute("src") == student[0]
        before = _pixels(driver, shown)
        slider.send_keys(Keys.ARROW_RIGHT)
        assert shown.get_attribute("src") == student[1] != student[0], "the t slider did not switch the image"
        assert _pixels(driver, shown) != before, "the displayed pixels did not change with t"
        assert viewer.find_element(By.CSS_SELECTOR, ".tval").text == "t = 0.5"
        assert crop.get_attribute("src") == student[1], "the zoomed crop did not follow t"

        driver.find_element(By.ID, "tall").send_keys(Keys.END)
        for section, image in zip(driver.find_elements(By.CSS_SELECTOR, "section.viewer"), data["images"]):
            assert (
                section.find_element(By.CSS_SELECTOR, ".cell.a img").get_attribute("src")
                == image["student"][-1]
            )
        assert driver.find_element(By.CSS_SELECTOR, "#summary tr.current td").text.endswith("t=1")

        viewer.find_element(By.CSS_SELECTOR, "input.mode[value=sbs]").click()
        a, b = (viewer.find_element(By.CSS_SELECTOR, f".cell.{c}").rect for c in "ab")
        assert b["x"] >= a["x"] + a["width"] and b["y"] == a["y"], (
            "side by side: the reference sits to the right"
        )
        viewer.find_element(By.CSS_SELECTOR, "input.mode[value=swipe]").click()
        viewer.find_element(By.CSS_SELECTOR, "input.swipe").send_keys(Keys.HOME)
        divider = viewer.find_element(By.CSS_SELECTOR, ".divider").rect
        assert abs(divider["x"] + divider["width"] / 2 - a["x"]) <= 2, (
            "swipe to 0 puts the divider at the left"
        )

        stage = viewer.find_element(By.CSS_SELECTOR, ".stage")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", stage)
        size = stage.rect
        ActionChains(driver).move_to_element_with_offset(
            stage, -size["width"] / 2 + 3, -size["height"] / 2 + 3
        ).click().perform()
        assert (crop.value_of_css_property("left"), crop.value_of_css_property("top")) == ("0px", "0px")
        stage.send_keys(Keys.ARROW_RIGHT)
        assert crop.value_of_css_property("left") != "0px", "arrow keys on the image should move the zoom"
        assert console_errors(driver) == []
