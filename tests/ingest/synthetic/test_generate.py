"""generate(): file formats, layout, determinism, class balance and labels that follow the drawn physics."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.features
import xarray as xr

from hephaestus.ingest.synthetic import SynthConfig, SynthManifest, generate
from hephaestus.ingest.synthetic.generator import plan, render_pair
from hephaestus.platform.config import ConfigError

WAVELENGTH = 0.055465
CONFIG = SynthConfig(frames=2, pairs=12, height=96, width=112, seed=7)
FRAME_RE = re.compile(r"^\d{3}[AD]_\d{5}_\d{6}$")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, SynthManifest]:
    out = tmp_path_factory.mktemp("synth") / "src"
    return out, generate(CONFIG, out)


def _annotations(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "annotations").glob("*.json"))]


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def test_manifest_and_layout(run):
    out, m = run
    assert m.pairs == CONFIG.frames * CONFIG.pairs == len(m.unique_ids) == len(set(m.unique_ids))
    assert len(m.frames) == 2 and all(FRAME_RE.match(f) for f in m.frames)
    assert all((out / p).is_file() for p in m.paths)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(m.paths)
    anns = _annotations(out)
    assert {a["uniqueID"] for a in anns} == set(m.unique_ids)
    assert m.positives == sum(a["label"] != ["Non_Deformation"] for a in anns)
    # the small run still exercises every product category downstream
    assert m.missing_products and m.corrupted and m.processing_errors and m.positives >= 1
    for a in anns:
        assert a["frameID"] in m.frames
        name = f"{a['primary_date']}_{a['secondary_date']}"
        pha = out / "licsar" / a["frameID"] / "interferograms" / name / f"{name}.geo.diff_pha.tif"
        assert pha.is_file() == (a["uniqueID"] not in m.missing_products)
        assert pha.with_name(f"{name}.geo.cc.tif").is_file() == pha.is_file()


def test_geotiffs_are_epsg4326_on_the_frame_grid(run):
    out, m = run
    for fid in m.frames:
        meta = out / "licsar" / fid / "metadata"
        with rasterio.open(meta / f"{fid}.geo.hgt.tif") as hgt:
            assert hgt.crs.to_epsg() == 4326
            assert hgt.res == pytest.approx((0.001, 0.001), abs=1e-12)
            assert (hgt.height, hgt.width) == (CONFIG.height, CONFIG.width)
            assert hgt.dtypes[0] == "float32"
            z = hgt.read(1)
            transform = hgt.transform
        assert z.min() >= 0.0 and 200.0 < z.max() < 6000.0  # metres: sea at 0, an edifice on top
        enu = []
        for c in "ENU":
            with rasterio.open(meta / f"{fid}.geo.{c}.tif") as src:
                assert src.transform == transform and src.dtypes[0] == "float32"
                enu.append(src.read(1).astype(np.float64))
        np.testing.assert_allclose(enu[0] ** 2 + enu[1] ** 2 + enu[2] ** 2, 1.0, rtol=1e-5)
        assert 0.6 < enu[2].mean() < 0.9  # cos of a Sentinel-1 incidence angle (29-46 deg)
        for folder in (out / "licsar" / fid / "interferograms").iterdir():
            with rasterio.open(folder / f"{folder.name}.geo.diff_pha.tif") as src:
                assert src.crs.to_epsg() == 4326 and src.transform == transform
                assert src.dtypes[0] == "float32" and src.nodata == 0.0
                pha = src.read(1)
            assert pha.min() >= -np.pi - 1e-6 and pha.max() <= np.pi + 1e-6
            with rasterio.open(folder / f"{folder.name}.geo.cc.tif") as src:
                assert src.transform == transform and src.dtypes[0] == "uint8" and src.nodata == 0
                cc = src.read(1)
            assert cc.max() <= 255 and (cc[pha != 0] > 0).mean() > 0.99  # valid phase has coherence


def test_era5_files_follow_the_cds_layout(run):
    out, m = run
    anns = _annotations(out)
    dates = {(a["frameID"], d) for a in anns for d in (a["primary_date"], a["secondary_date"])}
    files = {p.name for p in (out / "era5").glob("*.nc")}
    assert files == {f"era5_{f}_{d}.nc" for f, d in dates}
    fid, day = sorted(dates)[0]
    with rasterio.open(out / "licsar" / fid / "metadata" / f"{fid}.geo.hgt.tif") as hgt:
        bounds = hgt.bounds
    ds = xr.open_dataset(out / "era5" / f"era5_{fid}_{day}.nc", engine="h5netcdf")
    assert set(ds.dims) == {"valid_time", "latitude", "longitude"}
    assert ds.valid_time.size == 24
    t = ds.valid_time.values
    assert t[0] == np.datetime64(f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00") and np.all(
        np.diff(t) == np.timedelta64(1, "h")
    )
    lat, lon = ds.latitude.values, ds.longitude.values
    assert np.all(np.diff(lat) == -0.25) and np.all(np.diff(lon) == 0.25)
    assert lat.max() >= bounds.top and lat.min() <= bounds.bottom
    assert lon.min() <= bounds.left and lon.max() >= bounds.right
    expect = {"tcwv": "kg m-2", "sp": "Pa", "vit": "K kg m-2"}
    for name, units in expect.items():
        assert ds[name].dims == ("valid_time", "latitude", "longitude") and ds[name].dtype == np.float32
        assert ds[name].attrs["units"] == units and ds[name].attrs["long_name"]
    assert 0.5 < float(ds.tcwv.min()) and float(ds.tcwv.max()) < 70.0
    assert 40_000 < float(ds.sp.min()) and float(ds.sp.max()) < 104_000
    assert 1.0e6 < float(ds.vit.min()) and float(ds.vit.max()) < 3.0e6
    assert "history" not in ds.attrs


def test_metadata_txt(run):
    out, m = run
    text = (out / "licsar" / m.frames[0] / "metadata" / "metadata.txt").read_text()
    kv = dict(line.split("=", 1) for line in text.splitlines())
    assert re.fullmatch(r"\d{8}", kv["master"])
    hh, mm, ss = kv["center_time"].split(":")
    seconds = int(hh) * 3600 + int(mm) * 60 + float(ss)
    # the nearest ERA5 hour lies on the same UTC day, within 30 min
    assert 1800 < seconds < 86400 - 1800 and re.fullmatch(r"\d{2}\.\d{6}", ss)
    heading = float(kv["heading"])
    assert (-20 < heading < -5) if m.frames[0][3] == "A" else (180 < heading < 200)
    assert 29 < float(kv["avg_incidence_angle"]) < 46


def test_annotations_have_exactly_the_real_fields_and_types(run, shared_dir):
    out, _ = run
    real = {}
    with tarfile.open(shared_dir / "data" / "hephaestus" / "annotations.tar.gz") as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if name in ("1000.json", "10016.json"):  # a positive and a negative, by file name
                real[name] = json.load(tar.extractfile(member))
            if len(real) == 2:
                break
    ref_keys = list(real["1000.json"])
    ref_types = {k: type(v) for k, v in real["1000.json"].items()}
    assert ref_types == {k: type(v) for k, v in real["10016.json"].items()}
    anns = _annotations(out)
    for a in anns:
        assert list(a) == ref_keys
        assert {k: type(v) for k, v in a.items()} == ref_types
        assert all(
            isinstance(p, list) and all(isinstance(c, float) for c in p) for p in a["segmentation_mask"]
        )
        assert a["phase"] in ("Rest", "Unrest", "Rebound", "None")
        assert a["processing_error"] in (0, 2, 3) and a["atmospheric_fringes"] in (0, 1, 2, 3)
        if a["label"] == ["Non_Deformation"]:
            assert (a["activity_type"], a["intensity_level"], a["phase"], a["segmentation_mask"]) == (
                [],
                [],
                "Rest",
                [],
            )
        else:
            assert len(a["activity_type"]) == len(a["intensity_level"]) == len(a["segmentation_mask"]) >= 1
            assert set(a["activity_type"]) <= {"Mogi", "Dyke", "Sill", "Spheroid", "Earthquake"}
            assert "deformation" in a["caption"].lower() or "earthquake" in a["caption"].lower()
        for poly in a["segmentation_mask"]:
            xs, ys = poly[0::2], poly[1::2]
            assert 0 <= min(xs) and max(xs) <= CONFIG.width and 0 <= min(ys) and max(ys) <= CONFIG.height


def test_dates_revisits_and_groups(run):
    out, _ = run
    anns = _annotations(out)
    groups = Counter()
    for a in anns:
        p = dt.datetime.strptime(a["primary_date"], "%Y%m%d").date()
        s = dt.datetime.strptime(a["secondary_date"], "%Y%m%d").date()
        gap = (s - p).days
        assert gap > 0 and (gap % 6 == 0) and gap <= 414  # 6/12-day revisits; the long tail to 414 d
        assert dt.date(2014, 1, 1) <= p <= dt.date(2021, 12, 31)
        groups[(a["frameID"], a["primary_date"])] += 1
    assert set(groups.values()) <= {1, 2, 3, 4} and max(groups.values()) >= 2


def test_same_config_same_bytes_and_seed_matters(run, tmp_path):
    out, _ = run
    generate(CONFIG, tmp_path / "again")
    assert _tree_hash(tmp_path / "again") == _tree_hash(out)
    other = generate(CONFIG.model_copy(update={"seed": 8}), tmp_path / "other")
    assert _tree_hash(tmp_path / "other") != _tree_hash(out) and other.frames != CONFIG.frames


def test_refuses_a_non_empty_folder(run):
    out, _ = run
    with pytest.raises(FileExistsError, match="not empty"):
        generate(CONFIG, out)


def test_config_is_validated():
    with pytest.raises(ConfigError, match="height"):
        SynthConfig.build(height=4)
    with pytest.raises(ConfigError, match="unknown volcano"):
        SynthConfig.build(volcanoes=("Atlantis",))


def test_class_balance_and_splits_of_a_larger_run():
    """360 pairs rendered in memory (writing is checked elsewhere): the real data's balance."""
    cfg = SynthConfig(frames=6, pairs=60, height=48, width=48, seed=11)
    anns = [render_pair(cfg, frame, pair).record for frame, pair in plan(cfg).pairs]
    n = len(anns)
    positives = sum(a["label"] != ["Non_Deformation"] for a in anns)
    assert 0.06 <= positives / n <= 0.12  # real annotations: 9.1 % positive
    assert 0.005 <= sum(a["corrupted"] for a in anns) / n <= 0.04
    assert 0.01 <= sum(a["processing_error"] != 0 for a in anns) / n <= 0.05
    splits = Counter()
    for a in anns:
        p = a["primary_date"]
        splits["train" if p <= "20190531" else "val" if p <= "20191231" else "test"] += 1
    assert len(splits) == 3 and min(splits.values()) >= 0.08 * n
    assert splits["train"] > splits["test"] > splits["val"]
    assert sum(a["low_coherence"] for a in anns) / n > 0.05  # real: 17 %
    assert Counter(a["atmospheric_fringes"] for a in anns).most_common(1)[0][0] in (2, 3)  # real: 2 then 3


def test_labels_follow_the_drawn_deformation(run):
    """Fringe count of every drawn source (counted here from its LOS field) gives its intensity, and the
    polygons cover where |LOS| >= half a fringe; the written phase is the wrapped sum of the terms."""
    out, _ = run
    cfg = CONFIG.model_copy(update={"positive_fraction": 0.5})
    checked = 0
    for frame, pair in plan(cfg).pairs:
        if not pair.positive:
            continue
        r = render_pair(cfg, frame, pair)
        land = frame.land
        for src in r.sources:
            phase_span = np.ptp(4 * np.pi / WAVELENGTH * src.d_los[land])
            n = math.floor(phase_span / (2 * np.pi))
            expected = (
                "None"
                if src.activity_type == "Earthquake"
                else ("Low" if n <= 1 else "Medium" if n <= 3 else "High")
            )
            assert src.intensity == expected
            assert 1 <= n <= cfg.max_fringes
        polys = r.record["segmentation_mask"]
        shapes = [
            ({"type": "Polygon", "coordinates": [list(zip(p[0::2], p[1::2], strict=True))]}, 1) for p in polys
        ]
        drawn = rasterio.features.rasterize(shapes, out_shape=land.shape, dtype="uint8").astype(bool)
        # visible: half a fringe of LOS motion, on land, where the true coherence is at least 0.2
        visible = (np.abs(r.deformation_los) >= 0.5 * WAVELENGTH / 2) & land & (r.gamma >= 0.2)
        assert visible.any() and (drawn[visible]).mean() > 0.97
        assert r.record["phase"] in ("Unrest", "Rebound", "None")
        if not (pair.corrupted or pair.processing_error):
            total = (
                -4 * np.pi / WAVELENGTH * (r.deformation_los + r.glacier)
                + r.stratified
                + r.turbulent
                + r.ramp
                + r.noise
            )
            diff = np.angle(np.exp(1j * (r.phase.astype(np.float64) - total)))
            assert np.abs(diff[land]).max() < 1e-4
        checked += 1
    assert checked >= 5


def test_written_phase_is_the_rendered_phase(run):
    out, m = run
    for frame, pair in plan(CONFIG).pairs:
        if pair.missing:
            continue
        r = render_pair(CONFIG, frame, pair)
        name = f"{pair.primary:%Y%m%d}_{pair.secondary:%Y%m%d}"
        with rasterio.open(
            out / "licsar" / frame.fid / "interferograms" / name / f"{name}.geo.diff_pha.tif"
        ) as s:
            np.testing.assert_array_equal(s.read(1), r.phase)
        assert json.loads((out / "annotations" / f"{pair.uid}.json").read_text()) == r.record
        break


def test_stratified_delay_follows_the_era5_water_vapour_difference(run):
    """Across a frame's pairs the stratified phase span scales with |delta TCWV| read from the ERA5 files."""
    out, m = run
    spans, dtcwv = [], []
    for frame, pair in plan(CONFIG).pairs:
        if frame.fid != m.frames[0]:
            continue
        r = render_pair(CONFIG, frame, pair)
        meta = (out / "licsar" / frame.fid / "metadata" / "metadata.txt").read_text()
        hh = int(re.search(r"center_time=(\d\d):(\d\d)", meta).group(1))
        mm = int(re.search(r"center_time=(\d\d):(\d\d)", meta).group(2))
        hour = (hh + (mm >= 30)) % 24
        vals = []
        for d in (pair.primary, pair.secondary):
            ds = xr.open_dataset(out / "era5" / f"era5_{frame.fid}_{d:%Y%m%d}.nc", engine="h5netcdf")
            vals.append(float(ds.tcwv.isel(valid_time=hour).max()))  # the lowest cell ~ sea-level vapour
        spans.append(np.ptp(r.stratified[frame.land]))
        dtcwv.append(abs(vals[1] - vals[0]))
    assert np.corrcoef(spans, dtcwv)[0, 1] > 0.8


def test_older_products_have_float_coherence(tmp_path):
    cfg = SynthConfig(
        frames=1,
        pairs=3,
        height=40,
        width=40,
        seed=1,
        older_coherence_fraction=1.0,
        missing_product_fraction=0.0,
    )
    generate(cfg, tmp_path / "old")
    files = sorted((tmp_path / "old" / "licsar").rglob("*.geo.cc.tif"))
    assert len(files) == 3
    for f in files:
        with rasterio.open(f) as src:
            assert src.dtypes[0] == "float32" and src.nodata == 0.0
            cc = src.read(1)
        with rasterio.open(str(f).replace(".geo.cc.tif", ".geo.diff_pha.tif")) as src:
            valid = src.read(1) != 0
        assert 0.0 <= cc.min() and cc.max() <= 1.0
        assert (cc[valid] > 0).all() and (cc[~valid] == 0).all()


def test_deformation_is_projected_on_the_written_look_vectors(tmp_path):
    """A Mogi positive: its LOS field divided by Mogi's closed form projected on the written E/N/U
    GeoTIFFs is one constant (the drawn volume change), so the projection uses the published geometry."""
    for seed in range(40):
        cfg = SynthConfig(
            frames=1,
            pairs=4,
            height=64,
            width=72,
            seed=seed,
            positive_fraction=1.0,
            earthquake_fraction=0.0,
            multi_source_fraction=0.0,
            missing_product_fraction=0.0,
            corrupted_fraction=0.0,
            processing_error_fraction=0.0,
        )
        run = plan(cfg)
        if run.frames[0].volcanic[0].activity_type == "Mogi":
            break
    else:
        pytest.fail("no Mogi frame in 40 seeds")
    generate(cfg, tmp_path / "mogi")
    frame, pair = run.pairs[0]
    r = render_pair(cfg, frame, pair)
    assert r.record["activity_type"][0] == "Mogi"
    meta = tmp_path / "mogi" / "licsar" / frame.fid / "metadata"
    enu = []
    for c in "ENU":
        with rasterio.open(meta / f"{frame.fid}.geo.{c}.tif") as src:
            enu.append(src.read(1).astype(np.float64))
            transform = src.transform
    # pixel centres -> local metres around the source, written out here from the grid transform
    rows, cols = np.mgrid[0 : cfg.height, 0 : cfg.width]
    lon = transform.c + (cols + 0.5) * transform.a
    lat = transform.f + (rows + 0.5) * transform.e
    p = dict(frame.volcanic[0].params)
    lat0, lon0 = frame.volcano.lat, frame.volcano.lon
    x = (lon - lon0) * 111_320.0 * np.cos(np.radians(lat0)) - p["east"]
    y = (lat - lat0) * 110_574.0 - p["north"]
    big_r3 = (x**2 + y**2 + p["depth"] ** 2) ** 1.5
    c = (1 - cfg.poisson_ratio) / np.pi  # Mogi: u = (1 - nu) dV / pi * (x, y, d) / R^3
    unit_los = c * (x * enu[0] + y * enu[1] + p["depth"] * enu[2]) / big_r3
    ratio = r.deformation_los / unit_los
    assert np.ptp(ratio) < 1e-3 * abs(np.median(ratio))
    # the drawn volume is sized to the fringe count: 1..max_fringes fringes of LOS over land
    span = np.ptp(r.deformation_los[frame.land]) / (WAVELENGTH / 2)
    assert 1.0 <= span <= cfg.max_fringes + 1


def test_flags_and_captions_follow_the_drawn_terms():
    cfg = SynthConfig(
        frames=3, pairs=40, height=64, width=64, seed=21, positive_fraction=0.3, orbital_fraction=0.1
    )
    strat_on, strat_off, low_cc, high_cc = [], [], [], []
    for frame, pair in plan(cfg).pairs:
        r = render_pair(cfg, frame, pair)
        a = r.record
        land = frame.land
        # orbital flag <=> the drawn ramp spans at least one fringe
        assert a["orbital_fringes"] == int(np.ptp(r.ramp) >= 2 * np.pi - 1e-9)
        (strat_on if a["atmospheric_fringes"] in (1, 3) else strat_off).append(np.ptp(r.stratified[land]))
        (low_cc if a["low_coherence"] else high_cc).append(float(np.mean(r.gamma[land])))
        caption = a["caption"].lower()
        for kind, level in zip(a["activity_type"], a["intensity_level"], strict=True):
            assert kind.lower() in caption
            if level != "None":
                assert f"{level.lower()} intensity" in caption
        assert ("no deformation" in caption) == (a["label"] == ["Non_Deformation"])
        assert ("orbital" in caption) == bool(a["orbital_fringes"])
        assert ("stratification" in caption) == (a["atmospheric_fringes"] in (1, 3))
        assert ("turbulent" in caption) == (a["atmospheric_fringes"] in (2, 3))
    assert strat_on and strat_off and min(strat_on) > max(strat_off)
    assert low_cc and high_cc and np.mean(low_cc) < np.mean(high_cc)


def test_corrupted_products_show_zero_blocks_or_stripes(run):
    out, m = run
    for uid in m.corrupted:
        a = json.loads((out / "annotations" / f"{uid}.json").read_text())
        name = f"{a['primary_date']}_{a['secondary_date']}"
        with rasterio.open(
            out / "licsar" / a["frameID"] / "interferograms" / name / f"{name}.geo.diff_pha.tif"
        ) as s:
            pha = s.read(1)
        valid_rows = pha[:, (pha != 0).any(axis=0)]
        dead = (valid_rows == 0).all(axis=1)  # whole rows without data
        flat = np.array([np.unique(r[r != 0]).size == 1 for r in valid_rows])  # constant stripes
        assert dead.sum() >= CONFIG.height // 5 or flat.sum() >= 3


def test_unrest_episodes_grow_with_time_within_a_primary_date_group():
    """Pairs of a positive group share the source; volcanic LOS grows in proportion to the time span."""
    cfg = SynthConfig(
        frames=3,
        pairs=30,
        height=56,
        width=56,
        seed=2,
        positive_fraction=0.3,
        earthquake_fraction=0.0,
        multi_source_fraction=0.0,
        positive_series_fraction=1.0,
    )
    groups: dict[tuple[str, str], list] = {}
    for frame, pair in plan(cfg).pairs:
        if pair.positive:
            r = render_pair(cfg, frame, pair)
            groups.setdefault((frame.fid, pair.primary), []).append(
                ((pair.secondary - pair.primary).days, r, frame)
            )
    multi = [g for g in groups.values() if len(g) >= 2]
    assert multi, "no group with two positive pairs"
    assert sum(len(g) for g in groups.values()) / len(groups) > 1.5  # positives cluster by primary date
    compared = 0
    for g in multi:
        g.sort(key=lambda t: t[0])
        (dt_a, ra, frame), *rest = g
        land = frame.land
        for dt_b, rb, _ in rest:
            if not ra.sources or not rb.sources:
                continue
            assert ra.record["activity_type"][0] == rb.record["activity_type"][0]
            span_a = np.ptp(ra.deformation_los[land]) / (WAVELENGTH / 2)
            span_b = np.ptp(rb.deformation_los[land]) / (WAVELENGTH / 2)
            capped = cfg.max_fringes + 0.75
            assert span_b == pytest.approx(min(span_a * dt_b / dt_a, capped), rel=1e-6)
            # same source, same shape: the fields are proportional
            ratio = rb.deformation_los[land] / np.where(
                ra.deformation_los[land] == 0, np.nan, ra.deformation_los[land]
            )
            assert np.nanmax(ratio) == pytest.approx(np.nanmin(ratio), rel=1e-6)
            compared += 1
    assert compared >= 2


def test_calendar_and_many_pairs_per_frame():
    from hephaestus.ingest.synthetic import frames

    rng = np.random.default_rng(5)
    acq = frames.acquisitions(rng, six_day=True)
    gaps = {(b - a).days for a, b in zip(acq, acq[1:], strict=False)}
    assert gaps == {6, 12} and acq[0] >= dt.date(2014, 10, 3) and acq[-1] <= dt.date(2021, 12, 31)
    assert all((b - a).days == 12 for a, b in zip(acq, acq[1:], strict=False) if b <= dt.date(2016, 9, 1))
    slow = frames.acquisitions(rng, six_day=False)
    assert {(b - a).days for a, b in zip(slow, slow[1:], strict=False)} == {12}
    pairs = frames.draw_pairs(acq, 1000, rng)
    assert len(pairs) == len(set(pairs)) == 1000
    per_primary = Counter(p for p, _ in pairs)
    assert max(per_primary.values()) <= 4
    short = [(p, s) for p, s in pairs if 0 < acq.index(s) - acq.index(p) <= 4]
    long_ = [(s - p).days for p, s in pairs if (p, s) not in set(short)]
    assert all(48 < d <= 414 for d in long_)  # the long tail, and nothing else
    assert 0.04 <= len(long_) / len(pairs) <= 0.16  # real: 9.9 % of pairs span more than 48 days


def test_glacier_fringes_on_a_glaciated_volcano():
    """Ice flow on the high ground: flagged 1 below three fringes and 2 from three, never in the mask."""
    cfg = SynthConfig(
        frames=1,
        pairs=12,
        height=80,
        width=80,
        seed=4,
        volcanoes=("Hekla",),
        glacier_fraction=0.7,
        positive_fraction=0.3,
    )
    codes = []
    for frame, pair in plan(cfg).pairs:
        r = render_pair(cfg, frame, pair)
        land = frame.land
        n = np.ptp(r.glacier[land]) / (WAVELENGTH / 2)
        expected = 0 if n < 1 else 1 if n < 3 else 2
        assert r.record["glacier_fringes"] == expected
        codes.append(expected)
        if expected:
            high = frame.dem >= np.quantile(frame.dem[land], 0.8)
            assert np.all(r.glacier[~high] == 0.0)  # only the ice moves
            assert "glacier" in r.record["caption"].lower()
    assert 1 in codes or 2 in codes
    assert 0 in codes
