"""Issue 27, item 2: nothing is allocated from a header before it is checked.

Hostile headers (a DEM claiming 200000 x 200000 pixels, a NetCDF claiming 10 M time steps, a tarball of
20,000 empty members) are refused by name without allocating what they claim, and the frame's good products
are still ingested; settings that size memory are refused in one line before Ray starts.
"""

from __future__ import annotations

import json
import sys
import tarfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import rasterio
from harness import run_hmc
from rasterio.transform import from_origin

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
from ingest_sources import default_frames, write_frame  # noqa: E402

from hephaestus.ingest import IngestConfig, run_ingest  # noqa: E402
from hephaestus.ingest import era5 as era5_mod  # noqa: E402
from hephaestus.ingest.plan import plan_sources  # noqa: E402
from hephaestus.platform import annotation as ann_mod  # noqa: E402

HUGE = 200_000


def _frame_sources(root: Path) -> tuple[str, Path]:
    """One small frame's sources; (frame id, its hgt path)."""
    frame = default_frames()[1]
    write_frame(root, frame, seed=3)
    return frame.frame_id, root / "licsar" / frame.frame_id / "metadata" / f"{frame.frame_id}.geo.hgt.tif"


def _hostile_dem(path: Path, lat_max: float, lon_min: float) -> None:
    """A GeoTIFF whose header claims HUGE x HUGE float32 pixels (149 GiB) while the file holds no tile
    (sparse: GDAL writes no block that was never written), so the test allocates nothing."""
    path.unlink()
    with rasterio.open(
        path, "w", driver="GTiff", height=HUGE, width=HUGE, count=1, dtype="float32", crs="EPSG:4326",
        transform=from_origin(lon_min, lat_max, 0.001, 0.001), tiled=True, blockxsize=4096, blockysize=4096,
        sparse_ok=True,
    ):  # fmt: skip
        pass


def test_hostile_dem_header_is_quarantined_by_name_and_good_products_kept(tmp_path: Path) -> None:
    root = tmp_path / "src"
    frame_id, hgt = _frame_sources(root)
    frame = default_frames()[1]
    _hostile_dem(hgt, frame.lat_max, frame.lon_min)
    assert hgt.stat().st_size < 2_000_000
    out = run_hmc(["ingest", str(root), "--out", str(tmp_path / "store"), "--workers", "1"], timeout=600)
    assert out.rc == 0, out.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "store").rglob("quarantine/**/*.json")]
    dem = [r for r in records if hgt.name in " ".join(r["files"])]
    assert len(dem) == 1, records
    assert f"{HUGE}x{HUGE}" in dem[0]["reason"] and "20000" in dem[0]["reason"], dem[0]
    assert dem[0]["kind"] == "file"
    # the frame's three products are ingested, not quarantined
    assert not [r for r in records if r is not dem[0] and r["stage"] == "grid"], records
    import xarray as xr

    cube = next((tmp_path / "store").rglob(f"{frame_id}.zarr"))
    ds = xr.open_zarr(cube)
    assert int(ds["valid_date_pair"].values.sum()) == len(frame.pairs)
    assert np.isnan(ds["dem"].values).all()  # the DEM is no data, not invented


def test_netcdf_with_a_huge_time_axis_is_refused_before_reading_it(tmp_path: Path) -> None:
    import netCDF4

    path = tmp_path / "era5_bad.nc"
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("valid_time", 10_000_000)
        nc.createDimension("latitude", 3)
        nc.createDimension("longitude", 3)
        t = nc.createVariable("valid_time", "i8", ("valid_time",), chunksizes=(1_000_000,), zlib=True)
        t.units = "hours since 2020-01-01"
        nc.createVariable("latitude", "f4", ("latitude",))[:] = [1, 0, -1]
        nc.createVariable("longitude", "f4", ("longitude",))[:] = [0, 1, 2]
    assert path.stat().st_size < 300_000
    files, bad = era5_mod.index_files([str(path)])
    assert files == [] and len(bad) == 1
    assert bad[0][0] == str(path)
    assert "10000000" in bad[0][1] and str(era5_mod.MAX_TIME_STEPS) in bad[0][1], bad


def test_tarball_of_20000_empty_members_is_one_record(tmp_path: Path) -> None:
    root = tmp_path / "src"
    _frame_sources(root)
    good = sorted((root / "annotations").glob("*.json"))
    tar_path = root / "annotations.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        for p in good:
            tar.add(p, arcname=f"deep/prefix/{p.name}")
        for k in range(20_000):
            info = tarfile.TarInfo(f"deep/prefix/empty_{k:05d}.json")
            info.size = 0
            tar.addfile(info, BytesIO(b""))
    for p in good:
        p.unlink()
    (root / "annotations").rmdir()
    plan = plan_sources(IngestConfig(sources=str(root), out=str(tmp_path / "store")))
    refused = [q for q in plan.quarantine if q.stage == "annotation"]
    assert len(refused) == 1, len(refused)
    assert len(refused[0].files) == 20_000 and "20000 annotation files refused" in refused[0].reason
    assert sum(len(b.jobs) for b in plan.builds) >= len(good)  # the good annotations still plan their pairs


def test_tarball_past_the_member_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann_mod, "MAX_MEMBERS", 10)
    tar_path = tmp_path / "a.tar"
    with tarfile.open(tar_path, "w") as tar:
        for k in range(11):
            info = tarfile.TarInfo(f"m{k}.json")
            tar.addfile(info, BytesIO(b""))
    with pytest.raises(ann_mod.AnnotationError, match="more than 10 members"):
        list(ann_mod.iter_raw(str(tar_path)))


def test_run_summary_counts_the_quarantined_dem(tmp_path: Path) -> None:
    """Library path of the first case: the run's summary names the DEM among quarantined files."""
    root = tmp_path / "src"
    _, hgt = _frame_sources(root)
    frame = default_frames()[1]
    _hostile_dem(hgt, frame.lat_max, frame.lon_min)
    summary = run_ingest(IngestConfig(sources=str(root), out=str(tmp_path / "store")))
    assert any(hgt.name in " ".join(q.files) for q in summary.quarantined)
    assert summary.pairs_quarantined == 0 or all(hgt.name in " ".join(q.files) for q in summary.quarantined)


def test_crop_larger_than_every_frame_is_refused_before_ray(tmp_path: Path) -> None:
    from hephaestus.train.config import RunConfig
    from hephaestus.train.preflight import SettingTooLargeError, check_run

    run = RunConfig(crop_size=100_000)
    with pytest.raises(SettingTooLargeError, match="batch_size"):
        check_run(run, None, memory=8 * 2**30, cores=2)
    with pytest.raises(SettingTooLargeError, match="loader_workers 64"):
        check_run(RunConfig(crop_size=64, loader_workers=64), None, memory=8 * 2**30, cores=2)
    check_run(RunConfig(crop_size=64, batch_size=8), None, memory=8 * 2**30, cores=2)  # a sane run passes
