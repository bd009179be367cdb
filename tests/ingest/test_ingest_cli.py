"""`hmc ingest` through the real CLI: summary, errors, --from-minicubes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cube_checks import content_hash
from typer.testing import CliRunner

from hephaestus.platform import schema
from hephaestus.platform.cli import app
from hephaestus.platform.cube import open_cube

from factories import write_published_cube

pytestmark = pytest.mark.usefixtures("ray_local")
runner = CliRunner()


def test_cli_ingest_prints_summary(synth_sources: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["ingest", str(synth_sources), "--out", str(tmp_path / "s"), "--workers", "2"])
    assert res.exit_code == 0, res.output
    assert "pairs written" in res.output and "pairs quarantined" in res.output
    assert len(list((tmp_path / "s" / "cubes").glob("*.zarr"))) == 2


def test_cli_missing_sources_is_a_clear_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "--out", str(tmp_path / "s")])
    assert res.exit_code == 1
    assert "sources not found" in res.output and "Traceback" not in res.output


def _zip_dir(root: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w") as z:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(root).as_posix())


def test_from_minicubes_dir_zip_tar(tmp_path: Path) -> None:
    import tarfile

    a = write_published_cube(tmp_path / "a" / "001A_00001_000001.zarr", frame_id="001A_00001_000001", seed=1)
    b = write_published_cube(tmp_path / "b" / "002D_00002_000002.zarr", frame_id="002D_00002_000002", seed=2)
    c = write_published_cube(tmp_path / "c" / "144A_SM_REUN_S6.zarr", frame_id="144A_SM_REUN_S6", seed=3)
    _zip_dir(tmp_path / "b" / "002D_00002_000002.zarr", tmp_path / "002D_00002_000002.zarr.zip")
    with tarfile.open(tmp_path / "144A_SM_REUN_S6.zarr.tar", "w") as t:
        t.add(tmp_path / "c" / "144A_SM_REUN_S6.zarr", arcname="144A_SM_REUN_S6.zarr")
    (tmp_path / "bad.zarr.zip").write_bytes(b"PK not really")
    paths = [
        tmp_path / "a" / "001A_00001_000001.zarr",
        tmp_path / "002D_00002_000002.zarr.zip",
        tmp_path / "144A_SM_REUN_S6.zarr.tar",
        tmp_path / "bad.zarr.zip",
    ]
    out = tmp_path / "out"
    res = runner.invoke(app, ["ingest", "--from-minicubes", *map(str, paths), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert [json.loads(p.read_text())["product"] for p in (out / "quarantine").glob("*.json")] == ["cube"]
    for src in (a, b, c):
        got = open_cube(out / "cubes" / f"{src.attrs['frame_id']}.zarr").load()
        valid = src.valid_date_pair.values
        np.testing.assert_array_equal(got.valid_date_pair.values, valid)
        for name in schema.VARIABLES:
            want, have = np.asarray(src[name].values), np.asarray(got[name].values)
            if want.ndim == 4:  # pairs without a product keep the fill values
                want, have = want[valid], have[valid]
            np.testing.assert_array_equal(have, want, err_msg=name)
        assert got.insar_difference.encoding["chunks"] != src.insar_difference.shape[:2] + (1, 1)
    again = runner.invoke(app, ["ingest", "--from-minicubes", *map(str, paths[:3]), "--out", str(out)])
    assert again.exit_code == 0 and "pairs skipped" in again.output
    hashes = content_hash(open_cube(out / "cubes" / "001A_00001_000001.zarr").load())
    assert hashes == content_hash(open_cube(out / "cubes" / "001A_00001_000001.zarr").load())
