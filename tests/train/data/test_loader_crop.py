"""Crop placement: mask always inside, offset bounded, clamped at edges, centred without a mask."""

from __future__ import annotations

import numpy as np
import pytest
from loader_rows import STATS, make_cube, pair_rows

from hephaestus.train.data import LoaderConfig, MinicubeDataset
from hephaestus.train.data.crop import place_window, union_bbox

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")


def test_mask_inside_window_and_offset_bounded_for_many_seeds():
    h, w, k, off = 1500, 1400, 512, 128
    rng_boxes = np.random.default_rng(1)
    for trial in range(400):
        r_lo = int(rng_boxes.integers(0, h - 60))
        c_lo = int(rng_boxes.integers(0, w - 60))
        box = (r_lo, r_lo + int(rng_boxes.integers(0, 300)), c_lo, c_lo + int(rng_boxes.integers(0, 300)))
        box = (box[0], min(box[1], h - 1), box[2], min(box[3], w - 1))
        r0, c0 = place_window(h, w, k, box, off, np.random.default_rng([7, trial]))
        assert 0 <= r0 <= h - k and 0 <= c0 <= w - k
        assert r0 <= box[0] and box[1] < r0 + k, (box, r0)
        assert c0 <= box[2] and box[3] < c0 + k, (box, c0)
        # unless an edge or the box forced it, the shift from the centred window is at most `off`
        centred_r = (box[0] + box[1] + 1) // 2 - k // 2
        if r0 not in (0, h - k, box[0], box[1] + 1 - k):
            assert abs(r0 - centred_r) <= off


def test_offsets_are_random_but_seeded():
    box = (700, 740, 700, 760)
    starts = {place_window(1500, 1500, 512, box, 128, np.random.default_rng([0, e, 3])) for e in range(50)}
    assert len(starts) > 30  # different epochs give different crops
    a = place_window(1500, 1500, 512, box, 128, np.random.default_rng([0, 5, 3]))
    assert a == place_window(1500, 1500, 512, box, 128, np.random.default_rng([0, 5, 3]))


def test_edges_clamp_and_big_boxes_centre():
    rng = np.random.default_rng(0)
    assert place_window(1000, 1000, 512, (0, 5, 990, 999), 128, rng) == (0, 1000 - 512)
    # box larger than the crop: centred on the box (hand computed), offset ignored
    assert place_window(2000, 2000, 512, (100, 899, 300, 1099), 128, rng) == (100 + (800 - 512) // 2, 444)
    # no mask: the frame centre (hand computed), exactly when there is no offset
    assert place_window(1500, 1300, 512, None, 0, rng) == (494, 394)
    # frames smaller than the crop start at 0 (padded)
    assert place_window(300, 400, 512, (10, 20, 10, 20), 128, rng) == (0, 0)
    assert union_bbox([None, (5, 9, 1, 2), (3, 4, 6, 8)]) == (3, 9, 1, 8)
    assert union_bbox([None]) is None


def test_dataset_crops_keep_the_whole_mask(tmp_path):
    ds, url = make_cube(tmp_path, "platform", height=96, width=112, tile=32)
    rows = pair_rows(ds, url)
    dataset = MinicubeDataset(
        rows,
        None,
        STATS,
        LoaderConfig(store_url="u", crop_size=48, max_offset=24, augment=False, undersample=False),
    )
    total = {
        i: int((ds["deformation_mask"].values[r["primary_index"], r["secondary_index"]] != 0).sum())
        for i, r in enumerate(rows.to_pylist())
    }
    for epoch in range(5):
        dataset.set_epoch(epoch)
        for i in range(len(dataset)):
            if total[i]:
                assert int(dataset.read(i)[1].sum()) == total[i]
            else:  # no mask: the frame centre, (96 - 48) // 2 and (112 - 48) // 2, shifted up to 24
                r0, c0, _, _ = dataset.window(i)
                assert 0 <= r0 <= 48 and 8 <= c0 <= 56


def test_negatives_get_the_same_random_offset_around_the_frame_centre():
    """The authors' rule: frame centre plus the offset drawn as for positives (not exactly centred)."""
    h, w, k, off = 1500, 1300, 512, 128
    centre = ((h - k) // 2, (w - k) // 2)  # (494, 394) by hand
    shifts = []
    for trial in range(2000):
        rng = np.random.default_rng([3, trial])
        dr, dc = (int(v) for v in np.random.default_rng([3, trial]).integers(-off, off + 1, size=2))
        r0, c0 = place_window(h, w, k, None, off, rng)
        assert (r0, c0) == (centre[0] + dr, centre[1] + dc)  # the same draw a positive gets
        shifts.append((r0 - centre[0], c0 - centre[1]))
    shifts = np.array(shifts)
    assert shifts.min() == -off and shifts.max() == off  # the whole range is used
    assert abs(shifts.mean()) < 5 and shifts.std() > 60  # uniform on [-128, 128]: std 74
    # and a positive with a small box in the middle gets the very same shift
    box = (744, 755, 644, 655)  # centre (750, 650): centred window (494, 394)
    for trial in range(50):
        rng = np.random.default_rng([3, trial])
        assert place_window(h, w, k, box, off, rng) == place_window(
            h, w, k, None, off, np.random.default_rng([3, trial])
        )
