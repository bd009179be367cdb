"""The held-out-volcano split (issue 23 item 2): whole frames and volcanoes in one split, recorded in the
collection, read by scheme; catalogs built before it are refused with one line.

The store holds real frame ids (frame_names.json names their volcanoes) placed at their volcanoes, two
frames per volcano for Colima and Campi Flegrei, an unnamed frame on Hawaii's Big Island (the nearest GVP
volcano names it and joins it to the real Hawaii frame), and an unnamed frame in the open Pacific (its
own group).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hephaestus.catalog import (
    CatalogConfig,
    SplitSchemeError,
    build_catalog,
    query,
    read_pairs,
    read_series,
    read_train_statistics,
    resolve,
)
from hephaestus.catalog.stac_validate import StacValidationError, validate
from hephaestus.catalog.volcano_split import FrameVolcanoes, assign, volcano_groups
from hephaestus.platform import stac_extension as hx
from hephaestus.platform.layout import StoreLayout

from factories import write_published_cube

# frame id -> (lat_max, lon_min) of its cube's grid (near its real volcano)
FRAMES = {
    "012D_07075_080504": (19.55, -103.65),  # Colima
    "049A_07091_051113": (19.56, -103.64),  # Colima (the other track; footprints overlap)
    "022D_04826_121209": (40.85, 14.10),  # Campi Flegrei, Ischia, Vesuvius, Colli Albani
    "124D_04854_171313": (40.70, 14.30),  # Campi Flegrei, Ischia, Vesuvius
    "124D_05291_081406": (37.77, 14.97),  # Etna
    "109D_05390_141615": (36.43, 25.38),  # Milos, Santorini
    "169D_00001_020800": (28.60, -17.87),  # Hierro, La Palma
    "087D_07004_060904": (19.44, -155.32),  # Kilauea, Mauna Loa, ...
    "001A_00001_000001": (19.49, -155.62),  # unnamed, on Mauna Loa's flank
    "002A_00002_000002": (5.0, -140.0),  # unnamed, open Pacific
}
SAME = [
    ("012D_07075_080504", "049A_07091_051113"),
    ("022D_04826_121209", "124D_04854_171313"),
    ("087D_07004_060904", "001A_00001_000001"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("volcano-store")
    for k, (frame, (lat, lon)) in enumerate(FRAMES.items()):
        write_published_cube(
            root / "cubes" / f"{frame}.zarr",
            frame_id=frame,
            lat_max=lat,
            lon_min=lon,
            height=24,
            width=24,
            seed=k,
            first_id=1000 * (k + 1),
        )
    build_catalog(root, CatalogConfig(workers=1))
    return root


def test_every_frame_and_volcano_is_in_one_split(store: Path) -> None:
    pairs = read_pairs(store)
    by_frame: dict[str, set] = {}
    for frame, split in zip(pairs["frame_id"].to_pylist(), pairs["volcano_split"].to_pylist(), strict=True):
        by_frame.setdefault(frame, set()).add(split)
    assert set(by_frame) == set(FRAMES)
    assert all(len(v) == 1 and None not in v for v in by_frame.values()), by_frame
    split = {f: next(iter(v)) for f, v in by_frame.items()}
    for a, b in SAME:
        assert split[a] == split[b], (a, b)
    # 8 volcano groups: each held-out split has one, and the paper's split is untouched (2018: train)
    assert {"train", "val", "test"} <= set(split.values())
    assert set(pairs["split"].to_pylist()) == {"train"}
    series = read_series(store)
    assert series.num_rows > 0
    assert all(
        split[f] == s
        for f, s in zip(series["frame_id"].to_pylist(), series["volcano_split"].to_pylist(), strict=True)
    )


def test_reading_by_scheme_selects_the_frames(store: Path) -> None:
    everything = read_pairs(store)
    for name in ("train", "val", "test"):
        part = read_pairs(store, split=name, split_scheme="volcano")
        assert set(part["volcano_split"].to_pylist()) == {name}
        expected = sum(1 for v in everything["volcano_split"].to_pylist() if v == name)
        assert part.num_rows == expected
        usable = read_pairs(store, split=name, split_scheme="volcano", usable_only=True)
        assert usable.num_rows == sum(usable["usable"].to_pylist())
        series = read_series(store, split=name, split_scheme="volcano")
        assert set(series["frame_id"].to_pylist()) <= set(part["frame_id"].to_pylist())
    # the paper's scheme stays the default
    assert read_pairs(store, split="train").num_rows == everything.num_rows


def test_the_collection_records_what_the_index_holds(store: Path) -> None:
    _, coll = resolve(store)
    schemes = coll[hx.SPLIT_SCHEMES]
    assert set(schemes) == {"paper", "volcano"}
    assert schemes["paper"]["column"] == "split" and schemes["volcano"]["column"] == "volcano_split"
    pairs = read_pairs(store)
    for scheme, column in (("paper", "split"), ("volcano", "volcano_split")):
        counts = Counter(pairs[column].to_pylist())
        for name, entry in schemes[scheme]["splits"].items():
            frames = {
                f
                for f, v in zip(pairs["frame_id"].to_pylist(), pairs[column].to_pylist(), strict=True)
                if v == name
            }
            assert entry["pairs"] == counts.get(name, 0)
            assert entry["frames"] == sorted(frames)
    volcano = schemes["volcano"]["splits"]
    assert sorted(f for e in volcano.values() for f in e["frames"]) == sorted(FRAMES)
    etna_split = next(n for n, e in volcano.items() if "124D_05291_081406" in e["frames"])
    assert "Etna" in volcano[etna_split]["volcanoes"]
    # the volcano scheme's own train statistics: only its train frames' pixels
    paper, held = read_train_statistics(store), read_train_statistics(store, "volcano")
    assert set(paper) == set(held) and paper["dem"] != held["dem"]


def test_the_extension_schema_validates_the_record(store: Path, shared_dir: Path) -> None:
    _, coll = resolve(store)
    schemas = shared_dir / "data" / "stac-schemas"
    assert hx.SCHEMA_URI in validate(coll, schemas, "collection.json")
    record = coll[hx.SPLIT_SCHEMES]
    for bad in (
        {**record, "date": record["paper"]},  # an unknown scheme
        {"volcano": {**record["volcano"], "splits": {"train": {"frames": []}}}},  # counts missing
    ):
        with pytest.raises(StacValidationError):
            validate({**coll, hx.SPLIT_SCHEMES: bad}, schemas, "bad-collection")


def test_duckdb_reads_the_column(store: Path) -> None:
    table = query(store, "SELECT volcano_split, count(*) AS n FROM pairs GROUP BY 1 ORDER BY 1")
    got = dict(zip(table["volcano_split"].to_pylist(), table["n"].to_pylist(), strict=True))
    assert set(got) == {"test", "train", "val"}
    assert sum(got.values()) == read_pairs(store).num_rows


def test_a_catalog_built_before_the_scheme_is_refused_in_one_line(store: Path, tmp_path: Path) -> None:
    import shutil

    old = tmp_path / "old"
    shutil.copytree(store, old)
    layout = StoreLayout(str(old))
    pointer = Path(layout.pointer)
    coll = json.loads(pointer.read_text())
    for key in (hx.SPLIT_SCHEMES, hx.STATISTICS_TRAIN_VOLCANO):
        coll.pop(key)
    pointer.write_text(json.dumps(coll))
    base, _ = resolve(old)
    for part in Path(base, "index").rglob("*.parquet"):
        table = pq.read_table(part)
        pq.write_table(table.drop_columns(["volcano_split"]), part)
    assert read_pairs(old, split="train").num_rows > 0  # the paper's split reads as before
    assert set(read_pairs(old)["volcano_split"].to_pylist()) == {None}
    for call in (
        lambda: read_pairs(old, split="test", split_scheme="volcano"),
        lambda: read_series(old, split="test", split_scheme="volcano"),
        lambda: read_train_statistics(old, "volcano"),
    ):
        with pytest.raises(SplitSchemeError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message and str(old) in message and "rebuild" in message
    with pytest.raises(SplitSchemeError, match="unknown split scheme 'date'"):
        read_pairs(store, split="test", split_scheme="date")


# -- the assignment rule, on hand-made volcano keys ---------------------------------------------


def _shares(counts: dict[str, tuple[int, int]], out: dict[str, str]) -> dict[str, float]:
    total = sum(n for n, _ in counts.values())
    return {s: sum(counts[k][0] for k in out if out[k] == s) / total for s in ("train", "val", "test")}


def test_assignment_is_deterministic_and_near_70_15_15() -> None:
    counts = {f"volcano {i:02d}": (10 + (i * 37) % 50, i % 4) for i in range(60)}
    out = assign(counts)
    assert out == assign(dict(reversed(list(counts.items()))))  # not the order given
    shares = _shares(counts, out)
    assert abs(shares["val"] - 0.15) < 0.03 and abs(shares["test"] - 0.15) < 0.03, shares
    assert shares["train"] > 0.64
    positives = sum(p for _, p in counts.values())
    for split in ("val", "test"):  # positives are balanced too
        held = sum(counts[k][1] for k in out if out[k] == split)
        assert abs(held / positives - 0.15) < 0.06, (split, held)
    # a group's split depends on the groups present, never on anything else (no salted hash)
    assert out == assign(counts)


@pytest.mark.parametrize("n", [3, 4, 5])
def test_few_volcanoes_still_give_every_split_one(n: int) -> None:
    counts = {f"v{i}": (100, 5) for i in range(n)}
    out = assign(counts)
    assert set(out.values()) == {"train", "val", "test"}


def test_held_out_splits_get_positives_when_three_volcanoes_have_them() -> None:
    # 30 volcanoes without positives and 3 with: each split gets exactly one of the three
    counts = {f"quiet {i}": (50, 0) for i in range(30)} | {f"active {i}": (50, 4) for i in range(3)}
    out = assign(counts)
    active = Counter(out[f"active {i}"] for i in range(3))
    assert active == Counter({"train": 1, "val": 1, "test": 1})


def test_one_and_two_volcanoes() -> None:
    assert assign({"etna": (10, 1)}) == {"etna": "train"}
    two = assign({"etna": (10, 1), "colima": (10, 1)})
    assert sorted(two.values()) == ["test", "train"]


def test_groups_join_names_and_overlaps_but_not_homonyms_far_apart() -> None:
    frames = [
        FrameVolcanoes("A", ("Cerro Azul", "Sierra Negra"), (-91.5, -1.0, -91.0, -0.5)),
        FrameVolcanoes("B", ("Fernandina", "Sierra_Negra"), (-91.7, -0.6, -91.2, -0.2)),
        FrameVolcanoes("C", ("Cerro Azul", "Tromen"), (-70.5, -36.0, -70.0, -35.5)),  # Andes: 2,300 km away
        FrameVolcanoes("D", (), (-70.4, -35.9, -70.1, -35.6)),  # overlaps C
        FrameVolcanoes("E", ("Etna",), None),
        FrameVolcanoes("F", ("etna",), None),
        FrameVolcanoes("G", (), None),
    ]
    groups = volcano_groups(frames)
    assert groups["A"] == groups["B"] == "cerro azul"
    assert groups["C"] == groups["D"] == "cerro azul (C)"  # the name again, another volcano
    assert groups["E"] == groups["F"] == "etna"
    assert groups["G"] == "frame:G"


def test_the_loader_reads_the_scheme_it_is_given(store: Path) -> None:
    from hephaestus.train.data import MinicubeDataset
    from hephaestus.train.data.config import LoaderConfig

    test_frames = set(read_pairs(store, split="test", split_scheme="volcano")["frame_id"].to_pylist())
    cfg = LoaderConfig(store_url=str(store), split="test", split_scheme="volcano", crop_size=16)
    dataset = MinicubeDataset.from_catalog(cfg.model_copy(update={"augment": False, "undersample": False}))
    assert len(dataset) == read_pairs(store, split="test", split_scheme="volcano", usable_only=True).num_rows
    assert set(dataset.rows["frame_id"].to_pylist()) == test_frames
    series = MinicubeDataset.from_catalog(cfg.model_copy(update={"series": True}))
    assert len(series) > 0 and set(series.rows["frame_id"].to_pylist()) <= test_frames
    # the paper's split of the same store: 2018 is all train, so its test split is empty
    paper = MinicubeDataset.from_catalog(cfg.model_copy(update={"split_scheme": "paper"}))
    assert len(paper) == 0


def test_hmc_train_takes_the_flag(tmp_path: Path) -> None:
    import yaml
    from typer.testing import CliRunner

    from hephaestus.cli.app import app

    argv = ["train", str(tmp_path / "s"), "--out", str(tmp_path / "r"), "--split-scheme", "volcano"]
    result = CliRunner().invoke(app, [*argv, "--print-config"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["split_scheme"] == "volcano"
    bad = CliRunner().invoke(app, [*argv[:-1], "date", "--print-config"])
    assert bad.exit_code == 2 and "split_scheme" in bad.stderr
