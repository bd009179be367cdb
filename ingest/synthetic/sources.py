"""Analytic elastic half-space sources: surface displacement (east, north, up) in metres.

Coordinates are local east/north metres on the surface, depths positive down, an elastic,
homogeneous, isotropic half-space with Poisson ratio `nu`. Every function is vectorised over the
observation points and linear in the source strength (volume change, opening or slip), which the
generator uses to scale a source to a target fringe count.

- `mogi`: point centre of dilatation (Mogi 1958).
- `okada85`: finite rectangular dislocation (Okada 1985, BSSA 75:4), strike-slip, dip-slip and
  tensile, in Okada's own frame; `rectangle` places it by centroid, strike and dip.
- `penny_crack`: horizontal circular crack of uniform opening, integrated from horizontal point
  cracks (Okada 1985 point tensile source with dip 0). It neglects the interaction of a large crack
  with the free surface (Fialko et al. 2001), fine for radius <= depth.
- `spheroid`: a prolate pressurised body approximated by a line of Mogi sources along its axis,
  weighted by the cross-section area (the idea of Yang et al. 1988, without the double forces).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Displacement = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


def mogi(x: ArrayLike, y: ArrayLike, depth: float, dvolume: float, nu: float = 0.25) -> Displacement:
    """Surface displacement of a point volume change `dvolume` (m^3) at `depth` below (0, 0)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    r3 = (x * x + y * y + depth * depth) ** 1.5
    c = (1.0 - nu) * dvolume / np.pi
    return c * x / r3, c * y / r3, c * depth / r3


def point_crack(x: ArrayLike, y: ArrayLike, depth: float, dvolume: float) -> Displacement:
    """Horizontal point tensile crack (sill) of volume `dvolume` at `depth`: independent of nu."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    r5 = (x * x + y * y + depth * depth) ** 2.5
    c = 3.0 * dvolume / (2.0 * np.pi)
    return c * x * depth**2 / r5, c * y * depth**2 / r5, c * depth**3 / r5


def _okada_corner(xi, eta, q, cs, sn, a):  # type: ignore[no-untyped-def]
    """Okada (1985) eqs. 25-30 at one corner of Chinnery's notation; returns 9 terms (3 modes x 3 axes)."""
    r = np.sqrt(xi * xi + eta * eta + q * q)
    yt = eta * cs + q * sn
    dt = eta * sn - q * cs
    rx = np.sqrt(xi * xi + q * q)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Singular points (Okada 1992 rules): q = 0 -> arctan term 0; R + eta = 0 -> use -ln(R - eta)
        # and 1/(R(R+eta)) = 0; R + xi = 0 -> 1/(R(R+xi)) = 0; xi = 0 -> I5 = 0.
        theta = np.where(q == 0.0, 0.0, np.arctan(xi * eta / (q * r)))
        r_eta = r + eta
        pos_eta = r_eta > 1e-12 * np.maximum(r, 1.0)
        ln_re = np.where(pos_eta, np.log(np.where(pos_eta, r_eta, 1.0)), -np.log(np.maximum(r - eta, 1e-300)))
        inv_re = np.where(pos_eta, 1.0 / (r * np.where(pos_eta, r_eta, 1.0)), 0.0)  # 1 / (R (R + eta))
        r_xi = r + xi
        pos_xi = r_xi > 1e-12 * np.maximum(r, 1.0)
        inv_rx = np.where(pos_xi, 1.0 / (r * np.where(pos_xi, r_xi, 1.0)), 0.0)  # 1 / (R (R + xi))
        rd = r + dt
        if cs != 0.0:
            i5 = np.where(
                xi == 0.0,
                0.0,
                a * 2.0 / cs * np.arctan((eta * (rx + q * cs) + rx * (r + rx) * sn) / (xi * (r + rx) * cs)),
            )
            i4 = a / cs * (np.log(rd) - sn * ln_re)
            i3 = a * (yt / (cs * rd) - ln_re) + sn / cs * i4
            i2 = a * (-ln_re) - i3
            i1 = a * (-xi / (cs * rd)) - sn / cs * i5
        else:
            i1 = -0.5 * a * xi * q / rd**2
            i3 = 0.5 * a * (eta / rd + yt * q / rd**2 - ln_re)
            i2 = a * (-ln_re) - i3
            i4 = -a * q / rd
            i5 = -a * xi * sn / rd
        q_over_re = q * r * inv_re  # q / (R + eta)
        strike = (
            xi * q * inv_re + theta + i1 * sn,
            yt * q * inv_re + q_over_re * cs + i2 * sn,
            dt * q * inv_re + q_over_re * sn + i4 * sn,
        )
        dip = (
            q / r - i3 * sn * cs,
            yt * q * inv_rx + cs * theta - i1 * sn * cs,
            dt * q * inv_rx + sn * theta - i5 * sn * cs,
        )
        tens = (
            q * q * inv_re - i3 * sn * sn,
            -dt * q * inv_rx - sn * (xi * q * inv_re - theta) - i1 * sn * sn,
            yt * q * inv_rx + cs * (xi * q * inv_re - theta) - i5 * sn * sn,
        )
    return strike, dip, tens


def okada85(
    x: ArrayLike,
    y: ArrayLike,
    depth: float,
    dip_deg: float,
    length: float,
    width: float,
    strike_slip: float = 0.0,
    dip_slip: float = 0.0,
    opening: float = 0.0,
    nu: float = 0.25,
) -> Displacement:
    """Okada (1985) surface displacement in Okada's frame.

    x runs along strike, y across (the fault rises towards +y), z up; the fault spans 0 <= x <= length
    and its lower edge lies at `depth` below the x axis; `width` is measured along dip. Returns
    (ux, uy, uz) for slips `strike_slip` (U1), `dip_slip` (U2) and `opening` (U3).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    dip = np.deg2rad(dip_deg)
    cs, sn = float(np.cos(dip)), float(np.sin(dip))
    if abs(cs) < 1e-12:  # vertical fault: use the exact cos = 0 branch of the I terms
        cs, sn = 0.0, float(np.sign(sn))
    a = 1.0 - 2.0 * nu  # mu / (lambda + mu)
    p = y * cs + depth * sn
    q = y * sn - depth * cs
    ux = np.zeros(np.broadcast(x, y).shape)
    uy = np.zeros_like(ux)
    uz = np.zeros_like(ux)
    weights = (-strike_slip / (2 * np.pi), -dip_slip / (2 * np.pi), opening / (2 * np.pi))
    # Chinnery's notation: f(x, p) - f(x, p - W) - f(x - L, p) + f(x - L, p - W)
    for xi, eta, sign in (
        (x, p, 1.0),
        (x, p - width, -1.0),
        (x - length, p, -1.0),
        (x - length, p - width, 1.0),
    ):
        modes = _okada_corner(xi, eta, q, cs, sn, a)
        for w, (fx, fy, fz) in zip(weights, modes, strict=True):
            if w == 0.0:
                continue
            ux += sign * w * fx
            uy += sign * w * fy
            uz += sign * w * fz
    return ux, uy, uz


def rectangle(
    east: ArrayLike,
    north: ArrayLike,
    centroid_east: float,
    centroid_north: float,
    centroid_depth: float,
    strike_deg: float,
    dip_deg: float,
    length: float,
    width: float,
    rake_deg: float = 0.0,
    slip: float = 0.0,
    opening: float = 0.0,
    nu: float = 0.25,
) -> Displacement:
    """Okada rectangle placed by its centroid; strike clockwise from north, dip to the right of strike."""
    east = np.asarray(east, dtype=np.float64) - centroid_east
    north = np.asarray(north, dtype=np.float64) - centroid_north
    st = np.deg2rad(strike_deg)
    dip = np.deg2rad(dip_deg)
    # Okada's x along strike, y to the left of strike (up-dip side); origin above the lower-left corner.
    x = east * np.sin(st) + north * np.cos(st) + length / 2.0
    y = -east * np.cos(st) + north * np.sin(st) + width / 2.0 * np.cos(dip)
    depth = centroid_depth + width / 2.0 * np.sin(dip)
    rake = np.deg2rad(rake_deg)
    ux, uy, uz = okada85(
        x, y, depth, dip_deg, length, width, slip * np.cos(rake), slip * np.sin(rake), opening, nu
    )
    ue = ux * np.sin(st) - uy * np.cos(st)
    un = ux * np.cos(st) + uy * np.sin(st)
    return ue, un, uz


def penny_crack(
    x: ArrayLike, y: ArrayLike, depth: float, radius: float, opening: float, rings: int = 8, sectors: int = 16
) -> Displacement:
    """Horizontal circular crack of uniform `opening` (m) and `radius` at `depth` below (0, 0)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    # Midpoint rule in polar coordinates: ring k covers radii [k, k+1] * radius / rings.
    r_edges = np.linspace(0.0, radius, rings + 1)
    r_mid = 0.5 * (r_edges[1:] + r_edges[:-1])
    area = np.pi * (r_edges[1:] ** 2 - r_edges[:-1] ** 2) / sectors
    angles = (np.arange(sectors) + 0.5) * 2 * np.pi / sectors
    ue = np.zeros(np.broadcast(x, y).shape)
    un = np.zeros_like(ue)
    uz = np.zeros_like(ue)
    for rk, ak in zip(r_mid, area, strict=True):
        for th in angles:
            de, dn, dz = point_crack(x - rk * np.cos(th), y - rk * np.sin(th), depth, opening * ak)
            ue += de
            un += dn
            uz += dz
    return ue, un, uz


def spheroid(
    x: ArrayLike,
    y: ArrayLike,
    depth: float,
    semi_axis: float,
    plunge_deg: float,
    azimuth_deg: float,
    dvolume: float,
    nu: float = 0.25,
    points: int = 15,
) -> Displacement:
    """Prolate pressurised body: `points` Mogi sources along its long axis, weights ~ cross-section."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    t = (np.arange(points) + 0.5) / points * 2.0 - 1.0
    w = 1.0 - t * t
    w /= w.sum()
    pl, az = np.deg2rad(plunge_deg), np.deg2rad(azimuth_deg)
    ue = np.zeros(np.broadcast(x, y).shape)
    un = np.zeros_like(ue)
    uz = np.zeros_like(ue)
    for tk, wk in zip(t, w, strict=True):
        horiz = tk * semi_axis * np.cos(pl)
        dk = depth + tk * semi_axis * np.sin(pl)
        if dk <= 0:
            raise ValueError(f"spheroid reaches the surface: depth {depth} m, semi-axis {semi_axis} m")
        de, dn, dz = mogi(x - horiz * np.sin(az), y - horiz * np.cos(az), dk, dvolume * wk, nu)
        ue += de
        un += dn
        uz += dz
    return ue, un, uz


@dataclass(frozen=True)
class SourceModel:
    """One drawn source: its annotation type, model name and parameters (strength for a unit response)."""

    activity_type: str  # Mogi | Dyke | Sill | Spheroid | Earthquake
    model: str  # mogi | okada | penny | spheroid
    params: tuple[tuple[str, float], ...]

    def displacement(self, east: NDArray, north: NDArray, nu: float, strength: float = 1.0) -> Displacement:
        """Displacement for `strength` times the unit source (volume m^3, opening or slip m)."""
        p = dict(self.params)
        e, n = east - p["east"], north - p["north"]
        if self.model == "mogi":
            return mogi(e, n, p["depth"], strength, nu)
        if self.model == "penny":
            return penny_crack(e, n, p["depth"], p["radius"], strength)
        if self.model == "spheroid":
            return spheroid(e, n, p["depth"], p["semi_axis"], p["plunge"], p["azimuth"], strength, nu)
        if self.model == "okada":
            tensile = self.activity_type != "Earthquake"
            return rectangle(
                e,
                n,
                0.0,
                0.0,
                p["depth"],
                p["strike"],
                p["dip"],
                p["length"],
                p["width"],
                rake_deg=p.get("rake", 0.0),
                slip=0.0 if tensile else strength,
                opening=strength if tensile else 0.0,
                nu=nu,
            )
        raise ValueError(f"unknown source model {self.model!r}")
