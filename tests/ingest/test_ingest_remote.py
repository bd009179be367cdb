"""Ingest into real S3 (moto) and GCS (gcp-storage-emulator) protocol servers on 127.0.0.1:
identical content to the local run, nothing left in staging, idempotent re-run.
Ray starts after both servers, so that its workers get their endpoints in the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from cube_checks import content_hash
from remote_case import check_remote_equals_local, ray_with_env, tiny_sources

from hephaestus.ingest import IngestConfig, run_ingest
from hephaestus.platform.cube import open_cube


@pytest.fixture(scope="module")
def ray_after_servers(s3_server: str, gcs_server: str):
    ray = ray_with_env()
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def local_run(ray_after_servers, tmp_path_factory) -> tuple[Path, dict[str, dict], int]:
    root = tmp_path_factory.mktemp("remote")
    sources = tiny_sources(root / "src")
    local = run_ingest(
        IngestConfig(sources=str(sources), out=str(root / "local"), workers=2, pairs_per_task=2)
    )
    return (
        sources,
        {Path(u).name: content_hash(open_cube(u).load()) for u in local.cube_urls},
        local.pairs_written,
    )


@pytest.mark.parametrize("bucket_fixture", ["s3_bucket", "gcs_bucket"])
def test_remote_store_equals_local(bucket_fixture: str, request, local_run) -> None:
    sources, expected, written = local_run
    check_remote_equals_local(sources, expected, written, request.getfixturevalue(bucket_fixture))
