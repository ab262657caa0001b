"""A real headless Chromium for the dashboard tests: Debian's ``chromium`` driven by selenium
through Debian's ``chromedriver`` (the two come from one source package, so their versions match;
selenium is told the driver's path, so it never downloads one).

Where no browser can be had, :func:`chromium` skips the test with a message saying the browser
tests did not run; under ``CI=true`` that is a failure instead (CI installs the browser).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = ("/usr/bin/chromedriver",)
INSTALL = "apt-get install chromium chromium-driver, pip install selenium"


def _first(paths: tuple[str, ...], name: str) -> str | None:
    found = [path for path in paths if os.access(path, os.X_OK)]
    return found[0] if found else shutil.which(name)


def _missing(reason: str) -> None:
    message = f"browser tests did not run: {reason} ({INSTALL})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + "; CI must run them", pytrace=False)
    pytest.skip(message)


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A selenium driver of a fresh headless Chromium profile, quit on exit."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed")
    binary = _first(CHROMIUM, "chromium")
    driver_path = _first(CHROMEDRIVER, "chromedriver")
    if binary is None or driver_path is None:
        _missing("no chromium and chromedriver on this machine")
    profile = tempfile.mkdtemp(prefix="hf-tracking-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-unsafe-swiftshader",  # WebGL in software, for plotly's scattergl
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: Any, script: str, timeout: float = 20.0) -> Any:
    """Poll a JavaScript expression until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script("return " + script)
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for: {script}")


def plot_pixels(png: bytes, rect: dict) -> tuple[int, float]:
    """Distinct colours and the share of non-white pixels inside the plot's rectangle."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    box = (rect["x"], rect["y"], rect["x"] + rect["width"], rect["y"] + rect["height"])
    crop = image.crop(tuple(int(value) for value in box))
    pixels = list(crop.getdata())
    inked = sum(1 for pixel in pixels if min(pixel) < 235)
    return len(set(pixels)), inked / len(pixels)
