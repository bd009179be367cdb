"""Frame windows (`windows="frame"`): training crops anywhere in the frame, labelled by what they hold.

Expectations are derived by hand here: uniform positions over 0..size - crop (chi-square against equal
counts), labels from the factory cube's mask counted with numpy, the 1 % rule worked out per size.
"""

from __future__ import annotations

import numpy as np
import pytest
from loader_rows import STATS, make_cube, pair_rows

from hephaestus.train.data import LoaderConfig, MinicubeDataset
from hephaestus.train.data.crop import uniform_window, window_label
from hephaestus.train.data.sampling import COVER_PROBABILITY, covering_windows

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")

CHI2_16_DOF_P001 = 39.25
"""Chi-square critical value, 16 degrees of freedom, p = 0.001 (tables)."""


def test_uniform_windows_stay_inside_and_are_uniform_over_the_positions():
    h, w, k = 80, 100, 64  # 17 row starts (0..16) and 37 column starts (0..36)
    draws = 17_000
    rows, cols = np.zeros(17, int), np.zeros(37, int)
    for n in range(draws):
        r0, c0 = uniform_window(h, w, k, np.random.default_rng([11, n]))
        assert 0 <= r0 <= h - k and 0 <= c0 <= w - k
        rows[r0] += 1
        cols[c0] += 1
    expected = draws / 17  # 1000 per row start
    chi2 = float(((rows - expected) ** 2 / expected).sum())
    assert chi2 < CHI2_16_DOF_P001, rows
    assert cols.min() > 0 and cols.max() < 2 * draws / 37  # every column start used, none twice as often
    # frames no larger than the crop start at 0 (padded)
    assert uniform_window(40, 64, 64, np.random.default_rng(0)) == (0, 0)


def test_the_label_follows_the_windows_mask():
    k = 64  # 1 % of 64 x 64 = 40.96: 41 mask pixels make a window positive on their own
    mask = np.zeros((k, k), np.int64)
    assert window_label(mask, 0, 0, None) == 0
    mask[10:13, 20:23] = 1  # a 3 x 3 deformation, wholly inside the window at (100, 200)
    assert window_label(mask, 100, 200, (110, 112, 220, 222)) == 1
    # the same 9 pixels but the deformation's box reaches outside the window: too little of it
    assert window_label(mask, 100, 200, (110, 170, 220, 222)) == 0  # rows 100..163
    big = np.zeros((k, k), np.int64)
    big[:41, 0] = 1  # 41 pixels of a larger deformation: enough
    assert window_label(big, 0, 0, (0, 500, 0, 500)) == 1
    big[40, 0] = 0  # 40 pixels: not enough
    assert window_label(big, 0, 0, (0, 500, 0, 500)) == 0


def test_covering_draw_is_seeded_and_only_for_masked_samples():
    has = np.array([True, False] * 2000)
    a = covering_windows(has, 3, 7)
    assert np.array_equal(a, covering_windows(has, 3, 7))
    assert not np.array_equal(a, covering_windows(has, 4, 7))
    assert not a[~has].any()
    assert abs(a[has].mean() - COVER_PROBABILITY) < 0.05  # 2000 draws: std 0.011


def _dataset(url_rows, windows: str, **kw) -> MinicubeDataset:  # type: ignore[no-untyped-def]
    cfg = LoaderConfig(
        store_url="u", crop_size=32, max_offset=8, augment=False, undersample=False, windows=windows, **kw
    )
    return MinicubeDataset(url_rows, None, STATS, cfg)


@pytest.fixture(scope="module")
def frame_cube(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A 160 x 176 frame, 10 x 12 px deformations at (40 + i, 44 + j) in every third pair."""
    ds, url = make_cube(tmp_path_factory.mktemp("frame"), "platform", height=160, width=176, tile=32)
    return ds, pair_rows(ds, url)


def test_frame_windows_inside_labelled_by_their_content_and_covering_half_the_time(frame_cube):
    ds, rows = frame_cube
    data = _dataset(rows, "frame")
    k, h, w = 32, 160, 176
    defo = ds["deformation_mask"].values
    table = rows.to_pylist()
    labels, covered, neg_rows = [], [], []
    for epoch in range(40):
        data.set_epoch(epoch)
        for i in range(len(data)):
            r0, c0, hh, ww = data.window(i)
            assert (hh, ww) == (h, w) and 0 <= r0 <= h - k and 0 <= c0 <= w - k
            m = defo[table[i]["primary_index"], table[i]["secondary_index"], r0 : r0 + k, c0 : c0 + k] != 0
            # by hand: 10 x 12 = 120 px deformations; positive with >= 11 px (1 % of 1024 is 10.24) or all
            expected = int(m.sum() >= 11 or m.sum() == 120)
            item = data[i]
            assert int(item["label"]) == expected, (epoch, i, r0, c0)
            assert int(item["mask"].sum()) == int(m.sum())
            labels.append(expected)
            if table[i]["positive"]:
                covered.append(bool(data.covering()[i]))
                if covered[-1]:
                    assert expected == 1  # a covering window holds the whole deformation
            else:
                neg_rows.append(r0)
    assert 0 < sum(labels) < len(labels)  # both kinds of window occur
    assert abs(np.mean(covered) - COVER_PROBABILITY) < 0.15  # 40 epochs x 4 positive pairs
    # negatives: rows spread over the whole frame (0..128), not around the centre (64 +- 8)
    neg = np.array(neg_rows)
    assert neg.min() < 20 and neg.max() > 108
    assert 0.15 < np.mean(neg < 43) < 0.5  # a third of the positions by hand, loose for 320 draws


def test_frame_windows_are_deterministic_and_undersampled_by_covering_windows(frame_cube):
    _, rows = frame_cube
    a = _dataset(rows, "frame", seed=3)
    b = _dataset(rows, "frame", seed=3)
    for epoch in (0, 5):
        a.set_epoch(epoch)
        b.set_epoch(epoch)
        assert [a.window(i) for i in range(len(a))] == [b.window(i) for i in range(len(b))]
    cfg = LoaderConfig(
        store_url="u", crop_size=32, max_offset=8, augment=False, undersample=True, windows="frame", seed=3
    )
    data = MinicubeDataset(rows, None, STATS, cfg)
    for epoch in range(6):
        cover = data.covering(epoch)
        idx = data.epoch_indices(epoch)
        # every covering window plus as many of the others (there are more of them)
        assert set(np.flatnonzero(cover)) <= set(idx.tolist())
        assert idx.size == 2 * int(cover.sum()) and np.unique(idx).size == idx.size


def test_centred_mode_and_evaluation_splits_keep_todays_windows(frame_cube):
    _, rows = frame_cube
    centred, frame = _dataset(rows, "centred"), _dataset(rows, "frame")
    for epoch in range(3):
        centred.set_epoch(epoch)
        frame.set_epoch(epoch)
        for i in range(len(centred)):
            item = centred[i]
            assert int(item["label"]) == int(centred.samples[i].label)  # the pair's label, as today
            if frame.covering()[i]:
                assert frame.window(i) == centred.window(i)  # the covering window is today's placement
    run = LoaderConfig(windows="frame")
    assert LoaderConfig.for_split(run, "train").windows == "frame"
    assert LoaderConfig.for_split(run, "val").windows == "centred"
    assert LoaderConfig.for_split(run, "test").windows == "centred"
    with pytest.raises(ValueError, match="fixed"):
        LoaderConfig(windows="frame", fixed_crops=True)
