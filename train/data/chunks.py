"""Read 2-D windows of zarr arrays chunk by chunk, touching only the chunks each window covers.

Why not `array[...]`: zarr's generic path costs about as much per chunk in Python bookkeeping as
decoding the chunk itself, which halves crop throughput on the platform layout. For the plain layouts
the cubes use, the reader computes the touched chunk keys with zarr's own key encoding, fetches them
from the zarr store (local files directly, remote stores in one concurrent batch) and decodes them with
numcodecs; anything else falls back to zarr's own reader, so every array zarr can read is still read
right. The training reader (`read.py`) asks for local windows undecoded (`read_tiles(..., undecoded=True)`):
where each chunk's bytes are (shard file offsets from the cached index), so that the compiled code of
`place.py` reads, decodes and places chunk by chunk with no Python step per chunk.

This module owns the batch read itself: `read_tiles(requests, fetcher)` (each window's chunks decoded
side by side into one array, for the compiled placement of `place.py`) and `read_windows` (the same as
pieces placed by slices). The parts it drives live beside it:
  window.py        `Window`, `Tiles`, `StoredChunks`: what a read asks for and hands back;
  array_reader.py  `ArrayReader(array)` per zarr array: layout, chunk keys, shard-index cache, decoding;
  fetch.py         `Fetcher(store)` per store: ranged reads, coalesced by `coalesce` on object stores.
tests/train/data/test_chunk_reader.py compares the result with zarr's own reader on random windows of
every layout this reader accepts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from hephaestus.platform.errors import IntegrityError
from hephaestus.train.data.array_reader import ArrayReader
from hephaestus.train.data.checksum import CRC_BYTES
from hephaestus.train.data.fetch import Fetcher, Range
from hephaestus.train.data.window import EMPTY, StoredChunks, Tiles, Window

__all__ = ["read_tiles", "read_windows"]


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
            yield n, Tiles(_read_with_zarr(reader, w)[None, None], 0, 0, 1)
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
                written = int(np.count_nonzero(stored.index[..., 0] != EMPTY))
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


def _read_with_zarr(reader: ArrayReader, w: Window) -> np.ndarray:
    """A window read by zarr's own reader. numcodecs' checksum codecs (`crc32`, `adler32`, ...) raise a
    bare RuntimeError on a mismatch: it becomes the IntegrityError the fast path raises."""
    try:
        return np.asarray(reader.array[(*w.lead, slice(w.r0, w.r1), slice(w.c0, w.c1))])
    except RuntimeError as exc:
        reason = " ".join(str(exc).split())
        if "checksum" not in reason.lower():
            raise
        raise IntegrityError(f"chunk: checksum mismatch ({reason})") from exc


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
    if found is not None and (fd is not None or bool((found[1][..., 0] == EMPTY).all())):
        # a valid blosc chunk is at most its raw size plus blosc's 16-byte header (+ its checksum)
        data = reader.byte_buffer(reader.fill_plane().nbytes + 16 + (CRC_BYTES if reader.crc else 0))
        fd_or_none = -1 if fd is None else fd
        return StoredChunks(fd_or_none, data, found[1], blosc, reader.fill_plane(), reader.crc)
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
    index = np.full((len(reqs), 2), EMPTY, dtype=np.uint64)
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
    return StoredChunks(-1, data, index.reshape(*grid, 2), blosc, reader.fill_plane(), reader.crc)


def read_windows(
    requests: Sequence[tuple[ArrayReader, Window]], fetcher: Fetcher
) -> Iterator[tuple[int, np.ndarray, tuple[slice, slice]]]:
    """Yield (request number, source piece, destination slices in the window) for every piece,
    every piece of a request before any of the next request's (`read_tiles`, cut into pieces)."""
    for n, tiles in read_tiles(requests, fetcher):
        for piece, dst in tiles.pieces(requests[n][1]):
            yield n, piece, dst
