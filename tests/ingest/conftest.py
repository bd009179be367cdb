"""Fixtures of the ingest tests: one Ray runtime per module, shared source trees."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="module")
def ray_local(s3_server: str, gcs_server: str):
    """A 2-CPU local Ray shared by a module's tests (ingest reuses an initialised runtime).

    Started after the S3 and GCS servers so that its workers get their endpoints in the environment.
    """
    import ray

    from hephaestus.platform.ray_session import local_init_kwargs

    ray.init(**local_init_kwargs(2))
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def synth_sources(tmp_path_factory) -> Path:
    """Synthetic sources as `hmc synth` writes them (small: 2 frames, 64x64)."""
    from hephaestus.ingest.synthetic import SynthConfig, generate

    out = tmp_path_factory.mktemp("synth")
    generate(SynthConfig(frames=2, pairs=6, height=64, width=72, seed=3, positive_fraction=0.5), out)
    return out
