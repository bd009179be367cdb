"""One lock object per store and job: two `hmc catalog build` (or two `hmc ingest`) into one store
serialise on it instead of deleting each other's files.

The lock is a small JSON object under `STORE/.locks/`, created with an exclusive write (O_EXCL locally, a
conditional PUT on S3, a generation precondition on GCS), so exactly one of two racing runs gets it. The
other stops at once with a one-line error naming the holder. A lock left by a run that died is stale when
its process is gone (same host) or after HMC_LOCK_TTL_S seconds (default one day), and is then taken over.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from hephaestus.platform import storage
from hephaestus.platform.errors import PlatformRuntimeError

LOCKS = ".locks"
TTL_ENV = "HMC_LOCK_TTL_S"


class StoreBusyError(PlatformRuntimeError):
    """Another run holds the store's lock for the same job."""


def lock_url(store_url: str, job: str) -> str:
    return storage.join(store_url, LOCKS, f"{storage.safe_component(job, 'lock name')}.lock")


def _holder() -> dict[str, object]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _stale(info: dict[str, object]) -> bool:
    """The holder is gone: its process no longer runs on this host, or the lock outlived the TTL."""
    if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
        try:
            os.kill(int(info["pid"]), 0)  # type: ignore[arg-type]
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    try:
        since = dt.datetime.fromisoformat(str(info.get("since")))
    except ValueError:
        return True
    ttl = float(os.environ.get(TTL_ENV, str(24 * 3600)))
    return (dt.datetime.now(dt.UTC) - since).total_seconds() > ttl


def _read(url: str) -> dict[str, object]:
    try:
        info = json.loads(storage.read_bytes(url))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


@contextmanager
def store_lock(store_url: str, job: str) -> Iterator[None]:
    """Hold STORE/.locks/<job>.lock for the duration; StoreBusyError (one line) when another run has it."""
    url = lock_url(store_url, job)
    body = json.dumps(_holder()).encode()
    if not storage.create_exclusive(url, body):
        info = _read(url)
        if not (info and _stale(info) and _take_over(url, body)):
            raise StoreBusyError(
                f"{storage.redact(store_url)}: another `{job}` is running on this store "
                f"(pid {info.get('pid', '?')} on {info.get('host', '?')} since {info.get('since', '?')}); "
                f"wait for it to finish, or remove {storage.redact(url)} if that run is gone"
            )
    try:
        yield
    finally:
        if _read(url).get("pid") == os.getpid() and _read(url).get("host") == socket.gethostname():
            storage.remove(url, recursive=False)


def _take_over(url: str, body: bytes) -> bool:
    storage.remove(url, recursive=False)
    return storage.create_exclusive(url, body)
