"""Normalisation without leakage (train-split statistics) and evaluation crops fixed per sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hephaestus.catalog import CatalogConfig, build_catalog, read_statistics, read_train_statistics
from hephaestus.platform import schema
from hephaestus.platform.errors import InputError
from hephaestus.train.config import RunConfig
from hephaestus.train.data import LoaderConfig, MinicubeDataset
from hephaestus.train.sources import CatalogSource

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")


def _hand_statistics(cubes: list[xr.Dataset]) -> dict[str, tuple[float, float]]:
    """Population mean/std per key over valid pairs; phase 0 is no data for phase and coherence."""
    pools: dict[str, list[np.ndarray]] = {}
    for ds in cubes:
        valid = ds["valid_date_pair"].values
        phase = ds["insar_difference"].values[valid]
        data = phase != 0
        pools.setdefault("insar_difference", []).append(phase[data])
        pools.setdefault("insar_coherence", []).append(ds["insar_coherence"].values[valid][data])
        pools.setdefault("dem", []).append(ds["dem"].values.ravel())
        for which in ("primary", "secondary"):
            for f in schema.ERA5_FIELDS:
                pools.setdefault(f, []).append(ds[schema.era5_variable(which, f)].values[valid].ravel())
    out = {}
    for key, arrays in pools.items():
        x = np.concatenate([a.astype("float64").ravel() for a in arrays])
        x = x[np.isfinite(x)]
        out[key] = (float(x.mean()), float(x.std()))
    return out


def test_train_statistics_count_the_train_split_only(split_store: Path) -> None:
    cubes = {p.name: xr.open_zarr(p) for p in sorted((split_store / "cubes").glob("*.zarr"))}
    train_cube = [ds for ds in cubes.values() if schema.split_of(ds[schema.PRIMARY].values[0]) == "train"]
    assert len(train_cube) == 1 and len(cubes) == 3
    got = read_train_statistics(split_store)
    want = _hand_statistics(train_cube)
    for key, (mean, std) in want.items():
        assert got[key] == pytest.approx((mean, std), rel=1e-9), key
    everything = read_statistics(split_store)  # all splits: what training used to normalise with
    assert everything["insar_coherence"] != pytest.approx(got["insar_coherence"], rel=1e-6)
    # the loader's default is these train statistics; "authors" are the authors' file
    cfg = LoaderConfig(
        store_url=str(split_store), split="val", crop_size=16, augment=False, undersample=False
    )
    assert MinicubeDataset.from_catalog(cfg).input_spec.statistics["dem"] == got["dem"]
    authors = MinicubeDataset.from_catalog(cfg.model_copy(update={"statistics": "authors"}))
    assert authors.input_spec.statistics["dem"] == (833.0587512223403, 977.504283216005)


def test_a_catalog_without_train_statistics_is_refused(split_store: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "store"
    shutil.copytree(split_store / "cubes", root / "cubes")
    build_catalog(root, CatalogConfig(statistics=False))
    with pytest.raises(InputError, match="no train-split statistics"):
        MinicubeDataset.from_catalog(
            LoaderConfig(store_url=str(root), split="train", crop_size=16, augment=False, undersample=False)
        )
    ok = MinicubeDataset.from_catalog(
        LoaderConfig(
            store_url=str(root), crop_size=16, statistics="authors", augment=False, undersample=False
        )
    )
    assert ok.input_spec.statistics_source == "authors"


def test_evaluation_crops_are_fixed_per_sample_across_seeds_and_epochs(split_store: Path) -> None:
    source = CatalogSource(str(split_store))
    windows = []
    for seed in (0, 1, 7):
        run = RunConfig(crop_size=16, max_offset=8, seed=seed)
        request = LoaderConfig.for_split(run, "val")
        assert request.fixed_crops and not request.augment and not request.undersample
        dataset = source(request)
        for epoch in (0, 3):
            dataset.set_epoch(epoch)
            windows.append([dataset.window(i) for i in range(len(dataset))])
    assert all(w == windows[0] for w in windows)
    centre = (48 - 16) // 2  # the store's 48 px frames: centred start 16, offsets up to 8
    starts = {(r0, c0) for r0, c0, _, _ in windows[0]}
    assert len(starts) > 1 and all(abs(r0 - centre) <= 8 or abs(c0 - centre) <= 8 for r0, c0 in starts)
    # training crops do follow the seed and the epoch
    train = [
        source(LoaderConfig.for_split(RunConfig(crop_size=16, max_offset=8, seed=s), "train")) for s in (0, 1)
    ]
    assert not LoaderConfig.for_split(RunConfig(), "train").fixed_crops
    assert [train[0].window(i) for i in range(len(train[0]))] != [
        train[1].window(i) for i in range(len(train[1]))
    ]
