"""Cubes that readers nobody here wrote read right.

- v2 (the published layout) read by xarray + zarr 2.18.3 in an environment pinned to the authors'
  versions returns what the platform's reader returns, twice alike: every chunk is written, so no
  missing chunk of a `fill_value: null` array can read as uninitialised memory.
- v3: every array opens in tensorstore's `zarr3` driver; the pair text is stored as numbers whose
  meaning the cube states (CF flag_values / flag_meanings, a CF ragged array of UTF-8 captions).
- Both layouts: the platform reader returns the same values, with zarr's unstable-specification
  warning (and every other warning) an error; "no product" is one encoding: NaN in every float
  raster, background codes in the masks, "" in the text.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from authors_env import read_with_authors_stack

from hephaestus.ingest import IngestConfig, run_ingest
from hephaestus.platform import cube_text, schema
from hephaestus.platform.cube import open_cube

pytestmark = pytest.mark.usefixtures("ray_local")


@pytest.fixture(scope="module")
def stores(synth_sources: Path, tmp_path_factory) -> dict[int, list[Path]]:
    out: dict[int, list[Path]] = {}
    for fmt in (2, 3):
        store = tmp_path_factory.mktemp(f"v{fmt}")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the driver writes every array's metadata and the pair text
            summary = run_ingest(
                IngestConfig(sources=str(synth_sources), out=str(store), workers=2, zarr_format=fmt)
            )
        assert summary.ok
        out[fmt] = sorted(Path(u) for u in summary.cube_urls)
    return out


def _annotations(synth_sources: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (synth_sources / "annotations").glob("*.json")}


def _strict_open(url: Path):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return open_cube(url).load()


def test_v2_and_v3_read_the_same_values(stores) -> None:
    for v2_url, v3_url in zip(stores[2], stores[3], strict=True):
        v2, v3 = _strict_open(v2_url), _strict_open(v3_url)
        assert set(v2.variables) == set(v3.variables)
        for name in v2.variables:
            a, b = v2[name].values, v3[name].values
            assert a.dtype == b.dtype, name
            np.testing.assert_array_equal(a, b, err_msg=name)  # NaN == NaN here


def test_no_product_is_one_encoding(stores) -> None:
    for urls in stores.values():
        for url in urls:
            ds = _strict_open(url)
            missing = ~ds.valid_date_pair.values
            assert missing.any(), "the synthetic frames have pairs without a product"
            for name in schema.RASTER_VARIABLES:
                values = ds[name].values[missing]
                if schema.VARIABLES[name].dtype == "float32":
                    assert np.isnan(values).all(), name
                else:
                    assert (values == schema.MASK_FILL[name]).all(), name
            assert np.isnan(ds.confidence.values[missing & (ds.unique_id.values == "")]).all()


def test_v2_reads_right_with_the_authors_zarr_2(stores, synth_sources: Path, tmp_path: Path) -> None:
    anns = _annotations(synth_sources)
    for url in stores[2]:
        got, versions = read_with_authors_stack(url, tmp_path / f"{url.stem}.npz")
        assert versions["zarr"] == "2.18.3" and versions["numpy"].startswith("1.")
        ours = open_cube(url).load()
        for name in ours.variables:
            expected = ours[name].values
            if expected.dtype.kind == "M":
                expected = expected.astype("datetime64[D]").astype("int64")
            for attempt in (0, 1):
                np.testing.assert_array_equal(
                    got[f"{attempt}/{name}"], expected, err_msg=f"{name} read {attempt}"
                )
        # independent of both readers: the masks hold only schema codes, ids and phases the annotations'
        for m in schema.MASK_VARIABLES:
            assert set(np.unique(got[f"0/{m}"])) <= set(schema.CODES[m].flag_values), m
        ids = {str(u) for u in got["0/unique_id"].ravel() if u}
        assert ids and ids <= set(anns)
        for uid in ids:
            i, j = np.argwhere(got["0/unique_id"] == uid)[0]
            assert got["0/phase"][i, j] == anns[uid]["phase"]
            assert got["0/caption"][i, j] == anns[uid]["caption"]


def test_v3_every_array_opens_in_tensorstore(stores, synth_sources: Path) -> None:
    ts = pytest.importorskip("tensorstore")
    anns = _annotations(synth_sources)
    for url in stores[3]:
        arrays = {}
        for meta in sorted(url.glob("*/zarr.json")):
            spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": f"{meta.parent}/"}}
            arrays[meta.parent.name] = ts.open(spec, read=True).result().read().result()
        assert set(schema.VARIABLES) - set(arrays) == {"caption"}
        assert {cube_text.CAPTION_LENGTH, cube_text.CAPTION_BYTES} <= set(arrays)
        phase_meta = json.loads((url / "phase" / "zarr.json").read_text())["attributes"]
        meanings = dict(zip(phase_meta["flag_values"], phase_meta["flag_meanings"].split(), strict=True))
        lengths = arrays[cube_text.CAPTION_LENGTH].ravel()
        ends = np.cumsum(lengths)
        blob = arrays[cube_text.CAPTION_BYTES].tobytes()
        n = 0
        for (i, j), uid in np.ndenumerate(arrays["unique_id"]):
            if uid < 0:
                continue
            a = anns[str(uid)]
            assert meanings[int(arrays["phase"][i, j])] == a["phase"]
            k = i * arrays["unique_id"].shape[1] + j
            assert blob[ends[k] - lengths[k] : ends[k]].decode("utf-8") == a["caption"]
            n += 1
        assert n > 0
        ours = open_cube(url).load()
        for name, values in arrays.items():
            if name in ours.variables and ours[name].dtype.kind in "fiub":
                np.testing.assert_array_equal(values, ours[name].values, err_msg=name)
