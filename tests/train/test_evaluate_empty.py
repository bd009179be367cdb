"""An empty split (a tiny store whose dates give no val or no test pair) evaluates to NaN, not an error."""

from __future__ import annotations

import math

import torch
from fringes import FringeSource

from hephaestus.train.config import RunConfig
from hephaestus.train.data.config import LoaderConfig
from hephaestus.train.loop import evaluate
from hephaestus.train.losses import make_loss
from hephaestus.train.models import build_model


def test_an_empty_split_evaluates_to_nan_metrics() -> None:
    run = RunConfig(
        model="mobilenetv3_large_100", crop_size=32, batch_size=4, weights="random", loader_workers=0
    )
    data = FringeSource({"train": 4, "val": 0, "test": 0})(LoaderConfig.for_split(run, "val"))
    model = build_model(run.model, data.input_spec.in_channels, weights="random").module
    loss = make_loss(run.loss_name, run.focal_deformation_weight, run.focal_gamma)
    out = evaluate(model, data, run, loss, torch.device("cpu"))
    assert out["samples"] == 0
    assert math.isnan(out["loss"])
    assert {"f1", "auroc"} <= set(out) and all(math.isnan(v) for k, v in out.items() if k != "samples")
