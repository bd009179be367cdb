"""Typed configuration of an ingest run (`hmc ingest` flags or a YAML file)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hephaestus.platform.config import Config

Layout = Literal[
    "sharded-256-lz4",
    "sharded-128-lz4",
    "sharded-256-mixed",
    "sharded-128-mixed",
    "chunk-256-lz4",
    "chunk-256-zstd",
    "slice",
]


class ChunkingConfig(Config):
    """How raster variables are chunked and compressed (zarr v3 only; v2 always uses the published layout).

    The default came out of `tests/benchmarks/bench_loader.py` (the loader's crops/s against the authors'
    approach on their layout, per layout): 128 px inner chunks in whole-slice shards, phase uncompressed.
    See the README.
    """

    layout: Layout = "sharded-128-mixed"
    tile: int | None = Field(
        None,
        ge=16,
        le=4096,
        description="inner chunk edge in pixels for tiled layouts; None: the layout's own",
    )
    clevel: int = Field(5, ge=0, le=9)


class IngestConfig(Config):
    """One ingest run: where the sources are, where the cubes go and how the work is split."""

    sources: str | None = None
    licsar: str | None = None
    era5: str | None = None
    annotations: str | None = None
    out: str
    zarr_format: Literal[2, 3] = 3
    workers: int | None = Field(None, ge=1, description="local Ray CPUs / tasks in flight; None: all cores")
    address: str | None = None
    pairs_per_task: int = Field(4, ge=1, le=1024)
    chunking: ChunkingConfig = ChunkingConfig()
    max_era5_offset_minutes: float = Field(30.0, gt=0, le=180)
    phase_tolerance: float = Field(1e-4, ge=0, description="slack on |phase| <= pi for float rounding")
    task_retries: int = Field(5, ge=0, description="Ray retries of a task lost with its node")
    only_frames: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _sources_given(self) -> IngestConfig:
        if self.sources is None and None in (self.licsar, self.era5, self.annotations):
            raise ValueError("give SOURCES, or all of --licsar, --era5 and --annotations")
        return self
