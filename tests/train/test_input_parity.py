"""The tensor `hmc predict` feeds the model is, bit for bit, the one the training dataset yields.

Both sides are built independently from a real catalogued store: the training side through the
catalog source a run uses (val split: no augmentation, fixed crops), the prediction side from the
checkpoint's recorded input specification, reading the cube by URL and the series from the catalog.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hephaestus.catalog import read_series
from hephaestus.platform.cube import open_cube
from hephaestus.train.config import RunConfig
from hephaestus.train.data.config import LoaderConfig
from hephaestus.train.loop import input_record
from hephaestus.train.models import build_model
from hephaestus.train.predict import (
    find_pair,
    load_checkpoint,
    prediction_input,
    sliding_prediction,
    window_starts,
)
from hephaestus.train.sources import CatalogSource

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")


class Recorder(torch.nn.Module):
    """A segmenter stand-in that keeps every batch it is given."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.clone())
        return self.inner(x)


def _checkpoint(folder: Path, run: RunConfig, dataset) -> Path:  # type: ignore[no-untyped-def]
    """A checkpoint folder as the training loop writes it, with the dataset's input specification."""
    folder.mkdir(parents=True)
    spec = dataset.input_spec
    model = build_model(run.model, spec.in_channels, weights="random", encoder=run.encoder).module
    torch.save(model.state_dict(), folder / "best.pt")
    (folder / "run_config.json").write_text(json.dumps(run.model_dump(mode="json")))
    (folder / "input.json").write_text(json.dumps(input_record(run, spec, "random")))
    return folder


@pytest.mark.parametrize("series", [False, True])
def test_predict_feeds_the_model_what_training_yields(
    split_store: Path, tmp_path: Path, series: bool
) -> None:
    size = 48  # the store's frames: one window covers the frame on both sides
    run = RunConfig(model="unet", encoder="resnet18", crop_size=size, series=series, atmosphere=True)
    dataset = CatalogSource(str(split_store))(LoaderConfig.for_split(run, "val"))
    assert dataset.input_spec.statistics_source == "train"
    loaded = load_checkpoint(str(_checkpoint(tmp_path / "ckpt", run, dataset)))
    assert loaded.spec == dataset.input_spec
    if series:  # the sample's first pair: prediction must find the catalog's series from it
        first = {str(r["series_id"]): int(r["pair_ids"][0]) for r in read_series(split_store).to_pylist()}
    checked = 0
    for index in range(len(dataset)):
        sample = dataset[index]
        uid = first[sample["id"]] if series else int(sample["id"])
        cube_url = dataset.samples[index].steps[0].cube_url
        ds = open_cube(cube_url)
        i, j = find_pair(ds, unique_id=str(uid))
        if series and not _starts_its_series(split_store, ds.attrs["frame_id"], uid, sample["id"]):
            continue
        image = prediction_input(loaded.spec, ds, cube_url, i, j)
        recorder = Recorder(loaded.module)
        sliding_prediction(recorder, image, run.task, min(size, max(image.shape[1:])))
        assert window_starts(*image.shape[1:], size) == [(0, 0)]
        fed = recorder.seen[0][0]
        assert fed.dtype == sample["image"].dtype == torch.float32
        assert torch.equal(fed, sample["image"]), f"sample {sample['id']}"
        checked += 1
    assert checked >= 2


def _starts_its_series(store: Path, frame: str, uid: int, series_id: str) -> bool:
    """Whether this sample's series is the first catalog series of the frame starting with pair `uid`."""
    rows = [
        r for r in read_series(store).to_pylist() if r["frame_id"] == frame and int(r["pair_ids"][0]) == uid
    ]
    return bool(rows) and str(rows[0]["series_id"]) == series_id


def test_crops_inside_a_frame_match_the_prediction_input(split_store: Path) -> None:
    """Smaller crops: the training crop at its window equals that window of the prediction input."""
    run = RunConfig(model="unet", encoder="resnet18", crop_size=32, max_offset=8, atmosphere=False)
    dataset = CatalogSource(str(split_store))(LoaderConfig.for_split(run, "test"))
    for index in range(len(dataset)):
        r0, c0, _, _ = dataset.window(index)
        uid = int(dataset[index]["id"])
        cube_url = dataset.samples[index].steps[0].cube_url
        ds = open_cube(cube_url)
        i, j = find_pair(ds, unique_id=str(uid))
        image = prediction_input(dataset.input_spec, ds, cube_url, i, j)
        np.testing.assert_array_equal(image[:, r0 : r0 + 32, c0 : c0 + 32], dataset[index]["image"].numpy())
