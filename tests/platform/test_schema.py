"""The schema holds the published names, dims, dtypes and codes (minicube-format.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hephaestus.platform import schema

# Independent expectation: the published variable table, typed in from minicube-format.md.
PUBLISHED = {
    "insar_difference": ("raster", "float32"),
    "insar_coherence": ("raster", "float32"),
    "dem": ("grid", "float32"),
    "primary_date_total_column_water_vapour": ("raster", "float32"),
    "secondary_date_total_column_water_vapour": ("raster", "float32"),
    "primary_date_surface_pressure": ("raster", "float32"),
    "secondary_date_surface_pressure": ("raster", "float32"),
    "primary_date_vertical_integral_of_temperature": ("raster", "float32"),
    "secondary_date_vertical_integral_of_temperature": ("raster", "float32"),
    "deformation_mask": ("raster", "int32"),
    "activity_type_mask": ("raster", "int32"),
    "intensity_level_mask": ("raster", "int32"),
    "atmospheric_fringes": ("pair", "int32"),
    "glacier_fringes": ("pair", "int32"),
    "orbital_fringes": ("pair", "int32"),
    "corrupted": ("pair", "bool"),
    "processing_error": ("pair", "bool"),
    "low_coherence": ("pair", "bool"),
    "no_info": ("pair", "bool"),
    "is_crowd": ("pair", "bool"),
    "valid_date_pair": ("pair", "bool"),
    "confidence": ("pair", "float32"),
    "phase": ("pair", "str"),
    "caption": ("pair", "str"),
    "unique_id": ("pair", "str"),
}
DIMS = {
    "raster": ("primary_date", "secondary_date", "latitude", "longitude"),
    "pair": ("primary_date", "secondary_date"),
    "grid": ("latitude", "longitude"),
}


def test_every_published_variable_with_dims_and_dtype() -> None:
    assert set(schema.VARIABLES) == set(PUBLISHED)
    for name, (kind, dtype) in PUBLISHED.items():
        var = schema.VARIABLES[name]
        assert var.dims == DIMS[kind], name
        assert var.dtype == dtype, name


def test_codes_of_the_original_hephaestus_code() -> None:
    assert [
        schema.ACTIVITY_TYPE.code(n)
        for n in ("Mogi", "Dyke", "Sill", "Spheroid", "Earthquake", "Unidentified")
    ] == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    assert [schema.INTENSITY.code(n) for n in ("Low", "Medium", "High")] == [0, 1, 2]
    assert [schema.DEFORMATION.code(n) for n in ("Non_Deformation", "Deformation", "Earthquake")] == [0, 1, 2]
    assert schema.ATMOSPHERIC_FRINGES.meaning(3) == "both"
    with pytest.raises(KeyError, match="unknown category"):
        schema.ACTIVITY_TYPE.code("Volcano")


def test_mask_variables_carry_flag_attributes() -> None:
    attrs = schema.VARIABLES["activity_type_mask"].attrs()
    assert attrs["flag_values"] == [0, 1, 2, 3, 4, 5, 6]
    assert attrs["flag_meanings"].split() == [
        "None",
        "Mogi",
        "Dyke",
        "Sill",
        "Spheroid",
        "Earthquake",
        "Unidentified",
    ]
    assert attrs["grid_mapping"] == "spatial_ref"
    cube = schema.cube_attrs("124D_04854_171313")
    assert cube["frame_id"] == "124D_04854_171313"
    assert cube["intensity_level_mask_flag_meanings"] == "None Low Medium High"


def test_authors_statistics_match_their_file(shared_dir) -> None:
    stats = json.loads((shared_dir / "data" / "hephaestus" / "statistics.json").read_text())
    for key, (mean, std) in schema.AUTHORS_STATISTICS.items():
        assert mean == pytest.approx(stats[key]["mean"], rel=1e-12)
        assert std == pytest.approx(stats[key]["std"], rel=1e-12)


def test_statistics_key_shares_primary_and_secondary() -> None:
    assert schema.statistics_key("secondary_date_surface_pressure") == "surface_pressure"
    assert schema.statistics_key("primary_date_surface_pressure") == "surface_pressure"
    assert schema.statistics_key("dem") == "dem"


@pytest.mark.parametrize(
    ("day", "split"),
    [
        ("2014-01-01", "train"),
        ("2019-05-31", "train"),
        ("2019-06-01", "val"),
        ("2019-12-31", "val"),
        ("2020-01-01", "test"),
        ("2021-12-31", "test"),
        ("2022-01-01", None),
        ("2013-12-31", None),
    ],
)
def test_split_windows(day: str, split: str | None) -> None:
    assert schema.split_of(np.datetime64(day)) == split
