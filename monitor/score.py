"""Score one new pair with the monitor's checkpoints and decide whether it is an alert.

A classifier gives the pair's score (the highest window probability over the frame, as `hmc predict`);
a segmenter gives the deformation mask (pixel probability >= thresholds.mask_probability). With only
a classifier the mask is its window-score map at the score threshold (coarse: windows, not outlines);
with only a segmenter the score is the highest pixel probability. Pixels without data never count.
Both models read the pair exactly as training read it (`train.predict.prediction_input`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from hephaestus.monitor.config import MonitorConfig
from hephaestus.monitor.detect import Detection, describe
from hephaestus.platform import schema, storage, volcanoes
from hephaestus.platform.cube import dataset_version, open_cube
from hephaestus.platform.errors import InputError
from hephaestus.platform.pairs import pair_uid
from hephaestus.train.predict import (
    LoadedModel,
    load_checkpoint,
    pair_indices,
    prediction_input,
    sliding_prediction,
)


class MonitorCheckpointError(InputError):
    """The checkpoints given to the monitor are not one classifier and/or one segmenter."""


@dataclass(frozen=True)
class Prediction:
    score: float
    mask: np.ndarray  # bool [lat, lon]


class Scorer:
    """The monitor's models, loaded once per cycle, and the rules that make a scored pair an alert."""

    def __init__(self, cfg: MonitorConfig) -> None:
        self.cfg = cfg
        models = [load_checkpoint(c) for c in cfg.checkpoints]
        by_task: dict[str, LoadedModel] = {}
        for url, m in zip(cfg.checkpoints, models, strict=True):
            if m.run.task in by_task:
                raise MonitorCheckpointError(
                    f"{storage.redact(url)}: a second {m.run.task} checkpoint; give one classifier and/or "
                    "one segmenter"
                )
            by_task[m.run.task] = m
        self.classifier = by_task.get("classification")
        self.segmenter = by_task.get("segmentation")
        self.name = "+".join(m.run.run_id for m in models)
        self._cubes: dict[str, xr.Dataset] = {}

    def _cube(self, url: str) -> xr.Dataset:
        if url not in self._cubes:
            self._cubes[url] = open_cube(url)
        return self._cubes[url]

    def _probability(self, model: LoadedModel, ds: xr.Dataset, cube_url: str, i: int, j: int) -> np.ndarray:
        image = prediction_input(model.spec, ds, cube_url, i, j, self.cfg.store)
        window = min(model.spec.crop_size, max(image.shape[1:]))
        return sliding_prediction(model.module, image, model.run.task, window, self.cfg.batch_size)

    def predict(self, ds: xr.Dataset, cube_url: str, i: int, j: int, valid: np.ndarray) -> Prediction:
        """The pair's score and deformation mask (pixels with data only)."""
        t = self.cfg.thresholds
        score_map = prob = None
        if self.classifier is not None:
            score_map = self._probability(self.classifier, ds, cube_url, i, j)
        if self.segmenter is not None:
            prob = self._probability(self.segmenter, ds, cube_url, i, j)
        if prob is not None:
            mask = (prob >= t.mask_probability) & valid
        else:
            assert score_map is not None
            mask = (score_map >= t.score) & valid
        if score_map is not None:
            score = float(np.max(np.where(valid, score_map, 0.0)))
        else:
            assert prob is not None
            score = float(np.max(np.where(valid, prob, 0.0)))
        return Prediction(score, mask)

    def assess(
        self, pair: Mapping[str, Any], now: dt.datetime
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Score one catalog pair row: its scores-table row and, when it passes the thresholds, its alert row."""
        cube_url = str(pair["cube_url"])
        ds = self._cube(cube_url)
        primary, secondary = pair["primary_date"], pair["secondary_date"]
        i, j = pair_indices(ds, primary, secondary)
        phase = np.asarray(ds["insar_difference"].isel({schema.PRIMARY: i, schema.SECONDARY: j}).values)
        valid = np.isfinite(phase) & (phase != 0)
        lat, lon = ds[schema.LAT].values, ds[schema.LON].values
        pred = self.predict(ds, cube_url, i, j, valid)
        found: Detection = describe(pred.mask, phase, lat, lon)
        t = self.cfg.thresholds
        alert = pred.score >= t.score and found.area_km2 >= t.min_area_km2 and found.area_km2 > 0
        where = found.centroid or (float(lat.mean()), float(lon.mean()))
        volcano = self._volcano(*where)
        uid = pair_uid(str(pair["frame_id"]), primary, secondary)
        row = {
            "uid": uid,
            "frame_id": str(pair["frame_id"]),
            "volcano": volcano.name if volcano else None,
            "volcano_number": volcano.number if volcano else None,
            "primary_date": primary,
            "secondary_date": secondary,
            "score": pred.score,
            "deformed_area_km2": found.area_km2,
            "alert": bool(alert),
            "checkpoint": self.name,
            "cube_version": dataset_version(ds),  # the view the pair was read from
            "scored_at": now,
        }
        if not alert:
            return row, None
        keep = ("uid", "frame_id", "volcano", "volcano_number", "primary_date", "secondary_date", "score")
        alert_row = {
            "alert_id": uid,
            **{k: row[k] for k in keep},
            "deformed_area_km2": found.area_km2,
            "fringe_count": found.fringes,
            "intensity": found.intensity,
            "polygon": found.polygon,
            "checkpoint": self.name,
            "cube_version": row["cube_version"],
            "detected_at": now,
        }
        return row, alert_row

    def _volcano(self, lat: float, lon: float) -> volcanoes.GvpVolcano | None:
        table = self.cfg.volcanoes or volcanoes.DEFAULT_GVP
        try:
            return volcanoes.nearest(lat, lon, table, self.cfg.max_volcano_km)
        except volcanoes.VolcanoTableError:
            if self.cfg.volcanoes:  # a table the user named must be readable
                raise
            return None  # no GVP table beside this checkout: alerts name no volcano


def new_pairs(pairs: Sequence[Mapping[str, Any]], done: set[str]) -> list[Mapping[str, Any]]:
    """Catalog pair rows with a product in a cube that no earlier cycle scored, oldest acquisition first."""
    todo = [
        p
        for p in pairs
        if p.get("has_product")
        and p.get("cube_url")
        and pair_uid(p["frame_id"], p["primary_date"], p["secondary_date"]) not in done
    ]
    return sorted(todo, key=lambda p: (p["secondary_date"], p["primary_date"], p["frame_id"]))
