"""One training run on Ray Train: a `TorchTrainer` with checkpoints in the results store and retries.

The run's checkpoints live under `RESULTS/checkpoints/<run_id>/` (any fsspec URL, through a pyarrow
filesystem for object stores). A run started again with the same id resumes where it stopped.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from hephaestus.platform import signals, storage
from hephaestus.platform.layout import CheckpointFiles, ResultsLayout
from hephaestus.platform.ray_session import ray_session
from hephaestus.train import history, tracking
from hephaestus.train.config import RunConfig
from hephaestus.train.loop import train_loop_per_worker
from hephaestus.train.metrics import metric_names, trivial_baseline
from hephaestus.train.sources import CatalogSource, DataSource


@dataclass
class RunResult:
    """What a finished run leaves in the results table (URLs redacted, no credentials)."""

    run_id: str
    config: dict[str, Any]
    metrics: dict[str, float]
    weights: str
    epochs: int
    best_epoch: int
    start_epoch: int
    seconds: float
    checkpoint: str | None
    store: str
    started: str
    finished: str
    task: str
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """One flat row of the results table: config columns, test metrics, provenance."""
        cfg = self.config
        row: dict[str, Any] = {
            "run_id": self.run_id,
            "model": cfg["model"],
            "task": self.task,
            "setup": "series" if cfg["series"] else "single",
            "atmosphere": bool(cfg["atmosphere"]),
            "seed": int(cfg["seed"]),
            "epochs": self.epochs,
            "best_epoch": self.best_epoch,
            "start_epoch": self.start_epoch,
            "weights": self.weights,
            "seconds": self.seconds,
            "started": self.started,
            "finished": self.finished,
            "store": self.store,
            "checkpoint": self.checkpoint,
        }
        for name in metric_names(self.task):  # type: ignore[arg-type]
            row[f"test_{name}"] = self.metrics.get(f"test_{name}")
        row["test_loss"] = self.metrics.get("test_loss")
        for (
            key,
            value,
        ) in self.metrics.items():  # whole-frame test metrics (classifiers), beside the crop ones
            if key.startswith("frame_test_"):
                row[key] = value
        prevalence = self.metrics.get("test_prevalence")
        row["test_prevalence"] = prevalence
        if prevalence is not None and math.isfinite(prevalence):  # the trivial detector on the same split
            for name, value in trivial_baseline(self.task, prevalence).items():  # type: ignore[arg-type]
                row[f"trivial_{name}"] = value
        row["best_val_loss"] = self.metrics.get("val_loss")
        for key, value in cfg.items():  # every run setting, flat (tuples as text for a stable column type)
            structured = key == "workers" or isinstance(value, list | tuple | dict)  # int or (min, max)
            row[f"cfg_{key}"] = json.dumps(value) if structured else value
        row["config_json"] = _json(cfg)
        return row

    def to_json(self) -> str:
        return _json(asdict(self))


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def ray_storage(url: str) -> tuple[str, Any]:
    """(storage_path, storage_filesystem) for Ray Train: a local path, or an fsspec store through pyarrow."""
    loc = storage.location(url)
    if storage.is_local(loc.url):
        return loc.path, None
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    return loc.path, PyFileSystem(FSSpecHandler(loc.fs))


def _use_gpu() -> bool:
    import ray

    return ray.cluster_resources().get("GPU", 0) > 0


def trainer_for(
    run: RunConfig,
    results_url: str,
    source: DataSource,
    mlflow_uri: str | None = None,
    mlflow_experiment: str | None = None,
) -> Any:
    """The `TorchTrainer` of one run (Ray must be initialised); tracked in MLflow when `mlflow_uri` is set."""
    from ray.train import CheckpointConfig, FailureConfig, LoggingConfig, ScalingConfig
    from ray.train import RunConfig as RayRunConfig
    from ray.train.torch import TorchTrainer

    use_gpu = _use_gpu()
    resources = {"CPU": run.cpus_per_worker}
    if use_gpu:
        resources["GPU"] = 1
    path, fs = ray_storage(ResultsLayout(results_url).checkpoints)
    return TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "run": run.model_dump(),
            "source": source,
            "history": history.history_url(results_url, run.run_id),
            "mlflow_uri": mlflow_uri,
            "mlflow_experiment": mlflow_experiment,
        },
        scaling_config=ScalingConfig(
            num_workers=run.workers, use_gpu=use_gpu, resources_per_worker=resources
        ),
        run_config=RayRunConfig(
            name=storage.safe_component(run.run_id, "run id"),
            storage_path=path,
            storage_filesystem=fs,
            failure_config=FailureConfig(max_failures=run.max_failures),
            logging_config=LoggingConfig(log_level=run.ray_log_level),
            checkpoint_config=CheckpointConfig(
                num_to_keep=run.num_to_keep,
                checkpoint_score_attribute="val_loss",
                checkpoint_score_order="min",
            ),
        ),
    )


def _checkpoint_url(results_url: str, checkpoint: Any) -> str | None:
    if checkpoint is None:
        return None
    path = checkpoint.path
    if storage.is_local(results_url):
        return path
    return f"{storage.protocol_of(results_url)}://{path.lstrip('/')}"


def _checkpoint_input(checkpoint: Any) -> dict[str, Any]:
    import json
    from pathlib import Path

    if checkpoint is None:
        return {}
    with checkpoint.as_directory() as folder:
        target = Path(folder) / CheckpointFiles.INPUT
        return json.loads(target.read_text()) if target.exists() else {}


def train_run(
    run: RunConfig,
    store_url: str,
    results_url: str,
    *,
    source: DataSource | None = None,
    address: str | None = None,
) -> RunResult:
    """Train, validate and test one configuration on Ray Train; returns its test metrics and provenance.

    `source` defaults to the catalog of `store_url`; a run interrupted earlier resumes from its checkpoint.
    """
    from hephaestus.train.models import require_weights
    from hephaestus.train.preflight import check_run

    require_weights([run])  # before Ray: missing ImageNet weights fail here, never fall back to random
    source = source or CatalogSource(store_url)
    source.check()
    if isinstance(source, CatalogSource):
        run = source.fit(run)
    check_run(run, source.store_url if isinstance(source, CatalogSource) else None)  # before Ray
    mlflow_uri = tracking.tracking_uri(run, results_url)  # refuses credentials before anything runs
    experiment = tracking.ensure_experiment(mlflow_uri)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    with ray_session(address=address):
        signals.reinstall()  # ray.init replaced the CLI's SIGTERM handler (exit 143, not 15)
        with signals.noticed():  # fit's own SIGINT handler aborts the run and exits 0 (or 1), unsaid
            result = trainer_for(run, results_url, source, mlflow_uri, experiment).fit()
    seconds = time.perf_counter() - t0
    metrics = {k: v for k, v in (result.metrics or {}).items() if isinstance(v, int | float | bool)}
    if not metrics.get("done"):
        raise RuntimeError(f"run {run.run_id} ended without its test evaluation (last metrics: {metrics})")
    info = _checkpoint_input(result.checkpoint)
    checkpoint = storage.redact(_checkpoint_url(results_url, result.checkpoint) or "") or None
    tracking.tag_checkpoint(mlflow_uri, run.run_id, checkpoint)
    calibration = calibrate(run, source, _checkpoint_url(results_url, result.checkpoint))
    metrics.update(frame_test(run, source, _checkpoint_url(results_url, result.checkpoint)))
    return RunResult(
        run_id=run.run_id,
        config=run.recorded(),
        metrics={k: float(v) for k, v in metrics.items()},
        weights=str(info.get("weights", "unknown")),
        epochs=int(metrics.get("epoch", -1)) + 1,
        best_epoch=int(metrics.get("best_epoch", -1)),
        start_epoch=int(metrics.get("start_epoch", 0)),
        seconds=seconds,
        checkpoint=checkpoint,
        store=storage.redact(store_url),
        started=started,
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
        task=run.task,
        extra={"threshold_calibration": calibration} if calibration else {},
    )


def frame_test(run: RunConfig, source: DataSource, checkpoint_url: str | None) -> dict[str, float]:
    """A finished classifier's whole-frame test metrics (`train.frame_score.frame_test_metrics`), recorded
    beside the paper's crop metrics: monitoring scores whole frames, the benchmark crops around the
    deformation, and a model good at one can be poor at the other."""
    if run.task != "classification" or checkpoint_url is None or not isinstance(source, CatalogSource):
        return {}
    from hephaestus.train.frame_score import frame_test_metrics

    got = frame_test_metrics(checkpoint_url, source.store_url, run.split_scheme, batch_size=run.batch_size)
    if got:
        print(
            f"[{run.run_id}] whole-frame test: AUROC {got['frame_test_frame_auroc']:.3f}, "
            f"F1 {got['frame_test_f1']:.3f} at threshold {got['frame_test_threshold']:.3g}"
        )
    return got


def calibrate(run: RunConfig, source: DataSource, checkpoint_url: str | None) -> dict[str, Any] | None:
    """A finished classifier's operating threshold, chosen on its store's validation pairs scored
    whole-frame for `run.alert_rate` false alerts per volcano-year and recorded in the checkpoint's
    input.json (`train.frame_score.calibrate_checkpoint`); None where nothing was calibrated."""
    if run.task != "classification" or run.alert_rate is None or checkpoint_url is None:
        return None
    if not isinstance(source, CatalogSource):  # only a store's catalog knows the validation pairs' frames
        return None
    from hephaestus.train.frame_score import calibrate_checkpoint

    cal = calibrate_checkpoint(
        checkpoint_url,
        source.store_url,
        run.alert_rate,
        batch_size=run.batch_size,
        split_scheme=run.split_scheme,
    )
    if cal is None:
        print(f"[{run.run_id}] no threshold calibrated: the val split has no pair without deformation")
        return None
    print(
        f"[{run.run_id}] threshold {cal.threshold:.6g} for {cal.false_alerts_per_volcano_year} false alerts "
        f"per volcano-year ({cal.pairs} val pairs scored whole-frame, {cal.achieved_rate:.3g} there)"
    )
    return cal.record()
