"""Headless Chromium through Selenium with the system's chromedriver, for tests and screenshots of the HTML report.

Debian's ``chromium`` and ``chromium-driver`` (installed by ``.ci/run``) are used as they are: the driver path is
passed explicitly, so Selenium Manager never tries to download a browser or driver.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
INSTALL = "apt-get install -y chromium chromium-driver"


def find_browser() -> str | None:
    """Path of a Chromium-family binary, or None."""
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium WebDriver (window ``width`` × ``height``) with the browser console log kept."""
    browser, driver_path = find_browser(), shutil.which("chromedriver")
    if browser is None:
        raise RuntimeError(f"no Chromium binary ({', '.join(BROWSERS)}): {INSTALL}")
    if driver_path is None:
        raise RuntimeError(f"Chromium is installed but chromedriver is not: {INSTALL}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[str]:
    """The page's console messages of level SEVERE (script errors, failed loads)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
