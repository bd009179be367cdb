"""The series table: time series of T pairs sharing a primary date, built with the paper's rule.

The rule follows the authors' reference data loader (Orion-AI-Lab/Hephaestus-minicubes,
dataset/dataset_utils.py, `InSarDataset` with `get_possible_subsets` and `duplicate_entries`),
re-implemented here and checked against the paper's Table 2:

1. Groups: the usable pairs of a frame with one primary date, ordered by secondary date.
2. A group's label is positive when any of its pairs is positive.
3. A group longer than T gives order-preserving subsets: every T-combination of its positions in
   lexicographic order, keeping a combination only when it shares fewer than `min_distinct`
   positions with every combination kept before it (greedy). `min_distinct` is T - 1 for positive
   and T - 2 for negative groups in the training split, and 1 (disjoint subsets) in the other
   splits and outside the windows. With T = 3 a training positive group thus yields subsets that
   share at most one pair, a negative or evaluation group yields disjoint subsets.
4. A group shorter than T is padded by duplication: T - n times, a random position p in [0, n - 1 + i]
   is duplicated in place (so the order by secondary date holds). The generator is seeded from
   (seed, frame, primary date), so a series does not change when other frames are added.
5. Each series' label is recomputed from its own pairs (positive if any step is).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from hephaestus.catalog.pairs import PAIR_ORDER

SERIES_SCHEMA = pa.schema(
    [
        pa.field("series_id", pa.string(), nullable=False),
        pa.field("frame_id", pa.string(), nullable=False),
        pa.field("primary_date", pa.date32(), nullable=False),
        pa.field("split", pa.string()),
        pa.field("volcano_split", pa.string()),
        pa.field("positive", pa.bool_(), nullable=False),
        pa.field("pair_ids", pa.list_(pa.int64()), nullable=False),
        pa.field("secondary_dates", pa.list_(pa.date32())),
        pa.field("length", pa.int32(), nullable=False),
        pa.field("n_distinct", pa.int32(), nullable=False),
        pa.field("padded", pa.bool_(), nullable=False),
        pa.field("cube_url", pa.string()),
    ]
)


def min_distinct(split: str | None, group_positive: bool, length: int) -> int:
    """Overlap limit of the reference code: kept subsets share fewer than this many positions."""
    if split == "train":
        return length - 1 if group_positive else length - 2
    return 1


def order_preserving_subsets(n: int, length: int, limit: int) -> list[tuple[int, ...]]:
    """Greedy lexicographic T-combinations of range(n), each sharing < `limit` positions with earlier ones.

    Two combinations share >= limit positions exactly when they have a common limit-subset, so a
    set of the limit-subsets already taken decides each candidate in O(C(T, limit)).
    """
    if length <= 0:
        raise ValueError(f"series length must be positive, not {length}")
    if n < length:
        raise ValueError(f"a group of {n} pairs has no subsets of length {length}")
    if length == 1:  # the reference keeps every single pair
        return [(i,) for i in range(n)]
    kept: list[tuple[int, ...]] = []
    if limit <= 0:  # every combination shares >= 0 positions with the first: keep only it
        return [tuple(range(length))]
    taken: set[tuple[int, ...]] = set()
    for combo in itertools.combinations(range(n), length):
        keys = list(itertools.combinations(combo, limit)) if limit <= length else []
        if not taken.isdisjoint(keys):
            continue
        kept.append(combo)
        taken.update(keys)
    return kept


def pad_by_duplication(items: Sequence[int], length: int, rng: random.Random) -> list[int]:
    """Duplicate random positions in place until the list has `length` items (order preserved)."""
    out = list(items)
    n = len(out)
    if n == 0:
        raise ValueError("cannot pad an empty group")
    for i in range(length - n):
        pos = rng.randint(0, n - 1 + i)
        out.insert(pos, out[pos])
    return out


_INPUTS = ["unique_id", "frame_id", "primary_date", "secondary_date", "split", "positive", "cube_url"]
"""The pair columns a group's series depend on (with the length and the seed)."""


def _groups(pairs: pa.Table) -> tuple[dict, list[tuple[int, int]]]:
    """The usable pairs as columns, in index order, and the (start, end) rows of each (frame, primary)."""
    usable = pairs.filter(pc.field("usable")).select(_INPUTS).sort_by(PAIR_ORDER)
    data = usable.to_pydict()
    bounds = []
    n_rows = usable.num_rows
    start = 0
    while start < n_rows:
        frame, primary = data["frame_id"][start], data["primary_date"][start]
        end = start
        while end < n_rows and data["frame_id"][end] == frame and data["primary_date"][end] == primary:
            end += 1
        bounds.append((start, end))
        start = end
    return data, bounds


def _group_inputs(data: dict, start: int, end: int) -> tuple:
    return tuple(tuple(data[c][start:end]) for c in _INPUTS)


def reusable_series(pairs: pa.Table, series: pa.Table) -> dict[tuple, list[dict]]:
    """A previous build's series by the exact inputs of their group: a group whose usable pairs are the
    same gives the same series (the rule is deterministic, seeded per frame and primary date), so an
    incremental build takes them instead of recomputing the subsets."""
    by_group: dict[tuple, list[dict]] = {}
    for row in series.to_pylist():
        by_group.setdefault((row["frame_id"], row["primary_date"]), []).append(row)
    data, bounds = _groups(pairs)
    out = {}
    for start, end in bounds:
        rows = by_group.get((data["frame_id"][start], data["primary_date"][start]))
        if rows:
            out[_group_inputs(data, start, end)] = sorted(
                rows, key=lambda r: int(r["series_id"].rsplit("_", 1)[1])
            )
    return out


def build_series(
    pairs: pa.Table, length: int = 3, seed: int = 0, reuse: dict[tuple, list[dict]] | None = None
) -> pa.Table:
    """Series table from a pair index (only usable pairs take part).

    `reuse` (see `reusable_series`, built with the same length and seed) supplies the series of groups
    whose inputs did not change."""
    if length <= 0:
        raise ValueError(f"series length must be positive, not {length}")
    data, bounds = _groups(pairs)
    rows: list[dict] = []
    for start, end in bounds:
        known = None if reuse is None else reuse.get(_group_inputs(data, start, end))
        rows.extend(known if known is not None else _group_series(data, start, end, length, seed))
    return pa.Table.from_pylist(rows, schema=SERIES_SCHEMA)


def _group_series(data: dict, start: int, end: int, length: int, seed: int) -> list[dict]:
    idx = list(range(start, end))
    frame, primary, split = data["frame_id"][start], data["primary_date"][start], data["split"][start]
    group_positive = any(data["positive"][i] for i in idx)
    n = len(idx)
    if n > length:
        combos = order_preserving_subsets(n, length, min_distinct(split, group_positive, length))
        members = [[idx[k] for k in combo] for combo in combos]
        padded = False
    elif n < length:
        rng = random.Random(f"{seed}:{frame}:{primary.isoformat()}")
        members = [pad_by_duplication(idx, length, rng)]
        padded = True
    else:
        members = [idx]
        padded = False
    out = []
    for k, member in enumerate(members):
        out.append(
            {
                "series_id": f"{frame}_{primary.strftime('%Y%m%d')}_{k:03d}",
                "frame_id": frame,
                "primary_date": primary,
                "split": split,
                "positive": any(data["positive"][i] for i in member),
                "pair_ids": [data["unique_id"][i] for i in member],
                "secondary_dates": [data["secondary_date"][i] for i in member],
                "length": length,
                "n_distinct": len(set(member)),
                "padded": padded,
                "cube_url": data["cube_url"][start],
            }
        )
    return out
