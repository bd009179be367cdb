"""The v3 text encoding: codes, integers and UTF-8 bytes that decode to exactly the strings written."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from hephaestus.platform import cube_text, schema
from hephaestus.platform.cube import open_cube

from factories import make_cube_dataset


def test_non_ascii_captions_and_empty_cells_round_trip(tmp_path: Path) -> None:
    ds = make_cube_dataset(n_primary=2, n_secondary=3, height=8, width=8)
    ds["caption"].values[0, 1] = "Παραμόρφωση – 2.8 cm στον κρατήρα ✓"
    ds["caption"].values[1, 2] = ""
    ds["phase"].values[1, 2] = "Rebound"
    ds["unique_id"].values[1, 2] = "9999999999"
    stored = cube_text.encode({k: ds[k].values for k in cube_text.TEXT_VARIABLES})
    # hand-computed: the bytes of each caption in row-major order, -1 where nothing is
    lengths = stored[cube_text.CAPTION_LENGTH].values
    assert lengths[0, 1] == len("Παραμόρφωση – 2.8 cm στον κρατήρα ✓".encode())
    assert stored[cube_text.CAPTION_BYTES].size == sum(
        len(str(c).encode()) for c in ds["caption"].values.ravel()
    )
    assert stored["phase"].values[1, 2] == schema.PHASE.code("Rebound")
    assert stored["phase"].values[1, 0] == cube_text.NO_VALUE  # secondary before primary: none
    assert stored["unique_id"].values[1, 2] == 9999999999
    for name, value in ds["phase"].attrs.items():
        assert name in ("long_name", "categories") or stored["phase"].attrs[name] == value
    path = tmp_path / "t.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cube_text.encode_dataset(ds).to_zarr(
            path, zarr_format=3, consolidated=False, encoding=cube_text.encodings()
        )
        back = open_cube(path).load()
    for name in cube_text.TEXT_VARIABLES:
        np.testing.assert_array_equal(back[name].values, ds[name].values, err_msg=name)


def test_a_cube_without_captions(tmp_path: Path) -> None:
    ds = make_cube_dataset(n_primary=1, n_secondary=2, height=4, width=4)
    ds["caption"].values[:] = ""
    path = tmp_path / "e.zarr"
    cube_text.encode_dataset(ds).to_zarr(
        path, zarr_format=3, consolidated=False, encoding=cube_text.encodings()
    )
    assert (open_cube(path)["caption"].values == "").all()


def test_unknown_phase_and_non_integer_ids_are_refused() -> None:
    ds = make_cube_dataset(n_primary=1, n_secondary=2, height=4, width=4)
    values = {k: ds[k].values.copy() for k in cube_text.TEXT_VARIABLES}
    values["phase"][0, 1] = "Eruption"
    with pytest.raises(cube_text.CubeTextError, match="Eruption"):
        cube_text.encode(values)
    values = {k: ds[k].values.copy() for k in cube_text.TEXT_VARIABLES}
    values["unique_id"][0, 1] = "A12"
    with pytest.raises(cube_text.CubeTextError, match="A12"):
        cube_text.encode(values)
