"""Ray Train runs on a local 2-CPU Ray: resume after a killed worker, a grid re-run trains nothing."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import ray.cloudpickle
from fringes import FringeSource

from hephaestus.train.benchmark import run_benchmark
from hephaestus.train.config import GridConfig, RunConfig
from hephaestus.train.trainer import train_run

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import test modules


class CrashOnce:
    """A DataSource whose training set kills its rank-0 worker process once, at `crash_epoch`.

    Every epoch that rank 0 starts is appended to `log`, so the test sees where training resumed.
    The hook is `epoch_indices`, which the loader's batch sampler calls in the Ray Train worker's own
    process when an epoch starts (`set_epoch` runs per sample inside DataLoader worker processes, whose
    death is a DataLoader error, not a lost worker).
    """

    def __init__(self, inner: FringeSource, folder: Path, crash_epoch: int) -> None:
        self.inner, self.folder, self.crash_epoch = inner, str(folder), crash_epoch

    def check(self) -> None:
        self.inner.check()

    def __call__(self, request):  # type: ignore[no-untyped-def]
        dataset = self.inner(request)
        if request.split != "train":
            return dataset
        folder, crash_epoch = self.folder, self.crash_epoch
        original = dataset.epoch_indices
        seen: set[int] = set()

        def epoch_indices(epoch=None):  # type: ignore[no-untyped-def]
            import ray.train

            if epoch is not None and epoch not in seen and ray.train.get_context().get_world_rank() == 0:
                seen.add(epoch)
                with open(os.path.join(folder, "epochs.log"), "a") as fh:
                    fh.write(f"{epoch}\n")
                marker = os.path.join(folder, "crashed")
                if epoch == crash_epoch and not os.path.exists(marker):
                    open(marker, "w").close()
                    time.sleep(5)  # let the controller register the last report (reports are polled)
                    os._exit(1)  # the worker process dies as on a lost node
            return original(epoch)

        dataset.epoch_indices = epoch_indices
        return dataset


@pytest.mark.slow  # about a minute: two worker-group starts on 2 cores
def test_killed_worker_resumes_from_checkpoint(ray_local, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = RunConfig(
        model="mobilenetv3_large_100",
        epochs=4,
        crop_size=32,
        batch_size=8,
        workers=2,
        weights="random",
        augment=False,
        lr=1e-3,
        max_failures=1,
    )
    source = CrashOnce(FringeSource({"train": 16, "val": 8, "test": 8}), tmp_path, crash_epoch=2)
    result = train_run(run, "unused-store", str(tmp_path / "results"), source=source)

    epochs = [int(x) for x in (tmp_path / "epochs.log").read_text().split()]
    assert epochs[:3] == [0, 1, 2]  # died at the start of epoch 2
    restart = result.start_epoch
    assert restart >= 1  # resumed from a checkpoint, not from scratch
    assert epochs[3:] == list(range(restart, 4))  # and went on from there to the end
    assert result.epochs == 4
    assert 0 <= result.best_epoch <= 3
    for name in ("precision", "recall", "f1", "auroc"):
        assert 0.0 <= result.metrics[f"test_{name}"] <= 1.0
    assert result.metrics["test_samples"] == 8  # every test sample once across both workers
    ckpt = Path(result.checkpoint)
    assert {"best.pt", "state.json", "run_config.json", "input.json"} <= {p.name for p in ckpt.iterdir()}
    state = json.loads((ckpt / "state.json").read_text())
    assert state["done"] is True and state["epoch"] == 3


def _checkpoint_dirs(out: Path) -> set[str]:
    return {str(p) for p in (out / "checkpoints").rglob("checkpoint_*") if p.is_dir()}


@pytest.mark.slow  # ~45 s: two grid runs
def test_grid_rerun_trains_nothing(ray_local, split_store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two runs through the real loader over a catalogued store; the second call finds both done."""
    base = RunConfig(
        epochs=1, crop_size=32, max_offset=4, batch_size=4, workers=1, weights="random", augment=False
    )
    grid = GridConfig(
        name="tiny",
        models=("mobilenetv3_large_100",),
        series=(False,),
        atmosphere=(True, False),
        seeds=(0,),
        base=base,
    )
    out = tmp_path / "results"
    first = run_benchmark(str(split_store), grid, str(out), max_concurrent=2)
    assert first.failed == {}
    assert sorted(first.trained) == [
        "mobilenetv3_large_100-single-atm-s0-random",
        "mobilenetv3_large_100-single-noatm-s0-random",
    ]
    table = pq.read_table(out / "results.parquet").to_pandas()
    assert sorted(table["run_id"]) == sorted(first.trained)
    assert set(table["weights"]) == {"random"}
    assert set(table["atmosphere"]) == {True, False}
    assert (table["test_f1"].between(0, 1)).all()
    assert str(split_store) == table["store"].iloc[0]
    table3 = (out / "table3_classification.md").read_text()
    # two runs' rows, and the trivial detector's row under the setup (summary.TRIVIAL_MODEL)
    assert table3.count("Single-Timestep") == 3 and table3.count("Trivial (all deformation)") == 1
    assert (out / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    finished_before = dict(zip(table["run_id"], table["finished"], strict=True))
    checkpoints_before = _checkpoint_dirs(out)

    second = run_benchmark(str(split_store), grid, str(out))
    assert second.trained == [] and sorted(second.skipped) == sorted(first.trained)
    again = pq.read_table(out / "results.parquet").to_pandas()
    assert dict(zip(again["run_id"], again["finished"], strict=True)) == finished_before
    assert _checkpoint_dirs(out) == checkpoints_before  # no trainer ran


@pytest.mark.slow
def test_elastic_workers_run(ray_local, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = RunConfig(
        model="unet",
        encoder="resnet18",
        epochs=1,
        crop_size=32,
        batch_size=4,
        workers=(1, 2),
        weights="random",
    )
    result = train_run(run, "unused", str(tmp_path), source=FringeSource({"train": 8, "val": 4, "test": 4}))
    assert 0.0 <= result.metrics["test_iou"] <= 1.0
