"""`hmc dashboard` in a real headless browser (Chromium from Debian's packages, file:// URLs):
pages load without console errors, the map shows every frame of the catalog, clicking an alert opens
its pair, the STAC view lists every item. Screenshots are kept in tests/artifacts/dashboard/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import open_page, screenshot, severe
from dashboard_store import current_root

from hephaestus.platform.layout import StoreLayout


def _catalog_items(store: Path) -> list[str]:
    """Item ids as the published collection links them (read here with json, not through the site)."""
    coll = json.loads(Path(StoreLayout(store).pointer).read_text())
    base = Path(StoreLayout(store).catalog)
    return sorted(
        json.loads((base / link["href"]).read_text())["id"] for link in coll["links"] if link["rel"] == "item"
    )


def test_map_shows_every_frame_and_alert(site, chrome) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    monitored, out = site
    open_page(chrome, (out / "index.html").as_uri())  # the entry page sends the browser to the current board
    assert chrome.current_url == (current_root(out) / "index.html").as_uri()
    frames = sorted(
        e.get_attribute("data-frame-id") for e in chrome.find_elements(By.CSS_SELECTOR, "#map path.frame")
    )
    assert frames == _catalog_items(monitored.store) == sorted(monitored.frames)
    shown = chrome.find_elements(By.CSS_SELECTOR, "#map path.frame")
    assert all(e.is_displayed() for e in shown)
    # basemap loaded from the site's own assets (offline): its natural size is the vendored image's
    assert chrome.execute_script("return document.querySelector('#map image').getAttribute('href')") == (
        "assets/natural-earth.png"
    )
    markers = {e.get_attribute("data-alert-id") for e in chrome.find_elements(By.CSS_SELECTOR, "#map .alert")}
    assert markers == {a["alert_id"] for a in monitored.alerts}
    rows = {e.get_attribute("data-alert-id") for e in chrome.find_elements(By.CSS_SELECTOR, "a.alert-link")}
    assert rows == {a["alert_id"] for a in monitored.alerts}
    screenshot(chrome, "index")

    # the map's script runs: zoom in halves the viewBox width, reset restores it
    def view_box() -> list[float]:
        return [
            float(x)
            for x in chrome.execute_script(
                "return document.getElementById('map').getAttribute('viewBox')"
            ).split()
        ]

    home = view_box()
    chrome.find_element(By.ID, "zoom-in").click()
    assert view_box()[2] == pytest.approx(home[2] / 2)
    chrome.find_element(By.ID, "zoom-reset").click()
    assert view_box() == home
    assert severe(chrome) == []


def test_clicking_an_alert_opens_its_pair(site, chrome) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    monitored, out = site
    alert = next(a for a in monitored.alerts if a["score"] > 0.9)  # an alert on an annotated deformation
    open_page(chrome, (out / "index.html").as_uri())
    chrome.find_element(By.CSS_SELECTOR, f'a.alert-link[data-alert-id="{alert["alert_id"]}"]').click()
    WebDriverWait(chrome, 20).until(lambda d: d.find_elements(By.ID, "pair-uid"))
    open_page(chrome, chrome.current_url)  # images loaded, no console errors
    assert chrome.find_element(By.ID, "pair-uid").text == alert["uid"]
    assert chrome.find_element(By.ID, "pair-frame").text == alert["frame_id"]
    assert chrome.find_element(By.ID, "pair-primary").text == alert["primary_date"].isoformat()
    assert chrome.find_element(By.ID, "pair-secondary").text == alert["secondary_date"].isoformat()
    assert chrome.find_element(By.ID, "pair-image").get_attribute("naturalWidth") not in (None, "0")
    screenshot(chrome, "alert")
    # and from the map: the alert's marker leads to the same page
    open_page(chrome, (out / "index.html").as_uri())
    marker = chrome.find_element(By.CSS_SELECTOR, f'#map .alert[data-alert-id="{alert["alert_id"]}"]')
    chrome.execute_script(
        "arguments[0].parentNode.dispatchEvent(new MouseEvent('click', {bubbles: true}))", marker
    )
    WebDriverWait(chrome, 20).until(lambda d: d.find_elements(By.ID, "pair-uid"))
    assert chrome.find_element(By.ID, "pair-uid").text == alert["uid"]


def test_volcano_timeline_and_stac_view(site, chrome) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    monitored, out = site
    open_page(chrome, (out / "index.html").as_uri())
    chrome.find_element(By.LINK_TEXT, "Kilauea").click()
    open_page(chrome, chrome.current_url)
    assert chrome.find_element(By.TAG_NAME, "h1").text == "Kilauea"
    kilauea = [a for a in monitored.alerts if a["volcano"] == "Kilauea"]
    assert len(chrome.find_elements(By.CSS_SELECTOR, "a.alert-link")) == len(kilauea) > 0
    screenshot(chrome, "volcano")

    chrome.find_element(By.LINK_TEXT, "STAC catalog").click()
    open_page(chrome, chrome.current_url)
    items = [e.get_attribute("data-item-id") for e in chrome.find_elements(By.CSS_SELECTOR, "tr.stac-item")]
    assert sorted(items) == _catalog_items(monitored.store)
    screenshot(chrome, "stac")
    for item in items:  # collection -> item -> assets and the frame's rows of the pair index
        open_page(chrome, (current_root(out) / "stac" / "index.html").as_uri())
        chrome.find_element(By.LINK_TEXT, item).click()
        open_page(chrome, chrome.current_url)
        assets = {
            e.find_element(By.TAG_NAME, "td").text
            for e in chrome.find_elements(By.CSS_SELECTOR, "tr.stac-asset")
        }
        assert {"zarr", "pairs"} <= assets
        n_pairs = sum(1 for s in monitored.scores if s["frame_id"] == item)
        assert len(chrome.find_elements(By.CSS_SELECTOR, "tr.pair-row")) == n_pairs
        n_alerts = sum(1 for a in monitored.alerts if a["frame_id"] == item)
        assert len(chrome.find_elements(By.CSS_SELECTOR, "tr.pair-row.alerted a")) == n_alerts
    screenshot(chrome, "stac-item")
