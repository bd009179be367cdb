"""Local paths (and file:// URLs): O_EXCL creates, rename-into-place writes, zarr's LocalStore."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsspec.implementations.local import LocalFileOpener, LocalFileSystem

from hephaestus.platform.storage.backend import Backend, StorageURLError, raise_if_full
from hephaestus.platform.storage.registry import register
from hephaestus.platform.storage.urls import LOCAL_SCHEME

if TYPE_CHECKING:
    import zarr.abc.store
    from fsspec.spec import AbstractFileSystem


def _named(method: str) -> Callable[..., Any]:
    """`LocalFileOpener.<method>`, with a write that runs out of room raised naming the file."""
    base = getattr(LocalFileOpener, method)

    def call(self: LocalFileOpener, *args: Any, **kwargs: Any) -> Any:
        try:
            return base(self, *args, **kwargs)
        except OSError as exc:
            raise_if_full(exc, self.path)
            raise

    call.__name__ = method
    return call


class _NamedErrorsOpener(LocalFileOpener):
    """A local file whose write, flush and close say which file ran out of room: the OS's ENOSPC / EFBIG
    from a write names no path (`[Errno 28] No space left on device`)."""

    write = _named("write")
    flush = _named("flush")
    close = _named("close")
    __exit__ = _named("__exit__")


class LocalFiles(LocalFileSystem):
    """fsspec's local filesystem, whose files name their path when a write runs out of room: every
    `location(url).fs.open(..., "wb")` of the platform (catalog, monitor tables, dashboard) goes through it."""

    def _open(self, path: str, mode: str = "rb", block_size: int | None = None, **kwargs: Any) -> Any:
        path = self._strip_protocol(path)
        if self.auto_mkdir and ("w" in mode or "x" in mode or "a" in mode):
            self.makedirs(self._parent(path), exist_ok=True)
        return _NamedErrorsOpener(path, mode, fs=self, **kwargs)


@register
class FileBackend(Backend):
    schemes = (LOCAL_SCHEME,)
    label = "local disk"
    is_local = True

    def storage_options(self, url: str) -> dict[str, object]:
        return {}

    def filesystem(self, url: str) -> AbstractFileSystem:
        return LocalFiles()

    def path_of(self, url: str, fs: AbstractFileSystem) -> str:
        return url

    def probe(self, url: str, role: str = "source", what: str = "") -> None:
        """A source must exist; an output must not lie under a file."""
        path = Path(url)
        if role == "source" and not path.exists():
            raise StorageURLError(f"{what} not found at {url}" if what else f"{url}: does not exist")
        if role == "output":
            for p in (path, *path.parents):
                if p.exists():
                    if not p.is_dir():
                        raise StorageURLError(f"{url}: {p} is a file, not a folder")
                    break

    def create_exclusive(self, url: str, data: bytes) -> bool:
        """O_CREAT | O_EXCL: the kernel lets exactly one creator through. A write that fails removes the
        part it created (a half object must never count as "already there")."""
        try:
            Path(url).parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(url, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            raise_if_full(exc, url)
            raise
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except BaseException as exc:
            Path(url).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise_if_full(exc, url)
            raise
        return True

    def write(self, url: str, data: bytes, *, atomic: bool = False) -> None:
        """Creates the parent folder; `atomic`: written beside and renamed, so readers never see a part
        (the part is removed when the write fails). Out of room: one line naming the path."""
        path = Path(url)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp") if atomic else path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            if atomic:
                os.replace(tmp, path)
        except BaseException as exc:
            if atomic:
                tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise_if_full(exc, url)
            raise

    def version(self, url: str) -> str:
        st = os.stat(url)
        return f"{st.st_size}:{st.st_mtime_ns}"

    def zarr_store(self, url: str, client: str | None = None) -> zarr.abc.store.Store:
        import zarr.storage

        if url.endswith(".zip"):
            return zarr.storage.ZipStore(url, mode="r")
        return zarr.storage.LocalStore(url, read_only=True)
