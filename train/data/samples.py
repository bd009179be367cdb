"""From catalog rows to sample specs: which cube slices make a sample, its label and its mask box."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from hephaestus.platform import schema
from hephaestus.platform.errors import InputError
from hephaestus.platform.inputs import InputSpecError, pad_series
from hephaestus.train.data.crop import BBox, union_bbox

PAIR_COLUMNS = (
    "unique_id",
    "cube_url",
    "primary_index",
    "secondary_index",
    "positive",
    "mask_row_min",
    "mask_row_max",
    "mask_col_min",
    "mask_col_max",
)
SERIES_COLUMNS = ("series_id", "pair_ids", "positive")


class IndexRowsError(InputError):
    """The index rows given to the loader lack a column or reference something missing."""


@dataclass(frozen=True, slots=True)
class Step:
    """One pair: a (primary, secondary) slice of a cube."""

    cube_url: str
    primary_index: int
    secondary_index: int
    bbox: BBox | None


@dataclass(frozen=True, slots=True)
class SampleSpec:
    """One training sample: its steps (1 for pairs, T for series), label and union mask box."""

    id: str
    label: int
    steps: tuple[Step, ...]
    bbox: BBox | None


def _require(table: pa.Table, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise IndexRowsError(f"{what} rows lack column(s) {', '.join(missing)}")


def select_rows(
    table: pa.Table, split: str | None, usable_only: bool, need_cube: bool = True, scheme: str = "paper"
) -> pa.Table:
    """Rows of the requested split of split scheme `scheme` (schema.SPLIT_SCHEMES: its column) (and
    usable, with a cube, when asked)."""
    column = schema.split_column(scheme)
    mask = None

    def _and(cond: pa.ChunkedArray) -> None:
        nonlocal mask
        cond = pc.fill_null(cond, False)
        mask = cond if mask is None else pc.and_(mask, cond)

    if split is not None and column in table.column_names:
        _and(pc.equal(table[column], split))
    if usable_only and "usable" in table.column_names:
        _and(table["usable"])
    if need_cube and "cube_url" in table.column_names:
        _and(pc.is_valid(table["cube_url"]))
    return table if mask is None else table.filter(mask)


def _step(row: dict) -> Step:
    box = None
    if all(row.get(k) is not None for k in ("mask_row_min", "mask_row_max", "mask_col_min", "mask_col_max")):
        box = (
            int(row["mask_row_min"]),
            int(row["mask_row_max"]),
            int(row["mask_col_min"]),
            int(row["mask_col_max"]),
        )
    if row.get("cube_url") is None or row.get("primary_index") is None or row.get("secondary_index") is None:
        raise IndexRowsError(
            f"pair {row.get('unique_id')}: no cube_url/primary_index/secondary_index (no cube)"
        )
    return Step(str(row["cube_url"]), int(row["primary_index"]), int(row["secondary_index"]), box)


def pair_samples(pairs: pa.Table) -> list[SampleSpec]:
    """One sample per pair row (ids are the Hephaestus unique ids)."""
    _require(pairs, PAIR_COLUMNS, "pair")
    out = []
    for row in pairs.select(list(PAIR_COLUMNS)).to_pylist():
        step = _step(row)
        out.append(SampleSpec(str(row["unique_id"]), int(bool(row["positive"])), (step,), step.bbox))
    return out


def series_samples(series: pa.Table, pairs: pa.Table, length: int) -> list[SampleSpec]:
    """One sample per series row; its pairs are looked up by unique id in `pairs` (within the series'
    frame when both tables carry `frame_id`: ids need only be unique per frame).

    The series rule is `inputs.pad_series`: shorter series are padded by repeating their last pair
    (the paper pads by duplication); longer ones are refused, choosing subsets is the catalog's job.
    """
    _require(series, SERIES_COLUMNS, "series")
    _require(pairs, PAIR_COLUMNS, "pair")
    framed = "frame_id" in series.column_names and "frame_id" in pairs.column_names
    extra = ["frame_id"] if framed else []
    by_id = {
        (r["frame_id"] if framed else None, int(r["unique_id"])): r
        for r in pairs.select([*PAIR_COLUMNS, *extra]).to_pylist()
    }
    out = []
    for row in series.select([*SERIES_COLUMNS, *extra]).to_pylist():
        frame = row["frame_id"] if framed else None
        try:
            ids = pad_series(row["pair_ids"] or [], length, row["series_id"])
        except InputSpecError as exc:
            raise IndexRowsError(str(exc)) from None
        missing = [i for i in ids if (frame, int(i)) not in by_id]
        if missing:
            raise IndexRowsError(f"series {row['series_id']}: pair(s) {missing} not in the pair rows")
        steps = tuple(_step(by_id[(frame, int(i))]) for i in ids)
        if len({s.cube_url for s in steps}) != 1:
            raise IndexRowsError(f"series {row['series_id']}: pairs from more than one cube")
        out.append(
            SampleSpec(
                str(row["series_id"]), int(bool(row["positive"])), steps, union_bbox([s.bbox for s in steps])
            )
        )
    return out
