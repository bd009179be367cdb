"""The held-out-volcano split (`volcano_split`): whole volcanoes in train, val or test.

The paper's split (`split`, pairs.py) cuts by primary date, so every frame has pairs in every split and a
model is tested on volcanoes it trained on. The `volcano` scheme holds frames out whole: every pair of a
frame, and every frame of a volcano, gets the same value, so its test volcanoes are ones the model never
saw. Both columns are stored (schema.SPLIT_SCHEMES); the collection records both assignments
(`hephaestus:split_schemes`, `split_schemes_record`).

A frame's volcanoes (`FrameVolcanoes`): the volcanoes frame_names.json lists for it (every real frame and
its twin; the Items' `hephaestus:volcanoes`), else the GVP volcano nearest its footprint's centre within
100 km (the monitor's rule; frames of the free generator), else none.

Volcano groups (`volcano_groups`): two frames are one group when they name one volcano (normalised name),
unless both footprints are known and their centres lie more than SAME_VOLCANO_KM apart (one name for two
volcanoes: the Galapagos and the Andean Cerro Azul), or when their footprints overlap (they image the same
ground); groups are the connected components. A frame with no volcano and no overlap is its own group.
The group's key is its smallest normalised volcano name (with its first frame's id when another group
holds that name too), or `frame:<id>` for such a frame.

Assignment (`assign`), a function of the groups' keys and pair counts only (usable pairs; every pair when
no pair is usable), so it is the same on every machine and for every build of the same data:
1. groups are ordered by SHA-256 of their key (stable, unlike Python's salted `hash`);
2. one group: train; two: the first test, the other train;
3. three or more: the first two groups in that order with positive pairs go to test and val when three or
   more groups have positives (each held-out split has positives), else the first two groups do (each
   held-out split has a volcano);
4. every other group, in order, goes to test when that brings test closer to HELD_OUT (15 %) of the
   pairs and of the positive pairs (the sum of both relative distances), else to val when that brings
   val closer, else to train (about 70 %); except that
   the last group left goes to train when train has none, and the last group with positives left goes to
   train when train has none with positives (and three or more groups have them).
Adding frames can move other groups (the shares change): the collection records each build's assignment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from hephaestus.platform import schema, volcanoes

VOLCANO_COLUMN = schema.split_column("volcano")
HELD_OUT = 0.15
"""Target share of the pairs in each of val and test (train gets the rest, about 70 %)."""
SAME_VOLCANO_KM = 500.0
"""Frames naming one volcano are one group unless their footprint centres lie farther apart than this."""
NEAREST_KM = 100.0
"""A frame without listed volcanoes takes the GVP volcano nearest its centre within this distance."""
_TRAIN, _VAL, _TEST = "train", "val", "test"


@dataclass(frozen=True)
class FrameVolcanoes:
    """What the split knows of a frame: its volcanoes' names and its footprint (west, south, east, north)."""

    frame_id: str
    names: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None

    @property
    def keys(self) -> set[str]:
        return {volcanoes.normalise_name(n) for n in self.names if n.strip()}

    @property
    def centre(self) -> tuple[float, float] | None:
        if self.bbox is None:
            return None
        west, south, east, north = self.bbox
        return (south + north) / 2, (west + east) / 2


def frame_volcanoes(
    frame_id: str, listed: Mapping[str, Sequence[str]], bbox: tuple[float, float, float, float] | None = None
) -> FrameVolcanoes:
    """The frame's volcanoes: listed (frame_names.json), else the GVP volcano nearest its centre, else none."""
    names = tuple(listed.get(frame_id, ()))
    frame = FrameVolcanoes(frame_id, names, bbox)
    if names or frame.centre is None:
        return frame
    try:
        found = volcanoes.nearest(*frame.centre, max_km=NEAREST_KM)
    except volcanoes.VolcanoTableError:  # no GVP table here: the frame stands alone
        found = None
    # GVP's "Negra, Sierra" as people write it, "Sierra Negra" (as frame_names.json does)
    return frame if found is None else FrameVolcanoes(frame_id, (found.display,), bbox)


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _same_volcano(a: FrameVolcanoes, b: FrameVolcanoes) -> bool:
    if a.bbox is not None and b.bbox is not None and _overlap(a.bbox, b.bbox):
        return True
    if not a.keys & b.keys:
        return False
    ca, cb = a.centre, b.centre
    return ca is None or cb is None or volcanoes.distance_km(*ca, *cb) <= SAME_VOLCANO_KM


def volcano_groups(frames: Iterable[FrameVolcanoes]) -> dict[str, str]:
    """Frame id -> its volcano group's key (see the module notes)."""
    items = sorted(frames, key=lambda f: f.frame_id)
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(items):
        for j in range(i + 1, len(items)):
            if root(i) != root(j) and _same_volcano(a, items[j]):
                parent[root(j)] = root(i)
    members: dict[int, list[FrameVolcanoes]] = {}
    for i, f in enumerate(items):
        members.setdefault(root(i), []).append(f)
    out: dict[str, str] = {}
    taken: set[str] = set()
    for group in sorted(members.values(), key=lambda g: g[0].frame_id):
        names = set().union(*(f.keys for f in group))
        key = min(names) if names else f"frame:{group[0].frame_id}"
        if key in taken:  # one name, two volcanoes far apart: the later group says which frames
            key = f"{key} ({group[0].frame_id})"
        taken.add(key)
        out.update({f.frame_id: key for f in group})
    return out


def _order(key: str) -> tuple[str, str]:
    return hashlib.sha256(key.encode()).hexdigest(), key


def assign(counts: Mapping[str, tuple[int, int]]) -> dict[str, str]:
    """Group key -> train / val / test, from each group's (pairs, positive pairs); see the module notes."""
    order = sorted(counts, key=_order)
    if len(order) < 3:
        return {k: (_TEST if i == 0 and len(order) == 2 else _TRAIN) for i, k in enumerate(order)}
    positive = [k for k in order if counts[k][1] > 0]
    seeds = positive[:2] if len(positive) >= 3 else order[:2]
    out: dict[str, str] = {seeds[0]: _TEST, seeds[1]: _VAL}
    target = (HELD_OUT * sum(n for n, _ in counts.values()), HELD_OUT * sum(p for _, p in counts.values()))

    def gap(pairs: int, positives: int) -> float:
        """How far a split is from its target share of the pairs and of the positive pairs."""
        far = abs(pairs - target[0]) / max(target[0], 1e-9)
        return far + (abs(positives - target[1]) / target[1] if target[1] else 0.0)

    held = {s: [sum(counts[k][i] for k in out if out[k] == s) for i in (0, 1)] for s in (_TEST, _VAL)}
    left = [k for k in order if k not in out]
    for idx, key in enumerate(left):
        n, pos = counts[key]
        later = left[idx + 1 :]
        train = [k for k, s in out.items() if s == _TRAIN]
        last = not train and not later
        last_positive = (
            len(positive) >= 3 and pos > 0 and not any(counts[k][1] for k in train)
            and not any(counts[k][1] for k in later)
        )  # fmt: skip
        out[key] = _TRAIN
        if last or last_positive:
            continue
        for split in (_TEST, _VAL):
            (p, q) = held[split]
            if gap(p + n, q + pos) < gap(p, q):
                out[key] = split
                held[split] = [p + n, q + pos]
                break
    return out


def _counts(pairs: pa.Table, groups: Mapping[str, str]) -> dict[str, tuple[int, int]]:
    """Group key -> (pairs, positive pairs), over usable pairs (every pair when none is usable)."""
    rows = pairs.filter(pc.field("usable")) if pc.any(pairs["usable"]).as_py() else pairs
    per_frame: dict[str, list[int]] = {}
    for frame, positive in zip(rows["frame_id"].to_pylist(), rows["positive"].to_pylist(), strict=True):
        c = per_frame.setdefault(frame, [0, 0])
        c[0] += 1
        c[1] += bool(positive)
    out: dict[str, tuple[int, int]] = {key: (0, 0) for key in groups.values()}
    for frame, (n, pos) in per_frame.items():
        key = groups[frame]
        out[key] = (out[key][0] + n, out[key][1] + pos)
    return out


@dataclass(frozen=True)
class VolcanoSplit:
    """A catalog's volcano split: per frame its volcanoes, its group's key and its split."""

    frames: Mapping[str, FrameVolcanoes]
    groups: Mapping[str, str]
    splits: Mapping[str, str]

    def frames_in(self, split: str) -> list[str]:
        return sorted(f for f, s in self.splits.items() if s == split)


def volcano_split(pairs: pa.Table, frames: Iterable[FrameVolcanoes]) -> VolcanoSplit:
    """The volcano split of every frame of `pairs` (a frame missing from `frames` knows no volcano)."""
    known = {f.frame_id: f for f in frames}
    every = {fid: known.get(fid, FrameVolcanoes(fid)) for fid in sorted(set(pairs["frame_id"].to_pylist()))}
    groups = volcano_groups(every.values())
    by_group = assign(_counts(pairs, groups))
    return VolcanoSplit(every, groups, {frame: by_group[key] for frame, key in groups.items()})


def with_column(table: pa.Table, splits: Mapping[str, str], column: str = VOLCANO_COLUMN) -> pa.Table:
    """`table` with `column` set to each row's frame's value (the column replaced when there)."""
    values = pa.array([splits.get(f) for f in table["frame_id"].to_pylist()], pa.string())
    if column in table.column_names:
        idx = table.schema.get_field_index(column)
        return table.set_column(idx, table.schema.field(column), values)
    return table.append_column(pa.field(column, pa.string()), values)


def split_schemes_record(pairs: pa.Table, split: VolcanoSplit) -> dict[str, dict]:
    """The collection's `hephaestus:split_schemes`: per scheme its column and, per split, its frames,
    volcanoes (names as listed), pairs, usable pairs and usable positive pairs (the volcano scheme also
    its groups' keys). `pairs` holds both columns."""
    out: dict[str, dict] = {}
    for scheme, column in schema.SPLIT_SCHEMES.items():
        splits: dict[str, dict] = {}
        for name in schema.SPLITS:
            rows = pairs.filter(pc.field(column) == name)
            usable = rows.filter(pc.field("usable"))
            frame_ids = sorted(set(rows["frame_id"].to_pylist()))
            entry: dict[str, object] = {
                "frames": frame_ids,
                "volcanoes": sorted({n for f in frame_ids for n in split.frames[f].names}),
                "pairs": rows.num_rows,
                "usable_pairs": usable.num_rows,
                "positive_pairs": int(pc.sum(usable["positive"]).as_py() or 0),
            }
            if column == VOLCANO_COLUMN:
                entry["groups"] = sorted({split.groups[f] for f in frame_ids})
            splits[name] = entry
        out[scheme] = {"column": column, "splits": splits}
    return out
