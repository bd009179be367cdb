"""Shared pieces of the training tests: a local Ray per module, a small catalogued store of factory cubes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")

# Primary dates inside each benchmark split window (paper section 4).
SPLIT_STARTS = {"train": "2018-01-05", "val": "2019-07-02", "test": "2020-03-01"}


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    """One local Ray runtime (2 CPUs) for a whole test module."""
    from local_ray import local_ray

    with local_ray():
        yield


def write_split_store(root: Path, n_primary: int = 3, n_secondary: int = 4, size: int = 48) -> Path:
    """One factory cube per split (dates moved into the split's window), then the real catalog build."""
    from hephaestus.catalog import build_catalog
    from hephaestus.platform import schema

    from factories import make_cube_dataset, published_encoding

    (root / "cubes").mkdir(parents=True, exist_ok=True)
    for k, (split, start) in enumerate(SPLIT_STARTS.items()):
        ds = make_cube_dataset(
            frame_id=f"00{k + 1}A_0000{k + 1}_00000{k + 1}",
            n_primary=n_primary,
            n_secondary=n_secondary,
            height=size,
            width=size,
            seed=k,
            positive_every=2,
        )
        first = np.datetime64(start, "D")
        shift = (first - ds[schema.PRIMARY].values[0].astype("datetime64[D]")).astype("timedelta64[ns]")
        ds = ds.assign_coords(
            {
                schema.PRIMARY: ds[schema.PRIMARY].values + shift,
                schema.SECONDARY: ds[schema.SECONDARY].values + shift,
            }
        )
        assert schema.split_of(ds[schema.PRIMARY].values[-1]) == split
        ds.to_zarr(
            str(root / "cubes" / f"{ds.attrs['frame_id']}.zarr"),
            mode="w",
            zarr_format=2,
            encoding=published_encoding(ds),
            consolidated=True,
        )
    build_catalog(root)
    return root


@pytest.fixture(scope="module")
def split_store(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    return write_split_store(tmp_path_factory.mktemp("train-store"))
