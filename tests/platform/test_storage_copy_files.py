"""`storage.copy_files`: a published tree's unchanged files carried into its next version, on every store."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from hephaestus.platform import storage

FILES = {"a.png": b"\x89PNG one", "pairs/b.png": b"two", "alerts/c.tif": b"three"}


def _copy_and_check(src: str, dst: str) -> None:
    for name, payload in FILES.items():
        storage.write_bytes_atomic(storage.join(src, *name.split("/")), payload)
    storage.copy_files(src, dst, ["pairs/b.png", "alerts/c.tif"])
    assert storage.read_bytes(storage.join(dst, "pairs", "b.png")) == b"two"
    assert storage.read_bytes(storage.join(dst, "alerts", "c.tif")) == b"three"
    assert not storage.exists(storage.join(dst, "a.png"))  # only the names asked
    with pytest.raises(FileNotFoundError):
        storage.copy_files(src, dst, ["missing.png"])


def test_local_copies_are_hard_links(tmp_path: Path) -> None:
    _copy_and_check(str(tmp_path / "v1"), str(tmp_path / "v2"))
    assert os.path.samefile(tmp_path / "v1" / "pairs" / "b.png", tmp_path / "v2" / "pairs" / "b.png")
    assert not list(tmp_path.rglob("*.tmp"))


def test_local_copies_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(*_a: object) -> None:
        raise PermissionError("no hard links on this filesystem")

    monkeypatch.setattr(os, "link", no_links)
    _copy_and_check(str(tmp_path / "v1"), str(tmp_path / "v2"))
    assert not os.path.samefile(tmp_path / "v1" / "pairs" / "b.png", tmp_path / "v2" / "pairs" / "b.png")
    assert not list(tmp_path.rglob("*.tmp"))


def test_memory_copies() -> None:
    root = f"memory://copy-{uuid.uuid4().hex[:8]}"
    _copy_and_check(f"{root}/v1", f"{root}/v2")


def test_s3_server_side_copies(s3_bucket: str) -> None:
    _copy_and_check(f"{s3_bucket}/site/v1", f"{s3_bucket}/site/v2")


def test_gcs_server_side_copies(gcs_bucket: str) -> None:
    _copy_and_check(f"{gcs_bucket}/site/v1", f"{gcs_bucket}/site/v2")
