"""Fixtures for the infra tests: the repository and its pyproject, read from disk."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def load_yaml(relative: str) -> dict[str, Any]:
    """The single YAML document of a file under infra/."""
    (doc,) = list(yaml.safe_load_all((INFRA / relative).read_text()))
    return doc
