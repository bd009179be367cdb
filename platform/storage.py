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

from hephaestus.platform.errors import InputError, PlatformRuntimeError

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


S3_CLIENT_ENV = "HMC_S3_CLIENT"
"""Which client zarr reads s3:// cubes through: "obstore" (Rust object_store, the default) or "fsspec" (s3fs)."""
S3_CLIENTS = ("obstore", "fsspec")
DEFAULT_S3_CLIENT = "obstore"
"""The faster one against the local S3 server (tests/benchmarks/bench_remote.py: crops/s and requests)."""


_OBSTORE_STARTED_IN: int | None = None
"""The process that built the first obstore client. obstore's Rust (tokio) runtime does not survive fork():
a child forked after it ran (a DataLoader worker, say) would hang on its first request, so such a child
reads through s3fs instead (fsspec restarts its event loop after fork)."""


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
    if protocol_of(text) != "s3":
        raise StorageURLError(f"{redact(text)}: obstore reads are for s3:// URLs only")
    parts = urlsplit(text)
    opts = storage_options(text)
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


def create_exclusive(url: str, data: bytes) -> bool:
    """Create an object only if it does not exist yet; False when it already does.

    Local files use O_EXCL; S3 a conditional PUT (If-None-Match: *); GCS a generation precondition
    (ifGenerationMatch=0). Two writers racing for one key: exactly one gets True.
    """
    loc = location(url)
    if is_local(loc.url):
        Path(loc.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(loc.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return True
    try:
        with loc.fs.open(loc.path, "xb") as fh:
            fh.write(data)
    except FileExistsError:
        return False
    except OSError as exc:  # clients that report the failed precondition as a plain error
        if "precondition" in str(exc).lower() or "412" in str(exc):
            return False
        raise
    return True


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


def write_bytes_atomic(url: str, data: bytes) -> None:
    """Write an object so that readers see the old or the new content, never a part.

    Object stores (S3, GCS) publish a PUT atomically; locally we write beside and rename.
    """
    loc = location(url)
    if is_local(loc.url):
        path = Path(loc.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    else:
        with loc.fs.open(loc.path, "wb") as fh:
            fh.write(data)


def write_text_atomic(url: str, text: str) -> None:
    """A small text object, all or nothing (see write_bytes_atomic)."""
    write_bytes_atomic(url, text.encode())


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


# ------------------------------------------------------------------------------------------------
# Preflight: check every URL a command was given before any work starts (and before Ray starts)
# ------------------------------------------------------------------------------------------------
SUPPORTED_PROTOCOLS = ("file", "s3", "gs", "memory")
TIMEOUT_ENV = "HMC_STORAGE_TIMEOUT_S"  # seconds one storage request may take in the preflight probe
RETRIES_ENV = "HMC_STORAGE_RETRIES"  # extra attempts of the probe after a failed one


class StorageURLError(InputError):
    """A URL the platform cannot use: unknown scheme, or a path of the wrong kind (a file for a folder)."""


class StorageUnreachableError(PlatformRuntimeError):
    """The storage endpoint of a URL refused, failed or did not answer in time."""


def probe_limits() -> tuple[float, int]:
    """(timeout per attempt in seconds, retries) of the preflight probe, from the environment."""
    try:
        timeout = float(os.environ.get(TIMEOUT_ENV, "10"))
        retries = int(os.environ.get(RETRIES_ENV, "2"))
    except ValueError as exc:
        raise InputError(f"{TIMEOUT_ENV} / {RETRIES_ENV}: not a number ({exc})") from None
    return max(timeout, 0.1), max(retries, 0)


def check_url(url: str | os.PathLike[str], role: str = "source", what: str = "") -> str:
    """The normalised URL, once checked: a known scheme; for a local output, no file where a folder goes;
    for an object store, an endpoint that answers within the probe limits. Raises one-line errors.

    `role` is "source" (must exist) or "output" (may be created); `what` names it in messages.
    """
    raw = os.fspath(url)
    proto = protocol_of(raw)
    if proto not in SUPPORTED_PROTOCOLS:
        raise StorageURLError(
            f"{redact(raw)}: unknown storage scheme {proto!r} (use a local path, s3:// or gs://)"
        )
    text = normalize(raw)
    if is_local(text):
        path = Path(text)
        if role == "source" and not path.exists():
            raise StorageURLError(f"{what} not found at {text}" if what else f"{text}: does not exist")
        if role == "output":
            for p in (path, *path.parents):
                if p.exists():
                    if not p.is_dir():
                        raise StorageURLError(f"{text}: {p} is a file, not a folder")
                    break
        return text
    if proto != "memory":
        _probe(text, role)
    return text


def _probe_options(url: str, timeout: float) -> dict[str, object]:
    opts = dict(storage_options(url))
    if protocol_of(url) == "s3":
        opts["config_kwargs"] = {
            "connect_timeout": timeout,
            "read_timeout": timeout,
            "retries": {"max_attempts": 1},
        }
    elif protocol_of(url) == "gs":
        opts["timeout"] = timeout
    opts["skip_instance_cache"] = True
    return opts


def _endpoint(url: str) -> str:
    opts = storage_options(url)
    default = {"s3": "AWS S3", "gs": "Google Cloud Storage"}.get(protocol_of(url), protocol_of(url))
    return str(opts.get("endpoint_url") or default)


def _probe(url: str, role: str) -> None:
    """Ask the store about the URL's bucket with a bounded time per attempt and bounded retries.

    The call runs in a daemon thread that is abandoned when it overruns: some clients retry on their own
    far beyond any timeout they are given, and an endpoint that accepts and never answers must not hang us.
    """
    import threading
    import time

    timeout, retries = probe_limits()
    fs = fsspec.filesystem(protocol_of(url), **_probe_options(url, timeout))
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
            last = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        else:
            if not box.get("found"):
                what = "bucket" if role == "output" else "location"
                raise StorageURLError(f"{redact(url)}: {what} does not exist on {_endpoint(url)}")
            return
        if attempt < retries:
            time.sleep(min(0.5 * 2**attempt, 2.0))
    raise StorageUnreachableError(
        f"{redact(url)}: storage endpoint {_endpoint(url)} unreachable after {retries + 1} attempt(s) "
        f"({last}; limits: {TIMEOUT_ENV}={timeout:g}, {RETRIES_ENV}={retries})"
    )
