"""Broken products: corrupted interferograms and processing errors, as annotators flag them.

Corrupted (corrupted = 1): zero-filled blocks (no data) or stripes of garbage lines.
Processing error 2: misaligned bursts: a constant phase jump at every burst boundary (azimuth
lines every ~20 km), the classic ESD/coregistration failure. Processing error 3: a sub-swath-like
block of columns shifted sideways with a phase offset (a stitching error).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

BURST_ROWS_AT_0001_DEG = 180
"""A Sentinel-1 IW burst is about 20 km in azimuth: ~180 rows of 0.001 deg."""


def corrupt(phase: NDArray, coh: NDArray, rng: np.random.Generator) -> str:
    """Corrupt in place; return a short description for the caption."""
    h, w = phase.shape
    if rng.random() < 0.5:
        r0 = int(rng.integers(0, h // 2))
        r1 = int(min(h, r0 + rng.integers(h // 5, h // 2 + 1)))
        phase[r0:r1] = 0.0
        coh[r0:r1] = 0.0
        return "Part of the interferogram has no data (zero-filled block)."
    n = int(rng.integers(3, 9))
    rows = rng.choice(h, size=n, replace=False)
    for r in rows:
        thick = int(rng.integers(1, max(2, h // 32)))
        phase[r : r + thick] = rng.uniform(-np.pi, np.pi)
        coh[r : r + thick] = rng.uniform(0.0, 1.0)
    return "Stripes of corrupted lines cross the interferogram."


def processing_error(phase: NDArray, rng: np.random.Generator, code: int | None = None) -> tuple[int, str]:
    """Add a processing error (of `code` 2 or 3, drawn when None) to the unwrapped phase in place;
    return (code, description)."""
    h, w = phase.shape
    burst = rng.random() < 0.5
    if code is not None:
        burst = code == 2
    if burst:
        n = max(2, h // BURST_ROWS_AT_0001_DEG)
        edges = np.linspace(0, h, n + 2).astype(int)[1:-1]
        for e in edges:
            phase[e:] += rng.uniform(np.pi / 2, 3 * np.pi / 2)
        return 2, "Phase jumps at burst boundaries show a burst misalignment."
    c0 = int(rng.integers(w // 4, w // 2))
    shift = int(rng.integers(2, max(3, w // 16)))
    phase[:, c0:] = np.roll(phase[:, c0:], shift, axis=0) + rng.uniform(np.pi / 2, 3 * np.pi / 2)
    return 3, "A block of the image is shifted with a phase offset (stitching error)."
