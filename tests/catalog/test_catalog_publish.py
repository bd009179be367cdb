"""Atomic publication: a reader sees the old or the new catalog whole; a failed build changes nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from catalog_records import annotation, write_annotations

from hephaestus.catalog import (
    AnnotationError,
    catalog_from_annotations,
    read_pairs,
    read_series,
    resolve,
)
from hephaestus.catalog import publish as pub
from hephaestus.catalog.build import _publish_or_discard
from hephaestus.catalog.pairs import PAIR_SCHEMA
from hephaestus.platform.layout import StoreLayout


def _records(n: int, first: int) -> list[dict]:
    out = []
    for k in range(n):
        day = 5 + (k % 20)
        out.append(
            annotation(
                first + k,
                ["124D_04854_171313", "144A_SM_REUN_S6", "022D_04826_121209"][k % 3],
                f"201801{day:02d}",
                f"201803{day:02d}",
                ["Deformation"] if k % 4 == 0 else None,
            )
        )
    return out


def test_reader_during_rebuild_sees_old_or_new_whole(tmp_path: Path) -> None:
    old_ids = set(range(1000, 1040))
    new_ids = set(range(5000, 5090))
    old_dir = write_annotations(tmp_path / "old", _records(40, 1000))
    new_dir = write_annotations(tmp_path / "new", _records(90, 5000))
    store = tmp_path / "store"
    catalog_from_annotations(old_dir, store)
    seen: list[str] = []
    for src in (new_dir, old_dir, new_dir):
        done = threading.Event()
        errors: list[BaseException] = []

        def rebuild(src: Path = src, done: threading.Event = done, errors: list = errors) -> None:
            try:
                catalog_from_annotations(src, store)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=rebuild)
        thread.start()
        reads = 0
        while not done.is_set() or reads < 2:
            ids = set(read_pairs(store)["unique_id"].to_pylist())
            assert ids in (old_ids, new_ids), "a reader saw a mix of two catalogs"
            seen.append("old" if ids == old_ids else "new")
            reads += 1
        thread.join()
        assert not errors
    assert {"old", "new"} <= set(seen)
    # never more than the published version and the one before it
    assert len(pub.list_versions(str(store))) == 2


def test_failed_build_leaves_the_old_catalog(tmp_path: Path) -> None:
    store = tmp_path / "store"
    catalog_from_annotations(write_annotations(tmp_path / "a", _records(12, 100)), store)
    before_version, before = resolve(store)
    before_pairs = read_pairs(store)

    # a build that dies half-way through writing its files
    version = pub.new_version()

    def write_then_fail() -> dict:
        half = read_pairs(store).slice(0, 3).cast(PAIR_SCHEMA)
        pub.write_partitioned(
            half, StoreLayout(store).catalog_version(version).pairs_index, ["split", "frame_id"]
        )
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        _publish_or_discard(str(store), version, write_then_fail, keep=2)
    assert resolve(store)[0] == before_version
    assert read_pairs(store).equals(before_pairs)
    assert version not in pub.list_versions(str(store))  # the half-written version is gone

    # a real build that fails on bad input
    bad = write_annotations(tmp_path / "bad", _records(5, 900))
    (bad / "901.json").write_text('{"uniqueID": 901, "frameID": ')
    with pytest.raises(AnnotationError, match="901.json"):
        catalog_from_annotations(bad, store)
    assert resolve(store)[1] == before
    assert read_series(store).num_rows > 0


def test_unknown_store_has_no_catalog(tmp_path: Path) -> None:
    from hephaestus.catalog import CatalogNotFoundError, read_statistics
    from hephaestus.platform import schema

    with pytest.raises(CatalogNotFoundError, match="no catalog"):
        read_pairs(tmp_path / "nothing")
    assert read_statistics(tmp_path / "nothing") == dict(schema.AUTHORS_STATISTICS)


def test_malformed_availability_file_is_named(tmp_path: Path) -> None:
    from hephaestus.catalog import load_available

    bad = tmp_path / "quality_timeseries.json"
    bad.write_text('{"124D_04854_171313": {"20180105": {"length": 1, "uniqueID": ["x"]}}}')
    with pytest.raises(AnnotationError, match="quality_timeseries.json.*not an integer"):
        load_available(bad)
    bad.write_text("[1, 2")
    with pytest.raises(AnnotationError, match="quality_timeseries.json: not valid JSON"):
        load_available(bad)
    with pytest.raises(AnnotationError, match="no annotation JSON found"):
        catalog_from_annotations((tmp_path / "empty").mkdir() or tmp_path / "empty", tmp_path / "store")
