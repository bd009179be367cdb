"""Read a 2-D window of a zarr array chunk by chunk, touching only the chunks the window covers.

Why not `array[...]`: zarr's generic path costs about as much per chunk in Python bookkeeping as
decoding the chunk itself, which halves crop throughput on the platform layout. For the plain
layouts the cubes use this module computes the touched chunk keys with zarr's own key encoding,
fetches them from the zarr store (local files directly, remote stores in one concurrent batch)
and decodes them with numcodecs:
  v2: one numcodecs compressor (or none), C order, no filters (the published layout);
  v3: `bytes` + at most one of blosc / zstd / gzip, optionally inside a `sharding_indexed` codec
      (the platform layout: 256 x 256 inner chunks in whole-slice shards). Shard indexes are read
      once per shard and cached; inner chunks are byte-range reads. On object stores the ranges a
      read needs from one shard are coalesced into at most `MAX_RANGES_PER_OBJECT` requests: zarr
      writes inner chunks in Morton order, so the chunks of a crop lie in a few runs, not one per row.
Anything else falls back to zarr's own reader, so every array zarr can read is still read right.
The training reader (`read.py`) asks for local windows undecoded (`read_tiles(..., undecoded=True)`):
where each chunk's bytes are (shard file offsets from the cached index), so that the compiled code of
`place.py` reads, decodes and places chunk by chunk with no Python step per chunk.

Interface (all the rest is private): `ArrayReader(array)` per zarr array, `Fetcher(store)` per store,
`Window`, `read_tiles(requests, fetcher)` (each window's chunks decoded side by side into one array, for the
compiled placement of `place.py`), `read_windows` (the same as pieces placed by slices) and `coalesce`
(the range planner). zarr's public API is used wherever it has one: array
metadata and `encode_chunk_key`, the codec classes of `zarr.codecs`, `zarr.abc.store` byte requests and
`zarr.buffer`; only `zarr.core.sync.sync` (running a store's coroutines from synchronous code) has no
public counterpart. tests/train/data/test_chunk_reader.py compares the result with zarr's own reader on
random windows of every layout this reader accepts.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numcodecs
import numpy as np
import zarr
import zarr.storage
from zarr.abc.store import RangeByteRequest, SuffixByteRequest
from zarr.buffer import default_buffer_prototype
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, GzipCodec, ShardingCodec, ZstdCodec
from zarr.core.sync import sync  # no public way to run a store's coroutines from synchronous code

__all__ = [
    "ArrayReader",
    "Fetcher",
    "StoredChunks",
    "Tiles",
    "Window",
    "coalesce",
    "read_tiles",
    "read_windows",
]

_V3_COMPRESSORS = {BloscCodec: numcodecs.Blosc, ZstdCodec: numcodecs.Zstd, GzipCodec: numcodecs.GZip}
_DECOMPRESS = {numcodecs.Blosc: numcodecs.blosc.decompress, numcodecs.Zstd: numcodecs.zstd.decompress}
"""numcodecs' C decompressors, called directly: the codec objects' `decode` wraps them in buffer checks
that cost about as much as decoding a 128 x 128 chunk."""
_EMPTY = np.uint64(2**64 - 1)
MAX_OPEN_SHARDS = 256
"""Shard files kept open per process for byte-range reads (one pread per inner chunk)."""
MAX_CACHED_SHARD_INDEXES = 1024
"""Shard indexes kept per array (least recently used dropped first): a long run over a whole dataset
(hundreds of thousands of shards) must not grow a worker's memory without bound; one index of a
1500 px slice in 128 px chunks is 2.3 kB, so the cap holds an array's cache under ~2.5 MB."""
MAX_CACHED_CHUNK_KEYS = 65536
"""Memoised chunk-key lookups per array before the memo is cleared (same reason)."""
MAX_RANGES_PER_OBJECT = 3
"""Byte-range requests per stored object and remote read: more ranges are merged across their smallest gaps.

A request to an object store costs a round trip and a fee whatever its size, so a crop's inner chunks
of one shard (9 for 512 px in 256 px chunks) are fetched in a few spans, over-reading only the gaps."""

Range = tuple[int, int] | None
"""(offset, length) inside a stored object, negative offset = suffix; None = the whole object."""


@dataclass(frozen=True)
class Window:
    """Rows [r0, r1) and columns [c0, c1) of the last two dims, at fixed leading indices."""

    lead: tuple[int, ...]
    r0: int
    r1: int
    c0: int
    c1: int


@dataclass(frozen=True)
class Tiles:
    """The decoded chunks a window touches, side by side: `array[i, j]` is the 2-D slice of the i-th
    chunk row and j-th chunk column; the window starts at (r_in, c_in) of `array[0, 0]`.

    `written`: how many of the chunks were stored (0: the window is all fill value). The array is the
    reader's scratch buffer, valid until the generator yields the next item.
    """

    array: np.ndarray
    r_in: int
    c_in: int
    written: int
    stored: StoredChunks | None = None
    """Set instead of decoded tiles (`read_tiles(..., undecoded=True)`): where the stored chunks are, for
    the compiled placement to read and decode tile by tile (`array` is then one scratch tile [1, 1, h, w])."""

    def pieces(self, w: Window) -> Iterator[tuple[np.ndarray, tuple[slice, slice]]]:
        """(source piece, destination slices in the window) per tile, for slice-by-slice placement."""
        if self.stored is not None:
            raise ValueError("stored (undecoded) tiles have no pieces: read them with undecoded=False")
        th, tw = self.array.shape[2:]
        rows = _pieces(self.r_in, self.r_in + w.r1 - w.r0, th)  # tile-grid coordinates: tile 0 first
        cols = _pieces(self.c_in, self.c_in + w.c1 - w.c0, tw)
        for i, rsrc, rdst in rows:
            for j, csrc, cdst in cols:
                yield self.array[i, j][rsrc, csrc], (rdst, cdst)


@dataclass(frozen=True)
class StoredChunks:
    """Where the stored bytes of a window's chunks are, for compiled code to read and decode them.

    `index[i, j]` = (offset, length) of the chunk at tile (i, j) in the open file `fd` (a shard), or in
    `data` when fd is -1 (bytes already read); offset 2**64 - 1: never written (fill value), as in a
    zarr shard index. With a file, `data` is a scratch buffer for one chunk's stored bytes.
    `blosc`: blosc-compressed, else the chunk's raw native bytes.
    """

    fd: int
    data: np.ndarray  # uint8
    index: np.ndarray  # uint64 [tile rows, tile cols, 2]
    blosc: bool
    fill: np.ndarray  # one 2-D chunk of the fill value

    @property
    def grid(self) -> tuple[int, int]:
        return int(self.index.shape[0]), int(self.index.shape[1])


class Fetcher:
    """Fetches (byte ranges of) stored objects: local files read directly, others concurrently."""

    def __init__(self, store: zarr.abc.store.Store) -> None:
        self.store = store
        self.local_root = str(store.root) if type(store) is zarr.storage.LocalStore else None
        self._fds: dict[str, int] = {}
        self._paths: dict[str, str] = {}
        self.max_ranges: int | None = MAX_RANGES_PER_OBJECT
        """Remote range requests per object and fetch; None: one request per range (no coalescing)."""

    def fetch(self, requests: Sequence[tuple[str, Range]]) -> list[bytes | memoryview | None]:
        """The bytes of each (key, range), None where the object does not exist.

        Remote stores: ranges of one object are coalesced (`coalesce`) and all requests run concurrently.
        """
        if self.local_root is not None:
            return [self.read_local(k, r) for k, r in requests]
        if self.max_ranges is None:
            return sync(self._get_many(requests))
        spans: dict[str, list[tuple[int, int]]] = {}
        for key, rng in requests:
            if rng is not None and rng[0] >= 0:
                spans.setdefault(key, []).append(rng)
        merged = {key: coalesce(ranges, self.max_ranges) for key, ranges in spans.items()}
        plain = list(dict.fromkeys((k, r) for k, r in requests if r is None or r[0] < 0))
        span_reqs = [(key, span) for key, found in merged.items() for span in found]
        got = sync(self._get_many([*plain, *span_reqs]))
        whole = dict(zip(plain, got[: len(plain)], strict=True))
        span_data = dict(zip(span_reqs, got[len(plain) :], strict=True))
        out: list[bytes | memoryview | None] = []
        for key, rng in requests:
            if rng is None or rng[0] < 0:
                out.append(whole[(key, rng)])
                continue
            start, length = rng
            for s0, n in merged[key]:
                if s0 <= start and start + length <= s0 + n:
                    data = span_data[(key, (s0, n))]
                    out.append(None if data is None else memoryview(data)[start - s0 : start - s0 + length])
                    break
        return out

    def descriptor(self, key: str) -> int | None:
        """A kept read descriptor of a stored object (None when it does not exist)."""
        path = self._paths.get(key)
        if path is None:
            path = self._paths[key] = os.path.join(self.local_root, key)  # type: ignore[arg-type]
        fd = self._fds.get(path)
        if fd is None:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                return None
            if len(self._fds) >= MAX_OPEN_SHARDS:
                os.close(self._fds.pop(next(iter(self._fds))))
            self._fds[path] = fd
        return fd

    def read_local(self, key: str, rng: Range = None) -> bytes | None:
        """Whole chunk files are opened and read; byte ranges (shards) use pread on a kept descriptor."""
        path = self._paths.get(key)
        if path is None:
            path = self._paths[key] = os.path.join(self.local_root, key)  # type: ignore[arg-type]
        if rng is None:
            try:
                with open(path, "rb", buffering=0) as fh:
                    return fh.readall()
            except FileNotFoundError:
                return None
        fd = self.descriptor(key)
        if fd is None:
            return None
        offset, length = rng
        if offset < 0:
            offset += os.fstat(fd).st_size
        return os.pread(fd, length, offset)

    def read_local_into(self, key: str, rng: tuple[int, int], out: np.ndarray) -> bool:
        """Read the byte range (offset, length) of a stored object straight into `out` (one preadv, no
        intermediate bytes object); False when the object does not exist. `length` must be out's size."""
        fd = self.descriptor(key)
        if fd is None:
            return False
        offset, length = rng
        n = os.preadv(fd, [memoryview(out).cast("B")], offset)
        if n != length or length != out.nbytes:
            raise ValueError(
                f"{key}: stored chunk of {length} bytes at {offset}, read {n}, expected {out.nbytes}"
            )
        return True

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    async def _get_many(self, requests: Sequence[tuple[str, Range]]) -> list[bytes | None]:
        proto = default_buffer_prototype()

        def byte_range(rng: Range):  # type: ignore[no-untyped-def]
            if rng is None:
                return None
            if rng[0] < 0:
                return SuffixByteRequest(-rng[0])
            return RangeByteRequest(rng[0], rng[0] + rng[1])

        bufs = await asyncio.gather(
            *(self.store.get(k, prototype=proto, byte_range=byte_range(r)) for k, r in requests)
        )
        return [None if b is None else b.to_bytes() for b in bufs]


def coalesce(
    ranges: Sequence[tuple[int, int]], max_requests: int = MAX_RANGES_PER_OBJECT
) -> list[tuple[int, int]]:
    """(offset, length) spans covering every range of one object: touching or overlapping ranges are
    joined, then the two spans with the smallest gap between them until at most `max_requests` remain.

    Works on whatever order the chunks were written in (zarr's Morton order, row order, any chunk size).
    """
    spans: list[list[int]] = []
    for start, length in sorted(ranges):
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], start + length)
        else:
            spans.append([start, start + length])
    while len(spans) > max(max_requests, 1):
        i = min(range(len(spans) - 1), key=lambda j: spans[j + 1][0] - spans[j][1])
        spans[i : i + 2] = [[spans[i][0], spans[i + 1][1]]]
    return [(a, b - a) for a, b in spans]


def _numcodecs_decoder(codecs: Sequence[object]) -> tuple[bool, object | None, str]:
    """(supported, decoder, byte order) for a v3 codec chain `bytes` [+ one compressor]."""
    if not codecs or not isinstance(codecs[0], BytesCodec) or len(codecs) > 2:
        return False, None, "<"
    endian = getattr(codecs[0], "endian", None)
    order = "<" if endian is None or getattr(endian, "value", endian) == "little" else ">"
    if len(codecs) == 1:
        return True, None, order
    factory = _V3_COMPRESSORS.get(type(codecs[1]))
    return (factory is not None), (factory() if factory else None), order


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
        meta = array.metadata
        prefix = array.path.strip("/")
        self._prefix = f"{prefix}/" if prefix else ""
        self._encode = meta.encode_chunk_key
        try:
            if meta.zarr_format == 2:
                self.chunks = tuple(int(c) for c in meta.chunks)
                self.store_chunks = self.chunks
                if meta.filters or meta.order != "C" or self.dtype.kind in "OUSV":
                    return
                self._decoder, self._chunk_dtype = meta.compressor, self.dtype
            else:
                self.store_chunks = tuple(int(c) for c in meta.chunk_grid.chunk_shape)
                codecs = list(meta.codecs)
                if len(codecs) == 1 and isinstance(codecs[0], ShardingCodec):
                    shard = codecs[0]
                    ok, self._decoder, order = _numcodecs_decoder(list(shard.codecs))
                    ok_index, index_decoder, index_order = _numcodecs_decoder(
                        [c for c in shard.index_codecs if not isinstance(c, Crc32cCodec)]
                    )
                    if not ok or not ok_index or index_decoder is not None or index_order != "<":
                        return
                    self.chunks = tuple(int(c) for c in shard.chunk_shape)
                    self.sharded = True
                    per_shard = tuple(s // c for s, c in zip(self.store_chunks, self.chunks, strict=True))
                    self._per_shard = per_shard
                    crc = any(isinstance(c, Crc32cCodec) for c in shard.index_codecs)
                    self._index_nbytes = 16 * int(np.prod(per_shard)) + (4 if crc else 0)
                    self._index_at_end = getattr(shard.index_location, "value", shard.index_location) == "end"
                else:
                    ok, self._decoder, order = _numcodecs_decoder(codecs)
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
        rows = _pieces(w.r0, w.r1, self.chunks[-2])
        cols = _pieces(w.c0, w.c1, self.chunks[-1])
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
        return None if offset == _EMPTY else (key, (int(offset), int(nbytes)))

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
            return key, np.full((nr, nc, 2), _EMPTY, dtype=np.uint64)
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
            and (self._decoder is None or type(self._decoder) is numcodecs.Blosc)
        )

    def reads_into(self) -> bool:
        """Whether a stored chunk's bytes are its 2-D slice as is (a local read can land in the tile)."""
        return self._plane is not None and self._decompress is None and self._native

    def lead_in_chunk(self, lead: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(i % c for i, c in zip(lead, self.chunks[:-2], strict=True))

    def decode(self, data: bytes | memoryview | None, lead_in_chunk: tuple[int, ...]) -> np.ndarray:
        """The 2-D slice at `lead_in_chunk` of one chunk (the fill value where nothing was stored).

        (Decoding into a reused buffer with `out=` measured slower than numcodecs' own allocation.)
        """
        if data is None:
            return self._fill[lead_in_chunk]
        if self._decompress is not None:
            data = self._decompress(data)
        if self._plane is not None:  # one 2-D slice per chunk (every cube raster): no lead to index
            return np.frombuffer(data, dtype=self._chunk_dtype).reshape(self._plane)
        return np.frombuffer(data, dtype=self._chunk_dtype).reshape(self.chunks)[lead_in_chunk]


def _pieces(start: int, stop: int, size: int) -> list[tuple[int, slice, slice]]:
    """(chunk number, slice in the chunk, slice in the window) of every chunk [start, stop) touches
    along one dim of chunk length `size`."""
    out = []
    for n in range(start // size, (stop - 1) // size + 1):
        a, b = max(start, n * size), min(stop, (n + 1) * size)
        out.append((n, slice(a - n * size, b - n * size), slice(a - start, b - start)))
    return out


def read_tiles(
    requests: Sequence[tuple[ArrayReader, Window]], fetcher: Fetcher, undecoded: bool = False
) -> Iterator[tuple[int, Tiles]]:
    """Yield (request number, Tiles) per request, in order: the chunks each window touches, decoded.

    Remote stores get the missing shard indexes in one concurrent batch, then every chunk of every
    request in a second; local stores read each chunk just before decoding it, uncompressed ones
    straight into their tile. Arrays zarr's generic reader must read come as one tile.
    `undecoded`: local windows of raw or blosc chunks come as `Tiles.stored` (where their bytes are),
    for the compiled placement to read and decode each chunk while it places it.
    """
    plans = []
    for reader in {id(r): r for r, _ in requests}.values():
        reader.trim_caches()
    for n, (reader, w) in enumerate(requests):
        if reader.fast:
            rc0, cc0, nr, nc, r_in, c_in = reader.tile_grid(w)
            shards = reader.shard_keys(w, rc0, cc0, nr, nc) if reader.sharded else ()
            plans.append((n, reader, w, (rc0, cc0, nr, nc, r_in, c_in), shards))
        else:
            piece = np.asarray(reader.array[(*w.lead, slice(w.r0, w.r1), slice(w.c0, w.c1))])
            yield n, Tiles(piece[None, None], 0, 0, 1)
    index_needs: dict[tuple[int, str], tuple[ArrayReader, tuple[str, Range]]] = {}
    for _, reader, _, _, shards in plans:
        for key in shards:
            req = reader.index_request(key)
            if req is not None:
                index_needs[(id(reader), key)] = (reader, req)
    if index_needs:
        got = fetcher.fetch([req for _, req in index_needs.values()])
        for (reader, (key, _)), data in zip(index_needs.values(), got, strict=True):
            reader.set_index(key, data)
    if fetcher.local_root is not None:
        for n, reader, w, (rc0, cc0, nr, nc, r_in, c_in), _ in plans:
            if undecoded and reader.decodes_compiled():
                stored = _stored_chunks(fetcher, reader, w, (rc0, cc0, nr, nc))
                written = int(np.count_nonzero(stored.index[..., 0] != _EMPTY))
                yield n, Tiles(reader.scratch_tiles(1, 1), r_in, c_in, written, stored)
                continue
            tiles = reader.scratch_tiles(nr, nc)
            keys = reader.tile_keys(w, rc0, cc0, nr, nc)
            written = _read_local_tiles(fetcher, reader, reader.lead_in_chunk(w.lead), keys, tiles)
            yield n, Tiles(tiles, r_in, c_in, written)
        return
    keys_of = [reader.tile_keys(w, *grid[:4]) for _, reader, w, grid, _ in plans]
    chunk_reqs = [
        reader.chunk_request(key, inner)
        for (_, reader, _, _, _), keys in zip(plans, keys_of, strict=True)
        for key, inner in keys
    ]
    blobs = iter(fetcher.fetch([r for r in chunk_reqs if r is not None]))
    reqs = iter(chunk_reqs)
    for n, reader, w, (_, _, nr, nc, r_in, c_in), _ in plans:
        tiles, lead, written = reader.scratch_tiles(nr, nc), reader.lead_in_chunk(w.lead), 0
        for slot in tiles.reshape(-1, *tiles.shape[2:]):
            data = None if next(reqs) is None else next(blobs)
            written += data is not None
            reader.decode_into(data, lead, slot)
        yield n, Tiles(tiles, r_in, c_in, written)


def _read_local_tiles(
    fetcher: Fetcher,
    reader: ArrayReader,
    lead: tuple[int, ...],
    keys: Sequence[tuple[str, tuple[int, ...] | None]],
    tiles: np.ndarray,
) -> int:
    """Read and decode a window's chunks into `tiles`; the number stored (the rest is fill)."""
    into, written = reader.reads_into(), 0
    for slot, (key, inner) in zip(tiles.reshape(-1, *tiles.shape[2:]), keys, strict=True):
        req = reader.chunk_request(key, inner)
        if req is None:
            reader.decode_into(None, lead, slot)
        elif into and req[1] is not None and fetcher.read_local_into(req[0], req[1], slot):
            written += 1
        else:
            data = fetcher.read_local(*req)
            written += data is not None
            reader.decode_into(data, lead, slot)
    return written


def _stored_chunks(
    fetcher: Fetcher,
    reader: ArrayReader,
    w: Window,
    grid: tuple[int, int, int, int],
) -> StoredChunks:
    """Where a local window's chunks are stored: one shard file and its index's offsets when they
    share a shard (the compiled code reads them itself), else their bytes read into one buffer."""
    rc0, cc0, nr, nc = grid
    blosc = reader._decoder is not None
    found = reader.shard_window(w, rc0, cc0, nr, nc) if reader.sharded else None
    fd = None if found is None else fetcher.descriptor(found[0])
    if found is not None and (fd is not None or bool((found[1][..., 0] == _EMPTY).all())):
        # a valid blosc chunk is at most its raw size plus blosc's 16-byte header
        data = reader.byte_buffer(reader.fill_plane().nbytes + 16)
        return StoredChunks(-1 if fd is None else fd, data, found[1], blosc, reader.fill_plane())
    return _read_stored(fetcher, reader, reader.tile_keys(w, rc0, cc0, nr, nc), (nr, nc), blosc)


def _read_stored(
    fetcher: Fetcher,
    reader: ArrayReader,
    where: Sequence[tuple[str, tuple[int, ...] | None]],
    grid: tuple[int, int],
    blosc: bool,
) -> StoredChunks:
    """The stored bytes of the chunks at `where`, read one by one into one buffer (the path of whole-file
    chunks and of windows across shards; windows inside one shard are read by the compiled code)."""
    reqs = [reader.chunk_request(key, inner) for key, inner in where]
    blobs = [None if req is None else fetcher.read_local(*req) for req in reqs]
    index = np.full((len(reqs), 2), _EMPTY, dtype=np.uint64)
    data = reader.byte_buffer(sum(len(b) for b in blobs if b is not None))
    pos = 0
    for k, (req, blob) in enumerate(zip(reqs, blobs, strict=True)):
        if req is not None and req[1] is not None and (blob is None or len(blob) != req[1][1]):
            got = 0 if blob is None else len(blob)
            raise ValueError(f"{req[0]}: {req[1][1]} bytes expected at {req[1][0]}, read {got}")
        if blob is not None:
            data[pos : pos + len(blob)] = np.frombuffer(blob, dtype=np.uint8)
            index[k] = pos, len(blob)
            pos += len(blob)
    return StoredChunks(-1, data, index.reshape(*grid, 2), blosc, reader.fill_plane())


def read_windows(
    requests: Sequence[tuple[ArrayReader, Window]], fetcher: Fetcher
) -> Iterator[tuple[int, np.ndarray, tuple[slice, slice]]]:
    """Yield (request number, source piece, destination slices in the window) for every piece,
    every piece of a request before any of the next request's (`read_tiles`, cut into pieces)."""
    for n, tiles in read_tiles(requests, fetcher):
        for piece, dst in tiles.pieces(requests[n][1]):
            yield n, piece, dst
