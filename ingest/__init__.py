"""Ingest: build Hephaestus minicubes in object storage from LiCSAR, ERA5 and annotation sources.

Public API (imported lazily so that `hephaestus.ingest.synthetic` stays light):
`IngestConfig`, `run_ingest`, `IngestSummary`, `convert_minicubes`, `discover_products` (what a watcher
looks for: the products under the sources).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import ChunkingConfig, IngestConfig
    from .convert import convert_minicubes
    from .pipeline import run_ingest
    from .sources import discover_products
    from .summary import IngestSummary

__all__ = [
    "ChunkingConfig",
    "IngestConfig",
    "IngestSummary",
    "convert_minicubes",
    "discover_products",
    "run_ingest",
]

_WHERE = {
    "ChunkingConfig": "config",
    "IngestConfig": "config",
    "IngestSummary": "summary",
    "convert_minicubes": "convert",
    "discover_products": "sources",
    "run_ingest": "pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
