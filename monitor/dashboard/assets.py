"""Files the site carries besides its pages: its own stylesheet and script (package data) and the
basemap, copied at build time from an installed registry package, with the licences.

The basemap is Natural Earth's shaded relief (public domain), in the equirectangular (lon/lat) grid
the map's SVG uses, as Cartopy ships it (`cartopy/data/raster/natural_earth/`; Cartopy: BSD-3-Clause,
pinned in pyproject.toml). Nothing is fetched at run time and no tile server is involved.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import importlib.util
from pathlib import Path

from hephaestus.platform.errors import PlatformRuntimeError

BASEMAP_PACKAGE = "cartopy"
BASEMAP_PATH = ("data", "raster", "natural_earth", "50-natural-earth-1-downsampled.png")
BASEMAP_LICENCE = ("data", "LICENSE")
OWN_FILES = ("site.css", "map.js", "board.js")


class AssetMissingError(PlatformRuntimeError):
    """A file the site vendors is not installed (the environment lacks a pinned package)."""


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise AssetMissingError(f"package {name!r} is not installed; `pip install -e .` installs it")
    return Path(next(iter(spec.submodule_search_locations)))


def site_assets() -> dict[str, bytes]:
    """Asset file name -> bytes, for SITE/assets/."""
    static = importlib.resources.files("hephaestus.monitor.dashboard") / "static"
    out = {name: (static / name).read_bytes() for name in OWN_FILES}
    root = _package_dir(BASEMAP_PACKAGE)
    try:
        out["natural-earth.png"] = root.joinpath(*BASEMAP_PATH).read_bytes()
        data_licence = root.joinpath(*BASEMAP_LICENCE).read_text()
    except OSError as exc:
        raise AssetMissingError(f"{BASEMAP_PACKAGE} lacks its Natural Earth image ({exc})") from exc
    dist = importlib.metadata.distribution(BASEMAP_PACKAGE)
    licence = next(
        (dist.read_text(p) for p in ("licenses/LICENSE", "LICENSE") if dist.read_text(p)),
        "BSD-3-Clause (see the package's metadata)",
    )
    out["LICENSES.txt"] = (
        "Files vendored into this site at build time (hmc dashboard)\n"
        "============================================================\n\n"
        "natural-earth.png: Natural Earth I shaded relief, downsampled, as shipped by Cartopy "
        f"{dist.version} (cartopy/data/raster/natural_earth/).\n"
        "Made with Natural Earth. Free vector and raster map data @ naturalearthdata.com (public domain).\n\n"
        f"Cartopy's note on its data files:\n{data_licence}\n\n"
        f"Cartopy {dist.version} licence:\n{licence}\n\n"
        "site.css, map.js, board.js: part of the Hephaestus Minicubes platform (MIT).\n"
    ).encode()
    return out
