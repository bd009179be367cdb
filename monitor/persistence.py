"""Use time: a pair alerts only when overlapping pairs of its frame agree (issue 23, item 5).

Deformation persists across the pairs that span it; atmosphere and most artefacts belong to one
acquisition and do not. The rule: a candidate pair P = (p, s) of frame F (its own score and area gates
passed) alerts when at least K pairs Q = (q, t) of F score at or over the threshold, counting P itself,
where Q

- overlaps P in time: the closed intervals [q, t] and [p, s] meet (Q shares a date with P, or spans
  one of its dates, or P spans one of Q's), and
- is known when P is: t <= s (the rule is causal, so the monitor can apply it as pairs arrive and the
  delay `hmc evaluate` reports is the delay the monitor would have).

K = 1 is the pair alone (today's behaviour). Pairs of the same secondary date count for each other, so an
onset seen by several pairs of its first acquisition can still alert at once; an acquisition with strong
atmosphere is also shared by those pairs, so K mostly buys its effect from pairs of earlier dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScoredPair:
    """What the rule needs of one scored pair."""

    frame_id: str
    primary: dt.date
    secondary: dt.date
    over: bool  # score >= the threshold


def support(pair: ScoredPair, known: Sequence[ScoredPair]) -> int:
    """How many pairs of `known` (the pair itself included if it is there) over the threshold overlap
    `pair` in time and end no later than it (see the module docstring)."""
    return sum(
        1
        for q in known
        if q.over
        and q.frame_id == pair.frame_id
        and q.secondary <= pair.secondary
        and q.primary <= pair.secondary
        and pair.primary <= q.secondary
    )


def persistent(
    frame_ids: Sequence[str],
    primary_dates: Sequence[dt.date],
    secondary_dates: Sequence[dt.date],
    over: Sequence[bool] | np.ndarray,
    candidates: Sequence[bool] | np.ndarray,
    k: int = 1,
) -> np.ndarray:
    """Alerts of a per-pair table under the rule: `candidates` (own score and area gates passed) that
    at least `k` overlapping, earlier-or-same-date pairs with `over` (score >= threshold) support.

    Pure: one row per pair, any order; returns a bool array in the same order. k=1 returns
    `candidates` where `over` (a candidate is over the threshold by its own gate)."""
    if k < 1:
        raise ValueError(f"persistence must be at least 1, not {k}")
    cand = np.asarray(candidates, dtype=bool)
    if k == 1:
        return cand & np.asarray(over, dtype=bool)
    rows = [
        ScoredPair(str(f), p, s, bool(o))
        for f, p, s, o in zip(frame_ids, primary_dates, secondary_dates, over, strict=True)
    ]
    by_frame: dict[str, list[ScoredPair]] = {}
    for r in rows:
        by_frame.setdefault(r.frame_id, []).append(r)
    return np.array(
        [bool(c) and support(r, by_frame[r.frame_id]) >= k for r, c in zip(rows, cand, strict=True)],
        dtype=bool,
    )
