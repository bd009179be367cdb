"""Elastic half-space sources against independent closed forms and Okada's published check values."""

from __future__ import annotations

import numpy as np
import pytest

from hephaestus.ingest.synthetic import sources

# Okada (1985, BSSA 75:4) Table 2 / Okada (1992) checklist: surface displacement (ux, uy, uz) for unit
# slip on a fault of length L = 3, width W = 2, lambda = mu (nu = 0.25), observed at (x, y) with the
# lower edge at depth d. Values as published (4 significant digits).
OKADA_TABLE2 = [
    # (x, y, d, dip, mode, (ux, uy, uz))
    (2.0, 3.0, 4.0, 70.0, "strike", (-8.689e-3, -4.298e-3, -2.747e-3)),
    (2.0, 3.0, 4.0, 70.0, "dip", (-4.682e-3, -3.527e-2, -3.564e-2)),
    (2.0, 3.0, 4.0, 70.0, "tensile", (-2.660e-4, +1.056e-2, +3.214e-3)),
    (0.0, 0.0, 4.0, 90.0, "strike", (0.0, +5.253e-3, 0.0)),
    (0.0, 0.0, 4.0, 90.0, "dip", (0.0, 0.0, 0.0)),
    (0.0, 0.0, 4.0, 90.0, "tensile", (+1.223e-2, 0.0, -1.606e-2)),
]


@pytest.mark.parametrize(("x", "y", "d", "dip", "mode", "expected"), OKADA_TABLE2)
def test_okada85_matches_published_table(x, y, d, dip, mode, expected):
    slip = {"strike": {"strike_slip": 1.0}, "dip": {"dip_slip": 1.0}, "tensile": {"opening": 1.0}}[mode]
    got = sources.okada85(x, y, d, dip, 3.0, 2.0, nu=0.25, **slip)
    for g, e in zip(got, expected, strict=True):
        # published to 4 significant digits: agree within half a unit of the last printed digit
        half_unit = 0.5 * 10.0 ** (np.floor(np.log10(abs(e))) - 3) if e else 1e-9
        assert abs(float(g) - e) <= half_unit + 1e-12, (mode, float(g), e)


def _mogi_pressure_form(r, depth, radius, dp, mu):
    """Mogi (1958) uplift written with chamber radius a and overpressure dP (nu = 0.25):
    uz = 3 a^3 dP d / (4 mu (r^2 + d^2)^1.5); the volume change is dV = pi a^3 dP / mu."""
    return 3.0 * radius**3 * dp * depth / (4.0 * mu * (r**2 + depth**2) ** 1.5)


def test_mogi_uplift_at_centre_and_radius():
    depth, radius, dp, mu = 3000.0, 500.0, 20e6, 30e9
    dv = np.pi * radius**3 * dp / mu
    for r in (0.0, 1500.0, 3000.0, 9000.0):
        ue, un, uz = sources.mogi(r, 0.0, depth, dv, nu=0.25)
        assert float(uz) == pytest.approx(_mogi_pressure_form(r, depth, radius, dp, mu), rel=1e-12)
        assert float(un) == 0.0
        # horizontal / vertical = r / d for a point source
        assert float(ue) == pytest.approx(float(uz) * r / depth, rel=1e-12, abs=1e-18)
    # centre value: 3 a^3 dP / (4 mu d^2) = 3 * 1.25e8 * 2e7 / (4 * 3e10 * 9e6) = 6.944 mm by hand
    assert float(sources.mogi(0.0, 0.0, depth, dv)[2]) == pytest.approx(
        3 * 500.0**3 * 20e6 / (4 * 30e9 * 3000.0**2)
    )
    assert float(sources.mogi(0.0, 0.0, depth, dv)[2]) == pytest.approx(0.0069444, rel=1e-4)


def test_mogi_is_radially_symmetric_and_linear():
    ang = np.linspace(0, 2 * np.pi, 13)
    x, y = 2000 * np.cos(ang), 2000 * np.sin(ang)
    ue, un, uz = sources.mogi(x, y, 2500.0, 1e6)
    np.testing.assert_allclose(uz, uz[0])
    np.testing.assert_allclose(np.hypot(ue, un), np.hypot(ue[0], un[0]))
    np.testing.assert_allclose(sources.mogi(x, y, 2500.0, 3e6)[2], 3 * uz)


def test_small_horizontal_okada_tensile_is_a_point_crack():
    """A 100 m square sill at 3 km depth looks like a point crack: uz = 3 dV d^3 / (2 pi R^5)."""
    e = np.array([0.0, 1000.0, 3000.0, -2500.0])
    n = np.array([0.0, 500.0, -2000.0, 800.0])
    ue, un, uz = sources.rectangle(e, n, 0.0, 0.0, 3000.0, 30.0, 0.0, 100.0, 100.0, opening=1.0)
    dv, d = 100.0 * 100.0, 3000.0
    r5 = (e**2 + n**2 + d**2) ** 2.5
    np.testing.assert_allclose(uz, 3 * dv * d**3 / (2 * np.pi * r5), rtol=2e-3)
    np.testing.assert_allclose(ue, 3 * dv * e * d**2 / (2 * np.pi * r5), rtol=2e-3, atol=1e-12)


def test_penny_crack_small_radius_and_volume():
    """A small penny crack tends to the point crack of the same volume pi a^2 U."""
    e = np.array([0.0, 2000.0, 5000.0])
    uz = sources.penny_crack(e, 0.0, 4000.0, 200.0, 2.0)[2]
    dv = np.pi * 200.0**2 * 2.0
    np.testing.assert_allclose(uz, 3 * dv * 4000.0**3 / (2 * np.pi * (e**2 + 4000.0**2) ** 2.5), rtol=1e-2)


def test_spheroid_tends_to_mogi_when_short():
    e = np.linspace(-8000, 8000, 9)
    uz_s = sources.spheroid(e, 0.0, 4000.0, 50.0, 45.0, 30.0, 1e6)[2]
    uz_m = sources.mogi(e, 0.0, 4000.0, 1e6)[2]
    np.testing.assert_allclose(uz_s, uz_m, rtol=1e-3)


def test_strike_slip_is_antisymmetric_and_dyke_opening_uplifts_flanks():
    # Vertical strike-slip fault along north: uz is antisymmetric across the fault trace (quadrants).
    e = np.array([-2000.0, 2000.0])
    n = np.array([1500.0, 1500.0])
    uz = sources.rectangle(e, n, 0, 0, 3000.0, 0.0, 90.0, 6000.0, 4000.0, rake_deg=0.0, slip=1.0)[2]
    assert uz[0] == pytest.approx(-uz[1], rel=1e-9)
    # A vertical dyke opening pushes its flanks apart (east side moves east).
    ue = sources.rectangle(
        np.array([-1500.0, 1500.0]), np.zeros(2), 0, 0, 2000.0, 0.0, 90.0, 5000.0, 3000.0, opening=1.0
    )[0]
    assert ue[0] < 0 < ue[1]


@pytest.mark.parametrize("mode", ["strike", "dip", "tensile"])
def test_geographic_rectangle_reproduces_table2_case2_for_two_strikes(mode):
    """Okada's case 2 placed by centroid, strike and dip: strike 90 (x east, y north) and strike 0
    (x north, y west) must both give the published (ux, uy, uz) rotated into east/north."""
    ux, uy, uz = dict((m, e) for *_, m, e in OKADA_TABLE2[:3])[mode]
    length, width, dip = 3.0, 2.0, 70.0
    cos_d, sin_d = np.cos(np.radians(dip)), np.sin(np.radians(dip))
    # the observation point relative to the centroid, and the centroid depth, in Okada's frame
    x_rel, y_rel, depth_c = 2.0 - length / 2, 3.0 - width / 2 * cos_d, 4.0 - width / 2 * sin_d
    kw = {
        "strike": {"slip": 1.0, "rake_deg": 0.0},
        "dip": {"slip": 1.0, "rake_deg": 90.0},
        "tensile": {"opening": 1.0},
    }[mode]
    east = sources.rectangle(x_rel, y_rel, 0.0, 0.0, depth_c, 90.0, dip, length, width, **kw)
    np.testing.assert_allclose([float(v) for v in east], [ux, uy, uz], atol=6e-6)
    north = sources.rectangle(-y_rel, x_rel, 0.0, 0.0, depth_c, 0.0, dip, length, width, **kw)
    np.testing.assert_allclose([float(v) for v in north], [-uy, ux, uz], atol=6e-6)
