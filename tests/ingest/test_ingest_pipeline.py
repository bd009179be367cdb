"""End-to-end ingest on a local store with a real local Ray: content against independent
expectations, v2 layout, idempotent re-runs, resume after an interrupted run, quarantine reasons,
the `hmc ingest` CLI and `--from-minicubes`, and the same ingest into real S3 (moto) and GCS
(gcp-storage-emulator) servers on 127.0.0.1 (one module: one Ray runtime for all of them)."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from cube_checks import center_time, content_hash, era5_expected, load_annotations, polygon_masks, read_tif
from ingest_sources import default_frames, write_era5, write_frame, write_tif
from remote_case import check_remote_equals_local, tiny_sources
from typer.testing import CliRunner

from hephaestus.cli.app import app
from hephaestus.ingest import IngestConfig, run_ingest
from hephaestus.platform import schema
from hephaestus.platform.cube import open_cube

from factories import write_published_cube

pytestmark = pytest.mark.usefixtures("ray_local")


def _day(d: np.datetime64) -> str:
    return str(np.datetime64(d, "D")).replace("-", "")


@pytest.fixture(scope="module")
def synth_run(synth_sources: Path, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("store")
    summary = run_ingest(IngestConfig(sources=str(synth_sources), out=str(out), workers=2, pairs_per_task=2))
    return out, summary


def test_cube_content_equals_sources(synth_sources: Path, synth_run) -> None:
    out, summary = synth_run
    anns = load_annotations(synth_sources / "annotations")
    frames = sorted({a["frameID"] for a in anns.values()})
    assert summary.ok and summary.pairs_quarantined == 0
    assert [Path(u).name for u in summary.cube_urls] == [f"{f}.zarr" for f in frames]
    written = 0
    for frame in frames:
        ds = open_cube(out / "cubes" / f"{frame}.zarr")  # validates names, dims, dtypes
        fa = [a for a in anns.values() if a["frameID"] == frame]
        assert [_day(d) for d in ds.primary_date.values] == sorted({a["primary_date"] for a in fa})
        assert [_day(d) for d in ds.secondary_date.values] == sorted({a["secondary_date"] for a in fa})
        meta = synth_sources / "licsar" / frame / "metadata"
        np.testing.assert_array_equal(ds.dem.values, read_tif(meta / f"{frame}.geo.hgt.tif"))
        ctime = center_time(meta / "metadata.txt")
        h, w = ds.sizes["latitude"], ds.sizes["longitude"]
        with rasterio.open(meta / f"{frame}.geo.hgt.tif") as src:
            t = src.transform
        np.testing.assert_allclose(ds.latitude.values, t.f - 0.001 * (np.arange(h) + 0.5), atol=1e-9)
        np.testing.assert_allclose(ds.longitude.values, t.c + 0.001 * (np.arange(w) + 0.5), atol=1e-9)
        for a in fa:
            i = list(map(_day, ds.primary_date.values)).index(a["primary_date"])
            j = list(map(_day, ds.secondary_date.values)).index(a["secondary_date"])
            cell = ds.isel(primary_date=i, secondary_date=j).load()
            assert cell.unique_id.item() == str(a["uniqueID"])
            assert cell.phase.item() == a["phase"] and cell.caption.item() == a["caption"]
            assert cell.atmospheric_fringes.item() == a["atmospheric_fringes"]
            assert bool(cell.corrupted.item()) == bool(a["corrupted"])
            assert cell.confidence.item() == pytest.approx(a["confidence"])
            name = f"{a['primary_date']}_{a['secondary_date']}"
            folder = synth_sources / "licsar" / frame / "interferograms" / name
            if not (folder / f"{name}.geo.diff_pha.tif").exists():
                assert not cell.valid_date_pair.item()
                assert np.isnan(cell.insar_difference.values).all()  # NaN: "no product"
                continue
            written += 1
            assert cell.valid_date_pair.item()
            np.testing.assert_array_equal(
                cell.insar_difference.values, read_tif(folder / f"{name}.geo.diff_pha.tif")
            )
            cc = read_tif(folder / f"{name}.geo.cc.tif")
            expected_cc = cc.astype("float32") * (255 if cc.dtype.kind == "f" else 1)
            np.testing.assert_array_equal(cell.insar_coherence.values, expected_cc)
            masks = polygon_masks(a, h, w)
            for m, expected in masks.items():
                np.testing.assert_array_equal(cell[m].values, expected, err_msg=f"{frame} {name} {m}")
            for which, day in (("primary", a["primary_date"]), ("secondary", a["secondary_date"])):
                exp = era5_expected(
                    synth_sources / "era5", day, ctime, ds.latitude.values, ds.longitude.values
                )
                for field, values in exp.items():
                    np.testing.assert_allclose(
                        cell[schema.era5_variable(which, field)].values,
                        values,
                        rtol=2e-6,
                        err_msg=f"{which} {field}",
                    )
    assert summary.pairs_written == written
    assert any(polygon_masks(a, 1, 1) is not None and a["segmentation_mask"] for a in anns.values())


def test_write_tasks_report_where_their_time_goes(synth_run) -> None:
    """Every step a LiCSAR pair goes through is timed (wall and CPU); the steps add up to the tasks."""
    from hephaestus.ingest.timing import STEPS

    _, summary = synth_run
    t = summary.task_seconds
    for step in ("read_geotiff", "era5_open", "era5_resample", "masks", "encode", "write"):
        assert t[step] > 0 and t[f"cpu_{step}"] >= 0, step
    assert sum(t[k] for k in STEPS) == pytest.approx(t["task"], rel=1e-6)
    assert 0 < t["cpu"] <= 4 * t["task"]
    assert set(summary.driver_seconds) == {"plan", "publish"}  # the survey of the sources; publishing
    # every frame was planned and staged by its own task (a fresh store: no cube to compare on the driver)
    assert summary.frame_seconds["plan"] > 0 and summary.frame_seconds["prepare"] > 0


def test_rerun_is_idempotent_and_writes_nothing(synth_sources: Path, synth_run) -> None:
    out, first = synth_run
    before = {u: content_hash(open_cube(u).load()) for u in first.cube_urls}
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = run_ingest(IngestConfig(sources=str(synth_sources), out=str(out), workers=2, pairs_per_task=2))
    assert again.pairs_written == 0 and again.bytes_written == 0
    assert again.pairs_skipped == first.pairs_written
    assert sorted(again.frames_skipped) == sorted(Path(u).name[: -len(".zarr")] for u in first.cube_urls)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == mtimes
    assert {u: content_hash(open_cube(u).load()) for u in first.cube_urls} == before


def test_interrupted_run_is_invisible_then_resumes(synth_sources: Path, synth_run, tmp_path: Path) -> None:
    ref_out, ref = synth_run
    out = tmp_path / "store"

    class Stop(Exception):
        pass

    def stop_after_three(done: int, total: int) -> None:
        # progress counts every task: the 2 frame tasks (plan, stage), then write tasks; after 3 write
        # tasks at least one pair task has finished (a frame has one DEM task)
        if done >= 2 + 3:
            raise Stop

    cfg = IngestConfig(sources=str(synth_sources), out=str(out), workers=2, pairs_per_task=1)
    with pytest.raises(Stop):
        run_ingest(cfg, progress=stop_after_three)
    assert not list((out / "cubes").glob("*")) if (out / "cubes").exists() else True  # nothing half-published
    markers = list((out / "staging").rglob("done/*.json"))
    assert markers, "finished regions are recorded"
    summary = run_ingest(cfg)
    assert summary.pairs_skipped >= 1 and summary.pairs_written + summary.pairs_skipped == ref.pairs_written
    assert not (out / "staging").exists() or not list((out / "staging").iterdir())
    for u in ref.cube_urls:
        name = Path(u).name
        assert content_hash(open_cube(out / "cubes" / name).load()) == content_hash(open_cube(u).load())


def test_zarr_v2_published_layout(synth_sources: Path, synth_run, tmp_path: Path) -> None:
    ref_out, ref = synth_run
    out = tmp_path / "v2"
    summary = run_ingest(IngestConfig(sources=str(synth_sources), out=str(out), workers=2, zarr_format=2))
    assert summary.pairs_written == ref.pairs_written
    for u in ref.cube_urls:
        name = Path(u).name
        assert (out / "cubes" / name / ".zmetadata").exists() and not (
            out / "cubes" / name / "zarr.json"
        ).exists()
        meta = json.loads((out / "cubes" / name / "insar_difference" / ".zarray").read_text())
        h, w = meta["shape"][2:]
        assert meta["chunks"] == [1, 1, h, w] and meta["zarr_format"] == 2
        v2, v3 = open_cube(out / "cubes" / name).load(), open_cube(u).load()
        assert content_hash(v2) == content_hash(v3)
        invalid = ~v2.valid_date_pair.values
        if invalid.any():
            assert np.isnan(v2.insar_difference.values[invalid]).all()
            assert (v2.intensity_level_mask.values[invalid] == -1).all()


def test_annotations_from_tarball_with_long_prefix(synth_sources: Path, synth_run, tmp_path: Path) -> None:
    ref_out, ref = synth_run
    tar = tmp_path / "annotations.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        for p in sorted((synth_sources / "annotations").glob("*.json")):
            t.add(p, arcname=f"mnt/shared_storage/someone/datasets/annotations/{p.name}")
    cfg = IngestConfig(
        licsar=str(synth_sources / "licsar"),
        era5=str(synth_sources / "era5"),
        annotations=str(tar),
        out=str(tmp_path / "store"),
        workers=2,
        pairs_per_task=2,
    )
    summary = run_ingest(cfg)
    assert summary.pairs_written == ref.pairs_written
    for u in ref.cube_urls:
        got = open_cube(tmp_path / "store" / "cubes" / Path(u).name).load()
        assert content_hash(got) == content_hash(open_cube(u).load())


# ------------------------------------------------------------------------------------------
# Quarantine: one bad product per reason, built by hand; the good pairs still make the cube.
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad_sources(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("bad")
    good, other = default_frames(height=40, width=48)
    good.pairs = [
        ("20200101", "20200113", 1),  # fine
        ("20200101", "20200125", 2),  # unreadable GeoTIFF
        ("20200113", "20200125", 3),  # wrong CRS
        ("20200113", "20200206", 4),  # wrong grid
        ("20200125", "20200206", 5),  # phase out of range
        ("20200125", "20200218", 6),  # older coherence (0..1 float): rescaled, not refused
        ("20200206", "20200218", 7),  # polygon outside the image
        ("20200206", "20200301", 8),  # missing ERA5 hour (20200301 has only 12:00..23:00)
    ]
    anns = write_frame(root, good, seed=5, positive_every=1, old_coherence={6}, era5=False)
    for day in ("20200101", "20200113", "20200125", "20200206", "20200218"):
        write_era5(
            root / "era5" / f"e_{day}.nc",
            good,
            day,
            np.random.default_rng(1),
            time_name="time",
            long_names=True,
        )
    write_era5(root / "era5" / "late.nc", good, "20200301", np.random.default_rng(2), hours=range(12, 24))
    (root / "era5" / "broken.nc").write_bytes(b"CDF\x01 truncated")  # indexed by a task: still named
    ig = root / "licsar" / good.frame_id / "interferograms"
    (ig / "20200101_20200125" / "20200101_20200125.geo.diff_pha.tif").write_bytes(b"not a tiff at all")
    rng = np.random.default_rng(0)
    pha = rng.uniform(-1, 1, (40, 48)).astype("float32")
    write_tif(
        ig / "20200113_20200125" / "20200113_20200125.geo.diff_pha.tif",
        pha,
        good.lat_max,
        good.lon_min,
        crs="EPSG:32633",
    )
    write_tif(
        ig / "20200113_20200206" / "20200113_20200206.geo.cc.tif",
        rng.integers(0, 255, (40, 48)).astype("uint8"),
        good.lat_max + 0.002,
        good.lon_min,
    )
    pha[3, 3] = 4.0
    write_tif(
        ig / "20200125_20200206" / "20200125_20200206.geo.diff_pha.tif", pha, good.lat_max, good.lon_min
    )
    a7 = root / "annotations" / "7.json"
    d = json.loads(a7.read_text())
    d["segmentation_mask"][0][0] = 48 + 30.0
    a7.write_text(json.dumps(d))
    ann = root / "annotations"
    (ann / "broken.json").write_text('{"uniqueID": 9, "frameID": ')  # malformed
    contradictory = dict(
        anns[1], uniqueID=10, primary_date="20200101", secondary_date="20200206", label=["Non_Deformation"]
    )
    (ann / "10.json").write_text(json.dumps(contradictory))  # Non_Deformation with polygons
    (ann / "1-copy.json").write_text(
        json.dumps(dict(anns[1], secondary_date="20200218"))
    )  # duplicate uniqueID 1
    (ann / "11.json").write_text(
        json.dumps(dict(anns[1], uniqueID=11, frameID="../../etc"))
    )  # unsafe frame id
    return root, anns


def _records(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in (out / "quarantine").glob("*.json")}


def test_quarantine_each_reason_and_keep_the_rest(bad_sources, tmp_path: Path) -> None:
    root, anns = bad_sources
    out = tmp_path / "store"
    summary = run_ingest(IngestConfig(sources=str(root), out=str(out), workers=2, pairs_per_task=3))
    recs = _records(out)
    frame = "010A_00001_000001"
    expect = {
        f"{frame}__2.json": "unreadable GeoTIFF",
        f"{frame}__3.json": "is not EPSG:4326",
        f"{frame}__4.json": "is not the frame grid",
        f"{frame}__5.json": "phase out of range",
        f"{frame}__7.json": "outside the 48x40 image",
        f"{frame}__8.json": "missing ERA5 hour",
        f"{frame}__10.json": "Non_Deformation",
        "unknown__broken.json.json": "not valid JSON",
        f"{frame}__1-1.json.json": "duplicate uniqueID 1",
        f"{frame}__1-1-copy.json.json": "duplicate uniqueID 1",
    }
    for name, text in expect.items():
        assert name in recs, (name, sorted(recs))
        assert text in recs[name]["reason"], (name, recs[name]["reason"])
        assert recs[name]["files"] and recs[name]["stage"] and recs[name]["time"]
    broken = recs["era5__broken.nc.json"]  # a fresh store: ERA5 was indexed by tasks, not the driver
    assert "unreadable NetCDF" in broken["reason"] and broken["files"] == [str(root / "era5" / "broken.nc")]
    assert str(root / "era5" / "broken.nc") not in summary.files_ignored
    unsafe = [r for n, r in recs.items() if n.startswith("unsafe-")]
    assert len(unsafe) == 1 and "not a safe path component" in unsafe[0]["reason"]
    assert not any(".." in n or "/" in n for n in recs)
    assert summary.pairs_quarantined == len(expect) + 1
    ds = open_cube(out / "cubes" / f"{frame}.zarr").load()
    valid_ids = sorted(int(u) for u in ds.unique_id.values[ds.valid_date_pair.values])
    assert valid_ids == [6]  # uniqueID 1 is a duplicate; 6 is the only clean product left
    assert (out / "cubes" / "020D_00002_000002.zarr").exists() is False  # no annotations for it here
    i, j = np.argwhere(ds.unique_id.values == "6")[0]
    cc = read_tif(
        root / "licsar" / frame / "interferograms" / "20200125_20200218" / "20200125_20200218.geo.cc.tif"
    )
    assert cc.dtype == np.float32 and cc.max() <= 1.0
    np.testing.assert_array_equal(ds.insar_coherence.values[i, j], cc * np.float32(255))
    assert ds.insar_coherence.values[i, j].max() > 200


# ------------------------------------------------------------------------------------------
# The CLI and --from-minicubes
# ------------------------------------------------------------------------------------------
runner = CliRunner()


def test_cli_ingest_prints_summary(tmp_path: Path) -> None:
    sources = tiny_sources(tmp_path / "src")
    config = tmp_path / "ingest.yaml"
    config.write_text("zarr_format: 2\nworkers: 1\n")  # the file's values take effect; --workers wins
    argv = ["ingest", str(sources), "--out", str(tmp_path / "s"), "--workers", "2", "--config", str(config)]
    res = runner.invoke(app, argv)
    assert res.exit_code == 0, res.output
    assert "pairs written" in res.output and "pairs quarantined" in res.output
    assert [p.name for p in (tmp_path / "s" / "cubes").glob("*.zarr")] == ["030A_00003_000003.zarr"]
    cube = tmp_path / "s" / "cubes" / "030A_00003_000003.zarr"
    assert (cube / ".zgroup").is_file() and not (cube / "zarr.json").exists()  # zarr v2, as the YAML says


def test_cli_missing_sources_is_a_clear_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "--out", str(tmp_path / "s")])
    assert res.exit_code == 2
    assert "sources not found" in res.output and "Traceback" not in res.output


def _zip_dir(root: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w") as z:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(root).as_posix())


def test_from_minicubes_dir_zip_tar(tmp_path: Path) -> None:
    import tarfile

    a = write_published_cube(tmp_path / "a" / "001A_00001_000001.zarr", frame_id="001A_00001_000001", seed=1)
    b = write_published_cube(tmp_path / "b" / "002D_00002_000002.zarr", frame_id="002D_00002_000002", seed=2)
    c = write_published_cube(tmp_path / "c" / "144A_SM_REUN_S6.zarr", frame_id="144A_SM_REUN_S6", seed=3)
    _zip_dir(tmp_path / "b" / "002D_00002_000002.zarr", tmp_path / "002D_00002_000002.zarr.zip")
    with tarfile.open(tmp_path / "144A_SM_REUN_S6.zarr.tar", "w") as t:
        t.add(tmp_path / "c" / "144A_SM_REUN_S6.zarr", arcname="144A_SM_REUN_S6.zarr")
    (tmp_path / "bad.zarr.zip").write_bytes(b"PK not really")
    paths = [
        tmp_path / "a" / "001A_00001_000001.zarr",
        tmp_path / "002D_00002_000002.zarr.zip",
        tmp_path / "144A_SM_REUN_S6.zarr.tar",
        tmp_path / "bad.zarr.zip",
    ]
    out = tmp_path / "out"
    res = runner.invoke(app, ["ingest", "--from-minicubes", *map(str, paths), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert [json.loads(p.read_text())["product"] for p in (out / "quarantine").glob("*.json")] == ["cube"]
    for src in (a, b, c):
        got = open_cube(out / "cubes" / f"{src.attrs['frame_id']}.zarr").load()
        valid = src.valid_date_pair.values
        np.testing.assert_array_equal(got.valid_date_pair.values, valid)
        for name in schema.VARIABLES:
            want, have = np.asarray(src[name].values), np.asarray(got[name].values)
            if want.ndim == 4:  # pairs without a product keep the fill values
                want, have = want[valid], have[valid]
            np.testing.assert_array_equal(have, want, err_msg=name)
        assert got.insar_difference.encoding["chunks"] != src.insar_difference.shape[:2] + (1, 1)
    again = runner.invoke(app, ["ingest", "--from-minicubes", *map(str, paths[:3]), "--out", str(out)])
    assert again.exit_code == 0 and "pairs skipped" in again.output
    hashes = content_hash(open_cube(out / "cubes" / "001A_00001_000001.zarr").load())
    assert hashes == content_hash(open_cube(out / "cubes" / "001A_00001_000001.zarr").load())


# ------------------------------------------------------------------------------------------
# Object stores: real S3 and GCS protocol servers
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> tuple[Path, dict[str, dict], int]:
    root = tmp_path_factory.mktemp("remote")
    sources = tiny_sources(root / "src")
    local = run_ingest(
        IngestConfig(sources=str(sources), out=str(root / "local"), workers=2, pairs_per_task=2)
    )
    return (
        sources,
        {Path(u).name: content_hash(open_cube(u).load()) for u in local.cube_urls},
        local.pairs_written,
    )


@pytest.mark.parametrize("bucket_fixture", ["s3_bucket", "gcs_bucket"])
def test_remote_store_equals_local(bucket_fixture: str, request, local_run) -> None:
    sources, expected, written = local_run
    check_remote_equals_local(sources, expected, written, request.getfixturevalue(bucket_fixture))
