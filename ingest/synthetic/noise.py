"""Power-law (fractal) random fields: the texture of turbulent atmosphere and of terrain roughness."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.fft import next_fast_len


def power_law_field(
    shape: tuple[int, int],
    beta: float,
    rng: np.random.Generator,
    beta_short: float | None = None,
    crossover_px: float | None = None,
) -> NDArray[np.float64]:
    """Zero-mean, unit-std field whose power spectrum falls as |k|^-beta (beta 8/3: Kolmogorov delay).

    With `beta_short` and `crossover_px`, the spectrum is |k|^-beta at wavelengths longer than
    `crossover_px` pixels and (continuously) |k|^-beta_short at shorter ones: the two-regime
    tropospheric spectrum (thin-layer 8/3 above the ~2 km wet-layer thickness, 3-D Kolmogorov 11/3
    below it, whose structure function grows as r^(5/3)), so that a delay screen is smooth from
    pixel to pixel while keeping its long-wavelength fringes.

    Built by colouring white noise in the Fourier domain on a grid at least twice the size (then
    cropped), so that the field is not periodic across the image.
    """
    h, w = shape
    big = (next_fast_len(2 * h, real=True), next_fast_len(2 * w, real=True))  # padded to FFT-friendly sizes
    white = rng.standard_normal(big)
    ky = np.fft.fftfreq(big[0])[:, None]
    kx = np.fft.rfftfreq(big[1])[None, :]
    k = np.sqrt(kx * kx + ky * ky)
    k[0, 0] = np.inf  # no mean
    k = np.maximum(k, 1.0 / max(big))
    amplitude = k ** (-beta / 2.0)
    if beta_short is not None and crossover_px is not None and crossover_px > 0:
        kc = 1.0 / crossover_px
        short = kc ** ((beta_short - beta) / 2.0) * k ** (-beta_short / 2.0)
        amplitude = np.where(k > kc, short, amplitude)
    amplitude[0, 0] = 0.0
    field = np.fft.irfft2(np.fft.rfft2(white) * amplitude, s=big)[:h, :w]
    field -= field.mean()
    std = field.std()
    return field / std if std > 0 else field
