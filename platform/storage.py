"""Storage URLs: one way to reach local paths, s3:// and gs:// through fsspec.

Credentials and endpoints come from the environment (AWS_* / AWS_ENDPOINT_URL for S3,
STORAGE_EMULATOR_HOST or GOOGLE_APPLICATION_CREDENTIALS / workload identity for GCS), never from
files we write, so that nothing secret reaches logs, catalogs or results.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# gcsfs probes a gRPC/TLS endpoint at import unless told not to; stalls about 60 s offline.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import fsspec  # noqa: E402
from fsspec.spec import AbstractFileSystem  # noqa: E402

from hephaestus.platform.errors import InputError

REMOTE_PROTOCOLS = ("s3", "gs", "gcs", "memory", "az", "abfs", "http", "https")

_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class UnsafePathComponentError(InputError):
    """An id read from an input file would escape or corrupt a storage path."""


def safe_component(value: object, what: str = "id") -> str:
    """Return `value` as a path component, or refuse it (ids from input files never become paths unchecked)."""
    text = str(value)
    if not _SAFE_COMPONENT.match(text) or text in (".", "..") or ".." in text:
        raise UnsafePathComponentError(
            f"{what} {text!r} is not a safe path component (letters, digits, '.', '_', '-'; max 128; no '..')"
        )
    return text


def protocol_of(url: str) -> str:
    """The fsspec protocol of a URL ('file' for plain paths)."""
    scheme = urlsplit(str(url)).scheme
    if len(scheme) <= 1:  # "" or a Windows drive letter
        return "file"
    return "gs" if scheme == "gcs" else scheme


def is_local(url: str) -> bool:
    return protocol_of(url) == "file"


def normalize(url: str | os.PathLike[str]) -> str:
    """Absolute path for local URLs, unchanged remote URLs, no trailing slash."""
    text = os.fspath(url)
    if is_local(text):
        if text.startswith("file://"):
            text = text[len("file://") :]
        return str(Path(text).expanduser().resolve())
    return text.rstrip("/")


def join(url: str, *parts: str) -> str:
    """Join path parts onto a URL ('/' on object stores, os rules locally)."""
    base = normalize(url)
    if is_local(base):
        return str(Path(base, *parts))
    clean = [p.strip("/") for p in parts if p]
    return "/".join([base, *clean])


def storage_options(url: str) -> dict[str, object]:
    """fsspec options for a URL, from the environment only."""
    proto = protocol_of(url)
    if proto == "s3":
        opts: dict[str, object] = {}
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            opts["endpoint_url"] = endpoint
        if os.environ.get("HMC_S3_ANON") == "1":
            opts["anon"] = True
        return opts
    if proto == "gs":
        opts = {}
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        if emulator:
            opts["endpoint_url"] = emulator if emulator.startswith("http") else f"http://{emulator}"
            opts["token"] = "anon"
        return opts
    return {}


@dataclass(frozen=True)
class Location:
    """A filesystem and the path on it that a URL names."""

    fs: AbstractFileSystem
    path: str
    url: str

    def child(self, *parts: str) -> Location:
        return location(join(self.url, *parts))


def filesystem(url: str) -> AbstractFileSystem:
    proto = protocol_of(url)
    return fsspec.filesystem(proto, **storage_options(url))


def location(url: str | os.PathLike[str]) -> Location:
    """Resolve a URL to (filesystem, path)."""
    text = normalize(url)
    fs = filesystem(text)
    path = text if is_local(text) else fs._strip_protocol(text)
    return Location(fs=fs, path=path, url=text)


def redact(url: str) -> str:
    """A URL fit for logs: user info and query strings (signatures, tokens) removed."""
    parts = urlsplit(str(url))
    if not parts.scheme or len(parts.scheme) <= 1:
        return str(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def exists(url: str) -> bool:
    loc = location(url)
    return loc.fs.exists(loc.path)


def file_version(url: str) -> str:
    """What changes when a file is replaced: size and mtime (ns) locally, ETag or generation on object stores.

    Plans fingerprint their inputs with it, so that a corrected product is ingested again.
    """
    loc = location(url)
    if is_local(loc.url):
        st = os.stat(loc.path)
        return f"{st.st_size}:{st.st_mtime_ns}"
    info = loc.fs.info(loc.path)
    tag = info.get("generation") or info.get("ETag") or info.get("etag") or info.get("md5Hash") or ""
    stamp = info.get("LastModified") or info.get("updated") or info.get("mtime") or ""
    return f"{info.get('size', '')}:{str(tag).strip(chr(34))}:{stamp}"


def write_bytes(url: str, data: bytes) -> None:
    loc = location(url)
    parent = loc.path.rsplit("/", 1)[0] if "/" in loc.path else ""
    if is_local(url) and parent:
        os.makedirs(parent, exist_ok=True)
    with loc.fs.open(loc.path, "wb") as fh:
        fh.write(data)


def read_bytes(url: str) -> bytes:
    loc = location(url)
    with loc.fs.open(loc.path, "rb") as fh:
        return fh.read()


def write_text_atomic(url: str, text: str) -> None:
    """Write a small object so that readers see the old or the new content, never a part.

    Object stores (S3, GCS) publish a PUT atomically; locally we write beside and rename.
    """
    loc = location(url)
    if is_local(loc.url):
        path = Path(loc.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    else:
        with loc.fs.open(loc.path, "w") as fh:
            fh.write(text)


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
