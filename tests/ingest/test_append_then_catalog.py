"""`hmc ingest` appends new dates, then `hmc catalog build` reads only the new pairs (issue 16 items 1-2).

Independent expectation: a full catalog scan of the same store (the pre-existing path) and the count of
new pairs the sources gained.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_ingest_append import FRAME, NEW, OLD, _cfg, _grow, _sources

from hephaestus.catalog import CatalogConfig, build_catalog, read_pairs, resolve
from hephaestus.ingest import run_ingest

pytestmark = pytest.mark.usefixtures("ray_local")


def _published(store: Path) -> tuple:
    base, coll = resolve(store)
    items = {p.name: json.loads(p.read_text()) for p in sorted((Path(base) / "items").glob("*.json"))}
    series = pq.read_table(Path(base) / "index" / "series", partitioning=None).sort_by("series_id")
    stats = {k: coll.get(k) for k in ("hephaestus:statistics", "hephaestus:statistics_train")}
    return read_pairs(store), series, items, stats


def test_catalog_after_an_append_reads_only_the_new_pairs_and_equals_a_full_build(tmp_path: Path) -> None:
    sources = _sources(tmp_path / "src", OLD)
    store = tmp_path / "store"
    assert run_ingest(_cfg(sources, store)).ok
    first = build_catalog(store, CatalogConfig())
    assert first.pairs == len(OLD)
    _grow(sources, OLD + NEW)
    assert run_ingest(_cfg(sources, store)).frames_appended == [FRAME]

    inc = build_catalog(store, CatalogConfig())
    assert inc.reused_from == first.version
    assert inc.pairs == len(OLD) + len(NEW) and inc.reused_pairs == len(OLD)
    incremental = _published(store)
    full = build_catalog(store, CatalogConfig(incremental=False))
    assert full.reused_pairs == 0
    expected = _published(store)
    assert incremental[0].equals(expected[0]) and incremental[1].equals(expected[1])
    assert incremental[2] == expected[2] and incremental[3] == expected[3]
