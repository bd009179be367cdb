"""Coherence and decorrelation phase noise of a pair.

gamma = gamma_temporal(dt, vegetation) * gamma_geometric(local incidence) * gamma_pair * 0.97 (thermal),
0 over water. Temporal: gamma_inf + (1 - gamma_inf) exp(-dt / tau), tau long on bare lava and short
on vegetation. Geometric: foreshortening/layover (local incidence below ~10 deg) and shadow (above ~85
deg) decorrelate. gamma_pair is a per-pair factor (wet snow, soil moisture). The written coherence
is the L-look estimate (biased upwards at low gamma); the phase noise has the Cramer-Rao std
sqrt(1 - gamma^2) / (gamma sqrt(2L)), and is uniform where that exceeds the std of a uniform phase.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

LOW_COHERENCE_GAMMA = 0.25
LOW_COHERENCE_AREA = 0.35
"""A pair is annotated low_coherence when this share of its land has gamma below LOW_COHERENCE_GAMMA."""
NO_INFO_GAMMA = 0.15
NO_INFO_AREA = 0.85
UNIFORM_PHASE_STD = np.pi / np.sqrt(3.0)


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


def estimated_coherence(gamma: NDArray, looks: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """L-look coherence estimate: biased towards sqrt(1/L) where the truth is 0, with sampling noise."""
    biased = np.sqrt(gamma**2 + (1.0 - gamma**2) / looks)
    noisy = biased + rng.standard_normal(gamma.shape) * (1.0 - gamma**2) / np.sqrt(2.0 * looks)
    return np.clip(noisy, 0.0, 1.0)


def phase_noise(gamma: NDArray, looks: int, rng: np.random.Generator) -> NDArray[np.float64]:
    with np.errstate(divide="ignore"):
        std = np.sqrt(1.0 - gamma**2) / (np.maximum(gamma, 1e-6) * np.sqrt(2.0 * looks))
    gauss = rng.standard_normal(gamma.shape) * std
    uniform = rng.uniform(-np.pi, np.pi, gamma.shape)
    return np.where(std >= UNIFORM_PHASE_STD, uniform, gauss)


def low_coherence_flags(gamma: NDArray, land: NDArray) -> tuple[int, int]:
    """(low_coherence, no_info) annotation flags from the drawn coherence over land."""
    if not land.any():
        return 1, 1
    low = float((gamma[land] < LOW_COHERENCE_GAMMA).mean())
    none = float((gamma[land] < NO_INFO_GAMMA).mean())
    return int(low >= LOW_COHERENCE_AREA), int(none >= NO_INFO_AREA)
