"""One zarr array as the chunk reader sees it: its layout, chunk keys, shard indexes and chunk decoding.

`ArrayReader(array)` decides from the array's metadata whether the reader's fast path applies (`fast`):
  v2: one numcodecs compressor (or none), C order, no filters (the published layout), or the platform's
      checksummed v2 chain: one of blosc / zstd / gzip as the filter, numcodecs' `crc32` as compressor;
  v3: `bytes` + at most one of blosc / zstd / gzip + optionally `crc32c`, optionally inside a
      `sharding_indexed` codec (the platform layout: 128 x 128 inner chunks in whole-slice shards).
Checksums are verified as zarr verifies them: a chunk (or shard index) whose stored CRC-32C (v2: CRC-32)
does not match its bytes raises `IntegrityError` (`checksum.verify`, `checksum.verify_crc32_first`; the
compiled path checks CRC-32C in place.py, v2 checksummed chunks are decoded here, one per window).
Anything else is left to zarr's own reader (`fast` False). For a fast array it owns the per-array state
the reader keeps between batches: the memo of chunk keys (zarr's own `encode_chunk_key`, capped at
`MAX_CACHED_CHUNK_KEYS`), the shard indexes read once per shard (least recently used out beyond
`MAX_CACHED_SHARD_INDEXES`), the scratch tiles chunks are decoded into, and the decoding itself with
numcodecs' C decompressors. What to fetch and when is `chunks.read_tiles`'s job; how is `fetch.Fetcher`'s.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numcodecs
import numpy as np
import zarr
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, GzipCodec, ShardingCodec, ZstdCodec

from hephaestus.train.data.checksum import CRC_BYTES, verify, verify_crc32_first
from hephaestus.train.data.fetch import Range
from hephaestus.train.data.window import EMPTY, Window, axis_pieces

__all__ = ["MAX_CACHED_CHUNK_KEYS", "MAX_CACHED_SHARD_INDEXES", "ArrayReader"]

_V3_COMPRESSORS = {BloscCodec: numcodecs.Blosc, ZstdCodec: numcodecs.Zstd, GzipCodec: numcodecs.GZip}
_DECOMPRESS = {numcodecs.Blosc: numcodecs.blosc.decompress, numcodecs.Zstd: numcodecs.zstd.decompress}
"""numcodecs' C decompressors, called directly: the codec objects' `decode` wraps them in buffer checks
that cost about as much as decoding a 128 x 128 chunk."""
_V2_FILTER_COMPRESSORS = (numcodecs.Blosc, numcodecs.Zstd, numcodecs.GZip)
"""Compressors the reader decodes in a checksummed v2 chain's filter slot."""
MAX_CACHED_SHARD_INDEXES = 1024
"""Shard indexes kept per array (least recently used dropped first): a long run over a whole dataset
(hundreds of thousands of shards) must not grow a worker's memory without bound; one index of a
1500 px slice in 128 px chunks is 2.3 kB, so the cap holds an array's cache under ~2.5 MB."""
MAX_CACHED_CHUNK_KEYS = 65536
"""Memoised chunk-key lookups per array before the memo is cleared (same reason)."""


def _v2_decoder(filters: Sequence[object] | None, compressor: object) -> tuple[bool, object | None, bool]:
    """(supported, decoder, checksummed) for a v2 chain: a compressor (or none) and no filters, or the
    platform's checksummed chain (`ingest.encoding.v2_checksummed`): one compressor as the only filter and
    numcodecs' `crc32` (checksum first, its default) as the compressor."""
    if not filters:
        return True, compressor, False
    if (
        len(filters) == 1
        and type(compressor) is numcodecs.CRC32
        and getattr(compressor, "location", "start") == "start"
        and type(filters[0]) in _V2_FILTER_COMPRESSORS
    ):
        return True, filters[0], True
    return False, None, False


def _numcodecs_decoder(codecs: Sequence[object]) -> tuple[bool, object | None, str, bool]:
    """(supported, decoder, byte order, checksummed) for a v3 codec chain `bytes` [+ one compressor]
    [+ `crc32c`]."""
    crc = bool(codecs) and isinstance(codecs[-1], Crc32cCodec)
    codecs = list(codecs[:-1]) if crc else list(codecs)
    if not codecs or not isinstance(codecs[0], BytesCodec) or len(codecs) > 2:
        return False, None, "<", crc
    endian = getattr(codecs[0], "endian", None)
    order = "<" if endian is None or getattr(endian, "value", endian) == "little" else ">"
    if len(codecs) == 1:
        return True, None, order, crc
    factory = _V3_COMPRESSORS.get(type(codecs[1]))
    return (factory is not None), (factory() if factory else None), order, crc


class ArrayReader:
    """Window reads of one zarr array whose last two dims are (row, col)."""

    def __init__(self, array: zarr.Array) -> None:
        self.array = array
        self.shape = tuple(int(s) for s in array.shape)
        self.dtype = np.dtype(array.dtype)
        self.fast = False
        self.sharded = False
        self._index_cache: OrderedDict[str, np.ndarray | None] = OrderedDict()  # None: no shard stored
        self._keys: dict[tuple[int, ...], tuple[str, tuple[int, ...] | None]] = {}
        self.crc = False
        """Every stored chunk ends in the CRC-32C of its bytes (zarr's `crc32c` codec, last in the chain)."""
        self._index_crc = False
        self.crc32_first = False
        """v2: every stored chunk starts with the CRC-32 of its bytes (numcodecs' `crc32` as compressor)."""
        meta = array.metadata
        prefix = array.path.strip("/")
        self._prefix = f"{prefix}/" if prefix else ""
        self._encode = meta.encode_chunk_key
        try:
            if meta.zarr_format == 2:
                self.chunks = tuple(int(c) for c in meta.chunks)
                self.store_chunks = self.chunks
                ok, self._decoder, self.crc32_first = _v2_decoder(meta.filters, meta.compressor)
                if not ok or meta.order != "C" or self.dtype.kind in "OUSV":
                    return
                self._chunk_dtype = self.dtype
            else:
                self.store_chunks = tuple(int(c) for c in meta.chunk_grid.chunk_shape)
                codecs = list(meta.codecs)
                if len(codecs) == 1 and isinstance(codecs[0], ShardingCodec):
                    shard = codecs[0]
                    ok, self._decoder, order, self.crc = _numcodecs_decoder(list(shard.codecs))
                    ok_index, index_decoder, index_order, crc = _numcodecs_decoder(list(shard.index_codecs))
                    if not ok or not ok_index or index_decoder is not None or index_order != "<":
                        return
                    self.chunks = tuple(int(c) for c in shard.chunk_shape)
                    self.sharded = True
                    per_shard = tuple(s // c for s, c in zip(self.store_chunks, self.chunks, strict=True))
                    self._per_shard = per_shard
                    self._index_crc = crc
                    self._index_nbytes = 16 * int(np.prod(per_shard)) + (CRC_BYTES if crc else 0)
                    self._index_at_end = getattr(shard.index_location, "value", shard.index_location) == "end"
                else:
                    ok, self._decoder, order, self.crc = _numcodecs_decoder(codecs)
                    if not ok:
                        return
                    self.chunks = self.store_chunks
                self._chunk_dtype = self.dtype.newbyteorder(order) if self.dtype.itemsize > 1 else self.dtype
        except (AttributeError, NotImplementedError, TypeError, ValueError):
            return
        fill = meta.fill_value if meta.fill_value is not None else 0
        self._fill = np.full(self.chunks, fill, dtype=self.dtype)
        self.fill_is_zero = bool(fill == 0)
        self._plane = self.chunks[-2:] if all(c == 1 for c in self.chunks[:-2]) else None
        decoder = self._decoder
        self._decompress = None if decoder is None else _DECOMPRESS.get(type(decoder), decoder.decode)  # type: ignore[attr-defined]
        self._native = self._chunk_dtype.isnative
        self._scratch: dict[tuple[int, int], np.ndarray] = {}
        self._bytes: np.ndarray | None = None
        self.fast = True

    # -- planning ---------------------------------------------------------------------------
    def plan(
        self, w: Window
    ) -> list[tuple[str, tuple[int, ...] | None, tuple[slice, slice], tuple[slice, slice]]]:
        """Per touched chunk: (stored key, position in its shard or None, source slices in the
        chunk, destination slices in the window)."""
        lead_chunks = self._lead_chunks(w)
        rows = axis_pieces(w.r0, w.r1, self.chunks[-2])
        cols = axis_pieces(w.c0, w.c1, self.chunks[-1])
        locate = self._locate
        return [
            (*locate((*lead_chunks, rc, cc)), (rsrc, csrc), (rdst, cdst))
            for rc, rsrc, rdst in rows
            for cc, csrc, cdst in cols
        ]

    def _lead_chunks(self, w: Window) -> tuple[int, ...]:
        """Chunk coordinates of a window's leading (date) indices."""
        return tuple(i // c for i, c in zip(w.lead, self.chunks[:-2], strict=True))

    def _locate(self, coords: tuple[int, ...]) -> tuple[str, tuple[int, ...] | None]:
        """(stored key, position inside the shard) of chunk `coords`, memoised (keys are reused a lot)."""
        found = self._keys.get(coords)
        if found is None:
            if self.sharded:
                outer = tuple(c // n for c, n in zip(coords, self._per_shard, strict=True))
                inner: tuple[int, ...] | None = tuple(
                    c % n for c, n in zip(coords, self._per_shard, strict=True)
                )
            else:
                outer, inner = coords, None
            if len(self._keys) >= MAX_CACHED_CHUNK_KEYS:
                self._keys.clear()
            found = self._keys[coords] = (self._prefix + self._encode(outer), inner)
        return found

    def index_request(self, shard_key: str) -> tuple[str, Range] | None:
        """The byte range of a shard's index, unless cached."""
        if shard_key in self._index_cache:
            self._index_cache.move_to_end(shard_key)
            return None
        n = self._index_nbytes
        return shard_key, ((-n, n) if self._index_at_end else (0, n))

    def set_index(self, shard_key: str, data: bytes | None) -> None:
        """Keep a shard's index (positions x (offset, nbytes); None when no shard is stored), least recently used first out."""
        shape = (*self._per_shard, 2)
        if data is None:  # no shard stored: every chunk empty
            index = None
        else:
            if self._index_crc:
                data = verify(data, f"{shard_key} (shard index)")
            index = (
                np.frombuffer(data[: 16 * int(np.prod(self._per_shard))], dtype="<u8").reshape(shape).copy()
            )
        self._index_cache[shard_key] = index
        self._index_cache.move_to_end(shard_key)

    def trim_caches(self) -> None:
        """Drop the least recently used shard indexes beyond the cap. Called between batches only, so that
        a batch never loses an index it fetched (one batch may touch more shards than the cap)."""
        while len(self._index_cache) > MAX_CACHED_SHARD_INDEXES:
            self._index_cache.popitem(last=False)

    def chunk_request(self, key: str, inner: tuple[int, ...] | None) -> tuple[str, Range] | None:
        """(key, byte range) of a chunk's stored bytes; None when the chunk is empty (fill)."""
        if inner is None:
            return key, None
        index = self._index_cache[key]
        if index is None:
            return None
        offset, nbytes = index[inner]
        return None if offset == EMPTY else (key, (int(offset), int(nbytes)))

    def tile_grid(self, w: Window) -> tuple[int, int, int, int, int, int]:
        """(first chunk row, first chunk col, chunk rows, chunk cols, r_in, c_in) a window touches."""
        th, tw = self.chunks[-2:]
        rc0, cc0 = w.r0 // th, w.c0 // tw
        nr, nc = (w.r1 - 1) // th + 1 - rc0, (w.c1 - 1) // tw + 1 - cc0
        return rc0, cc0, nr, nc, w.r0 - rc0 * th, w.c0 - cc0 * tw

    def tile_keys(
        self, w: Window, rc0: int, cc0: int, nr: int, nc: int
    ) -> list[tuple[str, tuple[int, ...] | None]]:
        """(stored key, position in its shard) of each touched chunk, row-major."""
        lead_chunks = self._lead_chunks(w)
        locate = self._locate
        return [locate((*lead_chunks, rc0 + i, cc0 + j)) for i in range(nr) for j in range(nc)]

    def shard_keys(self, w: Window, rc0: int, cc0: int, nr: int, nc: int) -> list[str]:
        """The stored keys of the shards a window's chunks lie in (one chunk located per shard)."""
        lead_chunks = self._lead_chunks(w)
        pr, pc = self._per_shard[-2:]
        rows = range(rc0 // pr * pr, rc0 + nr, pr)
        cols = range(cc0 // pc * pc, cc0 + nc, pc)
        return [self._locate((*lead_chunks, max(r, rc0), max(c, cc0)))[0] for r in rows for c in cols]

    def scratch_tiles(self, nr: int, nc: int) -> np.ndarray:
        """A reused [nr, nc, chunk rows, chunk cols] buffer to decode a window's chunks into."""
        tiles = self._scratch.get((nr, nc))
        if tiles is None:
            th, tw = self.chunks[-2:]
            tiles = self._scratch[(nr, nc)] = np.empty((nr, nc, th, tw), dtype=self.dtype)
        return tiles

    def shard_window(self, w: Window, rc0: int, cc0: int, nr: int, nc: int) -> tuple[str, np.ndarray] | None:
        """(shard key, [nr, nc, 2] offsets and lengths) when every touched chunk lies in one shard whose
        index is cached; None otherwise."""
        lead_chunks = self._lead_chunks(w)
        key, inner = self._locate((*lead_chunks, rc0, cc0))
        last, _ = self._locate((*lead_chunks, rc0 + nr - 1, cc0 + nc - 1))
        if last != key or inner is None:
            return None  # shards are rectangles: the corners' shard is everyone's
        index = self._index_cache.get(key, False)
        if index is False:
            return None
        if index is None:  # no shard stored: every chunk empty
            return key, np.full((nr, nc, 2), EMPTY, dtype=np.uint64)
        return key, index[(*inner[:-2], slice(inner[-2], inner[-2] + nr), slice(inner[-1], inner[-1] + nc))]

    def decode_into(
        self, data: bytes | memoryview | None, lead_in_chunk: tuple[int, ...], out: np.ndarray
    ) -> None:
        """Decode one stored chunk's 2-D slice into `out` (a tile of `scratch_tiles`)."""
        out[...] = self.decode(data, lead_in_chunk)  # (numcodecs' decompress with dest= measured slower)

    def scratch_tile(self) -> np.ndarray:
        """One chunk-sized tile [1, 1, h, w] that compiled code decodes chunks into."""
        tile = self._scratch.get((0, 0))
        if tile is None:
            tile = self._scratch[(0, 0)] = np.empty((1, 1, *self.chunks[-2:]), dtype=self.dtype)
        return tile

    def byte_buffer(self, nbytes: int) -> np.ndarray:
        """A reused uint8 buffer of at least `nbytes` (a view of exactly that length)."""
        buf = self._bytes
        if buf is None or buf.size < nbytes:
            buf = self._bytes = np.empty(max(nbytes, 1 << 16), dtype=np.uint8)
        return buf[:nbytes]

    def fill_plane(self) -> np.ndarray:
        """One 2-D chunk of the fill value."""
        return self._fill.reshape(-1, *self.chunks[-2:])[0]

    def decodes_compiled(self) -> bool:
        """Whether chunks are native 2-D slices stored raw or blosc-compressed (what place.py decodes)."""
        return (
            self._plane is not None
            and self._native
            and not self.crc32_first  # place.py checks CRC-32C only: v2 chunks are checked in `decode`
            and (self._decoder is None or type(self._decoder) is numcodecs.Blosc)
        )

    def reads_into(self) -> bool:
        """Whether a stored chunk's bytes are its 2-D slice as is (a local read can land in the tile):
        not when they end in a checksum, which must be checked before the bytes are used."""
        return (
            self._plane is not None
            and self._decompress is None
            and self._native
            and not self.crc
            and not self.crc32_first
        )

    def lead_in_chunk(self, lead: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(i % c for i, c in zip(lead, self.chunks[:-2], strict=True))

    def decode(self, data: bytes | memoryview | None, lead_in_chunk: tuple[int, ...]) -> np.ndarray:
        """The 2-D slice at `lead_in_chunk` of one chunk (the fill value where nothing was stored).

        (Decoding into a reused buffer with `out=` measured slower than numcodecs' own allocation.)
        """
        if data is None:
            return self._fill[lead_in_chunk]
        if self.crc:
            data = verify(data, "chunk")
        elif self.crc32_first:
            data = verify_crc32_first(data, "chunk")
        if self._decompress is not None:
            data = self._decompress(data)
        if self._plane is not None:  # one 2-D slice per chunk (every cube raster): no lead to index
            return np.frombuffer(data, dtype=self._chunk_dtype).reshape(self._plane)
        return np.frombuffer(data, dtype=self._chunk_dtype).reshape(self.chunks)[lead_in_chunk]
