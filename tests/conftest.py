"""Shared fixtures: real S3 (moto server) and GCS (gcp-storage-emulator) servers on 127.0.0.1."""

from __future__ import annotations

import os

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # before gcsfs is imported anywhere
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

import contextlib  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from object_servers import aws_environment, free_port, moto_server, wait_port  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data folder not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A moto S3 server; sets the AWS_* environment so that s3fs, boto3, obstore and Ray workers use it."""
    with moto_server() as endpoint, aws_environment(endpoint):
        yield endpoint


@pytest.fixture()
def s3_bucket(s3_server: str) -> str:
    """A fresh bucket; returns its s3:// URL."""
    import boto3

    name = f"hmc-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    return f"s3://{name}"


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[str]:
    """A gcp-storage-emulator server; sets STORAGE_EMULATOR_HOST for gcsfs and Ray workers."""
    port = free_port()
    launcher = Path(__file__).with_name("gcs_emulator.py")  # the emulator, its multipart parser fixed
    proc = subprocess.Popen(
        [sys.executable, str(launcher), "start", "--host=127.0.0.1", f"--port={port}", "--in-memory"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, proc)
    host = f"http://127.0.0.1:{port}"
    old = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = host
    try:
        yield host
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if old is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = old


@pytest.fixture()
def gcs_bucket(gcs_server: str) -> Iterator[str]:
    """A fresh bucket; returns its gs:// URL."""
    import gcsfs

    name = f"hmc-{uuid.uuid4().hex[:12]}"
    fs = gcsfs.GCSFileSystem(endpoint_url=gcs_server, token="anon")
    fs.mkdir(name)
    fs.invalidate_cache()
    yield f"gs://{name}"
    # The emulator answers more slowly the more objects it holds: leave it empty for the next test.
    fs.invalidate_cache()
    with contextlib.suppress(FileNotFoundError):
        fs.rm(name, recursive=True)
