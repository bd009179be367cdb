"""Each training run is tracked in MLflow through Ray's `setup_mlflow`: read back with MLflow's client."""

from __future__ import annotations

from pathlib import Path

import pytest
from fringes import FringeSource
from mlflow.tracking import MlflowClient

from hephaestus.platform.config import ConfigError
from hephaestus.train import tracking
from hephaestus.train.config import RunConfig
from hephaestus.train.trainer import train_run


@pytest.mark.slow  # ~25 s: a whole training run
def test_run_is_tracked_in_the_results_file_store(ray_local, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 opens a file store only when asked
    run = RunConfig(
        model="mobilenetv3_large_100",
        epochs=2,
        crop_size=32,
        batch_size=8,
        workers=1,
        weights="random",
        augment=False,
        lr=3e-4,
    )
    results = tmp_path / "results"
    result = train_run(run, "unused", str(results), source=FringeSource({"train": 16, "val": 8, "test": 8}))

    uri = (results / "mlruns").as_uri()  # the default: RESULTS/mlruns
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("hephaestus")
    assert experiment is not None
    [mlrun] = client.search_runs([experiment.experiment_id])
    assert mlrun.data.tags["hephaestus.run_id"] == "mobilenetv3_large_100-single-atm-s0-random"
    params = mlrun.data.params
    assert params["model"] == "mobilenetv3_large_100" and float(params["lr"]) == 3e-4
    assert params["epochs"] == "2" and params["crop_size"] == "32"
    history = client.get_metric_history(mlrun.info.run_id, "train_loss")
    assert sorted(m.step for m in history) == [0, 1]  # one value per epoch
    assert [m.step for m in client.get_metric_history(mlrun.info.run_id, "val_loss")] == [0, 1]
    [test_f1] = client.get_metric_history(mlrun.info.run_id, "test_f1")
    assert test_f1.value == pytest.approx(result.metrics["test_f1"])
    checkpoint = mlrun.data.tags["checkpoint_uri"]
    assert checkpoint == result.checkpoint
    assert (Path(checkpoint) / "state.json").is_file()
    assert Path(checkpoint).is_relative_to(results / "checkpoints")


def test_tracking_settings(tmp_path: Path) -> None:
    base = RunConfig(weights="random")
    assert tracking.tracking_uri(base, str(tmp_path)) == (tmp_path / "mlruns").as_uri()
    assert (
        tracking.tracking_uri(base.model_copy(update={"mlflow_tracking_uri": "off"}), str(tmp_path)) is None
    )
    assert RunConfig(mlflow_tracking_uri=False).mlflow_tracking_uri == "off"  # YAML's reading of `off`
    assert tracking.tracking_uri(base, "s3://bucket/results") is None  # the file store is local only
    server = base.model_copy(update={"mlflow_tracking_uri": "http://127.0.0.1:5000"})
    assert tracking.tracking_uri(server, "s3://bucket/results") == "http://127.0.0.1:5000"
    secret = base.model_copy(update={"mlflow_tracking_uri": "https://me:s3cr3t@mlflow.example.org"})
    with pytest.raises(ConfigError, match="credentials") as info:
        tracking.tracking_uri(secret, str(tmp_path))
    assert "s3cr3t" not in str(info.value)
