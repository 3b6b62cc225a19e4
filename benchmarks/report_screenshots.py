"""Screenshots of an ``oftsr-edge eval --report`` file in headless Chromium, at the lowest and the highest t.

The page's "t for every image" slider is moved with the keyboard (Home, End) as a user would, then the page from
its header to the end of the first image's viewer is captured. The PNGs are reduced to 256 dithered colours so
that docs stay small (< 300 KB); that is a documentation choice, the report itself is unchanged.

Usage (the docs/images pictures):
    oftsr-edge eval --model oftsr-small-x4 --hr ../shared/data/val/Set5/HR \\
        --lr ../shared/data/val/Set5/LR_bicubic/X4 --t 0,0.5,1 --peers none --report /tmp/set5_report.html
    python benchmarks/report_screenshots.py /tmp/set5_report.html --out docs/images
Needs Chromium, chromedriver and Selenium (apt-get install chromium chromium-driver; pip install -e '.[dev]').
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oftsr_edge.fileio import write_bytes_atomic  # noqa: E402
from tests.helpers.browser import chromium, console_errors  # noqa: E402

WIDTH = 1280


def capture(report: Path, out_dir: Path, prefix: str) -> list[Path]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    written = []
    with chromium(WIDTH, 900) as driver:
        driver.get(report.resolve().as_uri())
        slider = driver.find_element(By.ID, "tall")
        for key, name in ((Keys.HOME, "t0"), (Keys.END, "t1")):
            slider.send_keys(key)
            driver.execute_script("document.activeElement.blur()")  # no focus ring in the picture
            label = driver.find_element(By.ID, "tallval").text
            bottom = driver.execute_script(
                "var r = document.querySelector('section.viewer .look').getBoundingClientRect();"
                "return Math.ceil(r.bottom + window.scrollY) + 16;"
            )
            driver.set_window_size(WIDTH, bottom + 200)
            driver.execute_script("window.scrollTo(0, 0)")
            time.sleep(0.3)  # let the resized window repaint
            shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
            shot = shot.crop((0, 0, min(WIDTH, shot.width), min(bottom, shot.height)))
            palette = shot.quantize(colors=256, method=Image.Quantize.MAXCOVERAGE)  # keeps the UI's few hues
            small = shot.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)  # no banding on skin
            buffer = io.BytesIO()
            small.save(buffer, "PNG", optimize=True)
            path = write_bytes_atomic(out_dir / f"{prefix}_{name}.png", buffer.getvalue())
            print(f"{path}: {label}, {shot.width}×{shot.height}, {len(buffer.getvalue()) / 1024:.0f} KB")
            written.append(path)
        errors = console_errors(driver)
        if errors:
            raise SystemExit(f"the report logged errors in the browser: {errors}")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--prefix", default="eval_report")
    args = parser.parse_args()
    capture(args.report, args.out, args.prefix)


if __name__ == "__main__":
    main()
