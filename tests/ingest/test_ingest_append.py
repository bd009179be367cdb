"""Cubes that grow (issue 16 item 1): new dates of a published frame are appended in place.

Independent expectations: a fresh build of the grown sources into another store (the content an
append must equal), the SHA-256 of every stored object before the append (published pairs keep their
bytes), and the two sets of valid pairs a concurrent reader may see (before or after, nothing else).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from cube_checks import content_hash
from ingest_sources import SourceFrame, write_sources
from typer.testing import CliRunner

from hephaestus.cli.app import app
from hephaestus.ingest import IngestConfig, run_ingest
from hephaestus.platform import schema, storage
from hephaestus.platform.cube import cube_version, dataset_version, descends_from, open_cube

pytestmark = pytest.mark.usefixtures("ray_local")

FRAME = "010A_00001_000001"
OLD = [("20200101", "20200113", 101), ("20200101", "20200125", 102), ("20200113", "20200125", 103)]
NEW = [("20200113", "20200206", 104), ("20200125", "20200206", 105)]  # one new date: 2020-02-06
RASTERS = set(schema.RASTER_VARIABLES)


def _frame(pairs: list[tuple[str, str, int]]) -> SourceFrame:
    return SourceFrame(FRAME, 19.60, -155.40, 40, 48, list(pairs))


def _sources(root: Path, pairs: list[tuple[str, str, int]]) -> Path:
    write_sources(root, [_frame(pairs)], seed=5)
    return root


def _grow(root: Path, pairs: list[tuple[str, str, int]]) -> None:
    """Release new products into an existing source tree (old files untouched, as LiCSAR does)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        write_sources(Path(tmp), [_frame(pairs)], seed=5)
        for path in sorted(Path(tmp).rglob("*")):
            target = root / path.relative_to(tmp)
            if path.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())


def _objects(cube: Path) -> dict[str, str]:
    return {
        str(p.relative_to(cube)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(cube.rglob("*"))
        if p.is_file()
    }


def _is_metadata(key: str) -> bool:
    return key.endswith(("zarr.json", ".zarray", ".zattrs", ".zmetadata", ".zgroup"))


def _cfg(sources: Path, out: Path | str, fmt: int = 3, per_task: int = 1) -> IngestConfig:
    return IngestConfig(
        sources=str(sources), out=str(out), workers=2, pairs_per_task=per_task, zarr_format=fmt
    )


@pytest.mark.parametrize("fmt", [3, 2])
def test_append_writes_only_new_pairs_and_equals_a_fresh_build(tmp_path: Path, fmt: int) -> None:
    sources = _sources(tmp_path / "src", OLD)
    store = tmp_path / "store"
    first = run_ingest(_cfg(sources, store, fmt))
    assert first.ok and first.pairs_written == 3
    cube = store / "cubes" / f"{FRAME}.zarr"
    before = _objects(cube)
    token = cube_version(cube)
    _grow(sources, OLD + NEW)
    grown = run_ingest(_cfg(sources, store, fmt))
    assert grown.ok and grown.frames_appended == [FRAME]
    assert grown.pairs_written == 2 and grown.pairs_skipped == 3
    after = _objects(cube)
    # every published pixel object (chunk or shard) keeps its bytes; none disappears
    for key, digest in before.items():
        if key.split("/")[0] in RASTERS | {"dem"} and not _is_metadata(key):
            assert after.get(key) == digest, key
    # what changed at all: metadata, date coordinates and the new cells' pair scalars
    changed = {k for k in before if after.get(k) != before[k]}
    assert all(k.split("/")[0] not in RASTERS | {"dem"} or _is_metadata(k) for k in changed), changed
    # the grown cube equals a fresh build of the grown sources
    fresh = run_ingest(_cfg(sources, tmp_path / "fresh", fmt))
    got = open_cube(cube).load()
    want = open_cube(fresh.cube_urls[0]).load()
    assert got.sizes == want.sizes and got.sizes[schema.PRIMARY] == 3 and got.sizes[schema.SECONDARY] == 3
    assert content_hash(got) == content_hash(want)
    # a new version that descends from the old one; a fresh build starts a history of its own
    assert dataset_version(got) != token and descends_from(got, token)
    assert not descends_from(want, token)
    # nothing left to do
    again = run_ingest(_cfg(sources, store, fmt))
    assert again.pairs_written == 0 and again.frames_skipped == [FRAME]
    assert not (store / "staging" / FRAME).exists()


def test_date_inserted_before_the_last_one_rebuilds(tmp_path: Path) -> None:
    sources = _sources(tmp_path / "src", OLD)
    store = tmp_path / "store"
    run_ingest(_cfg(sources, store))
    middle = [("20200107", "20200113", 106)]  # a new primary date between the published ones
    _grow(sources, OLD + middle)
    summary = run_ingest(_cfg(sources, store))
    assert summary.ok and summary.frames_appended == [] and summary.pairs_written == 4
    fresh = run_ingest(_cfg(sources, tmp_path / "fresh"))
    cube = store / "cubes" / f"{FRAME}.zarr"
    assert content_hash(open_cube(cube).load()) == content_hash(open_cube(fresh.cube_urls[0]).load())


def _view(cube: Path) -> tuple[frozenset, str | None]:
    """(valid pairs by date, version token) of one consistent open; fails on any partial state."""
    ds = open_cube(cube)
    valid = np.asarray(ds["valid_date_pair"].values)
    p = np.asarray(ds[schema.PRIMARY].values).astype("datetime64[D]")
    s = np.asarray(ds[schema.SECONDARY].values).astype("datetime64[D]")
    assert valid.shape == (p.size, s.size) == ds["insar_difference"].shape[:2]
    pairs = set()
    for i, j in zip(*np.nonzero(valid), strict=True):
        pixels = np.asarray(ds["insar_difference"][i, j].values)
        assert np.isfinite(pixels).any(), f"pair {p[i]}..{s[j]} flagged valid without pixels"
        pairs.add((str(p[i]), str(s[j])))
    return frozenset(pairs), dataset_version(ds)


def test_concurrent_reader_sees_before_or_after(tmp_path: Path) -> None:
    sources = _sources(tmp_path / "src", OLD)
    store = tmp_path / "store"
    run_ingest(_cfg(sources, store, per_task=4))  # the settings `hmc ingest` runs with below
    cube = store / "cubes" / f"{FRAME}.zarr"
    before = _view(cube)
    _grow(sources, OLD + NEW)
    seen: list[tuple[frozenset, str | None]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                seen.append(_view(cube))
            except BaseException as exc:  # noqa: BLE001 - any failed read is a finding
                errors.append(exc)
                return

    reader = threading.Thread(target=poll, daemon=True)
    reader.start()
    # the append through the command line, as an operator (or `hmc monitor`) runs it
    res = CliRunner().invoke(app, ["ingest", str(sources), "--out", str(store), "--workers", "2"])
    stop.set()
    reader.join(60)
    assert res.exit_code == 0, res.output
    assert re.search(r"cubes grown by appends.*\b1\b", res.output), res.output
    after = _view(cube)
    assert not errors, errors[:1]
    assert len(before[0]) == 3 and len(after[0]) == 5 and before[1] != after[1]
    assert len(seen) >= 2 and set(seen) <= {before, after}, set(seen) - {before, after}


@pytest.mark.parametrize(
    "bucket_fixture",
    ["s3_bucket", pytest.param("gcs_bucket", marks=pytest.mark.slow)],  # gcs: ~22 s
)
def test_append_on_object_store(bucket_fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    sources = _sources(tmp_path / "src", OLD)
    out = f"{request.getfixturevalue(bucket_fixture)}/store"
    assert run_ingest(_cfg(sources, out)).pairs_written == 3
    _grow(sources, OLD + NEW)
    summary = run_ingest(_cfg(sources, out))
    assert summary.ok and summary.frames_appended == [FRAME] and summary.pairs_written == 2
    fresh = run_ingest(_cfg(sources, tmp_path / "fresh"))
    url = storage.join(out, "cubes", f"{FRAME}.zarr")
    assert content_hash(open_cube(url).load()) == content_hash(open_cube(fresh.cube_urls[0]).load())
    assert os.path.basename(fresh.cube_urls[0]) == f"{FRAME}.zarr"


def test_interrupted_append_is_invisible_and_a_changed_plan_clears_its_cells(tmp_path: Path) -> None:
    sources = _sources(tmp_path / "src", OLD)
    store = tmp_path / "store"
    run_ingest(_cfg(sources, store))
    cube = store / "cubes" / f"{FRAME}.zarr"
    before, token = content_hash(open_cube(cube).load()), cube_version(cube)
    _grow(sources, OLD + NEW)

    class Stop(Exception):
        pass

    def stop_before_commit(done: int, total: int) -> None:
        if done >= total:  # every new cell written, the commit not yet
            raise Stop

    with pytest.raises(Stop):
        run_ingest(_cfg(sources, store), progress=stop_before_commit)
    assert content_hash(open_cube(cube).load()) == before and cube_version(cube) == token
    # the sources change before the next run: pair 104's product is withdrawn, its cell is empty now
    (sources / "annotations" / "104.json").unlink()
    for path in (sources / "licsar" / FRAME / "interferograms" / "20200113_20200206").iterdir():
        path.unlink()
    summary = run_ingest(_cfg(sources, store))
    assert summary.frames_appended == [FRAME] and summary.pairs_written == 1
    fresh = run_ingest(_cfg(sources, tmp_path / "fresh"))
    assert content_hash(open_cube(cube).load()) == content_hash(open_cube(fresh.cube_urls[0]).load())
