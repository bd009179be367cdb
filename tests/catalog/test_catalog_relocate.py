"""A store is relocatable: every reference inside it is relative, so a copy (another folder, a bucket)
reads its own cubes with no rebuild, and a catalog published with absolute cube_url values still reads.

Training a whole run is left out (slow); a loader crop (what the trainer's loader reads) plus
`hmc predict` and one monitoring cycle cover every reader of cube_url.
"""

from __future__ import annotations

import json
import posixpath
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from hephaestus.catalog import build_catalog, read_pairs, read_series
from hephaestus.catalog.read import query, read_version_pairs, read_version_series, resolve_version
from hephaestus.cli.app import app
from hephaestus.monitor.config import MonitorConfig, Thresholds
from hephaestus.monitor.cycle import run_cycle
from hephaestus.platform import storage
from hephaestus.platform.cube import open_cube
from hephaestus.platform.layout import StoreLayout, href_between, is_absolute_ref
from hephaestus.train.data import LoaderConfig, MinicubeDataset

from factories import write_published_cube

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")

FRAMES = ("124D_04854_171313", "001A_00001_000001")
EXTERNAL_RELS = {"license"}  # links to documents outside the store (absolute by nature)


def _build(root: Path) -> Path:
    store = root / "store"
    for k, frame in enumerate(FRAMES):
        write_published_cube(store / "cubes" / f"{frame}.zarr", zarr_format=2, frame_id=frame, seed=k)
    build_catalog(store)
    return store


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    return _build(tmp_path_factory.mktemp("relocate"))


def _segmenter(folder: Path) -> Path:
    """A checkpoint folder as the training loop writes it: a UNet with random weights (as test_predict.py)."""
    import torch

    from hephaestus.platform.dataspec import DataSpec
    from hephaestus.platform.inputs import InputSpec
    from hephaestus.train.config import RunConfig
    from hephaestus.train.loop import input_record
    from hephaestus.train.models import build_model

    folder.mkdir(parents=True)
    run = RunConfig(model="unet", encoder="resnet18", crop_size=32, atmosphere=False, weights="random")
    spec = InputSpec.create(DataSpec(atmosphere=False, crop_size=32, statistics="authors"))
    torch.manual_seed(0)
    model = build_model(run.model, spec.in_channels, weights="random", encoder=run.encoder).module
    torch.save(model.state_dict(), folder / "best.pt")
    (folder / "run_config.json").write_text(json.dumps(run.model_dump(mode="json")))
    (folder / "input.json").write_text(json.dumps(input_record(run, spec, "random")))
    return folder


def _relative(href: str) -> bool:
    return bool(href) and not urlsplit(href).scheme and not href.startswith("/")


def _hrefs(doc: dict) -> list[str]:
    links = [ln["href"] for ln in doc.get("links", []) if ln.get("rel") not in EXTERNAL_RELS]
    return links + [a["href"] for a in (doc.get("assets") or {}).values() if a]


def test_every_stored_reference_is_relative(built: Path) -> None:
    version, _ = resolve_version(built)
    coll = json.loads((built / "catalog" / "collection.json").read_text())
    assert all(_relative(h) for h in _hrefs(coll)), _hrefs(coll)
    items = sorted(Path(version.url, "items").glob("*.json"))
    assert len(items) == len(FRAMES)
    for path in items:
        item = json.loads(path.read_text())
        assert all(_relative(h) for h in _hrefs(item)), _hrefs(item)
        # relative to the Item's own file: ../../../cubes/<FRAME>.zarr, which exists
        assert item["assets"]["zarr"]["href"] == f"../../../cubes/{item['id']}.zarr"
        assert (
            path.parent / item["assets"]["zarr"]["href"]
        ).resolve() == built / "cubes" / f"{item['id']}.zarr"
        assert (path.parent / item["assets"]["pairs"]["href"]).resolve() == Path(version.pairs_index)
    mirror = pq.read_table(version.geoparquet).to_pylist()
    assert len(mirror) == len(FRAMES)
    for row in mirror:
        hrefs = [ln["href"] for ln in row["links"]] + [a["href"] for a in row["assets"].values() if a]
        assert all(_relative(h) for h in hrefs), hrefs
        # relative to items.parquet (catalog/<VERSION>/)
        assert (
            Path(version.url) / row["assets"]["zarr"]["href"]
        ).resolve() == built / "cubes" / f"{row['id']}.zarr"
        assert (Path(version.url) / row["assets"]["pairs"]["href"]).resolve() == Path(version.pairs_index)
    stored = read_version_pairs(version)["cube_url"].to_pylist()
    assert sorted(set(stored)) == sorted(f"cubes/{f}.zarr" for f in FRAMES)
    series = read_version_series(version)["cube_url"].to_pylist()
    assert series and all(_relative(u) for u in series)


def _loader_crop(store: str) -> dict:
    cfg = LoaderConfig(
        store_url=store, split="train", crop_size=32, max_offset=0, statistics="authors", augment=False,
        undersample=False,
    )  # fmt: skip
    dataset = MinicubeDataset.from_catalog(cfg)
    assert len(dataset) == 12
    assert all(s.steps[0].cube_url.startswith(store) for s in dataset.samples)
    return dataset[0]


def test_a_copied_store_reads_its_own_cubes(built: Path, tmp_path: Path) -> None:
    original = tmp_path / "original"
    shutil.copytree(built, original)
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(original, copy)
    shutil.rmtree(original)  # anything still pointing at the original now fails

    pairs = read_pairs(copy)
    urls = set(pairs["cube_url"].to_pylist())
    assert urls == {str(copy / "cubes" / f"{f}.zarr") for f in FRAMES}
    assert set(read_series(copy)["cube_url"].to_pylist()) <= urls
    assert set(query(copy, "SELECT DISTINCT cube_url FROM pairs")["cube_url"].to_pylist()) == urls
    row = pairs.to_pylist()[0]
    ds = open_cube(row["cube_url"])
    assert ds.attrs.get("frame_id", row["frame_id"]) == row["frame_id"]

    sample = _loader_crop(str(copy))
    assert tuple(sample["image"].shape[-2:]) == (32, 32)

    ckpt = _segmenter(tmp_path / "ckpt")
    out = tmp_path / "mask.tif"
    predicted = CliRunner().invoke(
        app, ["predict", str(ckpt), row["cube_url"], "--out", str(out), "--unique-id", str(row["unique_id"])]
    )
    assert predicted.exit_code == 0, predicted.output
    assert out.exists()

    (tmp_path / "feed").mkdir()
    cfg = MonitorConfig(
        sources=str(tmp_path / "feed"),
        store=str(copy),
        checkpoints=(str(ckpt),),
        thresholds=Thresholds(score=0.0, min_area_km2=0.0),
        workers=2,
    )
    report = run_cycle(cfg)
    assert not report.ingested and not report.skipped  # no rebuild; every pair's cube was found
    assert report.scored == pairs.filter(pa.compute.field("usable")).num_rows > 0
    assert not (tmp_path / "original").exists()


def test_a_store_uploaded_to_a_bucket_reads_there(built: Path, s3_bucket: str) -> None:
    store = f"{s3_bucket}/relocated/store"
    remote = storage.location(store)
    remote.fs.put(str(built), remote.path, recursive=True)
    pairs = read_pairs(store)
    assert set(pairs["cube_url"].to_pylist()) == {f"{store}/cubes/{f}.zarr" for f in FRAMES}
    sample = _loader_crop(store)
    assert tuple(sample["image"].shape[-2:]) == (32, 32)


def test_a_catalog_with_absolute_cube_urls_still_reads(built: Path, tmp_path: Path) -> None:
    """Catalogs published before relative references hold absolute cube_url values: they stay absolute."""
    copy = tmp_path / "old"
    shutil.copytree(built, copy)
    version, _ = resolve_version(copy)
    absolute = {f"cubes/{f}.zarr": str(built / "cubes" / f"{f}.zarr") for f in FRAMES}
    for path in Path(version.pairs_index).rglob("*.parquet"):
        table = pq.read_table(path, partitioning=None)
        column = pa.array([absolute.get(u, u) for u in table["cube_url"].to_pylist()], pa.string())
        pq.write_table(table.set_column(table.schema.get_field_index("cube_url"), "cube_url", column), path)
    assert set(read_pairs(copy)["cube_url"].to_pylist()) == set(absolute.values())
    assert set(query(copy, "SELECT DISTINCT cube_url FROM pairs")["cube_url"].to_pylist()) == set(
        absolute.values()
    )


def test_resolve_and_relative_round_trip(tmp_path: Path) -> None:
    local, bucket = StoreLayout(tmp_path / "s"), StoreLayout("s3://bucket/a/store/")
    assert local.resolve("cubes/X.zarr") == str(tmp_path / "s" / "cubes" / "X.zarr")
    assert bucket.resolve("cubes/X.zarr") == "s3://bucket/a/store/cubes/X.zarr"
    assert local.relative(str(tmp_path / "s" / "cubes" / "X.zarr")) == "cubes/X.zarr"
    assert bucket.relative("s3://bucket/a/store/cubes/X.zarr") == "cubes/X.zarr"
    for absolute in ("s3://other/cubes/X.zarr", "/data/store/cubes/X.zarr", "file:///data/x.zarr"):
        assert is_absolute_ref(absolute)
    assert bucket.resolve("s3://other/cubes/X.zarr") == "s3://other/cubes/X.zarr"
    assert local.resolve("/data/store/cubes/X.zarr") == "/data/store/cubes/X.zarr"
    with pytest.raises(ValueError, match="not under the store"):
        bucket.relative("s3://bucket/a/other/cubes/X.zarr")
    assert href_between("catalog/v/items/X.json", "cubes/X.zarr") == "../../../cubes/X.zarr"
    assert href_between("catalog/v/items.parquet", "catalog/v/index/pairs/") == "index/pairs/"
    assert posixpath.normpath(posixpath.join("catalog/v/items", "../../../cubes/X.zarr")) == "cubes/X.zarr"
