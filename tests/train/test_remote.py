"""Checkpoints and results in object storage (slow): a grid on a real S3 protocol server (moto)."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest
from fringes import FringeSource

from hephaestus.platform import storage
from hephaestus.train.benchmark import run_benchmark
from hephaestus.train.config import GridConfig, RunConfig

pytestmark = pytest.mark.slow


def test_grid_results_and_checkpoints_on_s3(s3_bucket: str) -> None:
    from local_ray import local_ray

    out = f"{s3_bucket}/bench"
    grid = GridConfig(
        name="s3",
        models=("mobilenetv3_large_100",),
        series=(False,),
        atmosphere=(False,),
        seeds=(0,),
        base=RunConfig(epochs=1, crop_size=32, batch_size=4, workers=1, weights="random", augment=False),
    )
    with local_ray():  # started after the S3 environment is set, so workers reach moto
        summary = run_benchmark("unused", grid, out, source=FringeSource({"train": 8, "val": 4, "test": 4}))
        assert summary.failed == {}
        again = run_benchmark("unused", grid, out, source=FringeSource({"train": 8, "val": 4, "test": 4}))
    assert again.trained == []
    table = pq.read_table(io.BytesIO(storage.read_bytes(f"{out}/results.parquet"))).to_pandas()
    assert list(table["run_id"]) == ["mobilenetv3_large_100-single-noatm-s0-random"]
    ckpt = table["checkpoint"].iloc[0]
    assert ckpt.startswith(f"{s3_bucket}/bench/checkpoints/")
    assert storage.exists(f"{ckpt}/best.pt") and storage.exists(f"{ckpt}/input.json")
    assert "testing" not in table.to_csv()  # no credential reaches the results
