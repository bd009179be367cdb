"""Tensor values against the cube read independently (xarray) and normalised here."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loader_rows import (
    STATS,
    channels_of,
    expected_image,
    expected_mask,
    make_cube,
    pair_rows,
    series_rows,
    write_cube,
)
from matplotlib.figure import Figure

from hephaestus.platform import schema
from hephaestus.platform.cube import open_cube
from hephaestus.train.data import LoaderConfig, MinicubeDataset

K = 32
pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")


@pytest.mark.parametrize("layout", ["published", "platform"])
@pytest.mark.parametrize("atmosphere", [True, False])
def test_channels_match_cube_values(cubes, rows, layout, atmosphere):  # type: ignore[no-untyped-def]
    ds_written, url = cubes[layout]
    cfg = LoaderConfig(
        store_url="unused", crop_size=K, max_offset=8, atmosphere=atmosphere, augment=False, undersample=False
    )
    dataset = MinicubeDataset(rows[layout], None, STATS, cfg)
    assert dataset.channel_names == list(channels_of(atmosphere))
    assert dataset.in_channels == (9 if atmosphere else 3)
    cube = open_cube(url)
    pairs = rows[layout].to_pylist()
    for epoch in (0, 3):
        dataset.set_epoch(epoch)
        for i, row in enumerate(pairs):
            item = dataset[i]
            r0, c0, _, _ = dataset.window(i)
            steps = [(row["primary_index"], row["secondary_index"])]
            assert item["image"].dtype == torch.float32 and item["image"].shape == (dataset.in_channels, K, K)
            np.testing.assert_allclose(
                item["image"].numpy(), expected_image(cube, steps, r0, c0, K, atmosphere), atol=2e-5
            )
            np.testing.assert_array_equal(item["mask"].numpy(), expected_mask(cube, steps, r0, c0, K))
            assert item["mask"].dtype == torch.int64
            assert int(item["label"]) == int(row["positive"])
            assert item["id"] == str(row["unique_id"])


def test_never_nan_and_nodata_is_zero(tmp_path):  # type: ignore[no-untyped-def]
    from factories import make_cube_dataset

    ds = make_cube_dataset(n_primary=1, n_secondary=2, height=48, width=48)
    ds["insar_difference"].values[0, 0, 10:20, 10:20] = 0.0  # LiCSAR no-data
    ds["insar_coherence"].values[0, 0, 5:8, :] = np.nan
    ds["dem"].values[30:40, 30:40] = np.nan
    ds["primary_date_surface_pressure"].values[0, 0, :, 0:5] = np.nan
    ds["secondary_date_total_column_water_vapour"].values[0, 0, 0, 0] = np.inf
    ds["deformation_mask"].values[0, 0] = 0
    for layout in ("published", "platform"):
        url = write_cube(ds, tmp_path / f"nan_{layout}.zarr", layout, tile=16)
        rows = pair_rows(ds, url)
        cfg = LoaderConfig(store_url="unused", crop_size=48, max_offset=0, augment=False, undersample=False)
        dataset = MinicubeDataset(rows, None, STATS, cfg)
        item = dataset[0]
        img = item["image"]
        assert not torch.isnan(img).any() and torch.isfinite(img).all()
        assert (img[0, 10:20, 10:20] == 0).all()
        assert (img[1, 5:8, :] == 0).all()
        assert (img[2, 30:40, 30:40] == 0).all()
        assert (img[5, :, 0:5] == 0).all()  # primary surface pressure: channel 5 in the authors' order
        assert img[4, 0, 0] == 0  # secondary water vapour: channel 4
        # untouched pixels are still the z-score
        mean, std = STATS["dem"]
        assert img[2, 0, 0].item() == pytest.approx((ds["dem"].values[0, 0] - mean) / std, abs=1e-5)


def test_small_frame_is_padded(tmp_path):  # type: ignore[no-untyped-def]
    for layout in ("published", "platform"):
        ds, url = make_cube(tmp_path, layout, height=40, width=50, tile=16, n_primary=2, n_secondary=2)
        rows = pair_rows(ds, url)
        cfg = LoaderConfig(store_url="unused", crop_size=64, max_offset=16, augment=False, undersample=False)
        dataset = MinicubeDataset(rows, None, STATS, cfg)
        cube = open_cube(url)
        for i, row in enumerate(rows.to_pylist()):
            item = dataset[i]
            assert dataset.window(i)[:2] == (0, 0)
            img = item["image"].numpy()
            assert img.shape == (9, 64, 64)
            assert (img[:, 40:, :] == 0).all() and (img[:, :, 50:] == 0).all()
            assert (item["mask"].numpy()[40:, :] == 0).all() and (item["mask"].numpy()[:, 50:] == 0).all()
            steps = [(row["primary_index"], row["secondary_index"])]
            np.testing.assert_allclose(img, expected_image(cube, steps, 0, 0, 64, True), atol=2e-5)
            assert item["mask"].sum() == int(row["positive"]) * 120  # the factory's 10 x 12 square


@pytest.mark.parametrize("layout", ["published", "platform"])
def test_series_stacks_steps_and_unites_masks(cubes, rows, layout):  # type: ignore[no-untyped-def]
    _, url = cubes[layout]
    pairs = rows[layout]
    series = series_rows(pairs, length=3)
    cfg = LoaderConfig(
        store_url="unused",
        crop_size=K,
        max_offset=8,
        series=True,
        series_length=3,
        augment=False,
        undersample=False,
    )
    dataset = MinicubeDataset(pairs, series, STATS, cfg)
    assert dataset.in_channels == 27 and len(dataset.channel_names) == 27
    assert dataset.channel_names[9] == "t1/insar_difference"
    by_id = {r["unique_id"]: r for r in pairs.to_pylist()}
    cube = open_cube(url)
    for i, srow in enumerate(series.to_pylist()):
        ids = list(srow["pair_ids"]) + [srow["pair_ids"][-1]] * (3 - len(srow["pair_ids"]))
        steps = [(by_id[u]["primary_index"], by_id[u]["secondary_index"]) for u in ids]
        item = dataset[i]
        r0, c0, _, _ = dataset.window(i)
        np.testing.assert_allclose(
            item["image"].numpy(), expected_image(cube, steps, r0, c0, K, True), atol=2e-5
        )
        np.testing.assert_array_equal(item["mask"].numpy(), expected_mask(cube, steps, r0, c0, K))
        assert int(item["label"]) == int(any(by_id[u]["positive"] for u in ids))
    # primary 0 has 4 pairs -> first 3 (positive: its first pair); primary 1 has 2 -> padded to 3
    assert [len(s) for s in series["pair_ids"].to_pylist()] == [3, 2]
    assert dataset.labels.tolist() == [1, 0]


def test_sharded_and_other_codecs_read_like_xarray(tmp_path):  # type: ignore[no-untyped-def]
    """The platform's sharded layout, zstd, gzip, checksummed chains (crc32c last, compressed or raw: read
    fast, verified) and an unsupported chain (zarr fallback) all agree."""
    from zarr.codecs import BloscCodec, GzipCodec, ShardingCodec, ZstdCodec  # noqa: F401

    from factories import make_cube_dataset

    ds = make_cube_dataset(n_primary=2, n_secondary=2, height=48, width=48, positive_every=2)
    lz4 = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
    variants = {
        "sharded": {"chunks": (1, 1, 16, 16), "shards": (1, 1, 48, 48), "compressors": [lz4]},
        "zstd": {"chunks": (1, 1, 16, 16), "compressors": [ZstdCodec(level=3)]},
        "gzip": {"chunks": (1, 1, 16, 16), "compressors": [GzipCodec()]},
        "crc": {"chunks": (1, 1, 16, 16), "shards": (1, 1, 48, 48), "compressors": [lz4]},
        "crc-raw": {"chunks": (1, 1, 16, 16), "shards": (1, 1, 48, 48), "compressors": []},
        # two compressors: a chain the fast reader does not take (zarr's own reader reads it)
        "fallback": {"chunks": (1, 1, 16, 16), "compressors": [lz4]},
    }
    for name, raster_enc in variants.items():
        enc = {}
        for var, spec in schema.VARIABLES.items():
            if spec.dims == schema.RASTER_DIMS:
                enc[var] = dict(raster_enc)
                enc[var].pop("serializer", None)
                if name.startswith("crc"):
                    from zarr.codecs import Crc32cCodec

                    enc[var]["compressors"] = [*enc[var]["compressors"], Crc32cCodec()]
                if name == "fallback":
                    enc[var]["compressors"] = [lz4, GzipCodec()]
        url = str(tmp_path / f"{name}.zarr")
        ds.to_zarr(url, mode="w", zarr_format=3, encoding=enc, consolidated=False)
        rows = pair_rows(ds, url)
        dataset = MinicubeDataset(
            rows,
            None,
            STATS,
            LoaderConfig(store_url="u", crop_size=K, max_offset=12, augment=False, undersample=False),
        )
        fast = dataset._cubes.get(url).reader("insar_difference").fast
        assert fast == (name != "fallback"), name
        cube = open_cube(url)
        for i, row in enumerate(rows.to_pylist()):
            r0, c0, _, _ = dataset.window(i)
            steps = [(row["primary_index"], row["secondary_index"])]
            item = dataset[i]
            np.testing.assert_allclose(
                item["image"].numpy(), expected_image(cube, steps, r0, c0, K, True), atol=2e-5
            )
            np.testing.assert_array_equal(item["mask"].numpy(), expected_mask(cube, steps, r0, c0, K))


def test_plot_returns_figure(cubes, rows):  # type: ignore[no-untyped-def]
    for series in (False, True):
        cfg = LoaderConfig(store_url="u", crop_size=K, series=series, augment=False, undersample=False)
        pairs = rows["platform"]
        dataset = MinicubeDataset(pairs, series_rows(pairs) if series else None, STATS, cfg)
        fig = dataset.plot(dataset[0])
        assert isinstance(fig, Figure)
        assert len(fig.axes) == 3 * (3 if series else 1)


def test_bad_rows_and_statistics_are_refused(rows):  # type: ignore[no-untyped-def]
    cfg = LoaderConfig(store_url="u", crop_size=K, augment=False, undersample=False)
    with pytest.raises(ValueError, match="surface_pressure"):
        MinicubeDataset(
            rows["platform"], None, {k: v for k, v in STATS.items() if k != "surface_pressure"}, cfg
        )
    with pytest.raises(ValueError, match="mask_row_min"):
        MinicubeDataset(rows["platform"].drop_columns(["mask_row_min"]), None, STATS, cfg)
    with pytest.raises(ValueError, match="series rows"):
        MinicubeDataset(
            rows["platform"],
            None,
            STATS,
            LoaderConfig(store_url="u", series=True, augment=False, undersample=False),
        )


def test_missing_cube_is_a_clear_error(rows, tmp_path):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    from hephaestus.train.data.cubes import CubeUnreadableError

    table = rows["platform"]
    gone = str(tmp_path / "no-such-cube.zarr")
    table = table.set_column(
        table.schema.get_field_index("cube_url"), "cube_url", pa.array([gone] * table.num_rows)
    )
    dataset = MinicubeDataset(
        table, None, STATS, LoaderConfig(store_url="u", crop_size=K, augment=False, undersample=False)
    )
    with pytest.raises(CubeUnreadableError, match="no-such-cube.zarr"):
        dataset[0]


def test_sharded_layout_with_shards_rounded_past_the_frame(tmp_path):  # type: ignore[no-untyped-def]
    """Ingest rounds shards up to whole inner chunks for odd frame sizes (40 x 44 in 48 x 48 shards)."""
    from zarr.codecs import BloscCodec

    from factories import make_cube_dataset

    ds = make_cube_dataset(n_primary=2, n_secondary=2, height=40, width=44, positive_every=2)
    lz4 = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
    enc = {
        v: {"chunks": (1, 1, 16, 16), "shards": (1, 1, 48, 48), "compressors": [lz4]}
        for v, spec in schema.VARIABLES.items()
        if spec.dims == schema.RASTER_DIMS
    }
    url = str(tmp_path / "odd.zarr")
    ds.to_zarr(url, mode="w", zarr_format=3, encoding=enc, consolidated=False)
    rows = pair_rows(ds, url)
    dataset = MinicubeDataset(
        rows,
        None,
        STATS,
        LoaderConfig(store_url="u", crop_size=32, max_offset=8, augment=False, undersample=False),
    )
    assert dataset._cubes.get(url).reader("insar_difference").sharded
    cube = open_cube(url)
    for epoch in (0, 1):
        dataset.set_epoch(epoch)
        for i, row in enumerate(rows.to_pylist()):
            r0, c0, _, _ = dataset.window(i)
            steps = [(row["primary_index"], row["secondary_index"])]
            item = dataset[i]
            np.testing.assert_allclose(
                item["image"].numpy(), expected_image(cube, steps, r0, c0, 32, True), atol=2e-5
            )
            np.testing.assert_array_equal(item["mask"].numpy(), expected_mask(cube, steps, r0, c0, 32))
