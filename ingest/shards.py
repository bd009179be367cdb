"""Encode one cell of a sharded cube array (one pair's whole raster slice = one shard) in the calling thread.

zarr's generic write of such a shard hands each inner chunk through its event loop and thread pool, and
takes the partial-shard path (the shard is rounded up past the frame's edge): ~10 ms of CPU for a 535 x 705
float32 slice whose compression takes ~1.5 ms (`tests/benchmarks/bench_ingest.py`, step "encode"). Here the
array's own codec objects (its `ShardingCodec`'s inner and index codecs, from the array's metadata) encode
the inner chunks one after the other, and the shard is laid out as zarr lays it out (inner chunks in Morton
order, the index at the end, empty inner chunks left out); `tests/ingest/test_ingest_throughput.py` checks
the bytes against zarr's own write. Arrays this does not fit (zarr v2, unsharded layouts, a shard that is
not one cell, codecs without a synchronous encoder) get None from `cell_encoder` and are written by zarr.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import zarr
from zarr.abc.codec import ArrayBytesCodec, BytesBytesCodec
from zarr.codecs.sharding import MAX_UINT_64, ShardingCodec, ShardingCodecIndexLocation
from zarr.core.array_spec import ArraySpec
from zarr.core.buffer import Buffer, default_buffer_prototype
from zarr.core.chunk_grids import RegularChunkGrid
from zarr.core.indexing import morton_order_iter


@dataclass(frozen=True)
class CellEncoder:
    """How to turn one (primary, secondary) cell of an array into its shard's bytes."""

    codec: ShardingCodec
    shard_shape: tuple[int, int]  # rows, columns of the shard (whole inner chunks, >= the frame)
    tile: tuple[int, int]
    spec: ArraySpec  # of an inner chunk
    fill: np.generic
    keep_empty: bool  # write_empty_chunks: store inner chunks that hold only the fill value
    key_of: object  # the array's chunk key encoding (cell -> key)
    prefix: str  # the array's path in its store

    def key(self, i: int, j: int) -> str:
        key = self.key_of((i, j, 0, 0))  # type: ignore[operator]
        return f"{self.prefix}/{key}" if self.prefix else key

    def _empty(self, chunk: np.ndarray) -> bool:
        if self.keep_empty:
            return False
        if isinstance(self.fill, np.floating) and np.isnan(self.fill):
            return bool(np.isnan(chunk).all())
        return bool((chunk == self.fill).all())

    def encode(self, values: np.ndarray) -> Buffer | None:
        """The shard of one cell holding `values` (the frame's H x W slice); None when every inner chunk is
        empty (zarr then deletes the shard)."""
        rows, cols = self.shard_shape
        th, tw = self.tile
        padded = np.full((rows, cols), self.fill, dtype=self.spec.dtype.to_native_dtype())
        padded[: values.shape[0], : values.shape[1]] = values
        per = (1, 1, rows // th, cols // tw)
        index = np.full(per + (2,), MAX_UINT_64, dtype="<u8")
        parts: list[bytes] = []
        offset = 0
        nd = self.spec.prototype.nd_buffer
        for coords in morton_order_iter(per):
            r, c = coords[2] * th, coords[3] * tw
            chunk = np.ascontiguousarray(padded[r : r + th, c : c + tw]).reshape(1, 1, th, tw)
            if self._empty(chunk):
                continue
            data = None
            for codec in self.codec.codecs:
                data = codec._encode_sync(nd.from_numpy_array(chunk) if data is None else data, self.spec)
            raw = data.to_bytes()
            index[coords] = (offset, len(raw))
            parts.append(raw)
            offset += len(raw)
        if not parts:
            return None
        ispec = self.codec._get_index_chunk_spec(per)
        data = None
        for codec in self.codec.index_codecs:
            data = codec._encode_sync(nd.from_numpy_array(index) if data is None else data, ispec)
        parts.append(data.to_bytes())
        return default_buffer_prototype().buffer.from_bytes(b"".join(parts))


def cell_encoder(array: zarr.Array) -> CellEncoder | None:
    """A `CellEncoder` for a zarr v3 (n_primary, n_secondary, H, W) array sharded one cell per shard whose
    codecs all encode synchronously; None for any other array."""
    meta = array.metadata
    if meta.zarr_format != 3 or len(meta.shape) != 4 or len(meta.codecs) != 1:
        return None
    codec = meta.codecs[0]
    grid = meta.chunk_grid
    if not isinstance(codec, ShardingCodec) or not isinstance(grid, RegularChunkGrid):
        return None
    shard, tile = tuple(grid.chunk_shape), tuple(codec.chunk_shape)
    if shard[:2] != (1, 1) or tile[:2] != (1, 1) or shard[2] < meta.shape[2] or shard[3] < meta.shape[3]:
        return None
    if shard[2] % tile[2] or shard[3] % tile[3]:
        return None
    if codec.index_location != ShardingCodecIndexLocation.end:
        return None
    inner, index = list(codec.codecs), list(codec.index_codecs)
    for chain in (inner, index):
        if not chain or not isinstance(chain[0], ArrayBytesCodec):
            return None
        if any(not isinstance(c, BytesBytesCodec) for c in chain[1:]):
            return None
        if any(not hasattr(c, "_encode_sync") for c in chain):
            return None
    config = array.async_array.config
    spec = ArraySpec(
        shape=tile,
        dtype=meta.data_type,
        fill_value=meta.fill_value,
        config=config,
        prototype=default_buffer_prototype(),
    )
    return CellEncoder(
        codec=codec,
        shard_shape=(shard[2], shard[3]),
        tile=(tile[2], tile[3]),
        spec=spec,
        fill=meta.fill_value,
        keep_empty=bool(config.write_empty_chunks),
        key_of=meta.encode_chunk_key,
        prefix=array.store_path.path,
    )
