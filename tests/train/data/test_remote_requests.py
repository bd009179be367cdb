"""Requests a channel crop makes against a real S3 server (moto), counted by a real HTTP proxy in front of it.

The expectations are independent of the reader: the request count a crop may cost (at most
`MAX_RANGES_PER_OBJECT` once the shard index is cached, although the window touches more inner chunks
than that, counted by hand below), and the pixels zarr's own reader returns for the same window.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr
from object_servers import CountingProxy, aws_env
from zarr.codecs import BloscCodec

from hephaestus.platform import storage
from hephaestus.platform.cube import zarr_store
from hephaestus.train.data.array_reader import ArrayReader
from hephaestus.train.data.chunks import read_windows
from hephaestus.train.data.fetch import MAX_RANGES_PER_OBJECT, Fetcher, coalesce
from hephaestus.train.data.window import Window

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")

H, W = 200, 260


def _upload(s3_bucket: str, tmp_path: Path, tile: int) -> tuple[str, np.ndarray]:
    """Two pairs of a float32 variable in whole-slice shards of `tile` px inner chunks (ingest's kind of layout)."""
    rng = np.random.default_rng(tile)
    data = rng.normal(size=(2, 1, H, W)).astype("float32")
    local = tmp_path / f"t{tile}.zarr"
    shard = (1, 1, -(-H // tile) * tile, -(-W // tile) * tile)
    lz4 = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
    group = zarr.open_group(str(local), mode="w", zarr_format=3)
    group.create_array(
        "var", shape=data.shape, dtype="float32", chunks=(1, 1, tile, tile), shards=shard, compressors=[lz4]
    )[...] = data
    url = f"{s3_bucket}/t{tile}.zarr"
    storage.filesystem(url).put(str(local), url.removeprefix("s3://"), recursive=True)
    return url, data


def _touched(tile: int, r0: int, r1: int, c0: int, c1: int) -> int:
    """Inner chunks a window covers (rows x columns of chunks), by hand."""
    return ((r1 - 1) // tile - r0 // tile + 1) * ((c1 - 1) // tile - c0 // tile + 1)


@pytest.mark.parametrize("client", ["obstore", "fsspec"])
@pytest.mark.parametrize("tile", [32, 48])
def test_channel_crop_costs_at_most_three_requests(  # type: ignore[no-untyped-def]
    s3_server, s3_bucket, tmp_path, monkeypatch, client, tile
):
    url, data = _upload(s3_bucket, tmp_path, tile)
    windows = [(0, 10, 110, 20, 120), (1, 40, 170, 90, 230), (1, 5, 120, 7, 140), (0, 150, 200, 0, 260)]
    with CountingProxy(s3_server) as proxy:
        for key, value in aws_env(proxy.endpoint).items():  # the clients talk to the server through the proxy
            monkeypatch.setenv(key, value)
        store = zarr_store(url, s3_client=client)
        array = zarr.open_array(store, path="var", mode="r")
        reader, fetcher = ArrayReader(array), Fetcher(store)
        assert reader.sharded and reader.fast and fetcher.local_root is None
        seen_shards: set[int] = set()
        for k, r0, r1, c0, c1 in windows:
            assert _touched(tile, r0, r1, c0, c1) > MAX_RANGES_PER_OBJECT  # coalescing has work to do
            proxy.reset()
            out = np.full((r1 - r0, c1 - c0), np.nan, np.float32)
            for _, piece, dst in read_windows([(reader, Window((k, 0), r0, r1, c0, c1))], fetcher):
                out[dst] = piece
            requests = proxy.requests
            assert all(q.method == "GET" and q.range and q.status == 206 for q in requests), requests
            index_reads = 0 if k in seen_shards else 1  # the first crop of a shard also reads its index
            seen_shards.add(k)
            assert len(requests) <= MAX_RANGES_PER_OBJECT + index_reads, requests
            assert sum(q.nbytes for q in requests) > 0
            want = zarr.open_array(zarr_store(url, s3_client="fsspec"), path="var", mode="r")[
                k, 0, r0:r1, c0:c1
            ]
            np.testing.assert_array_equal(out, want)  # zarr's own reader
            np.testing.assert_array_equal(out, data[k, 0, r0:r1, c0:c1])


def test_coalesce_joins_touching_ranges_then_smallest_gaps() -> None:
    # hand-computed: (0,10)+(10,5) touch -> (0,15); gaps then 15, 15, 45: the first 15 goes first
    assert coalesce([(50, 5), (0, 10), (100, 5), (30, 5), (10, 5)], 3) == [(0, 35), (50, 5), (100, 5)]
    assert coalesce([(0, 10), (5, 10)], 3) == [(0, 15)]  # overlapping
    assert coalesce([(0, 1), (9, 1), (20, 1)], 1) == [(0, 21)]
    assert coalesce([], 3) == []


def test_s3_client_choice_and_url(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(storage.S3_CLIENT_ENV, "nope")
    with pytest.raises(storage.InputError, match="HMC_S3_CLIENT"):
        storage.s3_client()
    monkeypatch.setenv(storage.S3_CLIENT_ENV, "FSSPEC")
    assert storage.s3_client() == "fsspec"
    assert isinstance(zarr_store("s3://bkt/cubes/a.zarr"), zarr.storage.FsspecStore)
    monkeypatch.delenv(storage.S3_CLIENT_ENV)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-print-me")
    store = zarr_store("s3://bkt/cubes/a.zarr/")
    assert isinstance(store, zarr.storage.ObjectStore)
    assert store.store.prefix == "cubes/a.zarr"
    assert "do-not-print-me" not in repr(store) + str(store.store.config)


def _read_in_child(url: str, queue) -> None:  # type: ignore[no-untyped-def]
    store = zarr_store(url)
    queue.put((type(store).__name__, zarr.open_array(store, path="var", mode="r")[1, 0, 3:5, 4].tolist()))


def test_a_process_forked_after_obstore_ran_still_reads(s3_bucket, tmp_path):  # type: ignore[no-untyped-def]
    """obstore's runtime does not survive fork (a DataLoader worker would hang): the child falls back to s3fs."""
    import multiprocessing

    url, data = _upload(s3_bucket, tmp_path, 32)
    parent = zarr_store(url)
    assert isinstance(parent, zarr.storage.ObjectStore)
    np.testing.assert_array_equal(
        zarr.open_array(parent, path="var", mode="r")[0, 0, :2, :2], data[0, 0, :2, :2]
    )
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_read_in_child, args=(url, queue))
    child.start()
    child.join(120)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung reading the cube")
    assert child.exitcode == 0
    kind, values = queue.get(timeout=5)
    assert kind == "FsspecStore"
    assert values == data[1, 0, 3:5, 4].tolist()
