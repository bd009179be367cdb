"""The private chunk reader returns what zarr's own reader returns, on random windows of every layout.

Layouts it reads itself: v2 (whole slices or tiles; blosc, zstd or no compressor), v3 tiles (bytes +
blosc / zstd / gzip, either byte order), v3 shards (index at the end or the start, with crc32c), 2-D and
4-D, edges that cut chunks, chunks never written (the fill value). Layouts it hands to zarr (filters,
transposes) must still come out right. The expectation is zarr's `array[...]`, not this reader.
"""

from __future__ import annotations

from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec, BytesCodec, GzipCodec, ShardingCodec, TransposeCodec, ZstdCodec

from hephaestus.ingest import ChunkingConfig
from hephaestus.ingest.encoding import LAYOUTS as INGEST_LAYOUTS
from hephaestus.ingest.encoding import encoding
from hephaestus.train.data.array_reader import ArrayReader
from hephaestus.train.data.chunks import read_windows
from hephaestus.train.data.fetch import Fetcher
from hephaestus.train.data.window import Window

SHAPE = (2, 3, 50, 70)  # 50 x 70: tiles of 16 leave partial chunks at both edges


def _data(shape: tuple[int, ...], dtype: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = (rng.normal(size=shape) * 100).astype(dtype)
    if np.dtype(dtype).kind == "u":
        data = rng.integers(0, 255, size=shape).astype(dtype)
    if len(shape) == 4:
        data[0, 1] = 0  # a slice of zeros: its chunks are never written (zarr skips fill-only chunks)
    return data


LAYOUTS = {
    "v2-slices-blosc": dict(zarr_format=2, chunks=(1, 1, 50, 70), compressor=numcodecs.Blosc("lz4")),
    "v2-tiles-zstd-int": dict(
        zarr_format=2, chunks=(1, 1, 16, 16), compressor=numcodecs.Zstd(), dtype="int32"
    ),
    "v2-slices-raw-uint8": dict(zarr_format=2, chunks=(1, 1, 50, 70), compressor=None, dtype="uint8"),
    "v2-dem": dict(zarr_format=2, shape=(50, 70), chunks=(50, 70), compressor=numcodecs.Zstd()),
    "v3-tiles-blosc": dict(
        zarr_format=3, chunks=(1, 1, 16, 16), codecs=[BytesCodec(), BloscCodec(cname="lz4")]
    ),
    "v3-tiles-zstd-bigendian": dict(
        zarr_format=3, chunks=(1, 1, 16, 16), codecs=[BytesCodec(endian="big"), ZstdCodec()], dtype=">i4"
    ),
    "v3-tiles-gzip": dict(zarr_format=3, chunks=(1, 1, 16, 16), codecs=[BytesCodec(), GzipCodec()]),
    "v3-tiles-raw": dict(zarr_format=3, chunks=(1, 1, 16, 16), codecs=[BytesCodec()]),
    "v3-dem-tiles": dict(zarr_format=3, shape=(50, 70), chunks=(16, 16), codecs=[BytesCodec(), ZstdCodec()]),
    "v3-shards-end": dict(
        zarr_format=3,
        chunks=(1, 1, 64, 80),
        codecs=[ShardingCodec(chunk_shape=(1, 1, 16, 16), codecs=[BytesCodec(), BloscCodec(cname="lz4")])],
    ),
    "v3-shards-start": dict(
        zarr_format=3,
        chunks=(1, 1, 32, 48),
        codecs=[
            ShardingCodec(
                chunk_shape=(1, 1, 16, 16), codecs=[BytesCodec(), ZstdCodec()], index_location="start"
            )
        ],
    ),
}
FALLBACK = {
    "v2-filters": dict(
        zarr_format=2, chunks=(1, 1, 16, 16), compressor=None, filters=[numcodecs.Delta("<i4")], dtype="int32"
    ),
    "v3-transpose": dict(
        zarr_format=3, chunks=(1, 1, 16, 16), codecs=[TransposeCodec(order=(0, 1, 3, 2)), BytesCodec()]
    ),
}


def _write(root: Path, name: str, spec: dict) -> tuple[zarr.Array, np.ndarray, zarr.abc.store.Store]:
    spec = dict(spec)
    shape = spec.pop("shape", SHAPE)
    dtype = spec.pop("dtype", "float32")
    store = zarr.storage.LocalStore(root / name)
    array = zarr.create(shape=shape, dtype=dtype, store=store, path="var", fill_value=0, **spec)
    data = _data(shape, dtype, seed=len(name))
    array[...] = data
    reopened = zarr.open_array(zarr.storage.LocalStore(root / name, read_only=True), path="var", mode="r")
    return reopened, data, reopened.store


def _windows(shape: tuple[int, ...], n: int, seed: int) -> list[Window]:
    rng = np.random.default_rng(seed)
    h, w = shape[-2:]
    out = []
    for _ in range(n):
        lead = tuple(int(rng.integers(0, s)) for s in shape[:-2])
        r0, c0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        r1, c1 = int(rng.integers(r0 + 1, h + 1)), int(rng.integers(c0 + 1, w + 1))
        out.append(Window(lead, r0, r1, c0, c1))
    out.append(Window(tuple(0 for _ in shape[:-2]), 0, h, 0, w))  # the whole slice
    if len(shape) == 4:
        out.append(Window((0, 1), 3, 40, 5, 66))  # the never-written slice: fill values
    return out


def _read(reader: ArrayReader, fetcher: Fetcher, windows: list[Window]) -> list[np.ndarray]:
    sentinel = 77 if reader.dtype.itemsize == 1 else -12345  # shows any pixel left unwritten
    out = [np.full((w.r1 - w.r0, w.c1 - w.c0), sentinel, dtype=reader.dtype) for w in windows]
    for n, piece, dst in read_windows([(reader, w) for w in windows], fetcher):
        out[n][dst] = piece
    return out


@pytest.mark.parametrize("name", sorted(LAYOUTS) + sorted(FALLBACK))
def test_random_windows_match_zarr(tmp_path: Path, name: str) -> None:
    spec = {**LAYOUTS, **FALLBACK}[name]
    array, data, store = _write(tmp_path, name, spec)
    reader = ArrayReader(array)
    assert reader.fast == (name in LAYOUTS), "the layouts above are read by the fast path, the others not"
    windows = _windows(array.shape, 60, seed=len(name))
    got = _read(reader, Fetcher(store), windows)
    for w, piece in zip(windows, got, strict=True):
        want = array[(*w.lead, slice(w.r0, w.r1), slice(w.c0, w.c1))]
        assert piece.dtype == want.dtype
        np.testing.assert_array_equal(piece, want, err_msg=f"{name} {w}")
        np.testing.assert_array_equal(piece, data[(*w.lead, slice(w.r0, w.r1), slice(w.c0, w.c1))])


def test_remote_style_fetch_matches_too(tmp_path: Path) -> None:
    """A store that is not a LocalStore takes the concurrent path (index batch, then chunk batch)."""
    array, _, store = _write(tmp_path, "shards", LAYOUTS["v3-shards-end"])
    wrapped = zarr.storage.WrapperStore(store)  # not a LocalStore: no direct file reads
    remote = zarr.open_array(wrapped, path="var", mode="r")
    reader = ArrayReader(remote)
    fetcher = Fetcher(wrapped)
    assert fetcher.local_root is None and reader.sharded
    windows = _windows(array.shape, 30, seed=5)
    for w, piece in zip(windows, _read(reader, fetcher, windows), strict=True):
        np.testing.assert_array_equal(piece, array[(*w.lead, slice(w.r0, w.r1), slice(w.c0, w.c1))])


@pytest.mark.parametrize("layout", INGEST_LAYOUTS)
@pytest.mark.parametrize("variable", ["insar_difference", "insar_coherence"])
def test_every_ingest_layout_is_read_fast_and_right(tmp_path: Path, layout: str, variable: str) -> None:
    """Each layout ingest can write (`ingest.encoding.LAYOUTS`: 256 / 128 inner chunks, blosc-lz4 or
    "mixed", where phase is stored uncompressed), on a frame whose edges cut the chunks."""
    shape = (2, 3, 300, 410)
    enc = encoding(3, *shape, ChunkingConfig(layout=layout))[variable]
    store = zarr.storage.LocalStore(tmp_path / "cube")
    array = zarr.create_array(
        store,
        name=variable,
        shape=shape,
        dtype="float32",
        chunks=enc["chunks"],
        shards=enc.get("shards"),
        compressors=enc["compressors"],
        fill_value=0.0,
    )
    data = _data(shape, "float32", seed=len(layout))
    array[...] = data
    reopened = zarr.open_array(zarr.storage.LocalStore(tmp_path / "cube", read_only=True), path=variable)
    reader = ArrayReader(reopened)
    assert reader.fast
    windows = _windows(shape, 40, seed=len(layout) + len(variable))
    for w, piece in zip(windows, _read(reader, Fetcher(reopened.store), windows), strict=True):
        np.testing.assert_array_equal(piece, data[(*w.lead, slice(w.r0, w.r1), slice(w.c0, w.c1))])


def test_shard_index_cache_is_bounded_and_reads_stay_right(tmp_path: Path, monkeypatch) -> None:
    """A run over a whole dataset touches hundreds of thousands of shards: the per-array caches keep at most
    the configured number (least recently used out) and a shard read again after eviction is still right."""
    from hephaestus.train.data import array_reader

    monkeypatch.setattr(array_reader, "MAX_CACHED_SHARD_INDEXES", 2)
    monkeypatch.setattr(array_reader, "MAX_CACHED_CHUNK_KEYS", 5)
    array, data, store = _write(tmp_path, "shards", LAYOUTS["v3-shards-end"])
    reader, fetcher = ArrayReader(array), Fetcher(store)
    n_shards = int(np.prod(array.shape[:2]))  # one shard per (primary, secondary) slice here
    assert n_shards > 2
    windows = _windows(array.shape, 40, seed=11) * 2  # every shard visited, then visited again
    sizes = []
    for w in windows:  # one batch per window, as the loader reads a sample
        (piece,) = _read(reader, fetcher, [w])
        np.testing.assert_array_equal(piece, data[(*w.lead, slice(w.r0, w.r1), slice(w.c0, w.c1))])
        sizes.append(len(reader._index_cache))
    assert max(sizes) <= 2 + 1  # the cap, plus the shard the last batch touched
    assert len(reader._keys) <= 5 + 20  # the memo is cleared at its cap (a window here spans <= 20 chunks)
    # one batch touching more shards than the cap keeps every index it needs until it is done
    for w, piece in zip(windows, _read(reader, fetcher, windows), strict=True):
        np.testing.assert_array_equal(piece, data[(*w.lead, slice(w.r0, w.r1), slice(w.c0, w.c1))])
