"""Shared pieces of the monitor tests: a small released feed and a checkpoint folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from hephaestus.platform.layout import StoreLayout

TIMESTAMPS = ("scored_at", "detected_at")


def random_segmenter(folder: Path, seed: int = 0) -> Path:
    """A checkpoint folder as the training loop writes it: a UNet (ResNet-18) with seeded random weights."""
    import torch

    from hephaestus.platform.inputs import InputSpec
    from hephaestus.train.config import RunConfig
    from hephaestus.train.loop import input_record
    from hephaestus.train.models import build_model

    folder.mkdir(parents=True)
    run = RunConfig(model="unet", encoder="resnet18", crop_size=32, atmosphere=False, weights="random")
    spec = InputSpec.create(
        atmosphere=run.atmosphere, series_length=1, crop_size=run.crop_size, statistics_source="authors"
    )
    torch.manual_seed(seed)
    model = build_model(run.model, spec.in_channels, weights="random", encoder=run.encoder).module
    torch.save(model.state_dict(), folder / "best.pt")
    (folder / "run_config.json").write_text(json.dumps(run.model_dump(mode="json")))
    (folder / "input.json").write_text(json.dumps(input_record(run, spec, "random")))
    return folder


def table_rows(store: Path) -> dict[str, list[dict[str, Any]]]:
    """The monitor tables' rows, timestamps left out (they say when a row was written, not what it says)."""
    files = StoreLayout(str(store)).monitor
    out = {}
    for name, url in (("scores", files.scores), ("alerts", files.alerts)):
        rows = pq.read_table(url).to_pylist()
        out[name] = [{k: v for k, v in r.items() if k not in TIMESTAMPS} for r in rows]
    return out
