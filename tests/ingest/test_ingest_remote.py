"""The same ingest against real S3 (moto server) and GCS (gcp-storage-emulator) protocol servers:
identical content to the local run. Ray starts after the servers so that workers see their env."""

from __future__ import annotations

from pathlib import Path

import pytest
from cube_checks import content_hash

from hephaestus.ingest import IngestConfig, run_ingest
from hephaestus.platform import storage
from hephaestus.platform.cube import open_cube

# About 2 minutes on 2 cores (two servers, Ray, three ingests each): outside the default run.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def servers_then_ray(s3_server: str, gcs_server: str):
    import ray

    from hephaestus.platform.ray_session import worker_env

    ray.init(
        num_cpus=2, include_dashboard=False, runtime_env={"env_vars": worker_env(include_credentials=True)}
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def local_reference(synth_sources: Path, tmp_path_factory, servers_then_ray) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("local")
    summary = run_ingest(IngestConfig(sources=str(synth_sources), out=str(out), workers=2))
    return {Path(u).name: content_hash(open_cube(u).load()) for u in summary.cube_urls}


@pytest.mark.parametrize("bucket_fixture", ["s3_bucket", "gcs_bucket"])
def test_remote_store_equals_local(bucket_fixture, request, synth_sources: Path, local_reference) -> None:
    bucket = request.getfixturevalue(bucket_fixture)
    out = f"{bucket}/store"
    summary = run_ingest(IngestConfig(sources=str(synth_sources), out=out, workers=2))
    assert summary.ok and len(summary.cube_urls) == len(local_reference)
    for url in summary.cube_urls:
        assert url.startswith(bucket)
        assert content_hash(open_cube(url).load()) == local_reference[url.rsplit("/", 1)[-1]]
    loc = storage.location(out)
    loc.fs.invalidate_cache()
    assert not loc.fs.exists(f"{loc.path}/staging") or not loc.fs.ls(f"{loc.path}/staging")
    again = run_ingest(IngestConfig(sources=str(synth_sources), out=out, workers=2))
    assert again.pairs_written == 0 and again.pairs_skipped == summary.pairs_written
