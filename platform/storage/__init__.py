"""Storage URLs: one way to reach local paths, s3://, gs:// and memory:// through fsspec.

Each scheme is a `Backend` (backend.py) in a module of its own (file, s3, gs, memory), found by
`backend_for(url)`; the functions here are what the rest of the platform calls, whatever the scheme.
Credentials and endpoints come from the environment, never from files we write, so that nothing
secret reaches logs, catalogs or results.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hephaestus.platform.errors import InputError, PlatformRuntimeError
from hephaestus.platform.storage.backend import (
    RETRIES_ENV,
    TIMEOUT_ENV,
    Backend,
    StorageAccessDeniedError,
    StorageUnreachableError,
    StorageURLError,
    probe_limits,
)
from hephaestus.platform.storage.registry import (
    backend_for,
    backends,
    is_local,
    join,
    load_backends,
    normalize,
    protocol_of,
    register,
    schemes,
    secret_env_names,
    unregister,
    worker_env_defaults,
    worker_env_names,
)
from hephaestus.platform.storage.urls import UnsafePathComponentError, redact, redact_text, safe_component

load_backends()  # before anything imports a client library (gs sets gcsfs's switches)

from hephaestus.platform.storage.s3 import (  # noqa: E402
    DEFAULT_S3_CLIENT,
    S3_CLIENT_ENV,
    S3_CLIENTS,
    object_store,
    s3_client,
)

if TYPE_CHECKING:
    from fsspec.spec import AbstractFileSystem

__all__ = [
    "DEFAULT_S3_CLIENT",
    "RETRIES_ENV",
    "S3_CLIENTS",
    "S3_CLIENT_ENV",
    "TIMEOUT_ENV",
    "Backend",
    "InputError",
    "Location",
    "PlatformRuntimeError",
    "StorageAccessDeniedError",
    "StorageURLError",
    "StorageUnreachableError",
    "UnsafePathComponentError",
    "backend_for",
    "backends",
    "check_url",
    "copy_files",
    "create_exclusive",
    "exists",
    "file_version",
    "filesystem",
    "is_local",
    "join",
    "local_scratch",
    "location",
    "normalize",
    "object_store",
    "probe_limits",
    "protocol_of",
    "read_bytes",
    "redact",
    "redact_text",
    "register",
    "remove",
    "s3_client",
    "safe_component",
    "schemes",
    "secret_env_names",
    "storage_options",
    "unregister",
    "worker_env_defaults",
    "worker_env_names",
    "write_bytes",
    "write_bytes_atomic",
    "write_text_atomic",
]


def storage_options(url: str) -> dict[str, object]:
    """fsspec options for a URL, from the environment only."""
    return backend_for(url).storage_options(url)


@dataclass(frozen=True)
class Location:
    """A filesystem and the path on it that a URL names."""

    fs: AbstractFileSystem
    path: str
    url: str

    def child(self, *parts: str) -> Location:
        return location(join(self.url, *parts))


def filesystem(url: str) -> AbstractFileSystem:
    return backend_for(url).filesystem(url)


def location(url: str | os.PathLike[str]) -> Location:
    """Resolve a URL to (filesystem, path)."""
    text = normalize(url)
    backend = backend_for(text)
    fs = backend.filesystem(text)
    return Location(fs=fs, path=backend.path_of(text, fs), url=text)


def exists(url: str) -> bool:
    loc = location(url)
    return loc.fs.exists(loc.path)


def file_version(url: str) -> str:
    """What changes when a file is replaced: size and mtime (ns) locally, ETag or generation on object stores.

    Plans fingerprint their inputs with it, so that a corrected product is ingested again.
    """
    text = normalize(url)
    return backend_for(text).version(text)


def create_exclusive(url: str, data: bytes) -> bool:
    """Create an object only if it does not exist yet; False when it already does.

    Local files use O_EXCL; S3 a conditional PUT (If-None-Match: *); GCS a generation precondition
    (ifGenerationMatch=0). Two writers racing for one key: exactly one gets True.
    """
    text = normalize(url)
    return backend_for(text).create_exclusive(text, data)


def write_bytes(url: str, data: bytes) -> None:
    text = normalize(url)
    backend_for(text).write(text, data)


def read_bytes(url: str) -> bytes:
    loc = location(url)
    with loc.fs.open(loc.path, "rb") as fh:
        return fh.read()


def write_bytes_atomic(url: str, data: bytes) -> None:
    """Write an object so that readers see the old or the new content, never a part.

    Object stores (S3, GCS) publish a PUT atomically; locally we write beside and rename.
    """
    text = normalize(url)
    backend_for(text).write(text, data, atomic=True)


def write_text_atomic(url: str, text: str) -> None:
    """A small text object, all or nothing (see write_bytes_atomic)."""
    write_bytes_atomic(url, text.encode())


def copy_files(src: str | os.PathLike[str], dst: str | os.PathLike[str], names: Sequence[str]) -> None:
    """Copy the files `names` (slash-separated, relative to `src`) to the same names under `dst`, on one store.

    Why: a new version of a published tree (the dashboard's site) keeps its unchanged files without
    reading them through this process. Locally a hard link (no bytes copied; safe because the platform
    replaces a file by rename and never rewrites one in place), else a copy written beside and renamed;
    on an object store the store's own server-side copies, issued concurrently.
    """
    if not names:
        return
    src_loc, dst_loc = location(src), location(dst)
    if backend_for(src_loc.url).is_local:
        import shutil
        import uuid

        for name in names:
            source = os.path.join(src_loc.path, *name.split("/"))
            target = Path(dst_loc.path, *name.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
                continue
            except FileNotFoundError:
                raise
            except OSError:  # no hard links here (EPERM, EXDEV, EMLINK): copy
                pass
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            try:
                shutil.copyfile(source, tmp)
                os.replace(tmp, target)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        return
    root_in, root_out = src_loc.path.rstrip("/"), dst_loc.path.rstrip("/")
    src_loc.fs.copy([f"{root_in}/{n}" for n in names], [f"{root_out}/{n}" for n in names])


def remove(url: str, recursive: bool = True) -> None:
    loc = location(url)
    if loc.fs.exists(loc.path):
        loc.fs.rm(loc.path, recursive=recursive)


@contextmanager
def local_scratch(prefix: str = "hmc-") -> Iterator[Path]:
    """A temporary local folder, removed afterwards."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def check_url(url: str | os.PathLike[str], role: str = "source", what: str = "") -> str:
    """The normalised URL, once checked before any work starts (and before Ray starts): a known scheme, and
    what its backend's probe asks (a local output under no file; an object store that answers within the
    probe limits). Raises one-line errors.

    `role` is "source" (must exist) or "output" (may be created); `what` names it in messages.
    """
    backend = backend_for(url)
    text = normalize(url)
    backend.probe(text, role, what)
    return text
