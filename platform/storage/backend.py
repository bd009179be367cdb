"""The one interface every storage scheme implements: `Backend`.

A backend answers, for the URLs of its schemes: fsspec options from the environment, a bounded
reachability probe with one-line errors, an exclusive create (write-if-absent) that recognises the
store's own "already there" answer, the zarr store to read a cube through, and the names of the
environment variables Ray workers need and of those that are secret. Adding a scheme is one module
that subclasses `Backend` and registers it (see `registry.register`), plus a test server.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from hephaestus.platform.errors import InputError, PlatformRuntimeError
from hephaestus.platform.storage.urls import redact, redact_text

if TYPE_CHECKING:
    import zarr.abc.store
    from fsspec.spec import AbstractFileSystem

TIMEOUT_ENV = "HMC_STORAGE_TIMEOUT_S"  # seconds one storage request may take in the preflight probe
RETRIES_ENV = "HMC_STORAGE_RETRIES"  # extra attempts of the probe after a failed one


class StorageURLError(InputError):
    """A URL the platform cannot use: unknown scheme, or a path of the wrong kind (a file for a folder)."""


class StorageUnreachableError(PlatformRuntimeError):
    """The storage endpoint of a URL refused, failed or did not answer in time."""


class StorageAccessDeniedError(InputError):
    """The store answered but refused the credentials (wrong keys, no permission): never retried."""


class StorageFullError(PlatformRuntimeError):
    """No space left on the device (or over the file size limit) while writing a named path."""


_SPACE_ERRNOS = {errno.ENOSPC: "no space left on device", errno.EFBIG: "file too large (a size limit)"}
"""ENOSPC, and EFBIG (RLIMIT_FSIZE, a filesystem's file size limit): a write that ran out of room."""


def raise_if_full(exc: OSError, url: str | os.PathLike[str]) -> None:
    """Raise a one-line StorageFullError naming `url` (redacted) when `exc` is a write that ran out of
    room (the OS's own error often names no path); return otherwise, for the caller to re-raise `exc`."""
    what = _SPACE_ERRNOS.get(exc.errno or 0)
    if what is not None:
        raise StorageFullError(f"{what} writing {redact(os.fspath(url))}") from exc


def probe_limits() -> tuple[float, int]:
    """(timeout per attempt in seconds, retries) of the preflight probe, from the environment."""
    try:
        timeout = float(os.environ.get(TIMEOUT_ENV, "10"))
        retries = int(os.environ.get(RETRIES_ENV, "2"))
    except ValueError as exc:
        raise InputError(f"{TIMEOUT_ENV} / {RETRIES_ENV}: not a number ({exc})") from None
    return max(timeout, 0.1), max(retries, 0)


class Backend(ABC):
    """How the platform reaches the URLs of some schemes. Methods take normalised URLs (`normalize`)."""

    schemes: ClassVar[tuple[str, ...]]
    """URL schemes served, the fsspec protocol first (aliases after it, e.g. gs then gcs)."""
    label: ClassVar[str] = ""
    """What to call the store in messages when no endpoint is configured ("AWS S3")."""
    is_local: ClassVar[bool] = False
    """Paths on this machine: the URL is an OS path (normalised to an absolute one)."""
    worker_env_names: ClassVar[tuple[str, ...]] = ()
    """Non-secret variables (endpoints, switches) a Ray worker needs to reach the store as the driver does."""
    worker_env_defaults: ClassVar[Mapping[str, str]] = {}
    """Values every process of the platform (and so every worker) gets when the environment names none."""
    secret_env_names: ClassVar[tuple[str, ...]] = ()
    """Credentials: never copied into a Ray runtime_env (Ray logs it), never logged."""

    @property
    def protocol(self) -> str:
        """The fsspec protocol of the backend's URLs."""
        return self.schemes[0]

    @abstractmethod
    def storage_options(self, url: str) -> dict[str, object]:
        """fsspec options for a URL, from the environment only (no secret passes through our code)."""

    @abstractmethod
    def probe(self, url: str, role: str = "source", what: str = "") -> None:
        """Check that the URL can be used before any work starts; a one-line StorageURLError (it is wrong)
        or StorageUnreachableError (the store does not answer) otherwise.

        `role` is "source" (must exist) or "output" (may be created); `what` names it in messages.
        """

    def filesystem(self, url: str) -> AbstractFileSystem:
        import fsspec

        return fsspec.filesystem(self.protocol, **self.storage_options(url))

    def path_of(self, url: str, fs: AbstractFileSystem) -> str:
        """The path `fs` knows the URL by."""
        return fs._strip_protocol(url)

    def endpoint(self, url: str) -> str:
        """Where requests for the URL go, for messages (an endpoint URL, else `label`)."""
        return redact(str(self.storage_options(url).get("endpoint_url") or self.label or self.protocol))

    def access_denied(self, exc: BaseException) -> bool:
        """Whether `exc` is the store refusing the credentials (no retry helps): PermissionError by default
        (s3fs maps AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch and HTTP 403 to it; gcsfs 403)."""
        seen: BaseException | None = exc
        for _ in range(8):
            if seen is None:
                return False
            if isinstance(seen, PermissionError):
                return True
            if getattr(seen, "code", None) in (401, 403):  # gcsfs HttpError
                return True
            seen = seen.__cause__ or seen.__context__
        return False

    def create_exclusive(self, url: str, data: bytes) -> bool:
        """Create the object only if it does not exist yet; False when it already does.

        Two writers racing for one key: exactly one gets True. The default asks fsspec for mode "xb" and
        takes its FileExistsError, or the failure `precondition_failed` recognises, as "already there".
        """
        fs = self.filesystem(url)
        try:
            with fs.open(self.path_of(url, fs), "xb") as fh:
                fh.write(data)
        except FileExistsError:
            return False
        except OSError as exc:
            if self.precondition_failed(exc):
                return False
            raise
        return True

    def precondition_failed(self, exc: BaseException) -> bool:
        """Whether `exc` is the store refusing a write-if-absent because the object exists (by the client's
        own exception types or status codes). None beyond FileExistsError by default."""
        return False

    def write(self, url: str, data: bytes, *, atomic: bool = False) -> None:
        """Write an object. An object store publishes a PUT atomically, so `atomic` needs nothing more here."""
        fs = self.filesystem(url)
        try:
            with fs.open(self.path_of(url, fs), "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise_if_full(exc, url)
            raise

    def version(self, url: str) -> str:
        """What changes when the object is replaced: size, ETag or generation, modification time."""
        fs = self.filesystem(url)
        info = fs.info(self.path_of(url, fs))
        tag = info.get("generation") or info.get("ETag") or info.get("etag") or info.get("md5Hash") or ""
        stamp = info.get("LastModified") or info.get("updated") or info.get("mtime") or ""
        return f"{info.get('size', '')}:{str(tag).strip(chr(34))}:{stamp}"

    def zarr_store(self, url: str, client: str | None = None) -> zarr.abc.store.Store:
        """A read-only zarr store for a cube directory or `.zip` at the URL.

        `client` picks the read client where a backend has a choice (S3: "obstore" or "fsspec").
        """
        import zarr.storage

        if url.endswith(".zip"):
            import fsspec
            from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

            fs = self.filesystem(url)
            zipfs = fsspec.filesystem("zip", fo=fs.open(self.path_of(url, fs), "rb"))
            wrapped = AsyncFileSystemWrapper(zipfs, asynchronous=True)  # as zarr wraps a sync fs itself
            return zarr.storage.FsspecStore(fs=wrapped, path="", read_only=True)
        return zarr.storage.FsspecStore.from_url(
            url, storage_options=self.storage_options(url), read_only=True
        )


class ObjectStoreBackend(Backend):
    """A bucket-based object store reached through fsspec (S3, GCS): probed by asking about the bucket."""

    def probe_options(self, url: str, timeout: float) -> dict[str, object]:
        """`storage_options` plus the client's own per-request timeout and no cached instance."""
        return {**self.storage_options(url), "skip_instance_cache": True}

    def probe(self, url: str, role: str = "source", what: str = "") -> None:
        """Ask the store about the URL's bucket (and, for a source, the path) with a bounded time per attempt
        and bounded retries.

        The call runs in a daemon thread that is abandoned when it overruns: some clients retry on their own
        far beyond any timeout they are given, and an endpoint that accepts and never answers must not hang us.
        """
        import fsspec

        timeout, retries = probe_limits()
        fs = fsspec.filesystem(self.protocol, **self.probe_options(url, timeout))
        path = fs._strip_protocol(url)
        bucket = path.split("/", 1)[0]
        last = ""
        for attempt in range(retries + 1):
            box: dict[str, object] = {}

            def call(box: dict[str, object] = box) -> None:
                # info, not exists: exists() answers False when the endpoint cannot be reached at all
                try:
                    for target in (bucket, path) if role == "source" else (bucket,):
                        fs.info(target)
                    box["found"] = True
                except FileNotFoundError:
                    box["found"] = False
                except BaseException as err:  # reported below, in the caller's thread
                    box["error"] = err

            worker = threading.Thread(target=call, daemon=True, name="hmc-storage-probe")
            worker.start()
            worker.join(timeout + 1.0)
            if worker.is_alive():
                last = f"no answer within {timeout:g} s"
            elif "error" in box:
                exc = box["error"]
                if isinstance(exc, BaseException) and self.access_denied(exc):
                    raise StorageAccessDeniedError(
                        f"{redact(url)}: access denied by {self.endpoint(url)} (check the credentials and "
                        f"the permissions on bucket {bucket})"
                    ) from None
                last = f"{type(exc).__name__}: {redact_text(' '.join(str(exc).split())[:200])}"
            else:
                if not box.get("found"):
                    kind = "bucket" if role == "output" else "location"
                    raise StorageURLError(f"{redact(url)}: {kind} does not exist on {self.endpoint(url)}")
                return
            if attempt < retries:
                time.sleep(min(0.5 * 2**attempt, 2.0))
        raise StorageUnreachableError(
            f"{redact(url)}: storage endpoint {self.endpoint(url)} unreachable after {retries + 1} attempt(s) "
            f"({last}; limits: {TIMEOUT_ENV}={timeout:g}, {RETRIES_ENV}={retries})"
        )
