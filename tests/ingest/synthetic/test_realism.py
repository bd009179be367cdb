"""What a rendered pair looks like: high coherence means smooth phase, frames are mostly land."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hephaestus.ingest.synthetic import SynthConfig
from hephaestus.ingest.synthetic.generator import plan, render_pair

CONFIG = SynthConfig(frames=2, pairs=12, height=128, width=128, seed=5)


def _circular_std(angles: np.ndarray) -> float:
    """sqrt(-2 ln R), R the mean resultant length (infinite for a uniform phase)."""
    r = float(np.abs(np.mean(np.exp(1j * angles))))
    return math.sqrt(-2.0 * math.log(r)) if r > 0 else math.inf


@pytest.fixture(scope="module")
def negatives():
    """Rendered negative pairs of a small run with a real product (no corruption or processing error)."""
    out = []
    for frame, pair in plan(CONFIG).pairs:
        if pair.positive or pair.missing or pair.corrupted or pair.processing_error:
            continue
        out.append((frame, render_pair(CONFIG, frame, pair)))
    assert len(out) >= 15
    return out


def test_high_coherence_means_smooth_phase(negatives):
    """Neighbouring pixels whose written coherence is >= 0.7 differ by a few tenths of a radian (the
    multilook noise of 40 looks, ~0.1 rad, plus a smooth atmosphere); where it is < 0.15 the phase
    difference is close to uniform. Checked on every negative pair with enough such pixels."""
    smooth = noisy = 0
    for frame, r in negatives:
        land = frame.land
        both = land[:, 1:] & land[:, :-1]
        d = np.angle(np.exp(1j * np.diff(r.phase.astype(np.float64), axis=1)))
        hi = both & (r.coherence[:, 1:] >= 0.7) & (r.coherence[:, :-1] >= 0.7)
        lo = both & (r.coherence[:, 1:] < 0.15) & (r.coherence[:, :-1] < 0.15)
        if hi.sum() >= 200:
            assert _circular_std(d[hi]) < 0.6, r.record["uniqueID"]
            smooth += 1
        if lo.sum() >= 200:
            assert _circular_std(d[lo]) > 1.2, r.record["uniqueID"]
            noisy += 1
    assert smooth >= 5 and noisy >= 3  # both kinds of pixels were really checked


def test_turbulent_screen_is_smooth_from_pixel_to_pixel(negatives):
    """The turbulent delay has its power at long wavelengths: neighbouring pixels differ by a fifth of
    its std (white noise would differ by sqrt(2) times its std; a single 8/3 regime down to the pixel,
    as before the 11/3 short-wavelength regime, by about 0.3 times on these 128-pixel frames)."""
    ratios = []
    for frame, r in negatives:
        land = frame.land
        both = land[:, 1:] & land[:, :-1]
        total = float(r.turbulent[land].std())
        step = float(np.diff(r.turbulent, axis=1)[both].std())
        assert step < 0.25 * total
        assert step < 0.6  # rad, even on the most turbulent day
        ratios.append(step / total)
    assert np.median(ratios) <= 0.2
    assert sum(float(r.turbulent[f.land].std()) >= 1.0 for f, r in negatives) >= 3  # fringes do show


def test_write_sea_and_land_coherence(negatives):
    """No coherence over the sea (it is no data there); land pixels carry the looks' estimate."""
    for frame, r in negatives:
        assert np.all(r.coherence[frame.water] == 0.0)
        assert np.all(r.coherence[frame.land] > 0.0)


@pytest.mark.parametrize(("size", "frames"), [(128, 16), (384, 6)])
def test_frames_are_mostly_land_yet_some_show_the_sea(size, frames):
    cfg = SynthConfig(frames=frames, pairs=1, height=size, width=size, seed=0)
    built = plan(cfg).frames
    land = np.array([f.land.sum() / f.swath.sum() for f in built])  # of the data footprint
    assert np.median(land) >= 0.5
    assert (land >= 0.5).mean() >= 0.8
    coastal = [f for f in built if f.volcano.coastal]
    assert coastal and any(f.water.mean() >= 0.05 for f in coastal)  # coastal frames keep their sea
    assert all(f.water.mean() == 0.0 for f in built if not f.volcano.coastal)
