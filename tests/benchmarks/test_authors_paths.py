"""bench_authors_paths --quick: every side (the authors' WebDataset training path and dataset on zarr 2.18,
our loader, the raw bounds) runs on one small cube, augmentation off and on, and reports per-core rates."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # about a minute: builds two stores and runs the authors' environment


def test_quick_reference_runs_every_side():
    import bench_authors_paths as ref

    if not (ref.DEFAULT_SRC / "utilities" / "utils.py").exists():
        pytest.skip(
            f"no checkout of Orion-AI-Lab/Hephaestus-minicubes at {ref.DEFAULT_SRC} ($HEPHAESTUS_AUTHORS_SRC)"
        )
    from authors_env import authors_bench_python

    authors_bench_python()  # skips with the reason where the environment cannot be built
    found = ref.run(600, 700, (6, 5), 1, 512, 1, ref.DEFAULT_SRC)
    assert found["authors_skipped"] is None
    assert found["cube"] == {"primary_date": 6, "secondary_date": 5, "latitude": 600, "longitude": 700}
    assert found["authors_versions"]["zarr"].startswith("2.18")
    assert found["authors_versions"]["albumentations"].startswith("1.3")
    for kind, steps in (("single", 1), ("series", 3)):
        row = found["modes"][kind]
        assert row["steps"] == steps and row["channels"] == 9 * steps and row["frame"] == [600, 700]
        for key in (
            "loader_crops_per_s",
            "augmented_crops_per_s",
            "authors_training_path_crops_per_s",
            "authors_training_path_augmented_crops_per_s",
            "authors_dataset_crops_per_s",
            "authors_dataset_augmented_crops_per_s",
            "raw_decode_crops_per_s",
            "raw_decode_write_crops_per_s",
        ):
            assert row[key] > 0, key
        # decoding alone is a bound on decoding and writing the crop
        assert row["raw_decode_crops_per_s"] >= row["raw_decode_write_crops_per_s"] * 0.8
