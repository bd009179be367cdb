"""The series length is the catalog's: `hmc catalog build -T 5` trains and predicts with no other flag.

The expectation is independent of the code under test: a series of T pairs stacks T steps of the nine
input channels of `inputs.step_channels` (the paper's channel set), so the loader must give 5 x 9 = 45
channels, a model of 45 channels must predict, and a requested length of 3 must be refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from hephaestus import catalog
from hephaestus.cli.app import app
from hephaestus.platform.dataspec import DataSpec
from hephaestus.platform.inputs import InputSpec, step_channels
from hephaestus.train.config import RunConfig
from hephaestus.train.data import LoaderConfig, MinicubeDataset
from hephaestus.train.loop import input_record
from hephaestus.train.models import build_model
from hephaestus.train.sources import CatalogSource

T = 5
CHANNELS = 9  # insar_difference, insar_coherence, dem and three ERA5 fields for each of the two dates


@pytest.fixture(scope="module")
def store_t5(split_store: Path) -> Path:
    store = split_store  # this module's own store of factory cubes, catalogued with the default T
    result = CliRunner().invoke(app, ["catalog", "build", str(store), "-T", str(T)])
    assert result.exit_code == 0, result.output
    return store


def _first_train_pair(store: Path) -> dict:
    return catalog.read_pairs(str(store), split="train").to_pylist()[0]


def test_collection_records_the_length(store_t5: Path) -> None:
    collection = json.loads((store_t5 / "catalog" / "collection.json").read_text())
    assert collection["hephaestus:series_length"] == T
    assert catalog.read_series_length(str(store_t5)) == T


def test_loader_reads_series_of_the_catalogs_length(store_t5: Path) -> None:
    assert len(step_channels(True)) == CHANNELS
    cfg = LoaderConfig(
        store_url=str(store_t5),
        split="train",
        series=True,
        crop_size=32,
        max_offset=0,
        augment=False,
        undersample=False,
    )
    ds = MinicubeDataset.from_catalog(cfg)
    assert ds.in_channels == T * CHANNELS
    assert tuple(ds[0]["image"].shape) == (T * CHANNELS, 32, 32)
    with pytest.raises(catalog.SeriesLengthError, match="series of 5 pairs, not 3"):
        MinicubeDataset.from_catalog(cfg.model_copy(update={"series_length": 3}))


def test_trainer_takes_the_length_and_refuses_another(store_t5: Path, tmp_path: Path) -> None:
    source = CatalogSource(str(store_t5))
    assert source.fit(RunConfig(series=True)).series_length == T
    assert source.fit(RunConfig(series=False)).series_length is None
    with pytest.raises(catalog.SeriesLengthError):
        source.fit(RunConfig(series=True, series_length=3))
    # the CLI refuses the mismatch before any worker starts: one line, exit 2 (bad input)
    result = CliRunner().invoke(
        app,
        ["train", str(store_t5), "--out", str(tmp_path / "r"), "--series", "-T", "3", "--weights", "random"],
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [
        f"error: {store_t5}: the catalog holds series of 5 pairs, not 3; "
        "rebuild it with `hmc catalog build -T 3` or drop the series length"
    ]


def test_predict_uses_the_length_the_run_recorded(store_t5: Path, tmp_path: Path) -> None:
    run = CatalogSource(str(store_t5)).fit(
        RunConfig(model="unet", encoder="resnet18", series=True, crop_size=32, weights="random")
    )
    folder = tmp_path / "ckpt"
    folder.mkdir()
    model = build_model(run.model, T * CHANNELS, weights="random", encoder=run.encoder).module
    torch.save(model.state_dict(), folder / "best.pt")
    (folder / "run_config.json").write_text(json.dumps(run.model_dump(mode="json")))
    spec = InputSpec.create(DataSpec(series=True, series_length=T, crop_size=32, statistics="authors"))
    (folder / "input.json").write_text(json.dumps(input_record(run, spec, "random")))
    pair = _first_train_pair(store_t5)
    out = tmp_path / "mask.zarr"
    result = CliRunner().invoke(
        app,
        ["predict", str(folder), pair["cube_url"], "--out", str(out), "--unique-id", str(pair["unique_id"])],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["unique_id"] == str(pair["unique_id"])


@pytest.mark.slow
def test_series_training_and_prediction_need_no_length_flag(
    ray_local, store_t5: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "run.yaml"
    config.write_text(
        "model: mobilenetv3_large_100\nseries: true\nepochs: 1\nbatch_size: 2\ncrop_size: 32\n"
        "max_offset: 0\naugment: false\nweights: random\nmax_train_batches: 1\nmax_eval_batches: 1\n"
    )
    results = tmp_path / "results"
    runner = CliRunner()
    trained = runner.invoke(app, ["train", str(store_t5), "--out", str(results), "--config", str(config)])
    assert trained.exit_code == 0, trained.output
    row = json.loads(trained.stdout[trained.stdout.index("{") :])
    assert row["checkpoint"]
    pair = _first_train_pair(store_t5)
    out = tmp_path / "score.zarr"
    predicted = runner.invoke(
        app,
        [
            "predict",
            row["checkpoint"],
            pair["cube_url"],
            "--out",
            str(out),
            "--unique-id",
            str(pair["unique_id"]),
        ],
    )
    assert predicted.exit_code == 0, predicted.output
    assert "score" in json.loads(predicted.stdout)
