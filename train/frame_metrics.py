"""Frame-level detection metrics over a per-pair table: how monitoring is judged (issue 23).

Every function takes plain per-pair arrays (one entry per scored pair): whole-frame scores, labels
(True: the pair shows deformation), alerts, frame ids and acquisition dates. Definitions:

- frame AUROC: the probability that a deformation pair scores above a pair without (ties count half),
  the Mann-Whitney rank formula; NaN when one of the classes is missing.
- precision / recall / F1 of the alerts; precision is NaN without alerts, recall NaN without positives.
- volcano-years: the sum over frames (one frame watches one volcano) of the span of its acquisition
  dates, earliest primary to latest secondary date, in years of 365.25 days. False alerts per
  volcano-year: alerted pairs without deformation divided by it.
- onset delay: per frame, acquisitions are the secondary dates in time order; an acquisition shows
  deformation when any of its pairs does. An episode is a run of such acquisitions after at least one
  that shows none (a frame that starts deformed has no known onset). Its delay is the number of
  acquisitions from the episode's first one to the first acquisition with an alerted deformation pair,
  0 when the first one is alerted; an episode with no such alert before it ends is missed.
- calibration: the lowest threshold whose false-alert rate on the given (validation) pairs is at most
  the stated rate.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

DAYS_PER_YEAR = 365.25
DEFAULT_SCORE_THRESHOLD = 0.5
"""The score threshold of a checkpoint that records no calibrated one (trained before calibration)."""


def _days(dates: Sequence[Any] | np.ndarray) -> np.ndarray:
    return np.asarray(dates, dtype="datetime64[D]").astype(np.int64)


def frame_auroc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float:
    """Area under the ROC curve of the scores for the labels (rank formula, ties averaged)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average rank (1-based) of each run of equal scores
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    for start, n in zip(first, counts, strict=True):
        ranks[order[start : start + n]] = start + (n + 1) / 2.0
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


@dataclass(frozen=True)
class Counts:
    """Alert counts against the labels."""

    true_alerts: int
    false_alerts: int
    missed: int
    positives: int

    @property
    def precision(self) -> float:
        alerts = self.true_alerts + self.false_alerts
        return self.true_alerts / alerts if alerts else math.nan

    @property
    def recall(self) -> float:
        return self.true_alerts / self.positives if self.positives else math.nan

    @property
    def f1(self) -> float:
        if not self.positives:
            return math.nan
        p, r = self.precision, self.recall
        if math.isnan(p) or p + r == 0:  # no alert, or none right
            return 0.0
        return 2 * p * r / (p + r)


def alert_counts(alerts: Sequence[bool] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> Counts:
    """True/false alerts and missed deformation pairs."""
    a = np.asarray(alerts, dtype=bool)
    y = np.asarray(labels, dtype=bool)
    return Counts(int((a & y).sum()), int((a & ~y).sum()), int((~a & y).sum()), int(y.sum()))


def precision_recall_f1(
    scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray, threshold: float
) -> tuple[float, float, float]:
    """(precision, recall, F1) of alerting every pair with score >= threshold."""
    c = alert_counts(np.asarray(scores, dtype=np.float64) >= threshold, labels)
    return c.precision, c.recall, c.f1


def volcano_years(
    frame_ids: Sequence[str], primary_dates: Sequence[Any], secondary_dates: Sequence[Any]
) -> float:
    """Sum over frames of (latest secondary date - earliest primary date) in years of 365.25 days."""
    frames = np.asarray(frame_ids, dtype=object)
    first, last = _days(primary_dates), _days(secondary_dates)
    total = 0
    for f in set(frames.tolist()):
        sel = frames == f
        total += int(last[sel].max() - first[sel].min())
    return total / DAYS_PER_YEAR


def false_alerts_per_volcano_year(
    alerts: Sequence[bool] | np.ndarray,
    labels: Sequence[bool] | np.ndarray,
    frame_ids: Sequence[str],
    primary_dates: Sequence[Any],
    secondary_dates: Sequence[Any],
) -> float:
    """Alerted pairs without deformation per volcano-year watched (NaN when no time is covered)."""
    years = volcano_years(frame_ids, primary_dates, secondary_dates) if len(frame_ids) else 0.0
    if years <= 0:
        return math.nan
    return alert_counts(alerts, labels).false_alerts / years


@dataclass(frozen=True)
class OnsetDelay:
    """Onset delays in acquisitions over the episodes of deformation with a known onset."""

    episodes: int
    delays: tuple[int, ...]  # one per detected episode
    missed: int

    @property
    def median(self) -> float | None:
        return float(np.median(self.delays)) if self.delays else None

    @property
    def max(self) -> int | None:
        return max(self.delays) if self.delays else None

    def record(self) -> dict[str, Any]:
        return {"episodes": self.episodes, "median": self.median, "max": self.max, "missed": self.missed}


@dataclass(frozen=True)
class Onset:
    """One episode of deformation with a known onset (module docstring): where, when it began and ended
    (secondary dates, as days since 1970-01-01), and its first alerted acquisition (None: missed)."""

    frame_id: str
    first_day: int
    last_day: int
    alert_day: int | None
    delay: int | None  # acquisitions from the onset to the first alert (None: missed)

    @property
    def first(self) -> dt.date:
        return dt.date(1970, 1, 1) + dt.timedelta(days=self.first_day)

    @property
    def last(self) -> dt.date:
        return dt.date(1970, 1, 1) + dt.timedelta(days=self.last_day)

    @property
    def alerted(self) -> dt.date | None:
        return None if self.alert_day is None else dt.date(1970, 1, 1) + dt.timedelta(days=self.alert_day)


def episode_onsets(
    alerts: Sequence[bool] | np.ndarray,
    labels: Sequence[bool] | np.ndarray,
    frame_ids: Sequence[str],
    secondary_dates: Sequence[Any],
) -> list[Onset]:
    """Every episode with a known onset and its first alert (module docstring), frame by frame in
    time order."""
    a = np.asarray(alerts, dtype=bool)
    y = np.asarray(labels, dtype=bool)
    frames = np.asarray(frame_ids, dtype=object)
    days = _days(secondary_dates)
    found: list[Onset] = []
    for f in sorted(set(frames.tolist())):
        sel = frames == f
        acq = np.unique(days[sel])
        shows = np.array([bool(y[sel & (days == d)].any()) for d in acq])
        alerted = np.array([bool((a & y)[sel & (days == d)].any()) for d in acq])
        k = 0
        while k < len(acq):
            if not shows[k] or k == 0 or shows[k - 1]:
                k += 1
                continue
            end = k
            while end < len(acq) and shows[end]:
                end += 1
            hits = np.flatnonzero(alerted[k:end])
            delay = int(hits[0]) if hits.size else None
            alert_day = None if delay is None else int(acq[k + delay])
            found.append(Onset(str(f), int(acq[k]), int(acq[end - 1]), alert_day, delay))
            k = end
    return found


def onset_delay(
    alerts: Sequence[bool] | np.ndarray,
    labels: Sequence[bool] | np.ndarray,
    frame_ids: Sequence[str],
    secondary_dates: Sequence[Any],
) -> OnsetDelay:
    """Delay from each episode's first deformation acquisition to its first alert (module docstring)."""
    onsets = episode_onsets(alerts, labels, frame_ids, secondary_dates)
    delays = tuple(o.delay for o in onsets if o.delay is not None)
    return OnsetDelay(len(onsets), delays, len(onsets) - len(delays))


@dataclass(frozen=True)
class Calibration:
    """A threshold chosen on validation pairs for a false-alert rate, and what it gives there."""

    threshold: float
    false_alerts_per_volcano_year: float  # the rate asked for
    achieved_rate: float  # the rate on these pairs at the threshold
    pairs: int
    negatives: int
    volcano_years: float

    def record(self) -> dict[str, Any]:
        return asdict(self)


def calibrate_threshold(
    scores: Sequence[float] | np.ndarray,
    labels: Sequence[bool] | np.ndarray,
    frame_ids: Sequence[str],
    secondary_dates: Sequence[Any],
    *,
    false_alerts_per_volcano_year: float,
    primary_dates: Sequence[Any] | None = None,
) -> Calibration:
    """The lowest threshold (alert: score >= threshold) whose false alerts per volcano-year on these
    pairs are at most the rate. Volcano-years span the primary dates too when given (else the secondary
    dates alone). With m false alerts allowed, that is just above the (m+1)-th highest score of a pair
    without deformation (0 when there are no more than m such pairs). It can exceed 1 when pairs without
    deformation score 1.0: no threshold up to 1 keeps the rate, and the checkpoint then never alerts."""
    if false_alerts_per_volcano_year < 0:
        raise ValueError("the false-alert rate must be >= 0")
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if not len(s):
        raise ValueError("no pairs to calibrate on")
    years = volcano_years(
        frame_ids, primary_dates if primary_dates is not None else secondary_dates, secondary_dates
    )
    allowed = int(math.floor(false_alerts_per_volcano_year * years + 1e-9))
    negatives = np.sort(s[~y])[::-1]
    if len(negatives) <= allowed:
        threshold = 0.0
    else:
        threshold = float(np.nextafter(negatives[allowed], np.inf))
    false = int((negatives >= threshold).sum())
    achieved = false / years if years > 0 else math.nan
    return Calibration(threshold, false_alerts_per_volcano_year, achieved, len(s), len(negatives), years)


def frame_metrics(
    scores: Sequence[float] | np.ndarray,
    labels: Sequence[bool] | np.ndarray,
    alerts: Sequence[bool] | np.ndarray,
    frame_ids: Sequence[str],
    primary_dates: Sequence[Any],
    secondary_dates: Sequence[Any],
) -> dict[str, Any]:
    """Every frame-level metric of one per-pair table, as JSON-ready values (NaN as None)."""
    c = alert_counts(alerts, labels)

    def clean(x: float) -> float | None:
        return None if x is None or math.isnan(x) else float(x)

    years = volcano_years(frame_ids, primary_dates, secondary_dates) if len(frame_ids) else 0.0
    return {
        "pairs": len(np.asarray(scores)),
        "positives": c.positives,
        "frames": len(set(frame_ids)),
        "volcano_years": years,
        "frame_auroc": clean(frame_auroc(scores, labels)),
        "precision": clean(c.precision),
        "recall": clean(c.recall),
        "f1": clean(c.f1),
        "alerts": c.true_alerts + c.false_alerts,
        "false_alerts": c.false_alerts,
        "false_alerts_per_volcano_year": clean(c.false_alerts / years) if years > 0 else None,
        "onset_delay": onset_delay(alerts, labels, frame_ids, secondary_dates).record(),
    }


def as_date(value: Any) -> dt.date:
    """A date from a date, datetime, numpy datetime64 or ISO text."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return np.datetime64(value, "D").astype(dt.date)
