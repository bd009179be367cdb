"""from_catalog over a catalog built by hephaestus.catalog from a v2 and a v3 cube."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loader_rows import expected_image, expected_mask, make_cube, pair_rows

from hephaestus.catalog import build_catalog, read_series
from hephaestus.platform import schema
from hephaestus.platform.cube import open_cube
from hephaestus.train.data import LoaderConfig, MinicubeDataset

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")


@pytest.fixture(scope="module")
def store(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("loader-store")
    (root / "cubes").mkdir()
    made = {}
    for frame, layout in (("124D_04854_171313", "published"), ("001A_00001_000001", "platform")):
        ds, url = make_cube(root / "cubes", layout, frame_id=frame, tile=32)
        target = root / "cubes" / f"{frame}.zarr"
        (root / "cubes" / url.rsplit("/", 1)[-1]).rename(target)
        made[frame] = (ds, str(target))
    build_catalog(root)
    return root, made


def test_pairs_from_catalog_match_hand_rows(store):  # type: ignore[no-untyped-def]
    root, made = store
    cfg = LoaderConfig(
        store_url=str(root),
        split="train",
        crop_size=32,
        max_offset=8,
        statistics="authors",
        augment=False,
        undersample=False,
    )
    from_cat = MinicubeDataset.from_catalog(cfg)
    assert len(from_cat) == 12  # 6 valid pairs per factory cube, all in the train window
    assert from_cat.in_channels == 9
    by_id = {}
    for ds, url in made.values():
        for row in pair_rows(ds, url).to_pylist():
            by_id[str(row["unique_id"]) + url] = row
    cubes = {url: open_cube(url) for _, url in made.values()}
    for i in range(len(from_cat)):
        item = from_cat[i]
        url = from_cat.samples[i].steps[0].cube_url
        row = by_id[item["id"] + url]
        box = (row["mask_row_min"], row["mask_row_max"], row["mask_col_min"], row["mask_col_max"])
        assert from_cat.samples[i].bbox == (None if box[0] is None else box)
        assert int(item["label"]) == int(row["positive"])
        r0, c0, _, _ = from_cat.window(i)
        steps = [(row["primary_index"], row["secondary_index"])]
        want = expected_image(cubes[url], steps, r0, c0, 32, True, schema.AUTHORS_STATISTICS)
        np.testing.assert_allclose(item["image"].numpy(), want, atol=2e-5)
        np.testing.assert_array_equal(item["mask"].numpy(), expected_mask(cubes[url], steps, r0, c0, 32))


def test_series_and_statistics_from_catalog(store):  # type: ignore[no-untyped-def]
    root, _ = store
    cfg = LoaderConfig(
        store_url=str(root), split="train", crop_size=32, series=True, augment=False, undersample=False
    )
    ds = MinicubeDataset.from_catalog(cfg)
    assert len(ds) == read_series(root, split="train").num_rows > 0
    assert ds.in_channels == 27
    item = ds[0]
    assert item["image"].shape == (27, 32, 32) and not torch.isnan(item["image"]).any()
    # the default statistics are the catalog's train split's (computed from the cubes), not the authors'
    assert ds.input_spec.statistics_source == "train"
    assert ds.input_spec.statistics["dem"] != tuple(schema.AUTHORS_STATISTICS["dem"])
    with pytest.raises(ValueError, match="store_url"):
        MinicubeDataset.from_catalog(LoaderConfig())
