"""A small classifier learns (slow): test F1 well above chance, through Ray Train end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from fringes import FringeSource

from hephaestus.train.config import RunConfig
from hephaestus.train.data.config import LoaderConfig
from hephaestus.train.trainer import train_run

pytestmark = pytest.mark.slow


def test_classifier_learns_mogi_fringes(ray_local, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Positives carry the wrapped phase of a Mogi source, negatives only atmosphere and noise."""
    source = FringeSource({"train": 128, "val": 32, "test": 64}, seed=3)
    run = RunConfig(
        model="mobilenetv3_large_100",
        atmosphere=False,
        epochs=8,
        crop_size=64,
        batch_size=16,
        workers=1,
        lr=1e-3,
        weights="random",
        augment=False,
        undersample=False,
    )
    test_set = source(LoaderConfig.for_split(run, "test"))
    p = sum(test_set.is_positive(i) for i in range(len(test_set))) / len(test_set)
    chance_f1 = 2 * p / (1 + p)  # the best constant guess: call everything positive
    result = train_run(run, "unused", str(tmp_path), source=source)
    assert result.metrics["test_f1"] > chance_f1 + 0.15
    assert result.metrics["test_auroc"] > 0.85


def test_smoke_grid_on_synthetic_cubes(ray_local, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """synth -> ingest -> catalog -> smoke grid: every run finishes and lands in the results table."""
    import pyarrow.parquet as pq

    from hephaestus.catalog import build_catalog
    from hephaestus.ingest import IngestConfig, run_ingest
    from hephaestus.ingest.synthetic import SynthConfig, generate
    from hephaestus.train.benchmark import run_benchmark

    generate(
        SynthConfig(frames=2, pairs=30, height=128, width=128, seed=0, positive_fraction=0.3),
        tmp_path / "src",
    )
    run_ingest(IngestConfig(sources=str(tmp_path / "src"), out=str(tmp_path / "store"), workers=2))
    build_catalog(tmp_path / "store")
    summary = run_benchmark(str(tmp_path / "store"), "smoke", str(tmp_path / "results"))
    assert summary.failed == {}
    table = pq.read_table(tmp_path / "results" / "results.parquet").to_pandas()
    assert len(table) == 8 and set(table["task"]) == {"classification", "segmentation"}
    assert (tmp_path / "results" / "table4_segmentation.md").exists()
