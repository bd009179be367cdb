"""Cubes opened once per process: zarr arrays and window readers cached per cube URL.

The cache is keyed by process id, so a DataLoader worker or Ray actor that inherits a dataset
after fork (or unpickles it) opens its own stores instead of sharing file handles or event loops.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

import numpy as np
import zarr

from hephaestus.platform import schema
from hephaestus.platform.cube import CubeUnreadableError, read_failure, zarr_store
from hephaestus.platform.storage import normalize, redact
from hephaestus.train.data.array_reader import ArrayReader
from hephaestus.train.data.chunks import read_windows
from hephaestus.train.data.fetch import Fetcher
from hephaestus.train.data.window import Window

StoreOpener = Callable[[str], "zarr.abc.store.Store"]


def default_store(url: str) -> zarr.abc.store.Store:
    """The read-only zarr store of a cube URL (directory or .zarr.zip, any fsspec protocol)."""
    return zarr_store(normalize(url))


class OpenCube:
    """One cube: its zarr group, a fetcher for its store and a reader per variable."""

    def __init__(self, url: str, store: zarr.abc.store.Store) -> None:
        self.url = url
        self.group = zarr.open_group(store, mode="r")
        self.fetcher = Fetcher(store)
        self._readers: dict[str, ArrayReader] = {}
        self._nodata: dict[str, float | None] = {}
        dem = self.reader("dem")
        self.height, self.width = dem.shape[-2], dem.shape[-1]
        self._dem: np.ndarray | None = None

    def whole_dem(self) -> np.ndarray | None:
        """The raw DEM when it is stored as one chunk (published and ingest layouts), read once.

        The DEM is the same for every pair of a frame; decoding a whole-frame chunk per crop would
        cost more than all other channels together. Tiled DEMs return None (read per crop).
        """
        dem = self.reader("dem")
        if not dem.fast or tuple(dem.chunks) != tuple(dem.shape):
            return None
        if self._dem is None:
            out = np.empty(dem.shape, dtype=np.float32)
            window = Window((), 0, self.height, 0, self.width)
            try:
                for _, piece, dst in read_windows([(dem, window)], self.fetcher):
                    out[dst] = piece
            except ValueError as exc:  # a checksum mismatch or undecodable bytes: name the cube and variable
                raise CubeUnreadableError(
                    f"{redact(self.url)}: dem (whole frame): {read_failure(exc)}"
                ) from exc
            self._dem = out
        return self._dem

    def reader(self, name: str) -> ArrayReader:
        found = self._readers.get(name)
        if found is None:
            try:
                array = self.group[name]
            except KeyError:
                raise KeyError(f"{redact(self.url)}: cube has no variable {name!r}") from None
            found = ArrayReader(array)  # type: ignore[arg-type]
            expected = len(schema.VARIABLES[name].dims) if name in schema.VARIABLES else None
            if expected is not None and len(found.shape) != expected:
                raise ValueError(
                    f"{redact(self.url)}: {name!r} has {len(found.shape)} dims, expected {expected}"
                )
            self._readers[name] = found
        return found

    def nodata_value(self, name: str) -> float | None:
        """A float variable's CF `_FillValue` (xarray would turn it into NaN), when not NaN itself."""
        if name not in self._nodata:
            self._nodata[name] = self._read_nodata(name)
        return self._nodata[name]

    def _read_nodata(self, name: str) -> float | None:
        array = self.reader(name).array
        value = array.attrs.get("_FillValue")
        if value is None:
            return None
        if isinstance(value, str):  # xarray writes v3 float fill values as base64 of the raw bytes
            try:
                raw = base64.b64decode(value)
                value = np.frombuffer(raw, dtype={8: "<f8", 4: "<f4", 2: "<f2"}[len(raw)])[0]
            except (ValueError, IndexError, KeyError):
                return None
        value = float(value)
        return None if np.isnan(value) else value


class CubeCache:
    """Per-process cache of open cubes (reopened after fork, empty after unpickling)."""

    def __init__(self, opener: StoreOpener | None = None) -> None:
        self.opener = opener or default_store
        self._pid = os.getpid()
        self._cubes: dict[str, OpenCube] = {}

    def get(self, url: str) -> OpenCube:
        if os.getpid() != self._pid:
            self._pid, self._cubes = os.getpid(), {}
        cube = self._cubes.get(url)
        if cube is None:
            try:
                cube = OpenCube(url, self.opener(url))
            except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError) as exc:  # type: ignore[attr-defined]
                raise CubeUnreadableError(
                    f"{redact(url)}: cannot open the cube ({exc.__class__.__name__}: {exc})"
                ) from exc
            self._cubes[url] = cube
        return cube

    def __getstate__(self) -> dict[str, object]:
        return {"opener": self.opener}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["opener"])  # type: ignore[misc, arg-type]
