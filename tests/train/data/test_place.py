"""The compiled placement (train/data/place.py) gives numpy's normalisation of zarr's own window read, bit
for bit, on every layout the chunk reader reads itself; a corrupt chunk fails with one line naming it.

Expectation: zarr's `array[...]` of the window, normalised by `ChannelScale.apply` + `zero_nonfinite`
(numpy, platform/inputs.py), and `window != 0` for masks: neither goes through the compiled code.
The data carry NaN, +-inf and the no-data values, and windows cut chunks at every edge.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr
from test_chunk_reader import LAYOUTS, _windows, _write

from hephaestus.platform.cube import CubeUnreadableError
from hephaestus.platform.inputs import ChannelScale, zero_nonfinite
from hephaestus.train.data.array_reader import ArrayReader
from hephaestus.train.data.chunks import read_tiles
from hephaestus.train.data.fetch import Fetcher
from hephaestus.train.data.place import or_nonzero, scale_into

SCALE = ChannelScale(np.float32(3.5), np.float32(1 / 7.25), (0.0, -9999.0))


def _with_specials(array: zarr.Array, data: np.ndarray) -> np.ndarray:
    """Write NaN, +-inf and the no-data values into a float array (ints keep their data)."""
    if data.dtype.kind != "f":
        return data
    data = data.copy()
    flat = data.reshape(-1)
    rng = np.random.default_rng(1)
    for value in (np.nan, np.inf, -np.inf, -9999.0, 0.0):
        flat[rng.choice(flat.size, size=20, replace=False)] = value
    data[0, 1] = 0  # keep the never-written slice
    writable = zarr.open_array(array.store.with_read_only(False), path="var", mode="r+")
    writable[...] = data
    return data


def _expected(window: np.ndarray) -> np.ndarray:
    out = np.empty(window.shape, dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        SCALE.apply(out, window)
    zero_nonfinite(out)
    return out


@pytest.mark.parametrize("name", sorted(n for n, spec in LAYOUTS.items() if spec.get("shape") is None))
def test_normalised_windows_match_numpy(tmp_path: Path, name: str) -> None:
    array, data, store = _write(tmp_path, name, LAYOUTS[name])
    data = _with_specials(array, data)
    reader, fetcher = ArrayReader(array), Fetcher(store)
    windows = _windows(array.shape, 12, seed=3)
    for undecoded in (True, False):
        for w in windows:
            rows, cols = w.r1 - w.r0, w.c1 - w.c0
            out = np.full((rows + 3, cols + 5), 123.0, dtype=np.float32)  # larger: the rest stays
            mask = np.zeros((rows + 3, cols + 5), dtype=np.int64)
            for _, tiles in read_tiles([(reader, w)], fetcher, undecoded=undecoded):
                scale_into(out, tiles, SCALE, rows, cols)
                or_nonzero(mask, tiles, rows, cols)
            window = data[(*w.lead, slice(w.r0, w.r1), slice(w.c0, w.c1))]
            np.testing.assert_array_equal(out[:rows, :cols], _expected(window), err_msg=f"{name} {w}")
            np.testing.assert_array_equal(mask[:rows, :cols], window != 0, err_msg=f"{name} {w}")
            assert (out[rows:] == 123.0).all() and (out[:, cols:] == 123.0).all()
            assert not mask[rows:].any() and not mask[:, cols:].any()


@pytest.mark.parametrize("name", ["v3-shards-end", "v3-tiles-raw", "v2-slices-blosc"])
@pytest.mark.parametrize("offset", [0, 1, 5])
def test_whole_rows_stream_into_any_alignment(tmp_path: Path, name: str, offset: int) -> None:
    """An output exactly as wide as the window (the crop case: each band goes out as one streamed run)
    at every alignment of its start (`offset` floats past a 64-byte boundary): the same bits as numpy."""
    array, data, store = _write(tmp_path, name, LAYOUTS[name])
    data = _with_specials(array, data)
    reader, fetcher = ArrayReader(array), Fetcher(store)
    for undecoded in (True, False):
        for w in _windows(array.shape, 8, seed=5):
            rows, cols = w.r1 - w.r0, w.c1 - w.c0
            raw = np.full(rows * cols + 32, 123.0, dtype=np.float32)
            start = (-raw.ctypes.data // 4) % 16 + offset  # 64-byte aligned, then `offset` floats on
            out = raw[start : start + rows * cols].reshape(rows, cols)
            for _, tiles in read_tiles([(reader, w)], fetcher, undecoded=undecoded):
                scale_into(out, tiles, SCALE, rows, cols)
            window = data[(*w.lead, slice(w.r0, w.r1), slice(w.c0, w.c1))]
            np.testing.assert_array_equal(out, _expected(window), err_msg=f"{name} {w} offset {offset}")
            assert (raw[:start] == 123.0).all() and (raw[start + rows * cols :] == 123.0).all()


def test_hand_computed_values() -> None:
    """One 2 x 2 grid of 2 x 2 tiles, window (1, 1)-(3, 3): values worked out by hand."""
    from hephaestus.train.data.window import Tiles

    tiles = np.array(
        [[[[0, 1], [2, 3]], [[4, 5], [6, 7]]], [[[8, 9], [10, 11]], [[12, 13], [14, 15]]]], dtype=np.float32
    )
    # the window's pixels: tile(0,0)[1,1]=3, tile(0,1)[1,0]=6, tile(1,0)[0,1]=9, tile(1,1)[0,0]=12
    out = np.zeros((2, 2), dtype=np.float32)
    scale_into(out, Tiles(tiles, 1, 1, 4), ChannelScale(np.float32(1), np.float32(0.5), (6.0,)), 2, 2)
    np.testing.assert_array_equal(out, [[1.0, 0.0], [4.0, 5.5]])  # (3-1)/2, no-data 6 -> 0, (9-1)/2, (12-1)/2


def test_an_output_that_is_not_one_contiguous_float32_block_is_refused() -> None:
    """A strided view or another dtype fails with a TypeError naming it (not a compile error, not a
    cube error: read_input turns ValueErrors into errors about the cube)."""
    from hephaestus.train.data.window import Tiles

    tiles = Tiles(np.ones((1, 1, 4, 4), dtype=np.float32), 0, 0, 1)
    for out in (np.zeros((4, 8), dtype=np.float32)[:, ::2], np.zeros((4, 4), dtype=np.float64)):
        with pytest.raises(TypeError, match="C-contiguous float32"):
            scale_into(out, tiles, SCALE, 4, 4)


@pytest.mark.parametrize("damage", ["garbage", "header-claims-more"])
def test_corrupt_chunk_is_one_line_naming_the_variable(tmp_path: Path, damage: str) -> None:
    """Damage the stored blosc chunks of a cube's shards (garbage bytes; or a blosc header that claims
    more compressed bytes than the chunk holds, which c-blosc 1 would read past): the loader's read
    fails with one line naming the cube, the variable and the window, not a crash or silent garbage."""
    from loader_rows import pair_rows

    from hephaestus.ingest.config import ChunkingConfig
    from hephaestus.ingest.encoding import encoding
    from hephaestus.platform import cube_text, schema
    from hephaestus.train.data import LoaderConfig, MinicubeDataset

    from factories import make_cube_dataset

    ds = make_cube_dataset(height=160, width=160)  # 2 x 2 chunks of 128 px
    chunking = ChunkingConfig(layout="sharded-128-mixed")
    h, w = ds.sizes[schema.LAT], ds.sizes[schema.LON]
    enc = encoding(3, ds.sizes[schema.PRIMARY], ds.sizes[schema.SECONDARY], h, w, chunking)
    url = str(tmp_path / "cube.zarr")
    stored = cube_text.encode_dataset(ds)  # pair text as numbers, as ingest stores it in v3
    stored.to_zarr(
        url,
        mode="w",
        zarr_format=3,
        consolidated=False,  # v3 cubes carry no consolidated metadata (zarr warns it is off-spec)
        encoding={k: v for k, v in enc.items() if k in stored.variables},
    )
    pairs = pair_rows(ds, url)
    cfg = LoaderConfig(store_url=str(tmp_path), crop_size=32, max_offset=0, augment=False, undersample=False)
    dataset = MinicubeDataset(pairs, None, dict(schema.AUTHORS_STATISTICS), cfg)
    dataset.read(0)  # reads fine before
    index = 16 * 2 * 2 + 4  # offsets and lengths of a shard's 2 x 2 inner chunks + crc32c, at the end
    for shard in (tmp_path / "cube.zarr" / "insar_coherence" / "c").rglob("*"):
        if shard.is_file():
            raw = bytearray(shard.read_bytes())
            if damage == "garbage":
                raw[:-index] = b"\xff" * (len(raw) - index)  # every chunk's blosc header and data
            else:  # the first chunk starts the shard: bytes 12-15 of its header are its compressed size
                raw[12:16] = (len(raw) + 100_000).to_bytes(4, "little")
            shard.write_bytes(bytes(raw))
    fresh = MinicubeDataset(pairs, None, dict(schema.AUTHORS_STATISTICS), cfg)
    with pytest.raises(CubeUnreadableError) as err:
        fresh.read(0)
    message = str(err.value)
    assert "\n" not in message and "cube.zarr" in message and "insar_coherence" in message, message
