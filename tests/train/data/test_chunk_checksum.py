"""Every stored chunk carries a CRC-32C that every reader verifies, and values outside a variable's physical
range are refused at read (issue 27, item 1).

The cubes here use ingest's own encoding (`ingest.encoding.encoding`), so the layout under test is the one
`hmc ingest` writes: the default sharded layout with phase stored raw, and the one-object-per-chunk layout.
"""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from zarr.codecs import Crc32cCodec, ShardingCodec

from hephaestus.ingest.config import ChunkingConfig
from hephaestus.ingest.encoding import encoding
from hephaestus.platform import cube_text, schema
from hephaestus.platform.cube import CubeUnreadableError
from hephaestus.platform.inputs import InputSpec
from hephaestus.train.data.checksum import crc32c, verify
from hephaestus.train.data.cubes import OpenCube, default_store
from hephaestus.train.data.read import read_input
from hephaestus.train.data.samples import Step

from factories import make_cube_dataset

SIZE = 40


def _write(path, layout: str, **changes):  # type: ignore[no-untyped-def]
    ds = make_cube_dataset(n_primary=2, n_secondary=2, height=SIZE, width=SIZE, positive_every=2)
    for name, value in changes.items():
        values = ds[name].values.copy()
        values[0, 1, 3, 5] = value
        ds[name] = (ds[name].dims, values, ds[name].attrs)
    enc = encoding(3, 2, 2, SIZE, SIZE, ChunkingConfig(layout=layout, tile=16))
    stored = cube_text.encode_dataset(ds)
    stored.to_zarr(str(path), mode="w", zarr_format=3, encoding=enc, consolidated=False)
    return ds


def _spec() -> InputSpec:
    from hephaestus.platform.dataspec import DataSpec

    return InputSpec.create(DataSpec(atmosphere=False, crop_size=SIZE, statistics="authors"))


def _read(path, i: int = 0, j: int = 1):  # type: ignore[no-untyped-def]
    cube = OpenCube(str(path), default_store(str(path)))
    return read_input(cube, [Step(str(path), i, j, None)], _spec(), 0, 0, SIZE, SIZE)


def _chain(array: zarr.Array) -> list[object]:
    codecs = list(array.metadata.codecs)
    return list(codecs[0].codecs) if isinstance(codecs[0], ShardingCodec) else codecs


def test_every_array_of_an_ingested_cube_ends_in_crc32c(tmp_path):  # type: ignore[no-untyped-def]
    """The default layout (phase raw) and every other array, coordinates and pair scalars included."""
    _write(tmp_path / "c.zarr", "sharded-128-mixed")
    group = zarr.open_group(str(tmp_path / "c.zarr"), mode="r")
    names = [name for name, _ in group.arrays()]
    assert "insar_difference" in names and schema.PRIMARY in names
    for name in names:
        chain = _chain(group[name])
        assert isinstance(chain[-1], Crc32cCodec), (name, chain)
    assert len(_chain(group["insar_difference"])) == 2  # bytes + crc32c: stored raw, checksummed


def test_verify_names_the_chunk_and_returns_the_payload():  # type: ignore[no-untyped-def]
    payload = np.arange(100, dtype=np.uint8).tobytes()
    good = payload + crc32c(payload).to_bytes(4, "little")
    assert bytes(verify(good, "k")) == payload
    bad = bytearray(good)
    bad[10] ^= 0xFF
    with pytest.raises(ValueError, match="k: checksum mismatch"):
        verify(bytes(bad), "k")


def _flip_inside(path, variable: str, offset: int = 200) -> None:  # type: ignore[no-untyped-def]
    """Flip bytes in the stored object of pair (0, 1) of `variable` (a shard or a whole chunk)."""
    folder = path / variable / "c" / "0" / "1"
    target = sorted(p for p in folder.rglob("*") if p.is_file())[0]
    data = bytearray(target.read_bytes())
    for k in range(offset, offset + 8):
        data[k] ^= 0x5A
    target.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "layout", ["sharded-128-mixed", "sharded-128-lz4", "chunk-256-lz4", "chunk-256-zstd", "slice"]
)
def test_flipped_bytes_are_refused_naming_cube_variable_window(tmp_path, layout):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.zarr"
    _write(path, layout)
    before, _ = _read(path)
    _flip_inside(path, "insar_difference")
    with pytest.raises(CubeUnreadableError) as err:
        _read(path)
    text = str(err.value)
    assert "c.zarr" in text and "insar_difference" in text and "(0, 1)" in text, text
    assert "checksum mismatch" in text, text
    # zarr's own reader verifies the same checksum
    with pytest.raises(ValueError, match="checksum"):
        zarr.open_array(str(path / "insar_difference"), mode="r")[0, 1]
    # the other pair is untouched and still reads as before
    other, _ = _read(path, 1, 0)
    assert np.isfinite(other).all() and before.shape == other.shape


def test_out_of_range_phase_and_coherence_are_refused(tmp_path):  # type: ignore[no-untyped-def]
    """A stored phase of 1.5e24 (what flipped bytes in a raw chunk gave) or coherence 300 is not trained on."""
    for name, value in (("insar_difference", 1.5e24), ("insar_coherence", 300.0), ("insar_difference", -3.3)):
        path = tmp_path / f"{name}-{value}.zarr"
        _write(path, "sharded-128-mixed", **{name: value})
        with pytest.raises(CubeUnreadableError, match=f"{name} at \\(0, 1\\).*physical range"):
            _read(path)
        _read(path, 1, 0)  # other pairs read


def test_values_on_the_bounds_read(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "edge.zarr"
    _write(path, "sharded-128-mixed", insar_difference=np.float32(np.pi) + np.float32(1e-4))
    image, _ = _read(path)
    assert np.isfinite(image).all()
