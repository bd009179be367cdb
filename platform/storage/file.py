"""Local paths (and file:// URLs): O_EXCL creates, rename-into-place writes, zarr's LocalStore."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from hephaestus.platform.storage.backend import Backend, StorageURLError
from hephaestus.platform.storage.registry import register
from hephaestus.platform.storage.urls import LOCAL_SCHEME

if TYPE_CHECKING:
    import zarr.abc.store
    from fsspec.spec import AbstractFileSystem


@register
class FileBackend(Backend):
    schemes = (LOCAL_SCHEME,)
    label = "local disk"
    is_local = True

    def storage_options(self, url: str) -> dict[str, object]:
        return {}

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
        """O_CREAT | O_EXCL: the kernel lets exactly one creator through."""
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(url, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return True

    def write(self, url: str, data: bytes, *, atomic: bool = False) -> None:
        """Creates the parent folder; `atomic`: written beside and renamed, so readers never see a part."""
        path = Path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not atomic:
            path.write_bytes(data)
            return
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def version(self, url: str) -> str:
        st = os.stat(url)
        return f"{st.st_size}:{st.st_mtime_ns}"

    def zarr_store(self, url: str, client: str | None = None) -> zarr.abc.store.Store:
        import zarr.storage

        if url.endswith(".zip"):
            return zarr.storage.ZipStore(url, mode="r")
        return zarr.storage.LocalStore(url, read_only=True)
