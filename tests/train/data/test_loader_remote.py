"""Cubes on object storage (real moto S3 server) and in .zarr.zip read like the local copy."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from loader_rows import AUTHORS_CHANNELS, STATS, pair_rows, platform_encoding, write_cube

from hephaestus.platform.storage import storage_options
from hephaestus.train.data import LoaderConfig, MinicubeDataset

from factories import make_cube_dataset

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")


def _same_items(a: MinicubeDataset, b: MinicubeDataset) -> None:
    assert len(a) == len(b) > 0
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert x["id"] == y["id"]
        np.testing.assert_array_equal(x["image"].numpy(), y["image"].numpy())
        np.testing.assert_array_equal(x["mask"].numpy(), y["mask"].numpy())


def test_s3_platform_cube_reads_like_local(s3_bucket, tmp_path):  # type: ignore[no-untyped-def]
    ds = make_cube_dataset(n_primary=2, n_secondary=2, height=48, width=48, positive_every=2)
    local = write_cube(ds, tmp_path / "local.zarr", "platform", tile=24)
    remote = f"{s3_bucket}/cubes/001A_00001_000001.zarr"
    # only what the loader reads (fewer objects for the moto server to take)
    needed = [*AUTHORS_CHANNELS, "deformation_mask"]
    enc = platform_encoding(ds, 24)
    ds[needed].to_zarr(
        remote,
        mode="w",
        zarr_format=3,
        encoding={v: enc[v] for v in needed},
        consolidated=False,
        storage_options=storage_options(remote),
    )
    cfg = LoaderConfig(store_url=s3_bucket, crop_size=32, max_offset=8, augment=False, undersample=False)
    a = MinicubeDataset(pair_rows(ds, local), None, STATS, cfg)
    b = MinicubeDataset(pair_rows(ds, remote), None, STATS, cfg)
    assert b._cubes.get(remote).fetcher.local_root is None  # the concurrent object-store path
    assert b._cubes.get(remote).reader("insar_difference").fast
    _same_items(a, b)


def test_zipped_published_cube_reads_like_the_directory(tmp_path):  # type: ignore[no-untyped-def]
    ds = make_cube_dataset(n_primary=2, n_secondary=2, height=40, width=40, positive_every=2)
    folder = Path(write_cube(ds, tmp_path / "F.zarr", "published"))
    archive = tmp_path / "F.zarr.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    cfg = LoaderConfig(store_url="u", crop_size=32, max_offset=4, augment=False, undersample=False)
    a = MinicubeDataset(pair_rows(ds, str(folder)), None, STATS, cfg)
    b = MinicubeDataset(pair_rows(ds, str(archive)), None, STATS, cfg)
    _same_items(a, b)
    shutil.rmtree(folder)  # the zip alone is enough
    fresh = MinicubeDataset(pair_rows(ds, str(archive)), None, STATS, cfg)
    assert fresh[0]["image"].shape == (9, 32, 32)
