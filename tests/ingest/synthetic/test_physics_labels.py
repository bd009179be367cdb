"""Geometry, atmosphere, coherence and labelling against hand-derived values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio.features

from hephaestus.ingest.synthetic import atmosphere, coherence, geometry, labels, noise, sources

WAVELENGTH = 0.055465  # Sentinel-1 C band (m), written here independently of the code under test


def test_look_vectors_are_unit_and_point_to_the_satellite():
    e = np.array(0.0)
    n = np.array(0.0)
    asc = geometry.look_vectors(geometry.Viewing(heading_deg=-12.0, incidence_deg=39.0), e, n)
    dsc = geometry.look_vectors(geometry.Viewing(heading_deg=192.0, incidence_deg=39.0), e, n)
    for v in (asc, dsc):
        assert math.isclose(float(v[0] ** 2 + v[1] ** 2 + v[2] ** 2), 1.0, rel_tol=1e-12)
        assert float(v[2]) == pytest.approx(math.cos(math.radians(39.0)))
    # ascending looks east, so the satellite is to the west (E < 0); descending the opposite
    assert float(asc[0]) < -0.6 and float(dsc[0]) > 0.6
    # heading -12 deg: ground-to-satellite azimuth -102 deg -> a small southward component
    assert float(asc[1]) == pytest.approx(math.sin(math.radians(39.0)) * math.cos(math.radians(-102.0)))


def test_incidence_grows_away_from_the_satellite():
    view = geometry.Viewing(heading_deg=-12.0, incidence_deg=39.0)
    e = np.array([-20000.0, 20000.0])  # ascending: satellite to the west
    up = geometry.look_vectors(view, e, np.zeros(2))[2]
    assert up[0] > up[1]  # nearer the satellite: smaller incidence, larger vertical component


def test_one_fringe_is_half_a_wavelength():
    assert geometry.phase_of_los(np.array(WAVELENGTH / 2)) == pytest.approx(-2 * np.pi)
    assert geometry.fringes(np.array([0.0, 3 * WAVELENGTH / 2])) == pytest.approx(3.0)
    w = geometry.wrap(np.linspace(-20, 20, 1001))
    assert w.min() > -np.pi - 1e-12 and w.max() <= np.pi + 1e-12


def test_mogi_fringe_count_by_counting_wraps():
    """Peak LOS of 2.3 fringes from Mogi's closed form: 2 phase wraps along a radius; Medium intensity."""
    depth, nu = 2000.0, 0.25
    cos_inc = math.cos(math.radians(35.0))
    target_peak = 2.3 * WAVELENGTH / 2  # LOS metres at the centre, where the motion is vertical
    dv = target_peak / cos_inc * math.pi * depth**2 / (1 - nu)  # uz(0) = (1 - nu) dV / (pi d^2)
    r = np.linspace(60000.0, 0.0, 20001)  # far field -> centre
    ue, un, uz = sources.mogi(r, 0.0, depth, dv, nu)
    look = (np.zeros_like(r), np.zeros_like(r), np.full_like(r, cos_inc))
    d_los = geometry.los(ue, un, uz, look)
    assert d_los[-1] == pytest.approx(target_peak, rel=1e-9)
    wrapped = geometry.wrap(geometry.phase_of_los(d_los))
    wraps = int(np.sum(np.abs(np.diff(wrapped)) > np.pi))
    assert wraps == 2
    assert labels.intensity_of_fringes(geometry.fringes(d_los)) == "Medium"


@pytest.mark.parametrize(
    ("n", "level"),
    [
        (0.6, "Low"),
        (1.0, "Low"),
        (1.9, "Low"),
        (2.0, "Medium"),
        (3.7, "Medium"),
        (4.0, "High"),
        (9.3, "High"),
    ],
)
def test_intensity_follows_fringe_count(n, level):
    assert labels.intensity_of_fringes(n) == level


def test_mask_of_a_mogi_is_the_disc_where_los_exceeds_half_a_fringe():
    depth, dv, px = 3000.0, 4e6, 100.0
    y, x = np.mgrid[-100:100, -100:100] * px + px / 2
    uz = sources.mogi(x, y, depth, dv)[2]
    mask = labels.deformation_mask(uz, np.ones_like(uz, bool), 0.5)
    thr = 0.5 * WAVELENGTH / 2
    big_r = ((1 - 0.25) * dv * depth / (math.pi * thr)) ** (1 / 3)  # uz = thr at slant distance R
    radius = math.sqrt(big_r**2 - depth**2)
    assert mask.sum() * px**2 == pytest.approx(math.pi * radius**2, rel=0.03)


def test_polygons_round_trip_to_the_mask_in_pixel_coordinates():
    mask = np.zeros((40, 60), bool)
    mask[3:10, 45:58] = True  # top-right block
    mask[25:35, 5:12] = True
    mask[28:31, 8:10] = False  # a hole: the outlines keep exteriors only
    polys = labels.polygons(mask)
    assert len(polys) == 2
    first = polys[0]
    xs, ys = first[0::2], first[1::2]
    assert (min(xs), max(xs), min(ys), max(ys)) == (45.0, 58.0, 3.0, 10.0)  # x = column, y = row
    assert all(isinstance(v, float) for p in polys for v in p)
    shapes = [
        ({"type": "Polygon", "coordinates": [list(zip(p[0::2], p[1::2], strict=True))]}, 1) for p in polys
    ]
    back = rasterio.features.rasterize(shapes, out_shape=mask.shape, dtype="uint8").astype(bool)
    expected = mask.copy()
    expected[28:31, 8:10] = True  # exteriors only
    np.testing.assert_array_equal(back, expected)


def test_location_words():
    m = np.zeros((90, 90), bool)
    m[5:20, 70:85] = True
    assert labels.location_words(m) == "top-right"
    m[:] = False
    m[70:85, 40:50] = True
    assert labels.location_words(m) == "bottom"


def test_zenith_wet_delay_and_stratified_phase_by_hand():
    w = atmosphere.Weather(20.0, 0.0, 0.0, 0.0, 0.0, 250.0, 0.0, 0.0)
    z = np.array([0.0, 2000.0])
    zwd = atmosphere.zenith_wet_delay(w, np.zeros(2), np.zeros(2), 9.0, z, 6.2, 2000.0)
    # 20 kg m-2 = 20 mm of precipitable water; ZWD = 6.2 * PWV; at 2 km the column is e^-1 of it
    np.testing.assert_allclose(zwd, [0.124, 0.124 * math.exp(-1)], rtol=1e-12)
    w2 = atmosphere.Weather(30.0, 0.0, 0.0, 0.0, 0.0, 250.0, 0.0, 0.0)
    zwd2 = atmosphere.zenith_wet_delay(w2, np.zeros(2), np.zeros(2), 9.0, z, 6.2, 2000.0)
    phase = atmosphere.stratified_phase(zwd, zwd2, np.ones(2))
    # 10 kg m-2 more vapour at sea level: 6.2 cm more delay -> 4 pi / lambda * 0.062 rad
    assert phase[0] == pytest.approx(4 * math.pi / WAVELENGTH * 0.062)
    # the elevation dependence: a 2 km summit sees e^-1 of it
    assert phase[1] == pytest.approx(phase[0] * math.exp(-1))


def test_era5_fields_are_physical():
    grid = atmosphere.Era5Grid.covering(37.6, 37.9, 14.8, 15.1)
    assert np.all(np.diff(grid.latitude) == -0.25) and np.all(np.diff(grid.longitude) == 0.25)
    assert grid.latitude[0] >= 37.9 + 0.25 and grid.latitude[-1] <= 37.6 - 0.25
    oro = np.zeros((grid.latitude.size, grid.longitude.size))
    oro[1, 1] = 3000.0
    w = atmosphere.Weather(20.0, 0.0, 0.0, 0.0, 0.0, 250.0, 37.75, 15.0)
    f = atmosphere.era5_fields(w, grid, oro, 2000.0)
    assert f["tcwv"].shape == (24, grid.latitude.size, grid.longitude.size)
    assert f["tcwv"][9, 0, 0] == pytest.approx(20.0, rel=1e-6)
    assert f["tcwv"][9, 1, 1] == pytest.approx(20.0 * math.exp(-1.5), rel=1e-6)
    assert f["sp"][0, 1, 1] / f["sp"][0, 0, 0] == pytest.approx(math.exp(-3000 / 8000), rel=1e-6)
    assert f["vit"][0, 0, 0] == pytest.approx(250.0 * f["sp"][0, 0, 0] / 9.80665, rel=1e-6)


def test_power_law_field_has_the_requested_spectral_slope():
    rng = np.random.default_rng(1)
    f = noise.power_law_field((256, 256), 8 / 3, rng)
    assert f.mean() == pytest.approx(0.0, abs=1e-9) and f.std() == pytest.approx(1.0)
    p = np.abs(np.fft.rfft2(f)) ** 2
    ky = np.fft.fftfreq(256)[:, None]
    kx = np.fft.rfftfreq(256)[None, :]
    k = np.sqrt(kx**2 + ky**2)
    sel = (k > 0.02) & (k < 0.2)
    slope = np.polyfit(np.log(k[sel]), np.log(p[sel]), 1)[0]
    assert slope == pytest.approx(-8 / 3, abs=0.35)


def test_multilook_phase_noise_follows_cramer_rao_and_is_uniform_without_coherence():
    rng = np.random.default_rng(0)
    for gamma in (0.8, 0.9):
        noise, coh = coherence.multilook(np.full((400, 400), gamma), 20, rng)
        cramer_rao = math.sqrt(1 - gamma**2) / (gamma * math.sqrt(40))  # 0.1186, 0.0766 rad
        # the exact L-look phase std sits just above the bound (within 5 % at 20 looks)
        assert cramer_rao <= noise.std() <= 1.05 * cramer_rao
        assert coh.mean() == pytest.approx(gamma, abs=0.01)  # nearly unbiased at high coherence
    noise, coh = coherence.multilook(np.zeros((400, 400)), 20, rng)
    assert noise.std() == pytest.approx(np.pi / math.sqrt(3), rel=0.01)  # uniform phase
    # the L-look estimate of a zero coherence: E = Gamma(L) Gamma(3/2) / Gamma(L + 1/2) (Touzi 1999)
    expected = math.gamma(20) * math.gamma(1.5) / math.gamma(20.5)  # 0.1994
    assert coh.mean() == pytest.approx(expected, rel=0.01)


def test_written_coherence_is_the_one_that_drove_the_noise():
    """Pixels whose drawn looks came out less coherent are the noisier ones: the estimate and the noise
    come from the same looks (independent draws would show no difference between the halves)."""
    noise, coh = coherence.multilook(np.full((300, 300), 0.5), 10, np.random.default_rng(2))
    lower = coh < np.median(coh)
    assert noise[lower].std() > 1.3 * noise[~lower].std()  # 1.6 here


def test_two_regime_turbulence_spectrum():
    """8/3 above the crossover wavelength (16 px here), 11/3 below: smooth from pixel to pixel."""
    fields = [
        noise.power_law_field(
            (256, 256), 8 / 3, np.random.default_rng(s), beta_short=11 / 3, crossover_px=16.0
        )
        for s in range(4)
    ]
    assert all(f.mean() == pytest.approx(0.0, abs=1e-9) and f.std() == pytest.approx(1.0) for f in fields)
    p = np.mean([np.abs(np.fft.rfft2(f)) ** 2 for f in fields], axis=0)
    k = np.sqrt(np.fft.rfftfreq(256)[None, :] ** 2 + np.fft.fftfreq(256)[:, None] ** 2)
    for lo, hi, slope in ((0.01, 0.05, -8 / 3), (0.1, 0.4, -11 / 3)):
        sel = (k > lo) & (k < hi)
        assert np.polyfit(np.log(k[sel]), np.log(p[sel]), 1)[0] == pytest.approx(slope, abs=0.3)
    # same variance, less of it between neighbours than with one 8/3 regime (0.58 of it here)
    one = [noise.power_law_field((256, 256), 8 / 3, np.random.default_rng(s)) for s in range(4)]
    assert np.mean([np.diff(f, axis=1).std() for f in fields]) < 0.7 * np.mean(
        [np.diff(f, axis=1).std() for f in one]
    )


def test_temporal_decorrelation_and_water():
    veg = np.array([0.9, 0.9, 0.0])
    theta = np.full(3, 40.0)
    water = np.array([False, False, False])
    g6 = coherence.true_coherence(6, veg, theta, water, 1.0, 24.0)
    g48 = coherence.true_coherence(48, veg, theta, water, 1.0, 24.0)
    assert np.all(g48 < g6) and g6[2] > g6[0]  # bare lava keeps coherence longer
    assert coherence.true_coherence(6, veg, theta, np.array([True] * 3), 1.0, 24.0).max() == 0.0
