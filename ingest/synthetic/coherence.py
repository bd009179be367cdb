"""Coherence and decorrelation phase noise of a pair.

gamma = gamma_temporal(dt, vegetation) * gamma_geometric(local incidence) * gamma_pair * 0.97 (thermal),
0 over water. Temporal: gamma_inf + (1 - gamma_inf) exp(-dt / tau), tau long on bare lava and short
on vegetation. Geometric: foreshortening/layover (local incidence below ~10 deg) and shadow (above ~85
deg) decorrelate. gamma_pair is a per-pair factor (wet snow, soil moisture). The written coherence
and the phase noise come from the same L-look sample covariance (`multilook`): the phase std tends to
the Cramer-Rao sqrt(1 - gamma^2) / (gamma sqrt(2L)) at high gamma, the phase is uniform at gamma 0,
and the coherence estimate is biased upwards where gamma is low.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

LOW_COHERENCE_GAMMA = 0.15
LOW_COHERENCE_AREA = 0.5
"""A pair is annotated low_coherence when this share of its land has gamma below LOW_COHERENCE_GAMMA."""
NO_INFO_GAMMA = 0.1
NO_INFO_AREA = 0.85


def vegetation(elevation: NDArray, texture: NDArray) -> NDArray[np.float64]:
    """Vegetation cover 0..1: lush lowlands, bare summits and lava fields."""
    return np.clip(0.85 - elevation / 2500.0 + 0.15 * texture, 0.0, 1.0)


def local_incidence_deg(grad_e: NDArray, grad_n: NDArray, look: tuple[NDArray, NDArray, NDArray]) -> NDArray:
    """Angle between the terrain normal and the ground-to-satellite direction."""
    norm = np.sqrt(grad_e**2 + grad_n**2 + 1.0)
    cos_t = (-grad_e * look[0] - grad_n * look[1] + look[2]) / norm
    return np.rad2deg(np.arccos(np.clip(cos_t, -1.0, 1.0)))


def true_coherence(
    dt_days: float,
    veg: NDArray,
    theta_local_deg: NDArray,
    water: NDArray,
    pair_factor: float,
    decorrelation_days: float,
) -> NDArray[np.float64]:
    tau = decorrelation_days * (1.0 + 10.0 * (1.0 - veg))
    g_inf = 0.05 + 0.25 * (1.0 - veg)
    g_t = g_inf + (1.0 - g_inf) * np.exp(-dt_days / tau)
    g_geo = np.clip((theta_local_deg - 5.0) / 15.0, 0.0, 1.0) * np.clip(
        (88.0 - theta_local_deg) / 10.0, 0.0, 1.0
    )
    gamma = g_t * g_geo * pair_factor * 0.97
    return np.where(water, 0.0, gamma)


def multilook(gamma: NDArray, looks: int, rng: np.random.Generator) -> tuple[NDArray, NDArray]:
    """Phase noise (rad) and estimated coherence of an L-look interferogram, drawn together.

    Each pixel is the L-look sample covariance of two circular Gaussian signals with true coherence
    gamma, a complex Wishart matrix drawn by its Bartlett factor: a11^2 ~ Gamma(L), a22^2 ~ Gamma(L-1),
    a21 ~ CN(0, 1). With s = sqrt(1 - gamma^2) the interferogram sum is a11 (gamma a11 + s conj(a21)),
    so the noise is the angle of gamma a11 + s conj(a21) and the coherence estimate is
    |sum z1 z2*| / sqrt(sum |z1|^2 sum |z2|^2). The written coherence is therefore exactly the one of
    the looks that made the noise; its phase std tends to the Cramer-Rao bound
    sqrt(1 - gamma^2) / (gamma sqrt(2L)) at high gamma, it is uniform at gamma 0, and the estimate is
    biased up where gamma is low (E = Gamma(L) Gamma(3/2) / Gamma(L + 1/2) ~ sqrt(pi / 4L) at 0).
    """
    g = np.clip(gamma, 0.0, 1.0)
    s = np.sqrt(1.0 - g * g)
    a11 = np.sqrt(rng.standard_gamma(float(looks), g.shape))
    a22_sq = rng.standard_gamma(float(looks - 1), g.shape) if looks > 1 else np.zeros(g.shape)
    a21 = (rng.standard_normal(g.shape) + 1j * rng.standard_normal(g.shape)) / np.sqrt(2.0)
    v = g * a11 + s * np.conj(a21)
    num_sq = np.abs(v) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        coh = np.sqrt(num_sq / (num_sq + s * s * a22_sq))
    return np.angle(v), np.nan_to_num(coh, nan=1.0)


def low_coherence_flags(gamma: NDArray, land: NDArray) -> tuple[int, int]:
    """(low_coherence, no_info) annotation flags from the drawn coherence over land."""
    if not land.any():
        return 1, 1
    low = float((gamma[land] < LOW_COHERENCE_GAMMA).mean())
    none = float((gamma[land] < NO_INFO_GAMMA).mean())
    return int(low >= LOW_COHERENCE_AREA), int(none >= NO_INFO_AREA)
