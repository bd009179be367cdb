"""`hmc evaluate`: score every pair of chosen frames as the monitor would, and judge the alerts.

The crops of the benchmark (Tables 3/4) are placed around the deformation; monitoring scores whole frames.
This evaluation runs each catalog pair with a product through the monitor's own `Scorer` (whole-frame
score, deformed area, alert rule, threshold resolution), applies the persistence rule
(`monitor.persistence`), and reports the frame-level metrics of `train.frame_metrics` against the
catalog's labels (`positive`). Nothing is written to the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hephaestus import catalog
from hephaestus.monitor.config import MonitorConfig, Thresholds
from hephaestus.monitor.persistence import persistent
from hephaestus.monitor.score import Scorer, new_pairs
from hephaestus.platform import schema, storage
from hephaestus.platform.cube import CubeUnreadableError
from hephaestus.platform.errors import InputError
from hephaestus.train.frame_metrics import as_date, frame_metrics
from hephaestus.train.metrics import trivial_baseline
from hephaestus.train.predict import PredictError


class EvaluateError(InputError):
    """Nothing to evaluate: no pair of the chosen split and frames has a product in a cube."""


@dataclass
class Evaluation:
    """The per-pair table and the metrics of one evaluation."""

    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def select_pairs(
    store: str,
    split: str | None = None,
    split_scheme: str = schema.DEFAULT_SPLIT_SCHEME,
    frames: Sequence[str] | None = None,
) -> list[Mapping[str, Any]]:
    """The catalog pairs the monitor would score (a product in a cube) of the split and frames, oldest
    acquisition first."""
    rows = catalog.read_pairs(store, split=split, split_scheme=split_scheme).to_pylist()
    if frames:
        wanted = set(frames)
        unknown = wanted - {r["frame_id"] for r in rows}
        if unknown:
            raise EvaluateError(
                f"frames not in the catalog's {split or 'pairs'}: {', '.join(sorted(unknown))}"
            )
        rows = [r for r in rows if r["frame_id"] in wanted]
    return new_pairs(rows, set())


def evaluate(
    checkpoints: Sequence[str],
    store: str,
    *,
    split: str | None = None,
    split_scheme: str = schema.DEFAULT_SPLIT_SCHEME,
    frames: Sequence[str] | None = None,
    threshold: float | None = None,
    persistence: int = 1,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Score the pairs of `store` (split, frames) with the checkpoints as `hmc monitor` does and return the
    metrics. `threshold`: None uses the checkpoint's calibrated one (else 0.5); `persistence`: K of the
    persistence rule (1: each pair alone). `progress(done, total)` is called after each pair."""
    pairs = select_pairs(store, split, split_scheme, frames)
    if not pairs:
        raise EvaluateError(
            f"{storage.redact(store)}: no pair with a product in the {split or 'whole'} catalog"
            + (f" of frames {', '.join(frames)}" if frames else "")
        )
    given = {"thresholds": Thresholds(score=threshold)} if threshold is not None else {}
    cfg = MonitorConfig(
        sources=store, store=store, checkpoints=tuple(checkpoints), persistence=persistence,
        batch_size=batch_size, **given,
    )  # fmt: skip
    scorer = Scorer(cfg)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for k, pair in enumerate(pairs, start=1):
        try:
            row, _ = scorer.assess(pair, now)
        except (PredictError, CubeUnreadableError) as exc:  # as the monitor: this pair only
            skipped[f"{pair['frame_id']} {pair['primary_date']}_{pair['secondary_date']}"] = str(exc)
        else:
            rows.append({**row, "positive": bool(pair["positive"]), "split": pair.get("split")})
        if progress is not None:
            progress(k, len(pairs))
    summary = summarise(rows, scorer.threshold, persistence)
    summary.update(
        threshold_source="flag" if threshold is not None else scorer.threshold_source,
        split=split,
        split_scheme=split_scheme,
        checkpoint=scorer.name,
        skipped=len(skipped),
    )
    return Evaluation(summary, rows, skipped)


def summarise(rows: Sequence[Mapping[str, Any]], threshold: float, persistence: int = 1) -> dict[str, Any]:
    """The frame-level metrics of scored rows (the scores table's columns plus `positive`) at a threshold
    and persistence K; the rows' `alert` is the monitor's own decision (score and area gates)."""
    frame_ids = [str(r["frame_id"]) for r in rows]
    primary = [as_date(r["primary_date"]) for r in rows]
    secondary = [as_date(r["secondary_date"]) for r in rows]
    scores = np.array([float(r["score"]) for r in rows], dtype=np.float64)
    labels = np.array([bool(r["positive"]) for r in rows], dtype=bool)
    candidates = np.array([bool(r["alert"]) for r in rows], dtype=bool)
    alerts = persistent(frame_ids, primary, secondary, scores >= threshold, candidates, persistence)
    got = frame_metrics(scores, labels, alerts, frame_ids, primary, secondary)
    return {**got, "threshold": float(threshold), "persistence": persistence, "trivial": trivial_row(got)}


def trivial_row(got: Mapping[str, Any]) -> dict[str, float | None]:
    """What the trivial monitor that alerts on every pair scores on the same pairs: its precision is the
    share of pairs with deformation, its recall 1, its AUROC 0.5, and every pair without deformation is
    a false alert. The line every frame-level score is read against."""
    pairs, positives, years = got["pairs"], got["positives"], got["volcano_years"]
    if not pairs:
        return {}
    base = trivial_baseline("classification", positives / pairs)
    base["frame_auroc"] = base.pop("auroc")
    base["false_alerts_per_volcano_year"] = (pairs - positives) / years if years else None
    return base
