"""The Smithsonian GVP volcano list (Volcanoes of the World, volcano.si.edu): one reader for every stage.

The synthetic twin places its frames at real volcanoes (ingest/synthetic/gvp.py), the monitor names the
volcano of an alert and the dashboard draws volcanoes on its map: all read the same CSV
(`../shared/data/volcanoes/gvp_holocene.csv`: volcano_number, volcano_name, latitude, longitude,
elevation_m, ...) through this module, and compare names the same way (:func:`normalise_name`) and
positions the same way (:func:`nearest`, on the mean sphere).
"""

from __future__ import annotations

import csv
import math
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from hephaestus.platform import storage
from hephaestus.platform.errors import InputError

DEFAULT_GVP: Final = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "volcanoes" / "gvp_holocene.csv"
)
"""Where the repository's neighbour folder `shared/` keeps the GVP table (the monitor's default)."""
EARTH_RADIUS_KM: Final = 6371.0088
"""Mean Earth radius (IUGG), for distances and the areas of lat/lon cells."""


class VolcanoTableError(InputError):
    """The GVP table (or a list matched against it) is unreadable or malformed."""


@dataclass(frozen=True)
class GvpVolcano:
    name: str
    lat: float
    lon: float
    elevation_m: float
    number: int | None = None  # GVP volcano number (None for volcanoes added by hand)


def normalise_name(name: str) -> str:
    """Accent-, case- and separator-free form of a volcano name (GVP spells names in ASCII)."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(text.replace("_", " ").replace("-", " ").split())


def read_table(path: str | os.PathLike[str]) -> list[GvpVolcano]:
    """Every row of the GVP CSV (any storage URL), in file order."""
    where = storage.redact(os.fspath(path))
    try:
        text = storage.read_bytes(os.fspath(path)).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise VolcanoTableError(f"{where}: cannot read the GVP table ({exc})") from exc
    out: list[GvpVolcano] = []
    for line, row in enumerate(csv.DictReader(text.splitlines()), 2):  # line 1 is the header
        try:
            number = row.get("volcano_number")
            v = GvpVolcano(
                row["volcano_name"],
                float(row["latitude"]),
                float(row["longitude"]),
                float(row["elevation_m"] or 0.0),
                int(number) if number else None,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise VolcanoTableError(
                f"{where}: row {row.get('volcano_number')!r} is malformed ({exc})"
            ) from exc
        _check_position(v, where, line)
        out.append(v)
    return out


def _check_position(v: GvpVolcano, where: str, line: int) -> None:
    """Coordinates and elevation must be finite numbers on the globe (float() accepts 'nan' and 'inf')."""
    values = (v.lat, v.lon, v.elevation_m)
    if not all(math.isfinite(x) for x in values) or abs(v.lat) > 90 or abs(v.lon) > 360:
        raise VolcanoTableError(
            f"{where}: line {line} ({v.name!r}): latitude {v.lat}, longitude {v.lon}, elevation "
            f"{v.elevation_m} must be finite, latitude within +-90, longitude within +-360"
        )


def name_index(volcanoes: Iterable[GvpVolcano]) -> dict[str, list[GvpVolcano]]:
    """Normalised name (as written and un-inverted: "Negra, Sierra" is also "sierra negra") -> volcanoes."""
    index: dict[str, list[GvpVolcano]] = {}
    for v in volcanoes:
        keys = {normalise_name(v.name)}
        if "," in v.name:
            last, first = v.name.split(",", 1)
            keys.add(normalise_name(f"{first} {last}"))
        for key in keys:
            index.setdefault(key, []).append(v)
    return index


@lru_cache(maxsize=4)
def _cached(path: str) -> tuple[GvpVolcano, ...]:
    return tuple(read_table(path))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on the mean sphere (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def nearest(
    lat: float, lon: float, table: str | os.PathLike[str] = DEFAULT_GVP, max_km: float = 100.0
) -> GvpVolcano | None:
    """The GVP volcano nearest (lat, lon), None when none lies within `max_km` (the table is read once)."""
    best = min(_cached(os.fspath(table)), key=lambda v: distance_km(lat, lon, v.lat, v.lon), default=None)
    if best is None or distance_km(lat, lon, best.lat, best.lon) > max_km:
        return None
    return best
