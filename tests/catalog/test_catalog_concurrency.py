"""Two catalog builds (or two ingests) on one store serialise on the store's lock: the second stops at once
with a one-line error and the published pointer always names a complete version. The lock is an exclusive
create: O_EXCL locally, a conditional PUT on S3 (moto), a generation precondition on GCS (emulator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from object_servers import race_exclusive_creates

from hephaestus.catalog import build_catalog
from hephaestus.catalog import publish as pub
from hephaestus.platform import storage
from hephaestus.platform.locks import StoreBusyError, lock_url, store_lock

from factories import write_published_cube


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    for k, frame in enumerate(("001A_00001_000001", "002D_00002_000002")):
        write_published_cube(root / "cubes" / f"{frame}.zarr", frame_id=frame, seed=k)
    return root


@pytest.mark.parametrize(
    "bucket",
    [
        "local",
        "s3_bucket",
        pytest.param(
            "gcs_bucket",
            marks=pytest.mark.xfail(
                strict=True, reason="gcp-storage-emulator ignores ifGenerationMatch=0 (real GCS honours it)"
            ),
        ),
    ],
)
def test_exclusive_create_lets_exactly_one_writer_win(bucket: str, request, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = str(tmp_path) if bucket == "local" else request.getfixturevalue(bucket)
    url = storage.join(base, ".locks", "x.lock")
    results = race_exclusive_creates(url, 4)
    assert sorted(results) == [False, False, False, True]
    assert storage.read_bytes(url).decode().startswith("writer ")


def test_second_build_stops_and_the_pointer_stays_complete(store: Path) -> None:
    first = build_catalog(store)
    version = pub.current_version(str(store))
    with store_lock(str(store), "catalog-build"):  # a build in progress
        with pytest.raises(StoreBusyError, match="another `catalog-build` is running") as err:
            build_catalog(store)
        assert "\n" not in str(err.value) and str(os.getpid()) in str(err.value)
    assert pub.current_version(str(store)) == version  # nothing published, nothing removed
    assert (store / "catalog" / version / "index").is_dir()
    assert first is not None and build_catalog(store) is not None  # the lock is released


def test_two_concurrent_cli_builds_leave_a_complete_catalog(store: Path) -> None:
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    cmd = [sys.executable, "-m", "hephaestus.cli.app", "catalog", "build", str(store)]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes[0] == 0, outs
    for p, (_, err) in zip(procs, outs, strict=True):
        if p.returncode != 0:  # the loser: one line, no traceback
            assert "another `catalog-build` is running" in err and "Traceback" not in err, err
            assert len(err.strip().splitlines()) <= 2, err
    version = pub.current_version(str(store))
    assert version and (store / "catalog" / version / "index").is_dir()
    pointer = json.loads((store / "catalog" / "collection.json").read_text())
    assert pointer[pub.VERSION_KEY] == version
    assert not Path(lock_url(str(store), "catalog-build")).exists()


def test_stale_lock_of_a_dead_process_is_taken_over(store: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    url = Path(lock_url(str(store), "catalog-build"))
    url.parent.mkdir(parents=True)
    import socket

    url.write_text(
        json.dumps(
            {"host": socket.gethostname(), "pid": int(dead.stdout), "since": "2026-01-01T00:00:00+00:00"}
        )
    )
    assert build_catalog(store) is not None
    assert not url.exists()


def test_ingest_into_a_busy_store_stops_before_ray(tmp_path: Path) -> None:
    import ray

    from hephaestus.ingest import IngestConfig, run_ingest

    (tmp_path / "src").mkdir()
    out = tmp_path / "store"
    with store_lock(str(out), "ingest"):
        with pytest.raises(StoreBusyError, match="another `ingest` is running"):
            run_ingest(IngestConfig(sources=str(tmp_path / "src"), out=str(out)))
    assert not ray.is_initialized()


def _complete(store: Path) -> str:
    """The published version, after checking every index file the pointer's version lists exists."""
    version = pub.current_version(str(store))
    assert version is not None
    index = store / "catalog" / version / "index"
    files = list(index.rglob("*.parquet"))
    assert files and all(f.stat().st_size > 0 for f in files), (version, files)
    return version


def test_from_annotations_takes_the_build_lock(tmp_path: Path) -> None:
    from catalog_records import annotation, write_annotations

    from hephaestus.catalog import catalog_from_annotations

    ann = write_annotations(tmp_path / "ann", [annotation(k) for k in range(1, 5)])
    store = tmp_path / "store"
    with store_lock(str(store), "catalog-build"):  # a `hmc catalog build` in progress
        with pytest.raises(StoreBusyError, match="another `catalog-build` is running"):
            catalog_from_annotations(ann, store)
    assert pub.current_version(str(store)) is None  # nothing published, no version left behind
    assert not (store / "catalog").exists() or not pub.list_versions(str(store))


def test_racing_from_annotations_builds_leave_a_complete_catalog(tmp_path: Path) -> None:
    from catalog_records import annotation, write_annotations

    from hephaestus.catalog import catalog_from_annotations

    ann = write_annotations(tmp_path / "ann", [annotation(k) for k in range(1, 9)])
    store = tmp_path / "store"
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def build() -> None:
        barrier.wait()
        try:
            catalog_from_annotations(ann, store)
            outcomes.append("ok")
        except StoreBusyError:
            outcomes.append("busy")

    for _ in range(3):  # rounds, so each race also meets the versions earlier rounds published
        threads = [threading.Thread(target=build) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        _complete(store)
    assert "ok" in outcomes and set(outcomes) <= {"ok", "busy"}, outcomes


def test_cleanup_never_removes_the_version_the_pointer_names(tmp_path: Path) -> None:
    """A build whose `keep` set is stale (the pointer moved meanwhile) must not delete the published version."""
    from catalog_records import annotation, write_annotations

    from hephaestus.catalog import catalog_from_annotations

    ann = write_annotations(tmp_path / "ann", [annotation(k) for k in range(1, 5)])
    store = tmp_path / "store"
    catalog_from_annotations(ann, store)
    published = _complete(store)
    stale = pub.new_version()  # what a slower build believes it just published
    pub.remove_versions(str(store), keep={stale})
    assert _complete(store) == published
