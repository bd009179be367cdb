"""Fetching stored objects and byte ranges of them, for the chunk reader (`chunks.py`).

`Fetcher(store)` reads local stores directly (whole chunk files, or pread / preadv on kept shard
descriptors) and sends requests to other stores in one concurrent batch. On object stores a request
costs a round trip and a fee whatever its size, so the ranges one read needs from one object are first
merged by `coalesce` into at most `MAX_RANGES_PER_OBJECT` spans: zarr writes a shard's inner chunks in
Morton order, so the chunks of a crop lie in a few runs, not one per row. `zarr.abc.store` byte requests
and `zarr.buffer` are zarr's public API; only `zarr.core.sync.sync` (running a store's coroutines from
synchronous code) has no public counterpart.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

import numpy as np
import zarr
import zarr.storage
from zarr.abc.store import RangeByteRequest, SuffixByteRequest
from zarr.buffer import default_buffer_prototype
from zarr.core.sync import sync  # no public way to run a store's coroutines from synchronous code

__all__ = ["MAX_OPEN_SHARDS", "MAX_RANGES_PER_OBJECT", "Fetcher", "Range", "coalesce"]

MAX_OPEN_SHARDS = 256
"""Shard files kept open per process for byte-range reads (one pread per inner chunk)."""
MAX_RANGES_PER_OBJECT = 3
"""Byte-range requests per stored object and remote read: more ranges are merged across their smallest gaps.

A request to an object store costs a round trip and a fee whatever its size, so a crop's inner chunks
of one shard (9 for 512 px in 256 px chunks) are fetched in a few spans, over-reading only the gaps."""

Range = tuple[int, int] | None
"""(offset, length) inside a stored object, negative offset = suffix; None = the whole object."""


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
