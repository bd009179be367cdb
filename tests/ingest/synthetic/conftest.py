"""Fixtures of the synthetic-source tests: the real annotations, read once per session."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def real_annotations(shared_dir: Path) -> list[dict]:
    """The 19,919 real annotation records (tarball members matched by name, read in memory)."""
    records = []
    with tarfile.open(shared_dir / "data" / "hephaestus" / "annotations.tar.gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".json"):
                records.append(json.load(tar.extractfile(member)))
    return records
