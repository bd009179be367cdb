"""Which epoch a run keeps: the lowest validation loss (the paper's), or for a monitoring classifier
(frame windows) the highest AUROC of its validation pairs scored whole-frame, as the monitor scores them.

The expectation comes from the run's own per-epoch record, not from the code that chooses: the kept epoch
must be the arg-max (arg-min) of the recorded column, and the kept weights, scored by `hmc evaluate` on the
validation pairs, must give the recorded whole-frame AUROC of that epoch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hephaestus.train.config import RunConfig
from hephaestus.train.trainer import train_run


def _history(out: Path, run: RunConfig) -> list[dict]:
    lines = (out / "history" / f"{run.run_id}.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines]


def _run(**kw) -> RunConfig:  # type: ignore[no-untyped-def]
    base = dict(
        model="mobilenetv3_large_100", epochs=4, crop_size=32, max_offset=4, batch_size=4, workers=1,
        weights="random", augment=False, atmosphere=False, mlflow_tracking_uri="off", alert_rate=None,
    )  # fmt: skip
    return RunConfig(**{**base, **kw})


def test_selection_follows_the_task_and_windows() -> None:
    assert _run().selection == "val_loss"  # the paper's crops
    assert _run(windows="frame").selection == "val_frame_auroc"  # a monitoring classifier
    assert _run(model="unet", windows="frame").selection == "val_loss"
    assert _run(windows="frame", select_by="val_loss").selection == "val_loss"
    assert _run(windows="frame").recorded()["select_by"] == "val_frame_auroc"


@pytest.mark.timeout(600)
def test_a_frame_window_run_keeps_its_best_whole_frame_epoch(
    ray_local, split_store: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    run = _run(windows="frame", lr=3e-3, epochs=5, frame_val_every=2)
    result = train_run(run, str(split_store), str(tmp_path / "frame"))
    epochs = [r for r in _history(tmp_path / "frame", run) if not r.get("done")]
    # scored every second epoch and after the last: epochs 1, 3 and 4 (0-based); only they can be kept
    scored = {r["epoch"]: r["val_frame_auroc"] for r in epochs if "val_frame_auroc" in r}
    assert sorted(scored) == [1, 3, 4] and all(0.0 <= a <= 1.0 for a in scored.values())
    aurocs = [scored.get(e, -1.0) for e in range(5)]
    assert result.best_epoch == int(np.argmax(aurocs))  # the first of equal maxima
    from hephaestus.monitor.evaluate import evaluate

    kept = evaluate([result.checkpoint], str(split_store), split="val", split_scheme="paper")
    assert kept.summary["frame_auroc"] == pytest.approx(aurocs[result.best_epoch])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_run_told_so_keeps_its_lowest_validation_loss(ray_local, split_store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    loss_run = _run(windows="frame", lr=3e-3, select_by="val_loss")
    result = train_run(loss_run, str(split_store), str(tmp_path / "loss"))
    epochs = [r for r in _history(tmp_path / "loss", loss_run) if not r.get("done")]
    assert "val_frame_auroc" not in epochs[0]
    assert result.best_epoch == int(np.argmin([r["val_loss"] for r in epochs]))
