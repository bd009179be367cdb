"""Cube encoding on disk: chunk shapes, shards and codecs per variable, for zarr v3 and the v2 published layout.

Every raster layout keeps one pair per chunk along primary/secondary, so that tasks writing
different pairs never touch the same chunk (or shard).
"""

from __future__ import annotations

from typing import get_args

from numcodecs import Blosc

from hephaestus.platform import cube_text, schema
from hephaestus.platform.cube import fill_value

from .config import ChunkingConfig, Layout

LAYOUTS: tuple[str, ...] = get_args(Layout)
"""Raster layouts: `<kind>-<inner chunk edge>-<codec>`. "sharded": inner chunks in one shard per pair's
whole slice; "chunk": one object per chunk; "slice": one whole-slice chunk per pair. "mixed": blosc-lz4
for every raster but the noise-like ones in `UNCOMPRESSED` (see there). The choice of the default is
printed by tests/benchmarks/bench_loader.py."""

UNCOMPRESSED = ("insar_difference",)
"""Rasters the "mixed" layouts store without a compressor: wrapped phase is noise-like, blosc-lz4 saves
about 7% of its bytes, and decoding it costs more than all of its reads from disk or page cache."""


def layout_tile(chunking: ChunkingConfig) -> int | None:
    """The inner chunk edge of a tiled layout: `chunking.tile` when set, else the edge the layout names."""
    if chunking.layout == "slice":
        return None
    return chunking.tile or int(chunking.layout.split("-")[1])


def checksummed(*compressors: object) -> list[object]:
    """A v3 chain's bytes-to-bytes codecs: `compressors`, then zarr's `crc32c` codec, so that every stored
    chunk (every inner chunk of a shard) ends in the CRC-32C of its bytes, which zarr verifies on every
    read and the loader's compiled reader too (train/data/place.py). Costs 4 bytes a chunk."""
    from zarr.codecs import Crc32cCodec

    return [*compressors, Crc32cCodec()]


def v2_checksummed(compressor: object) -> dict[str, list[object]]:
    """A v2 array's codecs (xarray encoding keys): `compressor` as its one filter, then numcodecs' `crc32`
    codec in the compressor slot, so that every stored chunk starts with the CRC-32 of its compressed bytes,
    which every zarr reader verifies on every read (zarr 2.18.3 with numcodecs 0.13.1, the authors' pins,
    and zarr 3) and the loader too (train/data/array_reader.py). v2 has no bytes-to-bytes slot after the
    compressor; a checksum filter before it would hand Blosc bytes instead of items and lose its shuffle
    (measured +50% coherence and +78% DEM bytes). `CRC32()` takes no arguments here: its stored config is
    then `{"id": "crc32"}`, which numcodecs 0.13.1 reads (it knows no `location`). Costs 4 bytes a chunk."""
    from numcodecs import CRC32

    return {"filters": [compressor], "compressors": [CRC32()]}


def _v2_lz4() -> Blosc:
    return Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE)


def _default_compressors() -> list[object]:
    """zarr's default v3 compressor (zstd level 0), checksummed: the pair scalars, DEM and coordinates."""
    from zarr.codecs import ZstdCodec

    return checksummed(ZstdCodec(level=0))


def _v3_raster(name: str, height: int, width: int, chunking: ChunkingConfig) -> dict[str, object]:
    from zarr.codecs import BloscCodec, ZstdCodec

    if chunking.layout not in LAYOUTS:
        raise ValueError(f"unknown layout {chunking.layout!r}; known: {LAYOUTS}")
    lz4 = BloscCodec(cname="lz4", clevel=chunking.clevel, shuffle="shuffle")
    edge = layout_tile(chunking)
    if edge is None:
        return {"chunks": (1, 1, height, width), "compressors": checksummed(lz4)}
    tile = (1, 1, min(edge, height), min(edge, width))
    kind, _, codec = chunking.layout.split("-")
    if codec == "zstd":
        compressors = checksummed(ZstdCodec(level=chunking.clevel))
    elif codec == "mixed" and name in UNCOMPRESSED:
        compressors = checksummed()
    else:
        compressors = checksummed(lz4)
    if kind == "sharded":
        # a shard holds one pair's whole slice, rounded up to whole inner chunks (zarr needs divisibility)
        shard = (1, 1, -(-height // tile[2]) * tile[2], -(-width // tile[3]) * tile[3])
        return {"chunks": tile, "shards": shard, "compressors": compressors}
    return {"chunks": tile, "compressors": compressors}


PAIR_BLOCK = 128
"""v3 pair scalars (flags, codes, caption lengths) are chunked in blocks of 128 x 128 pairs, rounded up to
hold the whole grid: one chunk for a grid of up to that many dates, and a cube that grows by appends
(ingest/append.py) fills its block before it needs another, instead of one small chunk per append."""
DATE_BLOCK = 1024
"""v3 date coordinates: chunks of 1024 dates (8 KiB), so that appends grow one chunk, not many."""


def _blocks(n: int, block: int) -> int:
    return -(-max(n, 1) // block) * block


def encoding(
    zarr_format: int, n_primary: int, n_secondary: int, height: int, width: int, chunking: ChunkingConfig
) -> dict[str, dict[str, object]]:
    """xarray `to_zarr` encoding for every schema variable.

    v3: the chosen raster layout, every array's chunks ending in their CRC-32C (`checksummed`: the chain
    is in each array's metadata, so cubes written before read as they are), fill values equal to the schema fills (so that unwritten chunks
    read as the template), pair scalars in one chunk (written once by the driver), pair text as
    numbers (platform.cube_text).
    v2: the authors' layout: whole-slice raster chunks, one chunk per pair scalar, Blosc-lz4, and
    every chunk written (see `V2_WRITE_EMPTY_CHUNKS`); every array's chunks start with their CRC-32
    (`v2_checksummed`, coordinates included).
    """
    enc: dict[str, dict[str, object]] = {}
    for name, var in schema.VARIABLES.items():
        if zarr_format == 2:
            if var.dims == schema.RASTER_DIMS:
                chunks: tuple[int, ...] = (1, 1, height, width)
            elif var.dims == schema.PAIR_DIMS:
                chunks = (1, 1)
            else:
                chunks = (height, width)
            enc[name] = {"chunks": chunks, **v2_checksummed(_v2_lz4())}
            continue
        if var.dims == schema.RASTER_DIMS:
            e = _v3_raster(name, height, width, chunking)
        elif var.dims == schema.PAIR_DIMS:
            e = {
                "chunks": (_blocks(n_primary, PAIR_BLOCK), _blocks(n_secondary, PAIR_BLOCK)),
                "compressors": _default_compressors(),
            }
        else:
            e = {"chunks": (height, width), "compressors": _default_compressors()}
        e["fill_value"] = fill_value(name)
        enc[name] = e
    if zarr_format == 2:  # the coordinates too, in zarr's default v2 compressor (Blosc-lz4), checksummed
        for name in (schema.PRIMARY, schema.SECONDARY, *schema.GRID_DIMS, schema.GRID_MAPPING):
            enc[name] = v2_checksummed(_v2_lz4())
    if zarr_format == 3:
        for dim, n in ((schema.PRIMARY, n_primary), (schema.SECONDARY, n_secondary)):
            enc[dim] = {"chunks": (_blocks(n, DATE_BLOCK),), "compressors": _default_compressors()}
        for name in (*schema.GRID_DIMS, schema.GRID_MAPPING):
            enc[name] = {"compressors": _default_compressors()}
        for name, e in cube_text.encodings().items():
            enc[name] = {"compressors": _default_compressors(), **enc.get(name, {}), **e}
        enc.pop("caption")
    return enc


V2_WRITE_EMPTY_CHUNKS = True
"""v2 cubes store every chunk, fill-valued ones included. xarray writes v2 integer, bool and string
arrays with `fill_value: null`, and zarr 2 (the authors pin 2.18.3) returns uninitialised memory for a
missing chunk of such an array; a fill value of 0 instead would make xarray decode every 0 as
missing (NaT dates, float masks). Writing every chunk is right for both."""


ROOT_KEYS = {2: (".zattrs", ".zgroup", ".zmetadata"), 3: ("zarr.json",)}
"""Group metadata written last: without it no reader can open the cube."""
