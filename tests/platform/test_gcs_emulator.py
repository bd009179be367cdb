"""The GCS test server (tests/gcs_emulator.py) stores every object with the bytes gcsfs wrote: its stock
multipart parser drops a last byte 0x0D, which cut zarr shards whose index CRC-32C ends in it."""

from __future__ import annotations

import pytest

from hephaestus.platform import storage


@pytest.mark.parametrize("tail", [b"\r", b"\n", b"\r\n", b"\n\r", b"\n--==0=", b""])
def test_objects_round_trip_byte_for_byte(gcs_bucket: str, tail: bytes) -> None:
    data = bytes(range(256)) + tail
    url = f"{gcs_bucket}/blob"
    storage.write_bytes(url, data)
    assert storage.read_bytes(url) == data
    loc = storage.location(url)
    loc.fs.invalidate_cache()
    assert loc.fs.info(loc.path)["size"] == len(data)
