"""v2 cubes carry a checksum every zarr reader verifies too (issue 27, item 1): numcodecs' `crc32` codec in
every array's compressor slot, the array's compressor as its one filter (`ingest.encoding.v2_checksummed`).

The cubes here use ingest's own v2 encoding (`encoding(2, ...)`), written as the ingest writes v2 (every
chunk stored). The expectations are independent of the loader: zlib's CRC-32 of the stored bytes, zarr's
own reader, the authors' zarr 2.18.3 (numcodecs 0.13.1) and a v2 cube in the layout written before.
"""

from __future__ import annotations

import json
import subprocess
import zlib
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr

from hephaestus.ingest.config import ChunkingConfig
from hephaestus.ingest.encoding import V2_WRITE_EMPTY_CHUNKS, encoding
from hephaestus.platform import schema
from hephaestus.platform.cube import CubeUnreadableError
from hephaestus.platform.errors import IntegrityError
from hephaestus.platform.inputs import InputSpec
from hephaestus.train.data.array_reader import ArrayReader
from hephaestus.train.data.chunks import read_windows
from hephaestus.train.data.cubes import OpenCube, default_store
from hephaestus.train.data.fetch import Fetcher
from hephaestus.train.data.read import read_input
from hephaestus.train.data.samples import Step
from hephaestus.train.data.window import Window

from factories import make_cube_dataset

SIZE = 40
RASTER = "insar_difference"
PAIR_CHUNK = Path(RASTER) / "0.1.0.0"  # pair (0, 1): one whole-slice chunk


def _write(path: Path, checksummed: bool = True) -> None:
    ds = make_cube_dataset(n_primary=2, n_secondary=2, height=SIZE, width=SIZE, positive_every=2)
    enc = encoding(2, 2, 2, SIZE, SIZE, ChunkingConfig())
    if not checksummed:  # the v2 layout written before: Blosc-lz4 as the compressor, no filters
        lz4 = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
        enc = {
            name: {"chunks": e["chunks"], "compressors": [lz4]} for name, e in enc.items() if "chunks" in e
        }
    with zarr.config.set({"array.write_empty_chunks": V2_WRITE_EMPTY_CHUNKS}):
        ds.to_zarr(str(path), mode="w", zarr_format=2, encoding=enc, consolidated=True)


def _spec() -> InputSpec:
    from hephaestus.platform.dataspec import DataSpec

    return InputSpec.create(DataSpec(atmosphere=False, crop_size=SIZE, statistics="authors"))


def _read(path: Path, i: int = 0, j: int = 1) -> tuple[np.ndarray, np.ndarray]:
    cube = OpenCube(str(path), default_store(str(path)))
    return read_input(cube, [Step(str(path), i, j, None)], _spec(), 0, 0, SIZE, SIZE)


def _flip(target: Path, offset: int = 40) -> None:
    data = bytearray(target.read_bytes())
    for k in range(offset, offset + 8):
        data[k] ^= 0x5A
    target.write_bytes(bytes(data))


def test_every_v2_array_starts_with_the_crc32_of_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "c.zarr"
    _write(path)
    metas = {p.parent.name: json.loads(p.read_text()) for p in path.glob("*/.zarray")}
    assert RASTER in metas and schema.PRIMARY in metas and "dem" in metas and "spatial_ref" in metas
    for name, meta in metas.items():
        # {"id": "crc32"} with no `location`: numcodecs 0.13.1 (the authors' pin) takes no such argument
        assert meta["compressor"] == {"id": "crc32"}, name
        assert [f["id"] for f in meta["filters"]] == ["blosc"], name
    for chunk in (path / RASTER).glob("*.*.*.*"):
        stored = chunk.read_bytes()
        assert int.from_bytes(stored[:4], "little") == zlib.crc32(stored[4:]), chunk
    reader = ArrayReader(zarr.open_group(str(path), mode="r")[RASTER])  # type: ignore[arg-type]
    assert reader.fast and reader.crc32_first


def test_untouched_v2_cube_reads_as_the_layout_written_before(tmp_path: Path) -> None:
    _write(tmp_path / "new.zarr")
    _write(tmp_path / "old.zarr", checksummed=False)
    old_meta = json.loads((tmp_path / "old.zarr" / RASTER / ".zarray").read_text())
    assert old_meta["compressor"]["id"] == "blosc" and not old_meta.get("filters")
    for i, j in ((0, 1), (1, 0), (1, 1)):
        new_image, new_mask = _read(tmp_path / "new.zarr", i, j)
        old_image, old_mask = _read(tmp_path / "old.zarr", i, j)
        np.testing.assert_array_equal(new_image, old_image)
        np.testing.assert_array_equal(new_mask, old_mask)
    ours = zarr.open_group(str(tmp_path / "new.zarr"), mode="r")
    before = zarr.open_group(str(tmp_path / "old.zarr"), mode="r")
    for name, array in before.arrays():
        np.testing.assert_array_equal(ours[name][...], array[...], err_msg=name)


def test_flipped_bytes_in_a_v2_chunk_are_refused_naming_cube_variable_window(tmp_path: Path) -> None:
    path = tmp_path / "c.zarr"
    _write(path)
    before, _ = _read(path, 1, 0)
    _flip(path / PAIR_CHUNK)
    with pytest.raises(CubeUnreadableError) as err:
        _read(path)
    text = str(err.value)
    assert "\n" not in text
    assert "c.zarr" in text and RASTER in text and "(0, 1)" in text and "checksum mismatch" in text, text
    # zarr's own reader (numcodecs' crc32 codec) verifies the same checksum
    with pytest.raises(RuntimeError, match="checksum"):
        zarr.open_group(str(path), mode="r")[RASTER][0, 1]
    after, _ = _read(path, 1, 0)  # the other pairs are untouched and read as before
    np.testing.assert_array_equal(after, before)


def test_a_chain_only_zarr_reads_turns_its_checksum_failure_into_integrity_error(tmp_path: Path) -> None:
    """Filters the fast reader leaves to zarr (a delta filter) with numcodecs' crc32: zarr's bare
    RuntimeError becomes the loader's IntegrityError."""
    store = zarr.storage.LocalStore(tmp_path / "a")
    array = zarr.create(
        shape=(1, 1, 16, 16),
        chunks=(1, 1, 16, 16),
        dtype="int32",
        store=store,
        zarr_format=2,
        filters=[numcodecs.Delta("<i4")],
        compressor=numcodecs.CRC32(),
    )
    array[...] = np.arange(256, dtype="int32").reshape(1, 1, 16, 16)
    reopened = zarr.open_array(zarr.storage.LocalStore(tmp_path / "a", read_only=True), mode="r")
    reader = ArrayReader(reopened)
    assert not reader.fast
    window = Window((0, 0), 0, 16, 0, 16)
    ((_, piece, _),) = list(read_windows([(reader, window)], Fetcher(reopened.store)))
    np.testing.assert_array_equal(piece, np.arange(256).reshape(16, 16))
    _flip(tmp_path / "a" / "0.0.0.0", offset=20)
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        list(read_windows([(reader, window)], Fetcher(reopened.store)))


AUTHORS_READ = """
import sys
import numpy as np
import xarray as xr
ds = xr.open_zarr(sys.argv[1])
print(float(np.nansum(ds.insar_difference[1, 0].values)), ds.insar_difference.encoding.get("compressor"))
try:
    ds.insar_difference[0, 1].values
except RuntimeError as exc:
    print("refused:", exc)
"""


def test_the_authors_zarr_2_reads_a_checksummed_cube_and_refuses_flipped_bytes(tmp_path: Path) -> None:
    from authors_env import authors_python

    python = authors_python()  # skipped when the authors' environment cannot be built
    path = tmp_path / "c.zarr"
    _write(path)
    expected = float(np.nansum(zarr.open_group(str(path), mode="r")[RASTER][1, 0]))
    _flip(path / PAIR_CHUNK)
    done = subprocess.run(
        [str(python), "-c", AUTHORS_READ, str(path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    first, refused = done.stdout.strip().splitlines()
    total, codec = first.split(" ", 1)
    assert float(total) == pytest.approx(expected, rel=1e-6) and codec.startswith("CRC32"), first
    assert refused.startswith("refused:") and "checksum" in refused, refused
