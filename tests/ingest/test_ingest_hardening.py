"""Promises broken by hand-injected faults (issue 12): one bad file is one record, never the whole run.

Planner checks run in-process (no Ray); one module-scoped Ray serves the end-to-end runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from ingest_sources import SourceFrame, write_frame

from hephaestus.ingest import IngestConfig, run_ingest
from hephaestus.ingest import era5 as era5_mod
from hephaestus.ingest.plan import plan_sources
from hephaestus.platform import schema
from hephaestus.platform.cube import open_cube

FRAME = "010A_00001_000001"


def _frame() -> SourceFrame:
    return SourceFrame(
        FRAME,
        19.60,
        -155.40,
        24,
        32,
        [("20200101", "20200113", 101), ("20200101", "20200125", 102), ("20200113", "20200125", 103)],
    )


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    write_frame(root, _frame(), seed=4)
    return root


def _records(plan_or_summary) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {r.product: r for r in plan_or_summary.quarantine}


# ------------------------------------------------------------------------------------------------
# 3. Any failure of one annotation file is that file's quarantine record
# ------------------------------------------------------------------------------------------------
def test_deep_json_and_huge_uid_are_quarantined_not_fatal(sources: Path) -> None:
    ann = sources / "annotations"
    (ann / "deep.json").write_text("[" * 200_000 + "]" * 200_000)  # RecursionError in json
    good = json.loads((ann / "101.json").read_text())
    (ann / "huge.json").write_text(
        json.dumps({**good, "uniqueID": 7}).replace('"uniqueID": 7', '"uniqueID": ' + "9" * 5000)
    )
    plan = plan_sources(IngestConfig(sources=str(sources), out=str(sources.parent / "store")))
    recs = {r.files[0].rsplit("/", 1)[-1]: r for r in plan.quarantine}
    assert set(recs) == {"deep.json", "huge.json"}, recs
    assert "nested too deep" in recs["deep.json"].reason and "deep.json" in recs["deep.json"].reason
    assert "huge.json" in recs["huge.json"].reason and "digit" in recs["huge.json"].reason
    assert [b.n_pairs for b in plan.builds] == [3]  # the three good pairs are planned


# ------------------------------------------------------------------------------------------------
# 4. ERA5 files are checked when indexed; pairs that need a broken file name it
# ------------------------------------------------------------------------------------------------
def test_era5_field_without_time_is_quarantined_by_name(sources: Path) -> None:
    bad = sources / "era5" / f"era5_{FRAME}_20200125.nc"
    ds = xr.load_dataset(bad)
    ds["sp"] = ds["sp"].isel(valid_time=0, drop=True)  # a field without the time dimension
    bad.unlink()
    ds.to_netcdf(bad)
    plan = plan_sources(IngestConfig(sources=str(sources), out=str(sources.parent / "store")))
    by_product = _records(plan)
    assert by_product[bad.name].kind == "file" and "'sp'" in by_product[bad.name].reason
    for uid in ("102", "103"):  # both need an hour of 2020-01-25
        rec = by_product[uid]
        assert str(bad) in rec.files and bad.name in rec.reason and "cannot serve" in rec.reason
        assert "min away" not in rec.reason
    assert [b.n_pairs for b in plan.builds] == [1]


def test_era5_longitudes_0_360_serve_a_western_frame(sources: Path, tmp_path: Path) -> None:
    src = sources / "era5" / f"era5_{FRAME}_20200101.nc"
    ds = xr.load_dataset(src)
    east = ds.assign_coords(longitude=np.mod(ds.longitude.values, 360.0)).sortby("longitude")
    east.to_netcdf(tmp_path / "east.nc")
    plain, shifted = era5_mod.index_file(str(src)), era5_mod.index_file(str(tmp_path / "east.nc"))
    assert shifted.lon_360 and shifted.lon_min > 180 and not plain.lon_360
    from hephaestus.ingest.geotiff import header_grid

    grid = header_grid(str(sources / "licsar" / FRAME / "metadata" / f"{FRAME}.geo.hgt.tif"))
    when = np.datetime64("2020-01-01T05:20")
    pick = era5_mod.nearest_hour([shifted], grid, when, 30)
    assert pick.time.startswith("2020-01-01T05:00")
    want = era5_mod.resample(ds, plain, pick.time_index, grid)
    got = era5_mod.resample(east, shifted, pick.time_index, grid)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6)


# ------------------------------------------------------------------------------------------------
# 6. Every input file is accounted for: ingested, quarantined (reason) or ignored (reason)
# ------------------------------------------------------------------------------------------------
def test_mismatched_folder_and_unannotated_products_are_reported(sources: Path) -> None:
    ig = sources / "licsar" / FRAME / "interferograms"
    wrong = ig / "20200113_20200206"  # its files carry other dates
    wrong.mkdir()
    for f in (ig / "20200101_20200113").iterdir():
        (wrong / f.name).write_bytes(f.read_bytes())
    extra = ig / "20200125_20200206"  # a product nobody annotated
    extra.mkdir()
    (extra / "20200125_20200206.geo.cc.tif").write_bytes(
        (ig / "20200101_20200113" / "20200101_20200113.geo.cc.tif").read_bytes()
    )
    plan = plan_sources(IngestConfig(sources=str(sources), out=str(sources.parent / "store")))
    for f in wrong.iterdir():
        assert "do not match its folder 20200113_20200206" in plan.ignored[str(f)]
    assert "no annotation for pair" in plan.ignored[str(extra / "20200125_20200206.geo.cc.tif")]
    assert plan.unannotated_products == 1


@pytest.mark.usefixtures("ray_local")
def test_run_summary_accounts_for_every_input_file(sources: Path, tmp_path: Path) -> None:
    (sources / "licsar" / FRAME / "interferograms" / "20200101_20200113" / "notes.txt").write_text("x")
    (sources / "era5" / "README").write_text("x")
    (sources / "annotations" / "bad.json").write_text("{")
    listed = {str(p) for p in sources.rglob("*") if p.is_file()}
    summary = run_ingest(IngestConfig(sources=str(sources), out=str(tmp_path / "store")))
    assert summary.ok and summary.pairs_written == 3
    assert sum(summary.files.values()) == len(listed)
    assert summary.files["quarantined"] == 1  # bad.json
    assert set(summary.files_ignored) <= listed
    ignored = {Path(u).name: why for u, why in summary.files_ignored.items()}
    assert "notes.txt" in ignored and ignored["README"] == "not a NetCDF (.nc) file"
    # E, N, U GeoTIFFs beside the DEM are not used by the cube: ignored, with the reason
    assert ignored[f"{FRAME}.geo.E.tif"].startswith("not ")
    ds = open_cube(tmp_path / "store" / "cubes" / f"{FRAME}.zarr")
    assert int(ds["valid_date_pair"].values.sum()) == 3
    assert json.dumps(summary.as_dict())  # the CLI prints it


# ------------------------------------------------------------------------------------------------
# 5. A corrected product is ingested again; its stale verdict goes; the untouched frame is skipped
# ------------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("ray_local")
def test_corrected_product_is_reingested(tmp_path: Path) -> None:
    from ingest_sources import default_frames, write_tif

    root = tmp_path / "src"
    frames = default_frames(height=24, width=32)
    for k, fr in enumerate(frames):
        fr.pairs = fr.pairs[:2]
        write_frame(root, fr, seed=k)
    first = frames[0]
    d1, d2, uid = first.pairs[1]
    phase = root / "licsar" / first.frame_id / "interferograms" / f"{d1}_{d2}" / f"{d1}_{d2}.geo.diff_pha.tif"
    good = phase.read_bytes()
    bad = np.full((24, 32), 4.0, dtype="float32")  # out of the phase range: refused by the task
    write_tif(phase, bad, first.lat_max, first.lon_min)
    cfg = IngestConfig(sources=str(root), out=str(tmp_path / "store"))
    before = run_ingest(cfg)
    record = tmp_path / "store" / "quarantine" / f"{first.frame_id}__{uid}.json"
    assert record.exists() and before.pairs_quarantined == 1 and before.pairs_written == 3
    phase.write_bytes(good)  # the operator replaces the file
    after = run_ingest(cfg)
    assert after.frames_skipped == [frames[1].frame_id]  # only the frame the file feeds is redone
    assert after.pairs_written == 2 and after.pairs_quarantined == 0
    assert not record.exists()
    ds = open_cube(tmp_path / "store" / "cubes" / f"{first.frame_id}.zarr")
    assert bool(ds["valid_date_pair"].values.all())


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_changed_file_rewrites_only_the_pair_it_feeds(
    zarr_format: int, sources: Path, tmp_path: Path
) -> None:
    """Issue 12, item 5: a replaced interferogram invalidates exactly the write task of its pair; the other
    pairs' chunks keep their bytes (the cube is staged as a copy of the published one)."""
    from ingest_sources import write_tif

    fr = _frame()
    d1, d2, uid = fr.pairs[1]
    phase = sources / "licsar" / FRAME / "interferograms" / f"{d1}_{d2}" / f"{d1}_{d2}.geo.diff_pha.tif"
    good = phase.read_bytes()
    store = tmp_path / "store"
    cube = store / "cubes" / f"{FRAME}.zarr"
    cfg = IngestConfig(sources=str(sources), out=str(store), pairs_per_task=1, zarr_format=zarr_format)
    first = run_ingest(cfg)
    assert first.pairs_written == 3 and first.pairs_quarantined == 0

    def chunks() -> dict[str, bytes]:
        return {
            str(p.relative_to(cube)): p.read_bytes()
            for p in cube.rglob("*")
            if p.is_file() and p.relative_to(cube).parts[0] in {*schema.RASTER_VARIABLES, "dem"}
        }

    def cell(name: str) -> tuple[np.ndarray, bool]:
        ds = open_cube(cube)
        i = int(np.flatnonzero(ds["primary_date"].values == np.datetime64(f"{d1[:4]}-{d1[4:6]}-{d1[6:]}"))[0])
        j = int(
            np.flatnonzero(ds["secondary_date"].values == np.datetime64(f"{d2[:4]}-{d2[4:6]}-{d2[6:]}"))[0]
        )
        return np.asarray(ds[name].values[i, j]), bool(ds["valid_date_pair"].values[i, j])

    before = chunks()
    # the operator's file turns bad: only its pair's task runs, the pair is refused and its cell cleared
    write_tif(phase, np.full((24, 32), 4.0, dtype="float32"), fr.lat_max, fr.lon_min)
    bad = run_ingest(cfg)
    assert (bad.tasks_run, bad.pairs_written, bad.pairs_quarantined, bad.pairs_skipped) == (1, 0, 1, 2)
    values, valid = cell("insar_difference")
    assert not valid and np.isnan(values).all()  # no stale pixels left from the copied cube
    # and is corrected: only that pair is rewritten again, every other chunk keeps its bytes
    phase.write_bytes(good)
    fixed = run_ingest(cfg)
    assert (fixed.tasks_run, fixed.pairs_written, fixed.pairs_quarantined, fixed.pairs_skipped) == (
        1,
        1,
        0,
        2,
    )
    assert chunks() == before
    assert cell("insar_difference")[1] and bool(open_cube(cube)["valid_date_pair"].values.sum() == 3)
    assert not (store / "quarantine" / f"{FRAME}__{uid}.json").exists()
    again = run_ingest(cfg)  # idempotent afterwards: nothing runs
    assert again.frames_skipped == [FRAME] and again.tasks_run == 0


# ------------------------------------------------------------------------------------------------
# 7. A published cube with a missing or linked chunk is refused, not converted into a NaN DEM
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["symlink", "missing"])
def test_cube_with_a_lost_dem_chunk_is_refused(fault: str, tmp_path: Path) -> None:
    import tarfile

    from hephaestus.ingest.config import ChunkingConfig
    from hephaestus.ingest.convert import plan_cube
    from hephaestus.platform.cube import CubeUnreadableError

    from factories import write_published_cube

    folder = tmp_path / "144A_SM_REUN_S6.zarr"
    write_published_cube(folder, frame_id="144A_SM_REUN_S6", seed=3)
    chunks = sorted(
        p for p in (folder / "dem").rglob("*") if p.is_file() and not p.name.startswith((".", "zarr"))
    )
    assert chunks, "the DEM has chunk files"
    chunk = chunks[0]
    chunk.unlink()
    if fault == "symlink":
        chunk.symlink_to("/etc/hostname")
    tar = tmp_path / "144A_SM_REUN_S6.zarr.tar"
    with tarfile.open(tar, "w") as t:
        t.add(folder, arcname=folder.name)
    want = "is a symlink" if fault == "symlink" else "misses 1 of its"
    with pytest.raises(CubeUnreadableError, match=want) as err:
        plan_cube(str(tar), 3, ChunkingConfig(), 4)
    assert "dem" in str(err.value)


# ------------------------------------------------------------------------------------------------
# 11. Replacing a published local cube leaves no moment without a cube
# ------------------------------------------------------------------------------------------------
def test_replacing_a_local_cube_never_leaves_none(tmp_path: Path) -> None:
    import threading

    from hephaestus.ingest import publish as pub
    from hephaestus.platform.layout import Staging

    dest = tmp_path / "store" / "cubes" / "F.zarr"
    dest.mkdir(parents=True)
    (dest / "zarr.json").write_text("0")
    missing: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if not (dest / "zarr.json").exists():
                missing.append(1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for k in range(1, 200):
            staging = tmp_path / "store" / "staging" / f"F-{k}"
            cube = Path(Staging(str(staging)).cube)
            cube.mkdir(parents=True)
            (cube / "zarr.json").write_text(str(k))
            pub.publish(str(staging), str(dest), 3)
            assert (dest / "zarr.json").read_text() == str(k) and not staging.exists()
    finally:
        stop.set()
        watcher.join()
    assert not missing, f"no cube at the URL {len(missing)} times"


def test_oversized_annotation_file_in_a_folder_is_capped(sources: Path) -> None:
    """Files in an annotation folder get the 16 MiB cap of tarball members: refused unread, by name."""
    from hephaestus.platform.annotation import MAX_MEMBER_BYTES

    big = sources / "annotations" / "big.json"
    big.write_bytes(b'{"uniqueID": 1,' + b" " * MAX_MEMBER_BYTES + b"}")
    plan = plan_sources(IngestConfig(sources=str(sources), out=str(sources.parent / "store")))
    recs = {r.files[0].rsplit("/", 1)[-1]: r.reason for r in plan.quarantine}
    assert "oversized" in recs["big.json"]
    assert [b.n_pairs for b in plan.builds] == [3]
