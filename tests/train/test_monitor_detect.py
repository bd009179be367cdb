"""What an alert says about a predicted mask: area, outline, fringe count, intensity, volcano.

Expectations are hand-computed (spherical cell areas, a ramp of k cycles, pixel corners) or published
(the GVP table's own coordinates of Etna)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from hephaestus.monitor.config import MonitorConfig, parse_duration
from hephaestus.monitor.detect import deformed_area_km2, describe, fringe_count, mask_polygon
from hephaestus.platform import volcanoes
from hephaestus.platform.pairs import pair_uid

R = 6371.0088
LAT = 40.0 - (np.arange(20) + 0.5) * 0.001  # pixel centres, north up, 0.001 deg
LON = 14.0 + (np.arange(30) + 0.5) * 0.001


def test_area_is_the_spherical_area_of_the_cells() -> None:
    mask = np.zeros((20, 30), bool)
    mask[2:12, 5:25] = True  # 10 rows x 20 columns
    top, bottom = math.radians(40.0 - 0.002), math.radians(40.0 - 0.012)
    expected = R**2 * math.radians(20 * 0.001) * (math.sin(top) - math.sin(bottom))
    assert deformed_area_km2(mask, LAT, LON) == pytest.approx(expected, rel=1e-9)
    # ~ (111.2 km * 0.01) * (111.2 km * cos 40 * 0.02) = 1.112 * 1.704
    assert expected == pytest.approx(1.1119 * 1.7036, rel=2e-3)


def test_outline_is_the_mask_rectangle_in_lon_lat() -> None:
    mask = np.zeros((20, 30), bool)
    mask[2:12, 5:25] = True
    geom = mask_polygon(mask, LAT, LON)
    assert geom is not None and geom["type"] == "Polygon"
    xs = [x for x, _ in geom["coordinates"][0]]
    ys = [y for _, y in geom["coordinates"][0]]
    assert (min(xs), max(xs)) == pytest.approx((14.005, 14.025))  # pixel corners
    assert (min(ys), max(ys)) == pytest.approx((39.988, 39.998))
    mask[15:18, 0:2] = True
    assert mask_polygon(mask, LAT, LON)["type"] == "MultiPolygon"
    assert mask_polygon(np.zeros((20, 30), bool), LAT, LON) is None


@pytest.mark.parametrize("cycles", [1, 3, 6])
def test_fringe_count_of_a_phase_ramp(cycles: int) -> None:
    """A ramp of k whole cycles across the region, wrapped and a little noisy, counts k fringes."""
    rng = np.random.default_rng(cycles)
    cols = np.arange(30)
    unwrapped = np.tile(2 * np.pi * cycles * cols / 29, (20, 1)) + rng.normal(0, 0.3, (20, 30))
    phase = np.angle(np.exp(1j * unwrapped)).astype(np.float32)
    mask = np.ones((20, 30), bool)
    assert fringe_count(phase, mask) == cycles


def test_describe_gives_the_annotators_intensity() -> None:
    cols = np.arange(30)
    phase = np.angle(np.exp(1j * np.tile(2 * np.pi * 5 * cols / 29, (20, 1)))).astype(np.float32)
    found = describe(np.ones((20, 30), bool), phase, LAT, LON)
    assert found.fringes == 5 and found.intensity == "High"  # >= 4 fringes: High (paper, section 3)
    assert json.loads(found.polygon)["type"] == "Polygon"
    assert found.centroid == pytest.approx((LAT.mean(), LON.mean()))


def test_nearest_volcano_from_the_gvp_table(tmp_path: Path) -> None:
    if not volcanoes.DEFAULT_GVP.exists():
        pytest.skip("no GVP table beside this checkout")
    etna = volcanoes.nearest(37.748 + 0.01, 14.999 - 0.01)  # GVP: Etna 37.748 N, 14.999 E, number 211060
    assert etna is not None and etna.name == "Etna" and etna.number == 211060
    assert volcanoes.nearest(0.0, -30.0) is None  # mid-Atlantic: nothing within 100 km
    bad = tmp_path / "gvp.csv"
    bad.write_text("volcano_number,volcano_name,latitude\n1,X,north\n")
    with pytest.raises(volcanoes.VolcanoTableError, match="gvp.csv"):
        volcanoes.read_table(bad)


def test_pair_uid_and_durations() -> None:
    import datetime as dt

    assert pair_uid("001A_00001_000001", dt.date(2020, 1, 2), dt.date(2020, 1, 14)) == (
        "001A_00001_000001_20200102_20200114"
    )
    assert [parse_duration(t) for t in ("90", "90s", "15m", "6h", "1d")] == [90, 90, 900, 21600, 86400]
    cfg = MonitorConfig(sources="s", store="t", checkpoints=("c",), every="15m")
    assert cfg.every == 900
    with pytest.raises(ValueError):
        parse_duration("soon")
