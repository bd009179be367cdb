"""Score one new pair with the monitor's checkpoints and decide whether it is an alert.

The score and mask come from whole-frame scoring (`train.frame_score.FrameModels`, shared with
`hmc evaluate` and the trainer's threshold calibration): a classifier gives the pair's score (the highest
window probability over the frame, as `hmc predict`); a segmenter gives the deformation mask (pixel
probability >= thresholds.mask_probability). A pair is an alert when its score passes the threshold
(calibrated in the checkpoint unless configured) and its deformed area passes thresholds.min_area_km2;
`monitor.persistence` may further ask overlapping pairs to agree, and `monitor.baseline` keeps the backlog,
training pairs and unusable pairs from alerting (the cycle applies both: `hmc evaluate` scores through
`assess` too, and judges the gates alone).
A row names the volcano inside the pair's frame nearest its detection (or the frame's centre), as people
write it; none, with `volcano_note` saying why, when the nearest listed volcano lies outside the frame.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from hephaestus.monitor.config import MonitorConfig
from hephaestus.monitor.detect import Detection, describe
from hephaestus.platform import schema, volcanoes
from hephaestus.platform.cube import dataset_version, open_cube
from hephaestus.platform.pairs import pair_uid
from hephaestus.train.frame_metrics import DEFAULT_SCORE_THRESHOLD
from hephaestus.train.frame_score import (
    FrameCheckpointError,
    FrameModels,
    FramePrediction,
    ThresholdSource,
    pair_phase,
)
from hephaestus.train.predict import pair_indices

MonitorCheckpointError = FrameCheckpointError
"""The checkpoints given to the monitor are not one classifier and/or one segmenter."""

Prediction = FramePrediction


class Scorer:
    """The monitor's models, loaded once per cycle, and the rules that make a scored pair an alert.

    The score threshold is the classifier checkpoint's calibrated one (`threshold_from: checkpoint`, the
    default) or `thresholds.score` (`threshold_from: config`, or a checkpoint that records none):
    `threshold` and `threshold_source` say which.
    """

    def __init__(self, cfg: MonitorConfig, models: FrameModels | None = None) -> None:
        self.cfg = cfg
        self.models = models or FrameModels.load(cfg.checkpoints, cfg.store, cfg.batch_size)
        self.classifier = self.models.classifier
        self.segmenter = self.models.segmenter
        self.name = self.models.name
        self.threshold, self.threshold_source = self.resolve_threshold(cfg, self.models)
        self._cubes: dict[str, xr.Dataset] = {}

    @staticmethod
    def resolve_threshold(cfg: MonitorConfig, models: FrameModels) -> tuple[float, ThresholdSource]:
        """(score threshold, "checkpoint" / "config" / "default") of this configuration and these models."""
        if cfg.threshold_from == "config":
            return cfg.thresholds.score, "config"
        recorded = models.calibrated_threshold()
        if recorded is not None:
            return recorded, "checkpoint"
        return (
            cfg.thresholds.score,
            "default" if cfg.thresholds.score == DEFAULT_SCORE_THRESHOLD else "config",
        )

    def _cube(self, url: str) -> xr.Dataset:
        if url not in self._cubes:
            self._cubes[url] = open_cube(url)
        return self._cubes[url]

    def predict(self, ds: xr.Dataset, cube_url: str, i: int, j: int, valid: np.ndarray) -> Prediction:
        """The pair's score and deformation mask (pixels with data only)."""
        return self.models.predict(
            ds, cube_url, i, j, valid, self.threshold, self.cfg.thresholds.mask_probability
        )

    def assess(
        self, pair: Mapping[str, Any], now: dt.datetime
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Score one catalog pair row: its scores-table row and, when it passes the thresholds, its alert row."""
        cube_url = str(pair["cube_url"])
        ds = self._cube(cube_url)
        primary, secondary = pair["primary_date"], pair["secondary_date"]
        i, j = pair_indices(ds, primary, secondary)
        phase, valid = pair_phase(ds, i, j)
        lat, lon = ds[schema.LAT].values, ds[schema.LON].values
        pred = self.predict(ds, cube_url, i, j, valid)
        found: Detection = describe(pred.mask, phase, lat, lon)
        t = self.cfg.thresholds
        alert = pred.score >= self.threshold and found.area_km2 >= t.min_area_km2 and found.area_km2 > 0
        where = found.centroid or (float(lat.mean()), float(lon.mean()))
        place = self._volcano(*where, volcanoes.footprint(lat, lon))
        uid = pair_uid(str(pair["frame_id"]), primary, secondary)
        row = {
            "uid": uid,
            "frame_id": str(pair["frame_id"]),
            "volcano": place.name,
            "volcano_number": place.number,
            "volcano_note": place.note,
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
        keep = ("uid", "frame_id", "volcano", "volcano_number", "volcano_note", "primary_date")
        keep += ("secondary_date", "score")
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

    def _volcano(self, lat: float, lon: float, frame: volcanoes.Bbox) -> volcanoes.Placement:
        """The volcano of a detection at (lat, lon) in a frame of footprint `frame`: the listed one inside
        the frame nearest it (platform.volcanoes.place), named as people write it; none with a note when
        the nearest listed volcano lies outside the frame."""
        table = self.cfg.volcanoes or volcanoes.DEFAULT_GVP
        try:
            return volcanoes.place(lat, lon, frame, table, self.cfg.max_volcano_km)
        except volcanoes.VolcanoTableError:
            if self.cfg.volcanoes:  # a table the user named must be readable
                raise
            return volcanoes.Placement(None, "no volcano list")  # no GVP table beside this checkout


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
