"""The real annotations reproduce the paper's Table 2 exactly, single pairs and time series."""

from __future__ import annotations

import json
import random
import tarfile
from pathlib import Path

import pyarrow.compute as pc
import pytest

from hephaestus.catalog import query, read_pairs, read_series
from hephaestus.catalog.series import min_distinct, order_preserving_subsets, pad_by_duplication

# Paper Table 2 (Papadopoulos et al., Hephaestus Minicubes): (positives, negatives)
TABLE2_SINGLE = {"train": (1143, 8697), "val": (154, 2416), "test": (509, 5992)}
TABLE2_SERIES = {"train": (701, 2626), "val": (75, 728), "test": (225, 1776)}


def test_single_pairs_match_table2(real_catalog: Path) -> None:
    for split, (pos, neg) in TABLE2_SINGLE.items():
        table = read_pairs(real_catalog, split=split, usable_only=True)
        n_pos = pc.sum(table["positive"]).as_py()
        assert (n_pos, table.num_rows - n_pos) == (pos, neg), split


def test_series_match_table2(real_catalog: Path) -> None:
    for split, (pos, neg) in TABLE2_SERIES.items():
        table = read_series(real_catalog, split=split)
        n_pos = pc.sum(table["positive"]).as_py()
        assert (n_pos, table.num_rows - n_pos) == (pos, neg), split


def test_table2_through_sql(real_catalog: Path) -> None:
    got = query(
        real_catalog,
        "SELECT split, count(*) FILTER (WHERE positive) AS pos, count(*) FILTER (WHERE NOT positive) AS neg "
        "FROM pairs WHERE usable GROUP BY split",
    ).to_pylist()
    assert {r["split"]: (r["pos"], r["neg"]) for r in got} == TABLE2_SINGLE
    got = query(
        real_catalog,
        "SELECT split, sum(positive::INT) AS pos, sum((NOT positive)::INT) AS neg FROM series GROUP BY split",
    ).to_pylist()
    assert {r["split"]: (r["pos"], r["neg"]) for r in got} == TABLE2_SERIES


def test_every_annotation_is_a_row_and_usable_matches_the_authors_index(
    real_catalog: Path, real_data: Path
) -> None:
    pairs = read_pairs(real_catalog)
    assert pairs.num_rows == 19919  # one JSON per pair in the tarball
    with tarfile.open(real_data / "annotations.tar.gz") as tar:
        names = {m.name.rsplit("/", 1)[-1] for m in tar if m.isfile() and m.name.endswith(".json")}
    assert {f"{u}.json" for u in pairs["unique_id"].to_pylist()} == names
    qt = json.loads((real_data / "quality_timeseries.json").read_text())
    authors = {u for groups in qt.values() for g in groups.values() for u in g["uniqueID"]}
    usable = set(pairs.filter(pc.field("usable"))["unique_id"].to_pylist())
    assert usable == authors and len(usable) == 18911
    # --available names the pairs with a product: the authors' index leaves 1,008 annotated pairs out,
    # 15 of them with clean flags (no InSAR product), the rest corrupted / processing error / no_info
    no_product = pairs.filter(~pc.field("has_product"))
    assert no_product.num_rows == 1008
    clean = no_product.filter(
        ~pc.field("corrupted") & (pc.field("processing_error") == 0) & ~pc.field("no_info")
    )
    assert clean.num_rows == 15


def test_series_are_ordered_subsets_of_one_primary(real_catalog: Path) -> None:
    pairs = read_pairs(real_catalog, usable_only=True).to_pylist()
    by_id = {p["unique_id"]: p for p in pairs}
    for s in read_series(real_catalog).to_pylist():
        assert s["length"] == 3 and len(s["pair_ids"]) == 3
        rows = [by_id[u] for u in s["pair_ids"]]
        assert {(r["frame_id"], r["primary_date"]) for r in rows} == {(s["frame_id"], s["primary_date"])}
        dates = [r["secondary_date"] for r in rows]
        assert dates == sorted(dates) == s["secondary_dates"]
        assert s["positive"] == any(r["positive"] for r in rows)
        assert s["padded"] == (s["n_distinct"] < 3)


@pytest.mark.parametrize(
    ("n", "limit", "expected"),
    [
        (3, 1, [(0, 1, 2)]),
        (5, 1, [(0, 1, 2)]),  # disjoint: positions 3, 4 cannot fill a third
        (6, 1, [(0, 1, 2), (3, 4, 5)]),
        (5, 2, [(0, 1, 2), (0, 3, 4)]),  # share at most one position
        (4, 2, [(0, 1, 2)]),
        (4, 3, [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)]),  # share at most two: every combination
    ],
)
def test_order_preserving_subsets_hand_values(n: int, limit: int, expected: list[tuple[int, ...]]) -> None:
    assert order_preserving_subsets(n, 3, limit) == expected


def test_overlap_limits_of_the_reference() -> None:
    assert min_distinct("train", True, 3) == 2
    assert min_distinct("train", False, 3) == 1
    assert min_distinct("val", True, 3) == 1 and min_distinct("test", False, 3) == 1
    assert min_distinct(None, True, 3) == 1


def test_padding_keeps_order_and_is_seeded() -> None:
    a = pad_by_duplication([7, 8], 5, random.Random("0:f:2018-01-05"))
    b = pad_by_duplication([7, 8], 5, random.Random("0:f:2018-01-05"))
    assert a == b and len(a) == 5 and sorted(a) == a and set(a) == {7, 8}
    assert pad_by_duplication([4], 3, random.Random(1)) == [4, 4, 4]
    outcomes = {tuple(pad_by_duplication([1, 2, 3], 6, random.Random(s))) for s in range(20)}
    assert len(outcomes) > 1  # the seed matters
