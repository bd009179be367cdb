"""Synthetic positives (`synthetic_positives`): a drawn source's fringes pasted into training windows.

Expectations by hand: one fringe is lambda / 2 = 2.77 cm of LOS motion, so a pasted field's phase at a
pixel is wrap(phase - 4 pi / lambda * d) and its mask is |d| >= 1.39 cm; the generator's fringe counts
are n + [0.25, 0.75] with n in 1..8; the 1 % rule gives a 32 px window's label.
"""

from __future__ import annotations

import numpy as np
import pytest
from loader_rows import STATS, make_cube, pair_rows

from hephaestus.platform.inputs import InputSpec
from hephaestus.train.data import LoaderConfig, MinicubeDataset
from hephaestus.train.data.inject import draw_deformation, maybe_paste, paste_deformation

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")

WAVELENGTH_M = 0.055465  # Sentinel-1 C band (5.405 GHz), as LiCSAR uses
FRINGE_M = WAVELENGTH_M / 2


def _spec(series_length: int = 1) -> InputSpec:
    return InputSpec.from_record(
        dict(atmosphere=False, series_length=series_length, crop_size=32, statistics_source="train",
             statistics={k: v for k, v in STATS.items() if k in ("insar_difference", "insar_coherence", "dem")})
    )  # fmt: skip


def test_drawn_fields_span_the_generators_fringe_counts():
    counts = []
    for n in range(200):
        d = draw_deformation(64, np.random.default_rng([5, n]))
        assert d.shape == (64, 64) and np.isfinite(d).all()
        counts.append(float(np.ptp(d)) / FRINGE_M)
    counts = np.array(counts)
    whole = np.floor(counts)
    # n + u with u in [0.25, 0.75]: the fractional part never near a whole number
    assert ((counts - whole) >= 0.25 - 1e-6).all() and ((counts - whole) <= 0.75 + 1e-6).all()
    assert whole.min() >= 1 and whole.max() <= 8
    assert 0.6 < np.mean(whole == 1) < 0.95  # the generator draws one fringe 80 % of the time


def test_pasted_phase_is_the_wrapped_sum_and_the_mask_where_it_moves_half_a_fringe():
    spec = _spec(series_length=2)
    mean, std = STATS["insar_difference"]
    k = 32
    raw = np.full((k, k), 0.3)
    image = np.zeros((spec.in_channels, k, k), np.float32)
    for step in range(2):
        image[spec.channel_index(step, "insar_difference")] = (raw - mean) / std
    image[spec.channel_index(1, "insar_difference")][:4, :4] = 0.0  # no data: stays no data
    coh = spec.channel_index(0, "insar_coherence")
    image[coh] = 0.7
    d = np.linspace(-0.03, 0.03, k * k).reshape(k, k)
    out, mask = paste_deformation(image, np.zeros((k, k), np.int64), spec, d)
    expected = np.angle(np.exp(1j * (raw - 4 * np.pi / WAVELENGTH_M * d)))
    phase0 = out[spec.channel_index(0, "insar_difference")] * std + mean
    assert np.allclose(phase0, expected, atol=1e-5)
    step1 = out[spec.channel_index(1, "insar_difference")]
    assert (step1[:4, :4] == 0).all()
    assert np.allclose(step1[4:] * std + mean, expected[4:], atol=1e-5)
    assert np.array_equal(out[coh], image[coh])  # only the phase changes
    assert np.array_equal(mask.astype(bool), np.abs(d) >= 0.01386625)
    assert (image[spec.channel_index(0, "insar_difference")] == (0.3 - mean) / std).all()  # input untouched


def test_the_share_decides_how_often_and_the_draw_is_seeded():
    spec = _spec()
    image = np.ones((spec.in_channels, 32, 32), np.float32)
    mask = np.zeros((32, 32), np.int64)
    pasted = [maybe_paste(image, mask, spec, 0.3, 7, 2, i)[2] for i in range(1000)]
    assert 0.25 < np.mean(pasted) < 0.35  # 1000 draws: std 0.014
    assert not any(maybe_paste(image, mask, spec, 0.0, 7, 2, i)[2] for i in range(50))
    a, b = maybe_paste(image, mask, spec, 1.0, 7, 2, 3), maybe_paste(image, mask, spec, 1.0, 7, 2, 3)
    assert np.array_equal(a[0], b[0]) and not np.array_equal(
        a[0], maybe_paste(image, mask, spec, 1.0, 7, 3, 3)[0]
    )


@pytest.fixture(scope="module")
def cube_rows(tmp_path_factory):  # type: ignore[no-untyped-def]
    ds, url = make_cube(tmp_path_factory.mktemp("synth"), "platform", height=96, width=96, tile=32)
    return pair_rows(ds, url)


def test_the_dataset_pastes_into_training_windows_only_and_labels_by_the_mask(cube_rows):
    spec_kw = dict(crop_size=32, max_offset=8, augment=False, undersample=False, windows="frame")
    plain = MinicubeDataset(cube_rows, None, STATS, LoaderConfig(store_url="u", **spec_kw))
    pasting = MinicubeDataset(
        cube_rows, None, STATS, LoaderConfig(store_url="u", synthetic_positives=1.0, **spec_kw)
    )
    changed = 0
    for i in range(len(plain)):
        a, b = plain[i], pasting[i]
        if int(a["label"]) == 1:  # windows holding deformation are left alone
            assert np.array_equal(a["image"].numpy(), b["image"].numpy())
            continue
        changed += int(not np.array_equal(a["image"].numpy(), b["image"].numpy()))
        # the label is the 1 % rule on the new mask: >= 11 of 1024 pixels
        assert int(b["label"]) == int(int(b["mask"].sum()) >= 11)
    assert changed > 0
    # validation and test splits never get synthetic positives
    from hephaestus.platform.dataspec import DataSpec

    spec = DataSpec(synthetic_positives=0.5, windows="frame")
    assert LoaderConfig.for_split(spec, "train").synthetic_positives == 0.5
    assert LoaderConfig.for_split(spec, "val").synthetic_positives == 0.0
