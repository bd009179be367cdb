"""Fuzzing the ingest boundary (hypothesis, seeded, bounded): annotation JSON, GeoTIFF headers and bytes, and
ERA5 NetCDF structure are mutated one file at a time. For every mutation:

- planning finishes, whatever the file holds;
- every pair the mutated file does not feed is planned (so it reaches the cube);
- every pair it feeds is either planned and read by the task code, or refused with a record that names
  the mutated file (and a task that fails on it turns into such a record, never a lost frame);
- nothing is written outside the store: the source tree is unchanged apart from the mutation.

The property runs the planner and the per-pair task code in-process (hundreds of mutations in the default run);
a few full Ray ingests check the same promises end to end (the slow run does more of both).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from ingest_sources import SourceFrame, write_frame

from hephaestus.ingest import IngestConfig, run_ingest
from hephaestus.ingest.plan import plan_sources
from hephaestus.ingest.writer import _licsar_pair
from hephaestus.platform.cube import open_cube

FRAME = "010A_00001_000001"
# three pairs on six distinct days: each ERA5 file and each product feeds exactly one pair
PAIRS = [("20200101", "20200113", 1), ("20200125", "20200206", 2), ("20200218", "20200301", 3)]
FAST = int(os.environ.get("HMC_FUZZ_EXAMPLES", "100"))  # per file kind; x3 kinds in the default run

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _tree(root: Path) -> Path:
    write_frame(root, SourceFrame(FRAME, 19.60, -155.40, 24, 32, list(PAIRS)), seed=2)
    return root


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tree(tmp_path_factory.mktemp("fuzz") / "src")


def _files_of(root: Path, uid: int) -> dict[str, Path]:
    d1, d2, _ = PAIRS[uid - 1]
    ig = root / "licsar" / FRAME / "interferograms" / f"{d1}_{d2}"
    return {
        "annotation": root / "annotations" / f"{uid}.json",
        "phase": ig / f"{d1}_{d2}.geo.diff_pha.tif",
        "coherence": ig / f"{d1}_{d2}.geo.cc.tif",
        "era5": root / "era5" / f"era5_{FRAME}_{d2}.nc",
    }


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------------------
# Mutations: each returns the new bytes of one file
# ------------------------------------------------------------------------------------------------
@st.composite
def annotation_mutation(draw: st.DrawFn, original: bytes) -> bytes:
    doc = json.loads(original)
    how = draw(st.sampled_from(["set", "delete", "truncate", "flip", "nest", "bigint"]))
    if how == "set":
        doc[draw(st.sampled_from(sorted(doc)))] = draw(json_values)
    elif how == "delete":
        doc.pop(draw(st.sampled_from(sorted(doc))))
    elif how == "nest":
        return b"[" * draw(st.integers(100, 100_000)) + b"]" * 3
    elif how == "bigint":
        field = draw(st.sampled_from(["uniqueID", "corrupted", "is_crowd", "processing_error"]))
        return json.dumps(doc).replace(f'"{field}": {doc[field]}', f'"{field}": {"9" * 5000}', 1).encode()
    data = json.dumps(doc).encode()
    if how == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if how == "flip":
        k = draw(st.integers(0, len(data) - 1))
        return data[:k] + bytes([data[k] ^ draw(st.integers(1, 255))]) + data[k + 1 :]
    return json.dumps(doc).encode()


@st.composite
def bytes_mutation(draw: st.DrawFn, original: bytes, header: int = 512) -> bytes:
    data = bytearray(original)
    how = draw(st.sampled_from(["header", "anywhere", "truncate", "zero"]))
    if how == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if how == "zero":
        start = draw(st.integers(0, len(data) - 1))
        data[start : start + draw(st.integers(1, 256))] = b"\0" * len(data[start : start + 256])
        return bytes(data[: len(original)])
    span = min(header, len(data)) if how == "header" else len(data)
    for _ in range(draw(st.integers(1, 8))):
        k = draw(st.integers(0, span - 1))
        data[k] ^= draw(st.integers(1, 255))
    return bytes(data)


ERA5_EDITS = [
    "drop_var",
    "drop_time_of_var",
    "rename_lat",
    "lon_360",
    "transpose",
    "string_var",
    "nan_field",
    "shift_time",
    "no_coords",
    "truncate",
]


@st.composite
def era5_mutation(draw: st.DrawFn, path: Path) -> bytes:
    how = draw(st.sampled_from(ERA5_EDITS))
    raw = path.read_bytes()
    if how == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    ds = xr.load_dataset(path)
    var = draw(st.sampled_from(sorted(ds.data_vars)))
    if how == "drop_var":
        ds = ds.drop_vars(var)
    elif how == "drop_time_of_var":
        ds[var] = ds[var].isel(valid_time=0, drop=True)
    elif how == "rename_lat":
        ds = ds.rename({"latitude": "y"})
    elif how == "lon_360":
        ds = ds.assign_coords(longitude=np.mod(ds.longitude.values, 360.0)).sortby("longitude")
    elif how == "transpose":
        ds[var] = ds[var].transpose()
    elif how == "string_var":
        ds[var] = ds[var].astype(str)
    elif how == "nan_field":
        ds[var] = ds[var].where(False)
    elif how == "shift_time":
        ds = ds.assign_coords(valid_time=ds.valid_time + np.timedelta64(draw(st.integers(-48, 48)), "h"))
    elif how == "no_coords":
        ds = ds.drop_vars(["latitude", "longitude"])
    out = path.with_suffix(".tmp.nc")
    ds.to_netcdf(out)
    data = out.read_bytes()
    out.unlink()
    return data


# ------------------------------------------------------------------------------------------------
# The property, checked in-process: the validators of one product per mutation (fast), the whole planner
# and the task's per-pair read for a smaller number (the same promises, with every other file present)
# ------------------------------------------------------------------------------------------------
def _check_product(root: Path, target: Path, kind: str, uid: int) -> None:
    """The checks that see the mutated file: annotation parsing, GeoTIFF header and pixels, ERA5 index
    and resampling. Whatever they raise must be an ordinary Exception that the planner or the task turns
    into a record naming the file (ProductError messages name it themselves)."""
    from hephaestus.ingest import era5 as era5_mod
    from hephaestus.ingest.geotiff import (
        ProductError,
        check_same_grid,
        header_grid,
        read_coherence,
        read_phase,
    )
    from hephaestus.ingest.plan import Plan, plan_annotations

    if kind == "annotation":
        plan = Plan()
        good = {a.unique_id for a in plan_annotations(str(root / "annotations"), plan)}
        assert good >= {1, 2, 3} - {uid}
        if uid not in good:
            assert any(str(target) in r.files for r in plan.quarantine), plan.quarantine
        return
    grid = header_grid(str(root / "licsar" / FRAME / "metadata" / f"{FRAME}.geo.hgt.tif"))
    try:
        if kind in ("phase", "coherence"):
            check_same_grid(header_grid(str(target)), grid, str(target))
            (read_phase(str(target), grid, 1e-3) if kind == "phase" else read_coherence(str(target), grid))
        else:
            entry = era5_mod.index_file(str(target))
            if entry.problem:
                assert target.name in entry.problem
                return
            d2 = np.datetime64(
                f"{PAIRS[uid - 1][1][:4]}-{PAIRS[uid - 1][1][4:6]}-{PAIRS[uid - 1][1][6:]}T05:20"
            )
            pick = era5_mod.nearest_hour([entry], grid, d2, 30)
            era5_mod.resample(era5_mod.open_dataset(str(target)), entry, pick.time_index, grid)
    except ProductError as exc:
        assert target.name in str(exc) or "ERA5 file covers" in str(exc) or "ERA5 hour" in str(exc), exc
    except Exception:  # noqa: BLE001 - the planner's and the task's catch-all records it with the file
        pass


def _check_plan(root: Path, target: Path, uid: int) -> None:
    """Plan the whole mutated tree and read every planned pair the way a task does."""
    before = _snapshot(root)
    plan = plan_sources(IngestConfig(sources=str(root), out=str(root.parent / "store")))
    assert _snapshot(root) == before, "planning wrote into the sources"
    assert not (root.parent / "store").exists(), "planning wrote the store"
    planned = {int(j.product): (b, j) for b in plan.builds for _, jobs in b.blocks for j in jobs}
    refused = [r for r in plan.quarantine if str(target) in r.files or target.name in r.reason]
    for other in {1, 2, 3} - {uid}:
        assert other in planned, (other, [r.reason for r in plan.quarantine])
    if uid in planned:
        build, job = planned[uid]
        assert str(target) in job.files() or target.parent.name == "annotations"
        try:
            _licsar_pair(build.ctx, job, {})
        except Exception:  # noqa: BLE001 - the task records it with job.files(), which names the file
            assert str(target) in job.files() or target.name.endswith(".json")
    else:
        assert refused, f"pair {uid} neither planned nor refused with a record naming {target.name}"
        assert all(r.reason and r.stage for r in refused)


def _mutation(kind: str, target: Path, data: st.DataObject) -> bytes:
    if kind == "annotation":
        return data.draw(annotation_mutation(target.read_bytes()))
    if kind in ("phase", "coherence"):
        return data.draw(bytes_mutation(target.read_bytes()))
    return data.draw(era5_mutation(target))


def _property(kind: str, examples: int, whole_plan: bool):  # type: ignore[no-untyped-def]
    @seed(12)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data(), uid=st.sampled_from([1, 2, 3]))
    def run(base: Path, data: st.DataObject, uid: int) -> None:
        target = _files_of(base, uid)[kind]
        original = target.read_bytes()
        try:
            target.write_bytes(_mutation(kind, target, data))
            if whole_plan:
                _check_plan(base, target, uid)
            else:
                _check_product(base, target, kind, uid)
        finally:
            target.write_bytes(original)

    return run


# mutations per kind in the default run (the slow run does ten times as many)
COUNTS = {"annotation": FAST * 2, "phase": FAST * 3 // 5, "coherence": FAST * 2 // 5, "era5": FAST * 2 // 5}


@pytest.mark.parametrize("kind", sorted(COUNTS))
def test_fuzz_one_product(base: Path, kind: str) -> None:
    _property(kind, COUNTS[kind], whole_plan=False)(base)


@pytest.mark.parametrize("kind", sorted(COUNTS))
def test_fuzz_whole_plan(base: Path, kind: str) -> None:
    _property(kind, 5, whole_plan=True)(base)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(COUNTS))
def test_fuzz_long(base: Path, kind: str) -> None:
    _property(kind, 10 * COUNTS[kind], whole_plan=False)(base)
    _property(kind, 10 * 5, whole_plan=True)(base)


# ------------------------------------------------------------------------------------------------
# End to end on Ray: one bad file of each kind at once, one per pair
# ------------------------------------------------------------------------------------------------
def _full_run(root: Path, store: Path, mutations: dict[int, tuple[str, bytes]]) -> None:
    for uid, (kind, data) in mutations.items():
        _files_of(root, uid)[kind].write_bytes(data)
    outside = root.parent
    before = {p for p in outside.rglob("*")} - {p for p in store.rglob("*")}
    sources = _snapshot(root)
    summary = run_ingest(IngestConfig(sources=str(root), out=str(store), pairs_per_task=1))
    assert summary.ok, summary.frames_failed
    assert _snapshot(root) == sources
    after = {p for p in outside.rglob("*") if store not in p.parents and p != store}
    assert after == before, sorted(map(str, after - before))
    ds = open_cube(store / "cubes" / f"{FRAME}.zarr")
    valid = {int(u) for u in np.asarray(ds["unique_id"].values)[np.asarray(ds["valid_date_pair"].values)]}
    records = [json.loads(p.read_text()) for p in (store / "quarantine").glob("*.json")]
    for uid in {1, 2, 3} - set(mutations):
        assert uid in valid
    for uid, (kind, _) in mutations.items():
        if uid in valid:
            continue  # the mutation left the file usable
        name = _files_of(root, uid)[kind].name
        assert any(name in " ".join(r["files"]) + r["reason"] for r in records), (uid, records)


@pytest.mark.usefixtures("ray_local")
def test_fuzz_full_ingest_one_bad_file_per_kind(tmp_path: Path) -> None:
    root = _tree(tmp_path / "src")
    phase = _files_of(root, 2)["phase"].read_bytes()
    era5 = era5_mutation(_files_of(root, 3)["era5"])
    mutations = {
        1: ("annotation", b'{"uniqueID": 1, "frameID": ' + b"[" * 50_000),
        2: ("phase", phase[: len(phase) // 2]),
        3: ("era5", _example(era5)),
    }
    _full_run(root, tmp_path / "store", mutations)


@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
@pytest.mark.parametrize("k", range(4))
def test_fuzz_full_ingest_random(tmp_path: Path, k: int) -> None:
    root = _tree(tmp_path / "src")
    rng = np.random.default_rng(k)
    mutations = {}
    for uid, kind in zip((1, 2, 3), rng.permutation(["annotation", "phase", "era5"]), strict=True):
        target = _files_of(root, uid)[kind]
        strategy = {
            "annotation": annotation_mutation(target.read_bytes()),
            "phase": bytes_mutation(target.read_bytes()),
            "era5": era5_mutation(target),
        }[kind]
        mutations[uid] = (str(kind), _example(strategy, k))
    _full_run(root, tmp_path / "store", mutations)


def _example(strategy: st.SearchStrategy[bytes], k: int = 0) -> bytes:
    """One deterministic draw from a strategy (outside @given)."""
    got: list[bytes] = []

    @seed(k)
    @settings(max_examples=1, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(value: bytes) -> None:
        got.append(value)

    draw()
    return got[-1]
