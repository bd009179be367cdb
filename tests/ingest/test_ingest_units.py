"""Ingest pieces without Ray: layouts, ERA5 hour (annotations: tests/platform/test_annotation.py)."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from hephaestus.ingest import ChunkingConfig
from hephaestus.ingest.encoding import LAYOUTS, encoding
from hephaestus.ingest.era5 import Era5Error, Era5File, nearest_hour
from hephaestus.ingest.geotiff import Grid


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_fit_odd_frame_sizes(layout: str) -> None:
    enc = encoding(3, 2, 3, 1070, 1409, ChunkingConfig(layout=layout))["insar_difference"]
    arr = zarr.create_array(
        zarr.storage.MemoryStore(),
        shape=(2, 3, 1070, 1409),
        dtype="float32",
        **{k: v for k, v in enc.items() if k != "fill_value"},
        fill_value=0.0,
    )
    arr[1, 2] = np.ones((1070, 1409), "float32")
    assert arr[1, 2, 1069, 1408] == 1 and arr[0, 0, 5, 5] == 0
    assert arr.chunks[:2] == (1, 1)  # one pair per chunk: tasks never share a chunk


def test_nearest_hour_and_missing_hour() -> None:
    grid = Grid(lat_max=19.6, lon_min=-155.4, height=40, width=40)
    times = tuple(str(np.datetime64("2020-01-01T00", "ns") + np.timedelta64(h, "h")) for h in (3, 4, 9))
    f = Era5File("a.nc", times, 18.0, 21.0, -157.0, -154.0, (), "valid_time", "latitude", "longitude")
    pick = nearest_hour([f], grid, np.datetime64("2020-01-01T04:20"), 30)
    assert pick.time_index == 1 and pick.offset_minutes == pytest.approx(20)
    with pytest.raises(Era5Error, match="missing ERA5 hour") as missing:
        nearest_hour([f], grid, np.datetime64("2020-01-01T06:31"), 30)
    # the file holding the nearest hour is named (a shifted time axis is that file's fault)
    assert "nearest is 2020-01-01T09:00:00 in a.nc" in str(missing.value) and missing.value.files == ("a.nc",)
    far = Era5File("b.nc", times, 0.0, 1.0, 0.0, 1.0, (), "valid_time", "latitude", "longitude")
    with pytest.raises(Era5Error, match="covers the frame"):
        nearest_hour([far], grid, np.datetime64("2020-01-01T04:00"), 30)


def test_layout_names_say_edge_and_codec() -> None:
    """`<kind>-<edge>-<codec>`: the inner chunk edge and, for "mixed", phase alone uncompressed."""
    for layout in LAYOUTS:
        enc = encoding(3, 2, 3, 1070, 1409, ChunkingConfig(layout=layout))
        phase, coherence = enc["insar_difference"], enc["insar_coherence"]
        if layout == "slice":
            assert phase["chunks"] == (1, 1, 1070, 1409)
            continue
        edge = int(layout.split("-")[1])
        assert phase["chunks"] == coherence["chunks"] == (1, 1, edge, edge)
        assert ("shards" in phase) == layout.startswith("sharded-")
        # every chain ends in the CRC-32C checksum (issue 27); before it the compressor, none for mixed phase
        assert all(type(c["compressors"][-1]).__name__ == "Crc32cCodec" for c in (phase, coherence))
        assert len(coherence["compressors"]) == 1 + 1
        assert len(phase["compressors"]) == (0 if layout.endswith("-mixed") else 1) + 1
    tiled = encoding(3, 2, 3, 500, 500, ChunkingConfig(layout="sharded-256-lz4", tile=64))["insar_difference"]
    assert tiled["chunks"] == (1, 1, 64, 64)  # an explicit tile overrides the layout's own edge


def test_era5_index_slices_keep_folder_order() -> None:
    """The ERA5 index built by parallel tasks is the folder's index: slices are consecutive and cover it."""
    from hephaestus.ingest.runner import ERA5_PER_TASK, era5_slices

    urls = [f"e{k:03d}.nc" for k in range(129)]
    for cpus in (1, 2, 3, 16):
        slices = era5_slices(urls, cpus)
        assert [u for s in slices for u in s] == urls
        assert len(slices) <= cpus and all(len(s) >= ERA5_PER_TASK for s in slices)
    assert era5_slices(urls[:5], 2) == [urls[:5]]  # too few to split
    assert era5_slices([], 2) == []
