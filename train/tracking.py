"""MLflow tracking of every training run, through Ray's own integration (`setup_mlflow`).

Ray Train v2's TorchTrainer runs the loop in its workers: `start` there calls Ray's `setup_mlflow`,
which opens one MLflow run on rank 0 (other ranks get Ray's no-op) with the RunConfig as params;
the loop's reporter logs each epoch's metrics with `log_epoch`. The checkpoint is known only to the
driver once the run ends, so `tag_checkpoint` finds the MLflow run by its `hephaestus.run_id` tag and
sets `checkpoint_uri` on it. The Tune-driven benchmark needs nothing more: each trial calls
`train_run`, so every grid run is tracked the same way (Ray's `MLflowLoggerCallback` would see only
what a trial reports to Tune: its final test metrics, no epochs).

Where (`RunConfig.mlflow_tracking_uri`): None is a file store under RESULTS/mlruns for local results
(none for object-store results: MLflow's file store is local only), "off" disables tracking, any
other value is the tracking URI. A URI carrying credentials is refused before the run starts, so no
parameter, record or log holds them (MLflow reads them from MLFLOW_TRACKING_TOKEN and the like).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from hephaestus.platform import storage
from hephaestus.platform.config import ConfigError
from hephaestus.platform.layout import ResultsLayout
from hephaestus.train.config import RunConfig

OFF: Final = "off"
EXPERIMENT: Final = "hephaestus"
RUN_TAG: Final = "hephaestus.run_id"
CHECKPOINT_TAG: Final = "checkpoint_uri"
_FILE_STORE_OPT_IN: Final = "MLFLOW_ALLOW_FILE_STORE"
"""MLflow 3 refuses its file store unless this is set (the store is in maintenance mode, not gone):
we set it for file stores only, in the processes that open one. Reading a store back needs it too."""


def tracking_uri(run: RunConfig, results_url: str) -> str | None:
    """The tracking URI of `run` with results under `results_url`, or None when nothing is tracked."""
    setting = run.mlflow_tracking_uri
    if setting == OFF:
        return None
    if setting is not None:
        if storage.redact(setting) != setting:
            raise ConfigError(
                f"mlflow_tracking_uri {storage.redact(setting)!r}: credentials (user info or a query) "
                "do not belong in the URI; set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD"
            )
        return setting
    if not storage.is_local(results_url):
        return None
    return Path(storage.location(ResultsLayout(results_url).mlruns).path).absolute().as_uri()


def _open_store(uri: str) -> None:
    if uri.startswith("file:") or "://" not in uri:
        os.environ.setdefault(_FILE_STORE_OPT_IN, "true")


def params(run: RunConfig) -> dict[str, Any]:
    """The RunConfig as MLflow params, as the run uses them (`RunConfig.recorded`: learning rate and recipe
    resolved; URL-like values redacted: no credentials)."""
    return {
        key: storage.redact(value) if isinstance(value, str) else value
        for key, value in run.recorded().items()
    }


def ensure_experiment(uri: str | None) -> str | None:
    """The id of the runs' MLflow experiment, created once by the driver (concurrent trials race to
    create it inside their workers otherwise)."""
    if uri is None:
        return None
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    _open_store(uri)
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(EXPERIMENT)
    except MlflowException:  # created meanwhile by a concurrent run
        return client.get_experiment_by_name(EXPERIMENT).experiment_id


def start(run: RunConfig, uri: str | None, experiment_id: str | None) -> ModuleType | None:
    """In a Ray Train worker: the mlflow module with the run's MLflow run active on rank 0, else None."""
    if uri is None:
        return None
    from ray.air.integrations.mlflow import setup_mlflow

    _open_store(uri)
    module = setup_mlflow(
        params(run),
        tracking_uri=uri,
        experiment_id=experiment_id,
        experiment_name=EXPERIMENT,
        create_experiment_if_not_exists=True,
        run_name=run.run_id,
        tags={RUN_TAG: run.run_id},
    )
    return module if isinstance(module, ModuleType) else None  # Ray's no-op on other ranks


def log_epoch(mlflow: ModuleType | None, metrics: dict[str, Any]) -> None:
    """One report of the loop: an epoch's numbers at step = epoch; the final report its test_* only."""
    if mlflow is None:
        return
    final = bool(metrics.get("done"))
    values = {
        key: float(value)
        for key, value in metrics.items()
        if isinstance(value, int | float)
        and key not in ("epoch", "done")
        and (not final or key.startswith("test_"))
    }
    mlflow.log_metrics(values, step=int(metrics["epoch"]))


def finish(mlflow: ModuleType | None) -> None:
    if mlflow is not None:
        mlflow.end_run()


def tag_checkpoint(uri: str | None, run_id: str, checkpoint_url: str | None) -> None:
    """In the driver, after the run: the latest MLflow run of `run_id` gets the checkpoint's URI."""
    if uri is None or checkpoint_url is None:
        return
    from mlflow.tracking import MlflowClient

    _open_store(uri)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{RUN_TAG}` = '{run_id}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if runs:
        client.set_tag(runs[0].info.run_id, CHECKPOINT_TAG, checkpoint_url)
