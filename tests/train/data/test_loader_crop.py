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
    # no mask: the frame centre, exactly when offsets are off for such frames
    assert place_window(1500, 1300, 512, None, 128, rng) == (494, 394)
    r0, c0 = place_window(1500, 1300, 512, None, 128, rng, offset_without_mask=True)
    assert abs(r0 - 494) <= 128 and abs(c0 - 394) <= 128
    # frames smaller than the crop start at 0 (padded)
    assert place_window(300, 400, 512, (10, 20, 10, 20), 128, rng) == (0, 0)
    assert union_bbox([None, (5, 9, 1, 2), (3, 4, 6, 8)]) == (3, 9, 1, 8)
    assert union_bbox([None]) is None


def test_dataset_crops_keep_the_whole_mask(tmp_path):
    ds, url = make_cube(tmp_path, "platform", height=96, width=112, tile=32)
    rows = pair_rows(ds, url)
    dataset = MinicubeDataset(rows, None, STATS, LoaderConfig(store_url="u", crop_size=48, max_offset=24))
    total = {
        i: int((ds["deformation_mask"].values[r["primary_index"], r["secondary_index"]] != 0).sum())
        for i, r in enumerate(rows.to_pylist())
    }
    for epoch in range(5):
        dataset.set_epoch(epoch)
        for i in range(len(dataset)):
            if total[i]:
                assert int(dataset.read(i)[1].sum()) == total[i]
            else:  # no mask: the frame centre, (96 - 48) // 2 and (112 - 48) // 2
                assert dataset.window(i) == (24, 32, 96, 112)
