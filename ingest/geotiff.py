"""LiCSAR GeoTIFFs: read headers (planning) and pixels (tasks), and refuse products off the frame grid.

Files are read through fsspec into a rasterio MemoryFile when they are not local, so that the same
code reads local folders, s3:// and gs:// without GDAL network settings.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from hephaestus.platform import schema, storage
from hephaestus.platform.errors import InputError

_TOL = 1e-9  # degrees: grids agree when origin and spacing agree to well below a pixel

MAX_SIDE_PIXELS = 20_000
"""The largest raster side a product may declare: 20 degrees at the format's 0.001 deg spacing, eight times
a LiCSAR frame's ~250 km. A header claiming more is refused before anything is allocated from it (a
200000 x 200000 float32 band would be 149 GiB)."""
BANDS = 1
"""LiCSAR products (phase, coherence, DEM) hold one band; another count is not the format."""


class ProductError(InputError):
    """A source product that cannot go into a cube (unreadable, off-grid, values out of range)."""


@dataclass(frozen=True)
class Grid:
    """A north-up EPSG:4326 pixel grid: the frame's, from its hgt."""

    lat_max: float  # north edge
    lon_min: float  # west edge
    height: int
    width: int

    def coords(self) -> tuple[np.ndarray, np.ndarray]:
        from hephaestus.platform.cube import grid_coords

        return grid_coords(self.lat_max, self.lon_min, self.height, self.width)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north)."""
        step = schema.GRID_SPACING_DEG
        return (
            self.lon_min,
            self.lat_max - step * self.height,
            self.lon_min + step * self.width,
            self.lat_max,
        )


def _open_quietly(opener: Callable[..., rasterio.io.DatasetReader], *args: str) -> rasterio.io.DatasetReader:
    """`opener(*args)` without rasterio's NotGeoreferencedWarning: `grid_of` refuses a product with no
    geotransform in its own one-line error, so the warning would only repeat it on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return opener(*args)


@contextmanager
def open_raster(url: str) -> Iterator[rasterio.io.DatasetReader]:
    """Open a GeoTIFF at any storage URL; raises ProductError when it cannot be read."""
    try:
        if storage.is_local(url):
            with _open_quietly(rasterio.open, storage.normalize(url)) as src:
                yield src
        else:
            data = storage.read_bytes(url)
            with rasterio.MemoryFile(data) as mem, _open_quietly(mem.open) as src:
                yield src
    except (RasterioError, OSError) as exc:
        raise ProductError(f"unreadable GeoTIFF {storage.redact(url)}: {exc}") from exc


def grid_of(src: rasterio.io.DatasetReader, url: str) -> Grid:
    """The grid of a raster, after checking CRS, orientation and pixel size."""
    where = storage.redact(url)
    if src.crs is None or src.crs.to_epsg() != schema.CRS_EPSG:
        raise ProductError(f"{where}: CRS {src.crs} is not EPSG:{schema.CRS_EPSG}")
    t = src.transform
    step = schema.GRID_SPACING_DEG
    if abs(t.b) > _TOL or abs(t.d) > _TOL or t.e >= 0:
        raise ProductError(f"{where}: not a north-up grid (transform {tuple(t)[:6]})")
    if abs(t.a - step) > _TOL or abs(-t.e - step) > _TOL:
        raise ProductError(f"{where}: pixel size {t.a:g} x {-t.e:g} deg, expected {step:g}")
    if src.count != BANDS:
        raise ProductError(f"{where}: {src.count} raster bands, expected {BANDS}")
    if not all(0 < n <= MAX_SIDE_PIXELS for n in (src.height, src.width)):
        raise ProductError(
            f"{where}: header size {src.width}x{src.height} pixels exceeds the limit "
            f"{MAX_SIDE_PIXELS}x{MAX_SIDE_PIXELS} (or is empty); nothing read"
        )
    kind = np.dtype(src.dtypes[0]).kind
    if kind not in "uif":
        raise ProductError(f"{where}: data type {src.dtypes[0]} is not a real number type (int, uint, float)")
    return Grid(lat_max=float(t.f), lon_min=float(t.c), height=int(src.height), width=int(src.width))


def check_same_grid(got: Grid, frame: Grid, url: str) -> None:
    """Refuse a product off the frame grid, naming both sizes and origins (the difference)."""
    if (
        got.height != frame.height
        or got.width != frame.width
        or not math.isclose(got.lat_max, frame.lat_max, abs_tol=1e-7)
        or not math.isclose(got.lon_min, frame.lon_min, abs_tol=1e-7)
    ):
        raise ProductError(
            f"{storage.redact(url)}: grid {got.width}x{got.height} at ({got.lon_min:.6f}, {got.lat_max:.6f}) "
            f"is not the frame grid {frame.width}x{frame.height} at ({frame.lon_min:.6f}, {frame.lat_max:.6f})"
        )


def header_grid(url: str, *, phase: bool = False) -> Grid:
    """Grid of a GeoTIFF from its header only (the planner reads no pixels). `phase`: also refuse a no-data
    value other than the format's 0 (or none), which would pass as a phase value."""
    with open_raster(url) as src:
        grid = grid_of(src, url)
        nodata = src.nodata
    if phase and nodata is not None and not math.isnan(nodata) and nodata != 0:
        raise ProductError(f"{storage.redact(url)}: phase no-data value {nodata:g}, expected 0 (or none)")
    return grid


def read_band(url: str, frame: Grid) -> tuple[np.ndarray, np.dtype]:
    """First band as float32 and its stored dtype, after the grid check."""
    with open_raster(url) as src:
        check_same_grid(grid_of(src, url), frame, url)
        try:
            data = src.read(1)
        except (RasterioError, OSError) as exc:
            raise ProductError(f"unreadable GeoTIFF {storage.redact(url)}: {exc}") from exc
    return data.astype("float32", copy=False), data.dtype


def read_phase(url: str, frame: Grid, tolerance: float) -> np.ndarray:
    """Wrapped phase in radians; refuses non-finite values and values outside [-pi, pi]."""
    data, _ = read_band(url, frame)
    if not np.isfinite(data).all():
        raise ProductError(
            f"{storage.redact(url)}: phase has {int((~np.isfinite(data)).sum())} non-finite pixel(s)"
        )
    peak = float(np.abs(data).max()) if data.size else 0.0
    if peak > math.pi + tolerance:
        raise ProductError(f"{storage.redact(url)}: phase out of range: |phase| reaches {peak:.4f} > pi")
    return data


COHERENCE_MAX = 255.0


def read_coherence(url: str, frame: Grid) -> np.ndarray:
    """Coherence on the 0..255 scale; older float products in 0..1 are rescaled (x 255), not refused."""
    data, dtype = read_band(url, frame)
    where = storage.redact(url)
    if not np.isfinite(data).all():
        raise ProductError(f"{where}: coherence has non-finite pixel(s)")
    lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if lo < 0 or hi > COHERENCE_MAX:
        raise ProductError(
            f"{where}: coherence out of range {lo:g}..{hi:g} (expected 0..255, or 0..1 floats)"
        )
    if np.dtype(dtype).kind == "f" and hi <= 1.0:
        data = data * np.float32(COHERENCE_MAX)
    return data.astype("float32", copy=False)
