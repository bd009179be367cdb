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

Interface (all the rest is private): `ArrayReader(array)` per zarr array, `Fetcher(store)` per store,
`Window`, `read_windows(requests, fetcher)` and `coalesce` (the range planner). zarr's public API is used wherever it has one: array
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

__all__ = ["ArrayReader", "Fetcher", "Window", "coalesce", "read_windows"]

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
        fd = self._fds.get(path)
        if fd is None:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                return None
            if len(self._fds) >= MAX_OPEN_SHARDS:
                os.close(self._fds.pop(next(iter(self._fds))))
            self._fds[path] = fd
        offset, length = rng
        if offset < 0:
            offset += os.fstat(fd).st_size
        return os.pread(fd, length, offset)

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
        self.fast = True

    # -- planning ---------------------------------------------------------------------------
    def plan(
        self, w: Window
    ) -> list[tuple[str, tuple[int, ...] | None, tuple[slice, slice], tuple[slice, slice]]]:
        """Per touched chunk: (stored key, position in its shard or None, source slices in the
        chunk, destination slices in the window)."""
        lead_chunks = tuple(i // c for i, c in zip(w.lead, self.chunks[:-2], strict=True))
        rows = _pieces(w.r0, w.r1, self.chunks[-2])
        cols = _pieces(w.c0, w.c1, self.chunks[-1])
        locate = self._locate
        return [
            (*locate((*lead_chunks, rc, cc)), (rsrc, csrc), (rdst, cdst))
            for rc, rsrc, rdst in rows
            for cc, csrc, cdst in cols
        ]

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

    def unwritten(self, piece: np.ndarray) -> bool:
        """Whether a piece `read_windows` yielded is the fill value of a chunk never written (a view
        of the shared fill array), so that a caller can skip it (e.g. an empty mask chunk)."""
        return piece.base is self._fill

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


def read_windows(
    requests: Sequence[tuple[ArrayReader, Window]], fetcher: Fetcher
) -> Iterator[tuple[int, np.ndarray, tuple[slice, slice]]]:
    """Yield (request number, source piece, destination slices in the window) for every piece,
    every piece of a request before any of the next request's (readers finish a channel at once).

    Remote stores get the missing shard indexes in one concurrent batch, then every chunk of
    every request in a second; local stores read each chunk just before decoding it.
    """
    plans = []
    for reader in {id(r): r for r, _ in requests}.values():
        reader.trim_caches()
    for n, (reader, w) in enumerate(requests):
        if reader.fast:
            plans.append((n, reader, reader.lead_in_chunk(w.lead), reader.plan(w)))
        else:
            piece = np.asarray(reader.array[(*w.lead, slice(w.r0, w.r1), slice(w.c0, w.c1))])
            yield n, piece, (slice(0, w.r1 - w.r0), slice(0, w.c1 - w.c0))
    index_needs: dict[tuple[int, str], tuple[ArrayReader, tuple[str, Range]]] = {}
    for _, reader, _, plan in plans:
        if reader.sharded:
            for key, _, _, _ in plan:
                req = reader.index_request(key)
                if req is not None:
                    index_needs[(id(reader), key)] = (reader, req)
    if index_needs:
        got = fetcher.fetch([req for _, req in index_needs.values()])
        for (reader, (key, _)), data in zip(index_needs.values(), got, strict=True):
            reader.set_index(key, data)
    if fetcher.local_root is not None:
        read = fetcher.read_local
        for n, reader, inner_lead, plan in plans:
            decode, request = reader.decode, reader.chunk_request
            for key, inner, src, dst in plan:
                req = request(key, inner)
                yield n, decode(None if req is None else read(*req), inner_lead)[src], dst
        return
    chunk_reqs = [
        reader.chunk_request(key, inner) for _, reader, _, plan in plans for key, inner, _, _ in plan
    ]
    blobs = iter(fetcher.fetch([r for r in chunk_reqs if r is not None]))
    reqs = iter(chunk_reqs)
    for n, reader, inner_lead, plan in plans:
        for _key, _inner, src, dst in plan:
            data = None if next(reqs) is None else next(blobs)
            yield n, reader.decode(data, inner_lead)[src], dst
