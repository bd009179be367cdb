"""Shared pieces of the monitor tests: a small released feed and a checkpoint folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from hephaestus.platform.dataspec import DataSpec
from hephaestus.platform.layout import StoreLayout

TIMESTAMPS = ("scored_at", "detected_at", "cycle")
"""Columns that say when (at what time, in which cycle) a row was written, not what it says."""


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
        DataSpec(atmosphere=run.atmosphere, crop_size=run.crop_size, statistics="authors")
    )
    torch.manual_seed(seed)
    model = build_model(run.model, spec.in_channels, weights="random", encoder=run.encoder).module
    torch.save(model.state_dict(), folder / "best.pt")
    (folder / "run_config.json").write_text(json.dumps(run.model_dump(mode="json")))
    (folder / "input.json").write_text(json.dumps(input_record(run, spec, "random")))
    return folder


def table_rows(store: Path, leave_out: tuple[str, ...] = ()) -> dict[str, list[dict[str, Any]]]:
    """The monitor tables' rows, TIMESTAMPS left out (they say when a row was written, not what it says)."""
    files = StoreLayout(str(store)).monitor
    out = {}
    for name, url in (("scores", files.scores), ("alerts", files.alerts)):
        rows = pq.read_table(url).to_pylist()
        out[name] = [{k: v for k, v in r.items() if k not in TIMESTAMPS + leave_out} for r in rows]
    return out


def unrest_feed(seed: int, frames: int = 1, pairs: int = 16, size: int = 48, start_after: int | None = None):  # type: ignore[no-untyped-def]
    """A feed whose volcanoes start inflating (Mogi, 15 fringes / 30 days) 6 days before a middle
    acquisition, under a calm atmosphere (a strong, clean signal): returns (config, start date, the
    first secondary date after the start)."""
    import datetime as dt

    from hephaestus.ingest.synthetic import SynthConfig
    from hephaestus.ingest.synthetic.config import Unrest
    from hephaestus.ingest.synthetic.generator import plan
    from hephaestus.ingest.synthetic.release import release_dates

    base = SynthConfig(
        frames=frames, pairs=pairs, height=size, width=size, seed=seed, positive_fraction=0.0,
        missing_product_fraction=0.0, corrupted_fraction=0.0, processing_error_fraction=0.0,
        # a calm troposphere and no orbital or glacier fringes: the inflation is the only pattern
        turbulence_mm=1.0, zwd_per_pwv=1.0, orbital_fraction=0.0, glacier_fraction=0.0,
        decorrelation_days=60.0,  # bare ground: fringes stay visible over months
    )  # fmt: skip
    dates = release_dates(base)
    if start_after is None:  # from the middle on, the first date whose pairs are all short (<= 12 days)
        pairs = [p for _, p in plan(base).pairs]
        short = [
            d
            for d in dates[len(dates) // 2 :]
            if all((p.secondary - p.primary).days <= 12 for p in pairs if p.secondary == d)
        ]
        first = short[0] if short else dates[len(dates) // 2]
    else:
        first = dates[start_after]
    start = first - dt.timedelta(days=6)
    cfg = base.model_copy(update={"unrest": Unrest(frame=None, start=start, fringes_per_30_days=15.0)})
    return cfg, start, first


def train_tiny_classifier(root: Path, epochs: int = 40, seed: int = 0) -> Path:
    """A MobileNetV3 classifier trained in-process on whole 48 px frames of an unrest feed (3 frames,
    other volcanoes than the test's), read exactly as prediction reads them; written as a checkpoint."""
    import numpy as np
    import torch

    from hephaestus.catalog import build_catalog, read_pairs
    from hephaestus.ingest import IngestConfig, run_ingest
    from hephaestus.ingest.synthetic import generate
    from hephaestus.platform.cube import open_cube
    from hephaestus.platform.inputs import InputSpec
    from hephaestus.train.config import RunConfig
    from hephaestus.train.loop import input_record
    from hephaestus.train.models import build_model
    from hephaestus.train.predict import find_pair, prediction_input

    cfg, _, _ = unrest_feed(seed=101, frames=5, pairs=16)  # about half the pairs after the start
    generate(cfg, root / "train-src")
    run_ingest(IngestConfig(sources=str(root / "train-src"), out=str(root / "train-store"), workers=2))
    build_catalog(root / "train-store")
    run = RunConfig(model="mobilenetv3_large_100", crop_size=48, atmosphere=False, weights="random")
    spec = InputSpec.create(DataSpec(atmosphere=False, crop_size=48, statistics="authors"))
    xs, ys = [], []
    for row in read_pairs(root / "train-store").to_pylist():
        if not row["usable"]:
            continue
        ds = open_cube(row["cube_url"])
        i, j = find_pair(ds, pair=f"{row['primary_date']:%Y%m%d}_{row['secondary_date']:%Y%m%d}")
        xs.append(prediction_input(spec, ds, row["cube_url"], i, j))
        ys.append(int(row["positive"]))
    x = torch.from_numpy(np.stack(xs))
    y = torch.tensor(ys)
    torch.manual_seed(seed)
    model = build_model(run.model, spec.in_channels, weights="random").module
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(y), generator=gen).split(16):
            batch = x[idx]
            k = int(torch.randint(0, 4, (1,), generator=gen))
            batch = torch.rot90(batch, k, dims=(2, 3))  # fringes have no preferred orientation
            loss = torch.nn.functional.cross_entropy(model(batch), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    folder = root / "classifier"
    folder.mkdir()
    torch.save(model.state_dict(), folder / "best.pt")
    (folder / "run_config.json").write_text(json.dumps(run.model_dump(mode="json")))
    (folder / "input.json").write_text(json.dumps(input_record(run, spec, "random")))
    return folder
