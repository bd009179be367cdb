"""Whole-frame scoring of one pair: the one code path the monitor alerts with and training calibrates with.

A classifier gives the pair's score: the highest window probability over the whole frame (windows of the
training crop size, half-window stride, `train.predict.sliding_prediction`). A segmenter gives the
deformation mask (pixel probability >= `mask_probability`). With only a classifier the mask is its
window-score map at the score threshold (coarse: windows, not outlines); with only a segmenter the score
is the highest pixel probability. Pixels without data never count. Both models read the pair exactly as
training read it (`train.predict.prediction_input`).

`hmc monitor` (monitor/score.py), `hmc evaluate` (monitor/evaluate.py) and the trainer's threshold
calibration (train/trainer.py) all score through `FrameModels.predict`, so what is calibrated and
evaluated is what the monitor alerts on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr

from hephaestus.platform import schema, storage
from hephaestus.platform.cube import open_cube
from hephaestus.platform.errors import InputError
from hephaestus.platform.layout import CheckpointFiles
from hephaestus.train.frame_metrics import (
    DEFAULT_SCORE_THRESHOLD,
    Calibration,
    as_date,
    calibrate_threshold,
    frame_auroc,
    frame_metrics,
)
from hephaestus.train.predict import (
    RATE_KEY,
    THRESHOLD_KEY,
    LoadedModel,
    PredictError,
    load_checkpoint,
    pair_indices,
    prediction_input,
    resolve_checkpoint,
    sliding_prediction,
)

ThresholdSource = Literal["checkpoint", "config", "flag", "default"]


class FrameCheckpointError(InputError):
    """The checkpoints given for whole-frame scoring are not one classifier and/or one segmenter."""


@dataclass(frozen=True)
class FramePrediction:
    """One pair scored over its whole frame."""

    score: float
    mask: np.ndarray  # bool [lat, lon], pixels with data only


def pair_phase(ds: xr.Dataset, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """(wrapped phase, pixels with data) of pair (i, j): no data is NaN or exactly 0."""
    phase = np.asarray(ds["insar_difference"].isel({schema.PRIMARY: i, schema.SECONDARY: j}).values)
    return phase, np.isfinite(phase) & (phase != 0)


@dataclass
class FrameModels:
    """A classifier and/or a segmenter, loaded once, that score pairs over their whole frame."""

    classifier: LoadedModel | None
    segmenter: LoadedModel | None
    name: str
    store: str | None = None
    batch_size: int = 8

    @classmethod
    def load(cls, checkpoints: Sequence[str], store: str | None = None, batch_size: int = 8) -> FrameModels:
        """Load the checkpoints (one per task at most); `store`: the catalog series models read."""
        by_task: dict[str, LoadedModel] = {}
        names = []
        for url in checkpoints:
            m = load_checkpoint(url)
            if m.run.task in by_task:
                raise FrameCheckpointError(
                    f"{storage.redact(url)}: a second {m.run.task} checkpoint; give one classifier and/or "
                    "one segmenter"
                )
            by_task[m.run.task] = m
            names.append(m.run.run_id)
        return cls(
            by_task.get("classification"), by_task.get("segmentation"), "+".join(names), store, batch_size
        )

    def calibrated_threshold(self) -> float | None:
        """The score threshold recorded in the checkpoint that gives the score (None: none recorded)."""
        scoring = self.classifier or self.segmenter
        return None if scoring is None else scoring.threshold

    def probability(self, model: LoadedModel, ds: xr.Dataset, cube_url: str, i: int, j: int) -> np.ndarray:
        """The model's whole-frame map for pair (i, j): window scores (classifier) or pixel probabilities."""
        image = prediction_input(model.spec, ds, cube_url, i, j, self.store)
        window = min(model.spec.crop_size, max(image.shape[1:]))
        return sliding_prediction(model.module, image, model.run.task, window, self.batch_size)

    def predict(
        self,
        ds: xr.Dataset,
        cube_url: str,
        i: int,
        j: int,
        valid: np.ndarray,
        score_threshold: float,
        mask_probability: float = 0.5,
    ) -> FramePrediction:
        """The pair's score and deformation mask (pixels with data only)."""
        score_map = prob = None
        if self.classifier is not None:
            score_map = self.probability(self.classifier, ds, cube_url, i, j)
        if self.segmenter is not None:
            prob = self.probability(self.segmenter, ds, cube_url, i, j)
        if prob is not None:
            mask = (prob >= mask_probability) & valid
        else:
            assert score_map is not None
            mask = (score_map >= score_threshold) & valid
        scored = score_map if score_map is not None else prob
        assert scored is not None
        return FramePrediction(float(np.max(np.where(valid, scored, 0.0))), mask)

    def score(self, ds: xr.Dataset, cube_url: str, i: int, j: int) -> float:
        """The pair's whole-frame score alone (what calibration and AUROC need)."""
        _, valid = pair_phase(ds, i, j)
        return self.predict(ds, cube_url, i, j, valid, DEFAULT_SCORE_THRESHOLD).score


def located_pairs(
    rows: Iterable[Mapping[str, Any]],
) -> Iterator[tuple[Mapping[str, Any], xr.Dataset, str, int, int]]:
    """(row, its cube, the cube's URL, primary index, secondary index) of every catalog pair row that its
    cube holds: each cube opened once, a pair its cube lacks left out."""
    cubes: dict[str, xr.Dataset] = {}
    for row in rows:
        url = str(row["cube_url"])
        if url not in cubes:
            cubes[url] = open_cube(url)
        try:
            i, j = pair_indices(cubes[url], row["primary_date"], row["secondary_date"])
        except PredictError:
            continue
        yield row, cubes[url], url, i, j


def score_pairs(
    models: FrameModels, pairs: Sequence[Mapping[str, Any]]
) -> tuple[list[Mapping[str, Any]], list[float]]:
    """Whole-frame scores of catalog pair rows (those with a cube; a pair its cube lacks, or that no
    series of the catalog holds for a series model, is left out): (the rows scored, their scores)."""
    kept, scores = [], []
    for pair, ds, url, i, j in located_pairs(pairs):
        try:
            score = models.score(ds, url, i, j)
        except PredictError:  # (series model) in no series of the catalog
            continue
        kept.append(pair)
        scores.append(score)
    return kept, scores


def scoring_rows(store: str, split: str, split_scheme: str) -> list[dict[str, Any]]:
    """The catalog pair rows of `split` (of `split_scheme`) that whole-frame scoring can read: with a
    product and a cube."""
    from hephaestus import catalog

    return [
        p
        for p in catalog.read_pairs(store, split=split, split_scheme=split_scheme).to_pylist()
        if p.get("has_product") and p.get("cube_url")
    ]


@dataclass
class FrameValidation:
    """Validation pairs scored whole-frame during training, to choose a monitoring classifier's epoch.

    Why: on volcanoes held out of training, the validation loss of centred crops is lowest in the first
    epoch or two (the network grows confident on the volcanoes it trains on, and wrong elsewhere), so
    choosing by it keeps a nearly untrained network, while the whole-frame AUROC of the same validation
    pairs follows what the monitor will see (docs/detection.md). The pairs are an evenly spaced subset
    (at most `most`, spread over frames and dates) whose cube indices are resolved once.
    """

    store: str
    pairs: list[tuple[xr.Dataset, str, int, int, bool]]  # (cube, its URL, primary, secondary index, positive)

    @classmethod
    def load(cls, store: str, split_scheme: str, most: int) -> FrameValidation | None:
        """The validation pairs of `store`; None when they lack pairs with or without deformation (no
        AUROC can be measured there)."""
        rows = sorted(
            scoring_rows(store, "val", split_scheme),
            key=lambda r: (str(r["frame_id"]), str(r["secondary_date"])),
        )
        if len(rows) > most:
            rows = [rows[int(k * len(rows) / most)] for k in range(most)]
        pairs = [(ds, url, i, j, bool(row["positive"])) for row, ds, url, i, j in located_pairs(rows)]
        labels = {p[4] for p in pairs}
        return cls(store, pairs) if labels == {True, False} else None

    def auroc(self, model: LoadedModel, batch_size: int = 8) -> float:
        """Whole-frame AUROC of `model` (a classifier, in eval mode) on the pairs, as the monitor scores."""
        models = FrameModels(model, None, model.run.run_id, self.store, batch_size)
        scores = [models.score(ds, url, i, j) for ds, url, i, j, _ in self.pairs]
        return frame_auroc(scores, [p[4] for p in self.pairs])


def calibrate_checkpoint(
    checkpoint: str, store: str, rate: float, batch_size: int = 8, split_scheme: str = "paper"
) -> Calibration | None:
    """Choose the checkpoint's score threshold on the validation pairs of `store` (scored whole-frame; the
    validation split of the run's own `split_scheme`, so held-out volcanoes stay unseen)
    for `rate` false alerts per volcano-year and record it in its `input.json` (the weights stay as they
    are). None (nothing recorded) when the validation split has no pair with a cube or none without
    deformation: no false-alert rate can be measured there."""

    models = FrameModels.load([checkpoint], store, batch_size)
    rows, scores = score_pairs(models, scoring_rows(store, "val", split_scheme))
    labels = [bool(r["positive"]) for r in rows]
    if not rows or all(labels):
        return None
    cal = calibrate_threshold(
        scores,
        labels,
        [str(r["frame_id"]) for r in rows],
        [r["secondary_date"] for r in rows],
        primary_dates=[r["primary_date"] for r in rows],
        false_alerts_per_volcano_year=rate,
    )
    url = storage.join(resolve_checkpoint(checkpoint), CheckpointFiles.INPUT)
    info = json.loads(storage.read_bytes(url))
    info.update({THRESHOLD_KEY: cal.threshold, RATE_KEY: rate, "threshold_calibration": cal.record()})
    storage.write_text_atomic(url, json.dumps(info))
    return cal


FRAME_METRICS: tuple[str, ...] = ("frame_auroc", "precision", "recall", "f1", "false_alerts_per_volcano_year")
"""The whole-frame test metrics a benchmark run records beside the paper's crop metrics (`frame_test_*`)."""


def frame_test_metrics(
    checkpoint: str, store: str, split_scheme: str = "paper", batch_size: int = 8
) -> dict[str, float]:
    """A classifier's whole-frame metrics on the test pairs of its split scheme, at its recorded threshold
    (else 0.5): what the monitor would alert on those pairs (a classifier alone alerts when the frame's
    score reaches the threshold: its window-map mask is then at least one window, above any area gate).
    Keys `frame_test_<name>` for `FRAME_METRICS` and `frame_test_onset_delay_median`; empty when the
    test split has no pair with a cube."""

    models = FrameModels.load([checkpoint], store, batch_size)
    rows, scores = score_pairs(models, scoring_rows(store, "test", split_scheme))
    if not rows:
        return {}
    threshold = models.calibrated_threshold()
    threshold = DEFAULT_SCORE_THRESHOLD if threshold is None else threshold
    got = frame_metrics(
        scores,
        [bool(r["positive"]) for r in rows],
        [s >= threshold for s in scores],
        [str(r["frame_id"]) for r in rows],
        [as_date(r["primary_date"]) for r in rows],
        [as_date(r["secondary_date"]) for r in rows],
    )
    out = {f"frame_test_{k}": float("nan") if got[k] is None else float(got[k]) for k in FRAME_METRICS}
    median = got["onset_delay"].get("median")
    out["frame_test_onset_delay_median"] = float("nan") if median is None else float(median)
    out["frame_test_threshold"] = float(threshold)
    return out
