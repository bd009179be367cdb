"""Headless Chromium for the dashboard test: Debian's `chromium` and `chromium-driver` packages
(`make test` installs them when missing), driven by Selenium through the system chromedriver, so that
Selenium Manager never looks anything up on the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"
"""Screenshots of the site, kept after the run (git-ignored): tests/artifacts/dashboard/*.png."""
SAVED: list[Path] = []
"""Screenshots taken in this run (tests/catalog/conftest.py names them in the terminal summary)."""


def require_chromium() -> None:
    """Skip without the browser, except on CI (CI=true), where a missing browser is a failure."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    message = f"{CHROMIUM} / {CHROMEDRIVER} missing: `make test` installs chromium and chromium-driver"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def start_chrome(width: int = 1280, height: int = 1000):  # type: ignore[no-untyped-def]
    """A headless Chromium that records the browser console (goog:loggingPrefs browser ALL)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in CI containers
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={width},{height}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), port=0)
    return webdriver.Chrome(options=opts, service=service)


def severe(driver) -> list[dict]:  # type: ignore[no-untyped-def]
    """The console entries logged since the last call that are errors (level SEVERE)."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def screenshot(driver, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    SAVED.append(path)
    return path


_SETTLED = (
    "return document.readyState === 'complete' && !document.querySelector('meta[http-equiv=\"refresh\"]')"
)
"""A page loaded, and not a redirect (the site's entry page sends the browser on to the current version)."""


def open_page(driver, url: str) -> None:  # type: ignore[no-untyped-def]
    """Load a page, following redirects (the entry page), and wait until it is complete; every <img> decoded
    (a missing PNG would be a console error and naturalWidth 0) and no console error (the entry page's
    included)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def settled(d) -> bool:  # type: ignore[no-untyped-def]
        try:
            return bool(d.execute_script(_SETTLED))
        except WebDriverException:  # asked while the browser was between two pages
            return False

    driver.get(url)
    WebDriverWait(driver, 20).until(settled)
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)")
    )
    broken = driver.execute_script(
        "return Array.from(document.images).filter(i => i.naturalWidth === 0).map(i => i.src)"
    )
    assert broken == [], f"{url}: images that did not load: {broken}"
    errors = severe(driver)
    assert errors == [], f"{url}: console errors: {errors}"
