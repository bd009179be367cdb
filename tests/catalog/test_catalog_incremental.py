"""Incremental `build_catalog`: after cubes grow, change or appear, only what changed is read, and the
published catalog equals a full rebuild's, row for row, Item for Item, statistics to the bit."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import xarray as xr

from hephaestus.catalog import CatalogConfig, build_catalog, resolve
from hephaestus.catalog.read import read_version_pairs
from hephaestus.platform import stac_extension as hx
from hephaestus.platform.cube import HISTORY_ATTR, VERSION_ATTR
from hephaestus.platform.layout import StoreLayout

from factories import make_cube_dataset, write_cube

FRAME_A, FRAME_B, FRAME_C = "124D_04854_171313", "001A_00001_000001", "144A_SM_REUN_S6"
CFG = CatalogConfig(keep_versions=4, workers=2)


def _grown(frame: str, seed: int) -> xr.Dataset:
    """Primaries day 0, 12, 24; secondaries day 6 .. 30: the last secondary adds 3 pairs (p < 30)."""
    return make_cube_dataset(frame_id=frame, n_primary=3, n_secondary=5, seed=seed, first_id=100 * (seed + 1))


def _stamped(ds: xr.Dataset, token: str | None, history: list[str] | None = None) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in (VERSION_ATTR, HISTORY_ATTR)}
    if token is not None:
        ds.attrs[VERSION_ATTR] = token
    if history:
        ds.attrs[HISTORY_ATTR] = history
    return ds


def _snapshot(store: Path) -> dict:
    """Everything a build published, version names and hrefs aside."""
    base, coll = resolve(store)
    version = StoreLayout(store).catalog_version(coll[hx.VERSION])
    series = pq.read_table(Path(base) / "index" / "series", partitioning=None).sort_by("series_id")
    items = {p.name: json.loads(p.read_text()) for p in sorted((Path(base) / "items").glob("*.json"))}
    keys = (hx.STATISTICS, hx.STATISTICS_TRAIN, hx.TABLE2, hx.SERIES_LENGTH, hx.SKIPPED)
    return {
        "pairs": read_version_pairs(version),
        "series": series.select(sorted(series.column_names)),
        "items": items,
        "collection": {k: coll.get(k) for k in keys} | {"extent": coll["extent"]},
    }


def _assert_same(a: dict, b: dict) -> None:
    assert a["pairs"].num_rows > 0
    assert a["pairs"].equals(b["pairs"]), "pair rows differ"
    assert a["series"].equals(b["series"]), "series differ"
    assert a["items"] == b["items"]
    assert a["collection"] == b["collection"]  # statistics compared as exact floats


def _full(store: Path) -> dict:
    report = build_catalog(store, CFG.model_copy(update={"incremental": False}))
    assert report.reused_pairs == 0 and report.reused_from is None
    return _snapshot(store)


def test_appended_pairs_are_the_only_ones_read_and_the_result_equals_a_full_build(tmp_path: Path) -> None:
    store = tmp_path / "store"
    grown_a = _grown(FRAME_A, 1)
    write_cube(
        store / "cubes" / f"{FRAME_A}.zarr", _stamped(grown_a.isel(secondary_date=slice(0, 4)), "cv-a1"), 2
    )
    write_cube(store / "cubes" / f"{FRAME_B}.zarr", _stamped(make_cube_dataset(frame_id=FRAME_B), "cv-b1"), 3)
    first = build_catalog(store, CFG)
    assert first.reused_from is None and first.pairs == 6 + 6  # A: 4 + 2 pairs (s > p), B: the same dates

    # the append: one more secondary date (3 new pairs); the cube's new token records the old one
    write_cube(store / "cubes" / f"{FRAME_A}.zarr", _stamped(grown_a, "cv-a2", ["cv-a1"]), 2)
    inc = build_catalog(store, CFG)
    assert inc.reused_from == first.version
    assert inc.pairs == 15 and inc.reused_pairs == 12  # only A's 3 new pairs were read
    incremental = _snapshot(store)
    new = incremental["pairs"].filter(incremental["pairs"]["secondary_index"].to_numpy() == 4)
    assert sorted(new["primary_index"].to_pylist()) == [0, 1, 2]
    items = incremental["items"]
    assert items[f"{FRAME_A}.json"]["properties"][hx.CUBE_VERSION] == "cv-a2"
    _assert_same(incremental, _full(store))


def test_new_rebuilt_and_unversioned_cubes_are_read_again(tmp_path: Path) -> None:
    store = tmp_path / "store"
    cubes = store / "cubes"
    ds_a, ds_b = make_cube_dataset(frame_id=FRAME_A, seed=2), make_cube_dataset(frame_id=FRAME_B, seed=3)
    write_cube(cubes / f"{FRAME_A}.zarr", _stamped(ds_a, "cv-a1"), 3)
    write_cube(cubes / f"{FRAME_B}.zarr", _stamped(ds_b, "cv-b1"), 2)
    build_catalog(store, CFG)
    assert build_catalog(store, CFG).reused_pairs == 12  # nothing changed: nothing read

    # B rebuilt (a new token without history: its pairs may have changed), C is a new frame
    write_cube(cubes / f"{FRAME_B}.zarr", _stamped(ds_b, "cv-b2"), 2)
    write_cube(cubes / f"{FRAME_C}.zarr", _stamped(make_cube_dataset(frame_id=FRAME_C, seed=4), "cv-c1"), 3)
    report = build_catalog(store, CFG)
    assert report.pairs == 18 and report.reused_pairs == 6  # A's pairs only
    _assert_same(_snapshot(store), _full(store))

    # a cube no ingest stamped cannot be shown unchanged: read every time
    write_cube(cubes / f"{FRAME_A}.zarr", _stamped(ds_a, None), 3)
    build_catalog(store, CFG)
    assert build_catalog(store, CFG).reused_pairs == 12  # B and C, not A


@pytest.mark.parametrize("change", ["statistics", "annotations"])
def test_other_build_settings_mean_a_full_scan(tmp_path: Path, change: str, annotations_dir) -> None:  # type: ignore[no-untyped-def]
    from catalog_records import annotation

    store = tmp_path / "store"
    write_cube(store / "cubes" / f"{FRAME_A}.zarr", _stamped(make_cube_dataset(frame_id=FRAME_A), "cv-a1"), 2)
    build_catalog(store, CFG)
    if change == "statistics":
        report = build_catalog(store, CFG.model_copy(update={"statistics": False}))
    else:
        ann = annotations_dir([annotation(100, FRAME_A, "20180105", "20180111", ["Deformation"])])
        report = build_catalog(store, CFG, annotations=ann)
    assert report.reused_from is None and report.reused_pairs == 0


def test_incremental_build_on_s3(s3_bucket: str, tmp_path: Path) -> None:
    """The cache is read back from an object store: a second build of unchanged cubes reads no pair."""
    from hephaestus.platform import storage

    local = tmp_path / f"{FRAME_A}.zarr"
    write_cube(local, _stamped(make_cube_dataset(frame_id=FRAME_A), "cv-a1"), 2)
    remote = storage.location(f"{s3_bucket}/store/cubes/{FRAME_A}.zarr")
    remote.fs.put(str(local), remote.path, recursive=True)
    store = f"{s3_bucket}/store"
    first = build_catalog(store, CFG)
    again = build_catalog(store, CFG)
    assert first.reused_pairs == 0 and again.reused_from == first.version and again.reused_pairs == 6
