"""Power-law (fractal) random fields: the texture of turbulent atmosphere and of terrain roughness."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.fft import next_fast_len


def power_law_field(shape: tuple[int, int], beta: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """Zero-mean, unit-std field whose power spectrum falls as |k|^-beta (beta 8/3: Kolmogorov delay).

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
    amplitude[0, 0] = 0.0
    field = np.fft.irfft2(np.fft.rfft2(white) * amplitude, s=big)[:h, :w]
    field -= field.mean()
    std = field.std()
    return field / std if std > 0 else field
