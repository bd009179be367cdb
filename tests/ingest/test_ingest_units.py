"""Ingest pieces without Ray: the real annotation tarball, annotation validation, layouts, ERA5 hour."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr

from hephaestus.ingest import ChunkingConfig
from hephaestus.ingest.annotation import AnnotationError, RawAnnotation, iter_raw, parse
from hephaestus.ingest.era5 import Era5Error, Era5File, nearest_hour
from hephaestus.ingest.geotiff import Grid
from hephaestus.ingest.layout import LAYOUTS, encoding


def test_real_annotation_tarball_parses_by_member_name(shared_dir: Path) -> None:
    tar = shared_dir / "data" / "hephaestus" / "annotations.tar.gz"
    parsed = [parse(raw) for raw in iter_raw(str(tar))]
    assert len(parsed) == 19919  # the published count
    assert len({a.unique_id for a in parsed}) == 19919
    positives = [a for a in parsed if "Non_Deformation" not in a.labels]
    assert len(positives) == 1764 + 40 + 15  # label counts read off the tarball by hand
    assert all(a.polygons for a in positives)


GOOD = {
    "uniqueID": 5,
    "frameID": "124D_04854_171313",
    "primary_date": "20200101",
    "secondary_date": "20200113",
    "corrupted": 0,
    "processing_error": 0,
    "glacier_fringes": 0,
    "orbital_fringes": 0,
    "atmospheric_fringes": 1,
    "low_coherence": 0,
    "no_info": 0,
    "image_artifacts": 0,
    "label": ["Earthquake"],
    "activity_type": ["Earthquake"],
    "intensity_level": ["None"],
    "phase": "None",
    "confidence": 0.6,
    "segmentation_mask": [[1, 1, 10, 1, 10, 8]],
    "is_crowd": 0,
    "caption": "quake",
}


def _raw(d: dict) -> RawAnnotation:
    return RawAnnotation("x.json", "mem://x.json", json.dumps(d).encode())


def test_good_annotation_codes() -> None:
    a = parse(_raw(GOOD))
    (p,) = a.polygons
    assert (p.deformation, p.activity, p.intensity) == (2, 5, -1)
    assert a.fields["unique_id"] == "5" and a.fields["phase"] == "None"


@pytest.mark.parametrize(
    "change, text",
    [
        ({"primary_date": "2020-01-01"}, "YYYYMMDD"),
        ({"secondary_date": "20191231"}, "not after"),
        ({"label": ["Non_Deformation"]}, "polygon(s) drawn"),
        ({"label": ["Deformation", "Non_Deformation"]}, "mixes"),
        ({"segmentation_mask": []}, "without any polygon"),
        ({"activity_type": ["Volcano"]}, "unknown activity_type"),
        ({"confidence": 1.5}, "confidence"),
        ({"processing_error": 1}, "processing_error=1"),
        ({"segmentation_mask": [[1, 2, 3]]}, "at least 3"),
        ({"uniqueID": "5"}, "uniqueID must be an int"),
    ],
)
def test_bad_annotations_name_the_problem(change: dict, text: str) -> None:
    with pytest.raises(AnnotationError, match=None) as info:
        parse(_raw({**GOOD, **change}))
    assert text in str(info.value)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_fit_odd_frame_sizes(layout: str) -> None:
    enc = encoding(3, 2, 3, 1070, 1409, ChunkingConfig(layout=layout))["insar_difference"]
    arr = zarr.create_array(
        zarr.storage.MemoryStore(),
        shape=(2, 3, 1070, 1409),
        dtype="float32",
        **{k: v for k, v in enc.items() if k != "fill_value"},
        fill_value=0.0,
    )
    arr[1, 2] = np.ones((1070, 1409), "float32")
    assert arr[1, 2, 1069, 1408] == 1 and arr[0, 0, 5, 5] == 0
    assert arr.chunks[:2] == (1, 1)  # one pair per chunk: tasks never share a chunk


def test_nearest_hour_and_missing_hour() -> None:
    grid = Grid(lat_max=19.6, lon_min=-155.4, height=40, width=40)
    times = tuple(str(np.datetime64("2020-01-01T00", "ns") + np.timedelta64(h, "h")) for h in (3, 4, 9))
    f = Era5File("a.nc", times, 18.0, 21.0, -157.0, -154.0, (), "valid_time", "latitude", "longitude")
    pick = nearest_hour([f], grid, np.datetime64("2020-01-01T04:20"), 30)
    assert pick.time_index == 1 and pick.offset_minutes == pytest.approx(20)
    with pytest.raises(Era5Error, match="missing ERA5 hour"):
        nearest_hour([f], grid, np.datetime64("2020-01-01T06:31"), 30)
    far = Era5File("b.nc", times, 0.0, 1.0, 0.0, 1.0, (), "valid_time", "latitude", "longitude")
    with pytest.raises(Era5Error, match="covers the frame"):
        nearest_hour([far], grid, np.datetime64("2020-01-01T04:00"), 30)
