"""Which scored pairs may alert: the monitor scores a store's whole history, but alerts only on what is new.

An observatory acts on pairs acquired after the model was made, not on the seven years of backlog the
first cycle over a store scores for the timelines, nor on pairs the model was trained or validated on.
Every scored pair therefore gets `alert_blocked` (scores table), the first rule it meets of:

1. "unusable": the catalog marks the pair unusable (`usable` false: corrupted, no information, ...);
2. "training_pair": the pair is in the train or validation split of a monitor checkpoint's split scheme
   (the catalog's `split` or `volcano_split` column), acquired no later than that checkpoint's training
   data ends (`trained_until`; with none recorded, whatever its date);
3. "before_since": its secondary date is before the start date `since`: the configured one
   (`--since DATE`), else the day after the latest `trained_until` of the checkpoints (none recorded:
   no start date).

A blocked pair is scored and kept (timelines, episodes' quiet pairs, the persistence rule's support) and
never alerts; `alert_blocked` is null for a pair that could alert (it did when `alert` is true).

What a checkpoint says of its training data (`CheckpointTraining`): the training loop writes
`trained_until` (train/loop.py `TRAINED_UNTIL_KEY`) and `state.json` into every checkpoint. One trained
before `trained_until` was recorded (state.json, no date) blocks its splits' pairs whatever their date and
gives no default start date; one without either (made by hand, imported) records no training data: none of
its pairs count as training pairs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from hephaestus.platform import schema, storage
from hephaestus.platform.layout import CheckpointFiles
from hephaestus.train.frame_metrics import as_date
from hephaestus.train.loop import TRAINED_UNTIL_KEY
from hephaestus.train.predict import PredictError, resolve_checkpoint

BlockReason = Literal["unusable", "training_pair", "before_since"]
BLOCK_REASONS: Final[tuple[BlockReason, ...]] = ("unusable", "training_pair", "before_since")
"""The values of the scores table's `alert_blocked`, in the order the rules are applied."""
SinceSource = Literal["config", "checkpoint", "none"]
TRAINING_SPLITS: Final = ("train", "val")


@dataclass(frozen=True)
class CheckpointTraining:
    """What one checkpoint records of the data it was trained on."""

    checkpoint: str
    recorded: bool  # written by the training loop (state.json)
    split_scheme: str = schema.DEFAULT_SPLIT_SCHEME
    trained_until: dt.date | None = None  # latest secondary date of its train and validation pairs

    def trained_on(self, pair: Mapping[str, Any]) -> bool:
        """Whether `pair` (a catalog pair row) is one of this checkpoint's train or validation pairs: in
        those splits of its scheme and acquired by `trained_until` (none recorded: any date, when the
        training loop wrote the checkpoint; never, when nothing says it was trained on this catalog)."""
        if self.trained_until is None and not self.recorded:
            return False
        if pair.get(schema.split_column(self.split_scheme)) not in TRAINING_SPLITS:
            return False
        return self.trained_until is None or as_date(pair["secondary_date"]) <= self.trained_until


def checkpoint_training(url: str) -> CheckpointTraining:
    """Read what the checkpoint (or run folder: its newest checkpoint) at `url` records of its training."""
    folder = resolve_checkpoint(url)
    where = storage.redact(folder)
    try:
        info = json.loads(storage.read_bytes(storage.join(folder, CheckpointFiles.INPUT)))
        run = json.loads(storage.read_bytes(storage.join(folder, CheckpointFiles.RUN)))
    except (OSError, ValueError) as exc:
        raise PredictError(f"{where}: cannot read the checkpoint's records ({exc})") from exc
    until = info.get(TRAINED_UNTIL_KEY)
    try:
        trained_until = None if until is None else dt.date.fromisoformat(str(until))
    except ValueError as exc:
        raise PredictError(f"{where}: {TRAINED_UNTIL_KEY} {until!r} is not a date (YYYY-MM-DD)") from exc
    scheme = str(run.get("split_scheme") or schema.DEFAULT_SPLIT_SCHEME)
    schema.split_column(scheme)  # a scheme this version does not know fails here, named
    return CheckpointTraining(
        checkpoint=where,
        recorded=storage.exists(storage.join(folder, CheckpointFiles.STATE)),
        split_scheme=scheme,
        trained_until=trained_until,
    )


@dataclass(frozen=True)
class Baseline:
    """The start date and the checkpoints' training data: what decides `alert_blocked` (module docstring)."""

    since: dt.date | None
    since_source: SinceSource
    training: tuple[CheckpointTraining, ...] = ()

    @classmethod
    def resolve(cls, since: dt.date | None, training: Iterable[CheckpointTraining]) -> Baseline:
        """The configured start date, else the day after the checkpoints' latest `trained_until`."""
        training = tuple(training)
        if since is not None:
            return cls(since, "config", training)
        ends = [t.trained_until for t in training if t.trained_until is not None]
        if ends:
            return cls(max(ends) + dt.timedelta(days=1), "checkpoint", training)
        return cls(None, "none", training)

    @classmethod
    def of_checkpoints(cls, since: dt.date | None, checkpoints: Iterable[str]) -> Baseline:
        return cls.resolve(since, (checkpoint_training(c) for c in checkpoints))

    def blocked(self, pair: Mapping[str, Any]) -> BlockReason | None:
        """Why the catalog pair row `pair` may not alert (None: it may)."""
        if pair.get("usable") is False:
            return "unusable"
        if any(t.trained_on(pair) for t in self.training):
            return "training_pair"
        if self.since is not None and as_date(pair["secondary_date"]) < self.since:
            return "before_since"
        return None

    def describe(self) -> str:
        """One phrase for the cycle's summary line."""
        if self.since is None:
            return "alerts on any date"
        why = "configured" if self.since_source == "config" else "after the checkpoint's training data"
        return f"alerts from {self.since.isoformat()} ({why})"
