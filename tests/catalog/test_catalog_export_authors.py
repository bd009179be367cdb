"""`hmc catalog export-authors`: the files the authors' loader reads, in the exact format of the real
ones (../shared/data/hephaestus), and their loader's access pattern run on our cubes with zarr 2.18."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import numpy as np
from authors_env import authors_python
from typer.testing import CliRunner

from hephaestus.catalog import CatalogConfig, build_catalog
from hephaestus.catalog.pairs import polygon_stats
from hephaestus.cli.app import app
from hephaestus.platform import schema

from factories import write_published_cube

FRAMES = ("001A_00001_000001", "002D_00002_000002")


def _store(tmp_path: Path, zarr_format: int) -> Path:
    store = tmp_path / f"store-v{zarr_format}"
    for k, frame in enumerate(FRAMES):
        write_published_cube(
            store / "cubes" / f"{frame}.zarr",
            zarr_format=zarr_format,
            frame_id=frame,
            seed=k,
            first_id=100 * (k + 1),
        )
    build_catalog(store, CatalogConfig(statistics=False, geoparquet=False))
    return store


def _export(store: Path, out: Path) -> dict[str, object]:
    result = CliRunner().invoke(app, ["catalog", "export-authors", str(store), str(out)])
    assert result.exit_code == 0, result.output
    return {p.name: json.loads(p.read_text()) for p in out.glob("*.json")}


def _real_record(real: Path) -> dict:
    with tarfile.open(real / "annotations.tar.gz") as tar:
        member = next(m for m in tar if m.name.endswith("/1000.json"))
        return json.load(tar.extractfile(member))  # type: ignore[arg-type]


def _shape(value: object) -> object:
    """The JSON structure of a value: types, with lists reduced to their first element's structure."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_export_matches_the_real_files_and_the_cubes(tmp_path: Path, shared_dir: Path) -> None:
    real = shared_dir / "data" / "hephaestus"
    files = _export(_store(tmp_path, 3), tmp_path / "out")
    assert set(files) == {"quality_timeseries.json", "annotations.json", "statistics.json"}

    quality, real_quality = (
        files["quality_timeseries.json"],
        json.loads((real / "quality_timeseries.json").read_text()),
    )
    real_group = next(iter(next(iter(real_quality.values())).values()))
    # hand-computed: make_cube_dataset marks pairs with secondary > primary valid, ids from 100 on
    for k, frame in enumerate(FRAMES):
        primary = np.datetime64("2018-01-05") + np.arange(3) * 12
        secondary = np.datetime64("2018-01-05") + 6 + np.arange(4) * 6
        expected = {
            str(p).replace("-", ""): [str(s).replace("-", "") for s in secondary if s > p] for p in primary
        }
        expected = {p: s for p, s in expected.items() if s}
        got = quality[frame]
        assert {p: g["secondary_date"] for p, g in got.items()} == expected
        ids = [u for g in got.values() for u in g["uniqueID"]]
        assert ids == list(range(100 * (k + 1), 100 * (k + 1) + len(ids)))
        for group in got.values():
            assert _shape(group) == _shape(real_group) and group["length"] == len(group["uniqueID"])

    merged = files["annotations.json"]
    real_record = _real_record(real)
    assert len(merged) == sum(len(g["uniqueID"]) for f in quality.values() for g in f.values())
    for uid, record in merged.items():
        assert uid == str(record["uniqueID"])
        assert record["confidence"] == 0.8  # the factory's value, not its float32 neighbour
        assert list(record) == list(real_record) == list(schema.ANNOTATION_FIELDS)
        for key in record:
            if record[key] != []:  # the real negatives hold [] too (no source, no intensity, no outline)
                assert _shape(record[key]) == _shape(real_record[key]), key
        # the exported outline covers exactly the 10 x 12 block the factory drew
        pixels, _ = polygon_stats(record["segmentation_mask"])
        assert pixels == (120 if record["label"] != [schema.NEGATIVE_LABEL] else 0), uid
    assert any(r["segmentation_mask"] for r in merged.values())
    assert _shape(files["statistics.json"]) == _shape(json.loads((real / "statistics.json").read_text()))


AUTHORS_ACCESS = """
import json, sys
import numpy as np, xarray as xr
zarr_path, quality, annotations = sys.argv[1:4]
ann = json.load(open(annotations))
channels = ["insar_difference", "insar_coherence", "dem"] + [
    f"{w}_date_{v}" for v in ("total_column_water_vapour", "surface_pressure", "vertical_integral_of_temperature")
    for w in ("primary", "secondary")]
out = {}
for frame, series in json.load(open(quality)).items():
    ds = xr.open_zarr(f"{zarr_path}/{frame}.zarr")
    for primary, s in series.items():
        labels = ["Non_Deformation" not in ann[str(u)]["label"] for u in s["uniqueID"]]
        cell = ds.sel(primary_date=np.datetime64(primary[:4] + "-" + primary[4:6] + "-" + primary[6:]),
                      secondary_date=[np.datetime64(d[:4] + "-" + d[4:6] + "-" + d[6:]) for d in s["secondary_date"]])
        cell = cell[channels + ["deformation_mask"]]
        mask = cell["deformation_mask"].values
        assert set(np.unique(mask)) <= {0, 1}, np.unique(mask)
        for k, u in enumerate(s["uniqueID"]):
            out[str(u)] = [bool(labels[k]), int((mask[k] > 0).sum()), bool(np.isfinite(cell["insar_difference"].values[k]).all())]
print(json.dumps(out))
"""


def test_the_authors_access_pattern_runs_on_our_v2_cubes(tmp_path: Path) -> None:
    store = _store(tmp_path, 2)
    files = _export(store, tmp_path / "out")
    done = subprocess.run(
        [
            str(authors_python()),
            "-c",
            AUTHORS_ACCESS,
            str(store / "cubes"),
            str(tmp_path / "out" / "quality_timeseries.json"),
            str(tmp_path / "out" / "annotations.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(seen) == set(files["annotations.json"])
    for uid, (positive, pixels, finite) in seen.items():
        assert pixels == (120 if positive else 0) and finite, uid


def test_a_store_without_catalog_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["catalog", "export-authors", str(tmp_path), str(tmp_path / "out")])
    assert result.exit_code == 2 and "no catalog" in result.output and "Traceback" not in result.output
