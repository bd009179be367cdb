"""Storage backends as objects: one per scheme, found by `backend_for`, each with its own exclusive create,
worker environment and secret names. Object stores are real servers (moto S3, gcp-storage-emulator)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest
from fsspec.spec import AbstractFileSystem
from object_servers import race_exclusive_creates

from hephaestus.platform import storage
from hephaestus.platform.ray_session import no_credentials_in_runtime_env, worker_env
from hephaestus.platform.storage.backend import Backend, StorageURLError
from hephaestus.platform.storage.s3 import S3Backend


class ToyBackend(Backend):
    """A scheme of the test's own: toy://BUCKET/KEY kept in fsspec's memory store under /toy/."""

    schemes = ("toy",)
    label = "toy store"
    worker_env_names = ("TOY_ENDPOINT",)
    secret_env_names = ("TOY_PASSWORD",)
    probed: list[tuple[str, str]] = []

    def storage_options(self, url: str) -> dict[str, object]:
        return {}

    def filesystem(self, url: str) -> AbstractFileSystem:
        return fsspec.filesystem("memory")

    def path_of(self, url: str, fs: AbstractFileSystem) -> str:
        return "/toy/" + url.split("://", 1)[1]

    def probe(self, url: str, role: str = "source", what: str = "") -> None:
        self.probed.append((url, role))
        if "missing" in url:
            raise StorageURLError(f"{url}: bucket does not exist on toy store")


@pytest.fixture
def toy() -> Iterator[type[ToyBackend]]:
    storage.register(ToyBackend)
    ToyBackend.probed.clear()
    try:
        yield ToyBackend
    finally:
        storage.unregister(ToyBackend)


def test_the_registry_knows_the_four_schemes() -> None:
    assert {"file", "s3", "gs", "memory"} <= set(storage.schemes())
    assert storage.backend_for("/tmp/x").is_local and storage.backend_for("file:///tmp/x").is_local
    assert isinstance(storage.backend_for("s3://b/k"), S3Backend)
    assert storage.backend_for("gcs://b/k") is storage.backend_for("gs://b/k")  # one backend, two schemes
    assert storage.protocol_of("gcs://b/k") == "gs"
    for backend in storage.backends():
        assert isinstance(backend, Backend) and backend.schemes
    with pytest.raises(
        StorageURLError, match=r"^foo://b: unknown storage scheme 'foo' \(use a local path or "
    ):
        storage.backend_for("foo://b")


@pytest.mark.parametrize(
    "where",
    [
        "local",
        "memory",
        "s3_bucket",
        pytest.param(
            "gcs_bucket",
            marks=pytest.mark.xfail(
                strict=True, reason="gcp-storage-emulator ignores ifGenerationMatch=0 (real GCS honours it)"
            ),
        ),
    ],
)
def test_each_backend_refuses_a_second_create(
    where: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if where == "local":
        base = str(tmp_path)
    elif where == "memory":
        base = f"memory://hmc-{secrets.token_hex(6)}"
    else:
        base = request.getfixturevalue(where)
    url = storage.join(base, "locks", "one.lock")
    backend = storage.backend_for(url)
    assert backend.create_exclusive(url, b"first") is True
    assert backend.create_exclusive(url, b"second") is False
    assert storage.read_bytes(url) == b"first"  # the refused write changed nothing


def test_memory_create_is_exclusive_under_a_race() -> None:
    url = f"memory://hmc-{secrets.token_hex(6)}/x.lock"
    assert sorted(race_exclusive_creates(url, 6)) == [False] * 5 + [True]


def test_s3_recognises_the_servers_precondition_failure_by_its_code(s3_server: str, s3_bucket: str) -> None:
    """The typed answer s3fs may leave as a plain OSError: a real 412 from the server, and a 404 that is not one."""
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client("s3", endpoint_url=s3_server)
    bucket = s3_bucket.removeprefix("s3://")
    client.put_object(Bucket=bucket, Key="k", Body=b"1")
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
    with pytest.raises(ClientError) as missing:
        client.get_object(Bucket=bucket, Key="absent")
    wrapped = OSError(22, "Invalid argument")  # how s3fs reports an error code it has no class for
    wrapped.__cause__ = refused.value
    backend = S3Backend()
    assert backend.precondition_failed(refused.value) and backend.precondition_failed(wrapped)
    assert not backend.precondition_failed(missing.value)
    assert not backend.precondition_failed(OSError("precondition 412 in the text only"))


def test_secret_names_of_every_backend_are_stripped(toy, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from ray.tune.execution import class_cache

    names = storage.secret_env_names()
    assert {"AWS_SECRET_ACCESS_KEY", "TOY_PASSWORD"} <= set(names)
    assert not set(names) & set(storage.worker_env_names())
    canaries = {name: f"canary{secrets.token_hex(8)}" for name in names}
    for name, value in canaries.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TOY_ENDPOINT", "http://127.0.0.1:1")
    env = worker_env()
    assert env["TOY_ENDPOINT"] == "http://127.0.0.1:1"  # the toy backend's worker variable travels
    assert env["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] == "false"  # a backend default
    assert not set(env) & set(names) and not set(env.values()) & set(canaries.values())
    monkeypatch.setattr(
        class_cache, "ENV_VARS_TO_PROPAGATE", set(class_cache.ENV_VARS_TO_PROPAGATE) | set(names)
    )
    no_credentials_in_runtime_env()
    assert not class_cache.ENV_VARS_TO_PROPAGATE & set(names)


def test_a_backend_registered_by_a_test_is_used(toy) -> None:  # type: ignore[no-untyped-def]
    url = f"toy://b{secrets.token_hex(4)}/store"
    assert isinstance(storage.backend_for(url), toy) and storage.protocol_of(url) == "toy"
    assert storage.check_url(url + "/", "output") == url
    assert toy.probed == [(url, "output")]
    with pytest.raises(StorageURLError, match="bucket does not exist on toy store"):
        storage.check_url("toy://missing/store", "output")
    lock = storage.join(url, "x.lock")
    assert storage.create_exclusive(lock, b"a") and not storage.create_exclusive(lock, b"b")
    storage.write_text_atomic(storage.join(url, "t.txt"), "hello")
    assert storage.read_bytes(storage.join(url, "t.txt")) == b"hello" and storage.exists(lock)
    assert fsspec.filesystem("memory").cat(storage.location(lock).path) == b"a"  # where the toy put it
    storage.unregister(toy)
    with pytest.raises(StorageURLError, match="unknown storage scheme 'toy'"):
        storage.backend_for(url)
