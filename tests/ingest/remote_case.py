"""The remote-store check shared by the S3 and GCS tests: same sources, same content as local."""

from __future__ import annotations

from pathlib import Path

from cube_checks import content_hash
from ingest_sources import SourceFrame, write_sources

from hephaestus.ingest import IngestConfig, run_ingest
from hephaestus.platform import storage
from hephaestus.platform.cube import open_cube


def tiny_sources(root: Path) -> Path:
    frame = SourceFrame(
        "030A_00003_000003",
        10.30,
        120.20,
        32,
        40,
        [("20210101", "20210113", 31), ("20210101", "20210125", 32), ("20210113", "20210125", 33)],
    )
    write_sources(root, [frame], seed=11)
    return root


def ray_with_env():  # type: ignore[no-untyped-def]
    """Ray started after the server fixture set the environment, so workers reach the server too."""
    import ray

    from hephaestus.platform.ray_session import local_init_kwargs

    ray.init(**local_init_kwargs(2))
    return ray


def check_remote_equals_local(sources: Path, expected: dict[str, dict], written: int, bucket: str) -> None:
    """Ingest into `bucket`; every array's checksum must equal the local run's (`expected`)."""
    out = f"{bucket}/store"
    summary = run_ingest(IngestConfig(sources=str(sources), out=out, workers=2, pairs_per_task=2))
    assert summary.ok and summary.pairs_written == written == 3
    assert [u.rsplit("/", 1)[-1] for u in summary.cube_urls] == sorted(expected)
    for url in summary.cube_urls:
        assert url.startswith(bucket + "/store/cubes/")
        assert content_hash(open_cube(url).load()) == expected[url.rsplit("/", 1)[-1]]
    loc = storage.location(out)
    loc.fs.invalidate_cache()
    assert not loc.fs.exists(f"{loc.path}/staging") or not loc.fs.find(f"{loc.path}/staging")
    again = run_ingest(IngestConfig(sources=str(sources), out=out, workers=2, pairs_per_task=2))
    assert again.pairs_written == 0 and again.pairs_skipped == summary.pairs_written
