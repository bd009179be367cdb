"""Only the chunks a crop touches are read: counted on a real store, by a wrapper and by audit hooks."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import zarr.storage
from loader_rows import AUTHORS_CHANNELS, STATS, make_cube, pair_rows
from zarr.abc.store import RangeByteRequest

from hephaestus.platform import schema
from hephaestus.train.data import LoaderConfig, MinicubeDataset
from hephaestus.train.data.fetch import MAX_RANGES_PER_OBJECT

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")

TILE = 16


class CountingStore(zarr.storage.WrapperStore):
    """A real LocalStore that records every get() (key, byte range)."""

    def __init__(self, store: zarr.storage.LocalStore) -> None:
        super().__init__(store)
        self.gets: list[tuple[str, object]] = []

    async def get(self, key, prototype, byte_range=None):  # type: ignore[no-untyped-def, override]
        self.gets.append((key, byte_range))
        return await self._store.get(key, prototype, byte_range)


def expected_keys(dataset: MinicubeDataset, i: int, row: dict) -> set[str]:
    """Chunk keys of the v3 layout (c/<p>/<s>/<row>/<col>) under the crop, computed here."""
    r0, c0, h, w = dataset.window(i)
    k = dataset.cfg.crop_size
    rows = range(r0 // TILE, (min(r0 + k, h) - 1) // TILE + 1)
    cols = range(c0 // TILE, (min(c0 + k, w) - 1) // TILE + 1)
    p, s = row["primary_index"], row["secondary_index"]
    keys = set()
    for var in (*AUTHORS_CHANNELS, "deformation_mask"):
        lead = "" if var == "dem" else f"{p}/{s}/"
        keys |= {f"{var}/c/{lead}{r}/{c}" for r in rows for c in cols}
    return keys


def test_counting_store_sees_only_touched_chunks(tmp_path):
    ds, url = make_cube(tmp_path, "platform", height=64, width=80, tile=TILE)
    rows = pair_rows(ds, url)
    stores: list[CountingStore] = []

    def opener(u: str) -> CountingStore:
        stores.append(CountingStore(zarr.storage.LocalStore(u, read_only=True)))
        return stores[-1]

    cfg = LoaderConfig(store_url="u", crop_size=24, max_offset=6, augment=False, undersample=False)
    dataset = MinicubeDataset(rows, None, STATS, cfg, store_opener=opener)
    for i, row in enumerate(rows.to_pylist()):
        dataset.read(i)  # opens the cube on first use
        store = stores[0]
        store.gets.clear()
        dataset.read(i)
        got = Counter(k for k, _ in store.gets)
        want = expected_keys(dataset, i, row)
        assert set(got) == want
        assert all(v == 1 for v in got.values())
        assert len(want) < 10 * (64 // TILE) * (
            80 // TILE
        )  # far fewer than the slices' 20 tiles x 10 variables


def test_sharded_layout_reads_index_once_then_inner_chunk_ranges(tmp_path):
    from zarr.codecs import BloscCodec

    from factories import make_cube_dataset

    ds = make_cube_dataset(height=64, width=64)
    lz4 = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
    enc = {
        v: {"chunks": (1, 1, TILE, TILE), "shards": (1, 1, 64, 64), "compressors": [lz4]}
        for v, spec in schema.VARIABLES.items()
        if spec.dims == schema.RASTER_DIMS
    }
    url = str(tmp_path / "sharded.zarr")
    ds.to_zarr(url, mode="w", zarr_format=3, encoding=enc, consolidated=False)
    store = CountingStore(zarr.storage.LocalStore(url, read_only=True))
    rows = pair_rows(ds, url)
    dataset = MinicubeDataset(
        rows,
        None,
        STATS,
        LoaderConfig(store_url="u", crop_size=24, max_offset=0, augment=False, undersample=False),
        store_opener=lambda u: store,
    )
    dataset.read(0)
    store.gets.clear()
    dataset.read(0)  # indexes cached: only the inner chunks' byte ranges
    r0, c0, _, _ = dataset.window(0)
    tiles = len(range(r0 // TILE, (r0 + 23) // TILE + 1)) * len(range(c0 // TILE, (c0 + 23) // TILE + 1))
    shard_gets = [(k, r) for k, r in store.gets if k != "dem/c/0/0"]
    assert all(isinstance(r, RangeByteRequest) for _, r in shard_gets)  # byte ranges, never whole shards
    # 9 sharded variables (8 rasters + mask), one shard each: the inner chunks' ranges of one shard are
    # coalesced into at most MAX_RANGES_PER_OBJECT requests (a WrapperStore takes the object-store path);
    # all-fill inner chunks of the mask are not stored at all
    per_var = Counter(k.split("/")[0] for k, _ in shard_gets)
    rasters = [v for v in AUTHORS_CHANNELS if v != "dem"]  # the 8 sharded channels
    assert set(rasters) <= set(per_var) <= {*rasters, "deformation_mask"}
    assert all(1 <= n <= min(tiles, MAX_RANGES_PER_OBJECT) for n in per_var.values()), per_var


_OPENED: list[str] = []
_WATCH: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _WATCH and isinstance(args[0], str) and args[0].startswith(_WATCH[0]):
        _OPENED.append(args[0])


def test_local_fast_path_opens_only_touched_chunk_files(tmp_path):
    ds, url = make_cube(tmp_path, "platform", height=64, width=80, tile=TILE)
    rows = pair_rows(ds, url)
    dataset = MinicubeDataset(
        rows,
        None,
        STATS,
        LoaderConfig(store_url="u", crop_size=24, max_offset=6, augment=False, undersample=False),
    )
    assert dataset._cubes.get(url).fetcher.local_root is not None  # the direct-file path
    sys.addaudithook(_audit)
    root = str(Path(url))
    for i, row in enumerate(rows.to_pylist()):
        dataset.read(i)
        _OPENED.clear()
        _WATCH[:] = [root]
        try:
            dataset.read(i)
        finally:
            _WATCH.clear()
        got = Counter(str(Path(p).relative_to(root)) for p in _OPENED)
        assert set(got) == expected_keys(dataset, i, row)
        assert all(v == 1 for v in got.values())


def test_published_layout_reads_one_whole_slice_per_variable(tmp_path):
    ds, url = make_cube(tmp_path, "published", height=64, width=80)
    rows = pair_rows(ds, url)
    store = CountingStore(zarr.storage.LocalStore(url, read_only=True))
    dataset = MinicubeDataset(
        rows,
        None,
        STATS,
        LoaderConfig(store_url="u", crop_size=24, augment=False, undersample=False),
        store_opener=lambda u: store,
    )
    dataset.read(0)
    store.gets.clear()
    item = dataset.read(0)
    p, s = rows["primary_index"][0].as_py(), rows["secondary_index"][0].as_py()
    want = {f"{v}/{p}.{s}.0.0" for v in (*AUTHORS_CHANNELS, "deformation_mask") if v != "dem"}
    assert {k for k, _ in store.gets} == want  # the whole-frame dem chunk was read once, by the first read
    store.gets.clear()
    fresh = MinicubeDataset(
        rows,
        None,
        STATS,
        LoaderConfig(store_url="u", crop_size=24, augment=False, undersample=False),
        store_opener=lambda u: store,
    )
    fresh.read(0)
    assert sum(1 for k, _ in store.gets if k == "dem/0.0") == 1
    assert np.isfinite(item[0]).all()
