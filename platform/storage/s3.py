"""s3:// URLs: s3fs for files, obstore (or s3fs) for zarr reads, conditional PUTs for exclusive creates.

Credentials and endpoints come from the AWS_* environment (or instance / web-identity credentials), read
by the clients themselves: no secret passes through our code or into anything we write.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from hephaestus.platform.errors import InputError, PlatformRuntimeError
from hephaestus.platform.storage.backend import ObjectStoreBackend, StorageURLError
from hephaestus.platform.storage.registry import normalize, protocol_of, register
from hephaestus.platform.storage.urls import redact

if TYPE_CHECKING:
    import zarr.abc.store

S3_CLIENT_ENV = "HMC_S3_CLIENT"
"""Which client zarr reads s3:// cubes through: "obstore" (Rust object_store, the default) or "fsspec" (s3fs)."""
S3_CLIENTS = ("obstore", "fsspec")
DEFAULT_S3_CLIENT = "obstore"
"""The faster one against the local S3 server (tests/benchmarks/bench_remote.py: crops/s and requests)."""
ANON_ENV = "HMC_S3_ANON"
"""'1': unsigned requests (public buckets)."""

_OBSTORE_STARTED_IN: int | None = None
"""The process that built the first obstore client. obstore's Rust (tokio) runtime does not survive fork():
a child forked after it ran (a DataLoader worker, say) would hang on its first request, so such a child
reads through s3fs instead (fsspec restarts its event loop after fork)."""

_PRECONDITION_CODES = frozenset({"PreconditionFailed"})
_CONFLICT_CODES = frozenset({"ConditionalRequestConflict"})
"""S3's answer to two conditional writes of one key at once: retry, and one of them then sees the object."""
_CONFLICT_RETRIES = 3


def s3_client(choice: str | None = None) -> str:
    """The S3 read client: `choice`, else `HMC_S3_CLIENT`, else the default; "fsspec" in a process forked
    after obstore ran in its parent (see `_OBSTORE_STARTED_IN`)."""
    name = (choice or os.environ.get(S3_CLIENT_ENV, "")).strip().lower() or DEFAULT_S3_CLIENT
    if name not in S3_CLIENTS:
        raise InputError(f"{S3_CLIENT_ENV}={name!r}: unknown S3 client (use one of {', '.join(S3_CLIENTS)})")
    if name == "obstore" and _OBSTORE_STARTED_IN not in (None, os.getpid()):
        return "fsspec"
    return name


def object_store(url: str):  # type: ignore[no-untyped-def]  # obstore.store.S3Store (optional import)
    """An obstore client for an s3:// URL: bucket and prefix from the URL, endpoint as `storage_options`.

    Credentials are left to obstore, which reads the same AWS_* environment (and instance or web-identity
    credentials) itself: no secret passes through our code.
    """
    from obstore.store import S3Store

    global _OBSTORE_STARTED_IN
    if _OBSTORE_STARTED_IN is None:
        _OBSTORE_STARTED_IN = os.getpid()
    elif _OBSTORE_STARTED_IN != os.getpid():
        raise PlatformRuntimeError("obstore cannot be used in a process forked after it ran (use s3fs here)")
    text = normalize(url)
    if protocol_of(text) not in S3Backend.schemes:
        raise StorageURLError(f"{redact(text)}: obstore reads are for s3:// URLs only")
    parts = urlsplit(text)
    opts = S3Backend().storage_options(text)
    config: dict[str, object] = {}
    client: dict[str, object] = {}
    endpoint = opts.get("endpoint_url")
    if endpoint:
        config["endpoint"] = endpoint
        client["allow_http"] = str(endpoint).startswith("http://")
    if opts.get("anon"):
        config["skip_signature"] = True
    prefix = parts.path.strip("/") or None
    return S3Store(parts.netloc, prefix=prefix, config=config, client_options=client)


def _s3_error_code(exc: BaseException) -> tuple[str, int]:
    """(S3 error code, HTTP status) of the botocore ClientError behind `exc` (s3fs keeps it as the cause)."""
    seen: BaseException | None = exc
    for _ in range(8):  # a short cause chain; never loop on a cycle
        if seen is None:
            break
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            error = response.get("Error") or {}
            meta = response.get("ResponseMetadata") or {}
            return str(error.get("Code", "")), int(meta.get("HTTPStatusCode") or 0)
        seen = seen.__cause__ or seen.__context__
    return "", 0


@register
class S3Backend(ObjectStoreBackend):
    schemes = ("s3",)
    label = "AWS S3"
    worker_env_names = (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_DEFAULT_REGION",
        "AWS_S3_ENDPOINT",
        "AWS_HTTPS",
        "AWS_VIRTUAL_HOSTING",
        ANON_ENV,
        S3_CLIENT_ENV,
    )
    secret_env_names = (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
    )

    def storage_options(self, url: str) -> dict[str, object]:
        opts: dict[str, object] = {}
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            opts["endpoint_url"] = endpoint
        if os.environ.get(ANON_ENV) == "1":
            opts["anon"] = True
        return opts

    def probe_options(self, url: str, timeout: float) -> dict[str, object]:
        return {
            **super().probe_options(url, timeout),
            "config_kwargs": {
                "connect_timeout": timeout,
                "read_timeout": timeout,
                "retries": {"max_attempts": 1},
            },
        }

    def precondition_failed(self, exc: BaseException) -> bool:
        """A conditional PUT (If-None-Match: *) refused: S3 error code PreconditionFailed or HTTP 412.

        s3fs turns it into FileExistsError itself only when the answer names the If-None-Match condition;
        otherwise it raises a plain OSError whose cause is botocore's ClientError, read here.
        """
        code, status = _s3_error_code(exc)
        return code in _PRECONDITION_CODES or status == 412

    def create_exclusive(self, url: str, data: bytes) -> bool:
        """A conditional PUT; S3's 409 ConditionalRequestConflict (a race in flight) is retried."""
        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                return super().create_exclusive(url, data)
            except OSError as exc:
                if _s3_error_code(exc)[0] not in _CONFLICT_CODES or attempt == _CONFLICT_RETRIES:
                    raise
        raise AssertionError("unreachable")

    def zarr_store(self, url: str, client: str | None = None) -> zarr.abc.store.Store:
        """Directories through `s3_client(client)`: zarr's ObjectStore over obstore, or its FsspecStore over
        s3fs (also in a process forked after obstore ran: obstore is not fork safe)."""
        if not url.endswith(".zip") and s3_client(client) == "obstore":
            import zarr.storage

            return zarr.storage.ObjectStore(object_store(url), read_only=True)
        return super().zarr_store(url, client)
