"""The status board (issue 24, item 3) in headless Chromium, on file:// URLs: volcanoes ranked by status,
frames coloured by status, "new since the last cycle" badges, tables that sort on a header click and
filter as one types, a volcano's pairs browsed with previous / next, an alert's GeoTIFF that rasterio
opens on the cube's grid, no console error anywhere. Screenshots: tests/artifacts/dashboard/board.png,
volcano-page.png, pair.png.

Expectations come from the hand-written tables of dashboard_store.py (statuses, detection times, the
false alarm's pixel box) and the cubes read directly, not from the site's own code.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import xarray as xr
from browser import open_page, screenshot, severe
from dashboard_store import (
    BOARD_ORDER,
    EPISODE_STATUS,
    VOLCANO_FRAMES,
    WHEN,
    current_root,
)

STATUS_RANK = {"new": 0, "ongoing": 1, "quiet": 2}
FALSE_ALARM_BOX = (5, 15, 5, 20)
"""Rows and columns (inclusive) of the false alarm's polygon in dashboard_store.py."""


def _visible_rows(driver, table_id: str) -> list:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return [r for r in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr") if r.is_displayed()]


def test_board_ranks_volcanoes_by_status_and_marks_what_is_new(site, chrome) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    monitored, out = site
    open_page(chrome, (out / "index.html").as_uri())
    rows = chrome.find_elements(By.CSS_SELECTOR, "#board-table tr.board-row")
    names = [r.find_element(By.CSS_SELECTOR, "a.volcano-link").text for r in rows]
    assert names[:3] == BOARD_ORDER
    statuses = [r.get_attribute("data-status") for r in rows]
    assert statuses[:3] == ["new", "ongoing", "quiet"]
    assert [STATUS_RANK[s] for s in statuses] == sorted(STATUS_RANK[s] for s in statuses)
    # the "new" badge: on the volcano whose alerts the latest cycle raised, and on exactly those alerts
    assert [bool(r.find_elements(By.CSS_SELECTOR, ".badge.new")) for r in rows[:3]] == [True, False, False]
    new_alerts = {a["alert_id"] for a in monitored.alerts if a["detected_at"] == WHEN}
    assert new_alerts and new_alerts == {a["alert_id"] for a in monitored.alerts if a["volcano"] == "Kilauea"}
    marked = {
        r.find_element(By.CSS_SELECTOR, "a.alert-link").get_attribute("data-alert-id")
        for r in chrome.find_elements(By.CSS_SELECTOR, "#alerts-table tr.alert-row")
        if r.find_elements(By.CSS_SELECTOR, ".badge.new")
    }
    assert marked == new_alerts
    episodes = chrome.find_elements(By.CSS_SELECTOR, "#episodes-table tr.episode-row")
    assert len(episodes) == len(monitored.episodes)
    # the map: frames coloured by their volcano's status, the view on the frames, not the world
    colour = {
        e.get_attribute("data-frame-id"): e.get_attribute("data-status")
        for e in chrome.find_elements(By.CSS_SELECTOR, "#map path.frame")
    }
    expected = {"opened": "new", "ongoing": "ongoing", "ended": "quiet"}
    assert colour == {f: expected[EPISODE_STATUS[name]] for f, _n, name, _a, _o in VOLCANO_FRAMES}
    view = chrome.execute_script("return document.getElementById('map').getAttribute('viewBox')")
    box = [float(x) for x in view.split()]
    lons = [lon for *_x, lon in VOLCANO_FRAMES]
    assert box[0] <= min(lons) and box[0] + box[2] >= max(lons) and box[2] < 360
    screenshot(chrome, "board")


def test_clicking_a_header_sorts_the_alerts(site, chrome) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    monitored, out = site
    open_page(chrome, (out / "index.html").as_uri())
    header = next(
        th
        for th in chrome.find_elements(By.CSS_SELECTOR, "#alerts-table thead th")
        if th.text.startswith("score")
    )
    col = chrome.execute_script("return arguments[0].cellIndex", header)

    def scores() -> list[float]:
        return [
            float(r.find_elements(By.TAG_NAME, "td")[col].text) for r in _visible_rows(chrome, "alerts-table")
        ]

    want = sorted(round(float(a["score"]), 3) for a in monitored.alerts)
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert scores() == want
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    assert scores() == want[::-1]
    # a date column sorts by date
    secondary = next(
        th
        for th in chrome.find_elements(By.CSS_SELECTOR, "#alerts-table thead th")
        if th.text.startswith("secondary")
    )
    secondary.click()
    dates = [r.find_elements(By.TAG_NAME, "td")[4].text for r in _visible_rows(chrome, "alerts-table")]
    assert dates == sorted(a["secondary_date"].isoformat() for a in monitored.alerts)
    assert severe(chrome) == []


def test_typing_a_filter_hides_rows(site, chrome) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    monitored, out = site
    open_page(chrome, (out / "index.html").as_uri())
    form = chrome.find_element(By.CSS_SELECTOR, 'form.filters[data-table="alerts-table"]')
    assert len(_visible_rows(chrome, "alerts-table")) == len(monitored.alerts)
    form.find_element(By.NAME, "volcano").send_keys("etn")
    etna = [a for a in monitored.alerts if a["volcano"] == "Etna"]
    assert 0 < len(_visible_rows(chrome, "alerts-table")) == len(etna) < len(monitored.alerts)
    form.find_element(By.CSS_SELECTOR, "button[type=reset]").click()
    assert len(_visible_rows(chrome, "alerts-table")) == len(monitored.alerts)
    form.find_element(By.NAME, "score").send_keys("0.9")
    assert len(_visible_rows(chrome, "alerts-table")) == sum(a["score"] >= 0.9 for a in monitored.alerts)
    form.find_element(By.CSS_SELECTOR, "button[type=reset]").click()
    from selenium.webdriver.support.ui import Select

    Select(form.find_element(By.NAME, "status")).select_by_value("new")
    assert len(_visible_rows(chrome, "alerts-table")) == sum(
        a["detected_at"] == WHEN for a in monitored.alerts
    )
    form.find_element(By.CSS_SELECTOR, "button[type=reset]").click()
    # a date range: alerts whose pair overlaps it (set as a date picker would, then its input event)
    latest = max(a["secondary_date"] for a in monitored.alerts)
    chrome.execute_script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}))",
        form.find_element(By.NAME, "from"),
        latest.isoformat(),
    )
    assert len(_visible_rows(chrome, "alerts-table")) == sum(
        a["secondary_date"] >= latest for a in monitored.alerts
    )
    # the board filters too
    board = chrome.find_element(By.CSS_SELECTOR, 'form.filters[data-table="board-table"]')
    Select(board.find_element(By.NAME, "status")).select_by_value("ongoing")
    shown = _visible_rows(chrome, "board-table")
    assert [r.find_element(By.CSS_SELECTOR, "a.volcano-link").text for r in shown] == ["Etna"]
    assert severe(chrome) == []


def _cube_grid(store: Path, frame: str) -> tuple[np.ndarray, np.ndarray]:
    with xr.open_zarr(store / "cubes" / f"{frame}.zarr") as ds:
        return np.asarray(ds["latitude"].values), np.asarray(ds["longitude"].values)


def test_volcano_pairs_browse_with_previous_and_next(site, chrome) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    monitored, out = site
    open_page(chrome, (out / "index.html").as_uri())
    chrome.find_element(By.LINK_TEXT, "Kilauea").click()
    open_page(chrome, chrome.current_url)
    assert chrome.find_element(By.TAG_NAME, "h1").text == "Kilauea"
    mine = sorted(
        (s for s in monitored.scores if s["volcano"] == "Kilauea"),
        key=lambda s: (s["secondary_date"], s["primary_date"]),
    )
    assert len(chrome.find_elements(By.CSS_SELECTOR, "#pairs-table a.pair-link")) == len(mine) > 2
    screenshot(chrome, "volcano-page")
    chrome.find_element(By.ID, "first-pair").click()
    seen = []
    while True:
        open_page(chrome, chrome.current_url)
        seen.append(chrome.find_element(By.ID, "pair-uid").text)
        img = chrome.find_element(By.ID, "pair-image")
        assert int(img.get_attribute("naturalWidth")) > 0
        nxt = chrome.find_elements(By.ID, "next-pair")
        if not nxt:
            break
        nxt[0].click()
    assert seen == [s["uid"] for s in mine]  # every pair, alerted or not, in date order
    assert chrome.find_elements(By.ID, "next-none")
    chrome.find_element(By.ID, "prev-pair").click()
    open_page(chrome, chrome.current_url)
    assert chrome.find_element(By.ID, "pair-uid").text == mine[-2]["uid"]
    # an alerted pair shows its predicted mask over the image; screenshot it
    alerted = next(s for s in mine if s["alert"])
    open_page(chrome, (current_root(out) / "pairs" / f"{alerted['uid']}.html").as_uri())
    assert chrome.find_elements(By.CSS_SELECTOR, "svg.overlay path.predicted")
    screenshot(chrome, "pair")


def test_an_alerts_geotiff_is_its_mask_on_the_cube_grid(site, chrome) -> None:  # type: ignore[no-untyped-def]
    import rasterio
    from rasterio.transform import from_origin
    from selenium.webdriver.common.by import By

    monitored, out = site
    false_alarm = next(a for a in monitored.alerts if a["score"] < 0.9)
    open_page(chrome, (current_root(out) / "alerts" / f"{false_alarm['alert_id']}.html").as_uri())
    href = chrome.find_element(By.CSS_SELECTOR, "a.geotiff").get_attribute("href")
    path = Path(unquote(urlparse(href).path))
    assert path.is_file()
    lat, lon = _cube_grid(monitored.store, false_alarm["frame_id"])
    step = 0.001
    with rasterio.open(path) as tif:
        assert tif.crs.to_epsg() == 4326
        assert tif.transform.almost_equals(from_origin(lon[0] - step / 2, lat[0] + step / 2, step, step))
        assert (tif.height, tif.width) == (lat.size, lon.size)
        mask = tif.read(1)
    r0, r1, c0, c1 = FALSE_ALARM_BOX
    assert np.all(mask[r0 : r1 + 1, c0 : c1 + 1] == 1)
    assert int(mask.sum()) == (r1 - r0 + 1) * (c1 - c0 + 1)
