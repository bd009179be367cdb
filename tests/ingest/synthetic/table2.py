"""Table 2 computed straight from annotation records and the authors' index, written independently of
catalog/ (the paper's protocol, section 4 and appendix B), for the twin's end-to-end checks."""

from __future__ import annotations

import itertools
from collections import defaultdict

WINDOWS = {
    "train": ("20140101", "20190531"),
    "val": ("20190601", "20191231"),
    "test": ("20200101", "20211231"),
}
PAPER_TABLE2 = {
    "train": {
        "pairs_positive": 1143,
        "pairs_negative": 8697,
        "series_positive": 701,
        "series_negative": 2626,
    },
    "val": {"pairs_positive": 154, "pairs_negative": 2416, "series_positive": 75, "series_negative": 728},
    "test": {"pairs_positive": 509, "pairs_negative": 5992, "series_positive": 225, "series_negative": 1776},
}
"""The paper's Table 2 (positives / negatives; single pairs and series of length 3)."""


def _split(primary: str) -> str | None:
    for name, (lo, hi) in WINDOWS.items():
        if lo <= primary <= hi:
            return name
    return None


def _subsets(n: int, limit: int) -> list[tuple[int, int, int]]:
    """Lexicographic 3-combinations, each kept when it shares fewer than `limit` positions with every
    one kept before (the authors' loader; limit 2 training positives, 1 otherwise)."""
    kept: list[tuple[int, int, int]] = []
    for combo in itertools.combinations(range(n), 3):
        if all(len(set(combo) & set(k)) < limit for k in kept):
            kept.append(combo)
    return kept


def table2(records: list[dict], usable_ids: set[int]) -> dict[str, dict[str, int]]:
    """Usable pairs (listed in the authors' index) and their length-3 series, per split."""
    out = {
        s: dict.fromkeys(("pairs_positive", "pairs_negative", "series_positive", "series_negative"), 0)
        for s in WINDOWS
    }
    groups: dict[tuple[str, str], list[tuple[str, int, bool]]] = defaultdict(list)
    for r in records:
        if r["uniqueID"] not in usable_ids:
            continue
        split = _split(r["primary_date"])
        positive = any(label != "Non_Deformation" for label in r["label"])
        if split is not None:
            out[split]["pairs_positive" if positive else "pairs_negative"] += 1
        groups[(r["frameID"], r["primary_date"])].append((r["secondary_date"], r["uniqueID"], positive))
    for (_, primary), members in groups.items():
        split = _split(primary)
        if split is None:
            continue
        members.sort()
        flags = [m[2] for m in members]
        group_positive = any(flags)
        if len(flags) <= 3:  # padded by duplication (or exact): one series with the group's label
            series = [group_positive]
        else:
            limit = 2 if split == "train" and group_positive else 1
            series = [any(flags[i] for i in combo) for combo in _subsets(len(flags), limit)]
        for positive in series:
            out[split]["series_positive" if positive else "series_negative"] += 1
    return out
