"""The Smithsonian GVP volcano list (Volcanoes of the World, volcano.si.edu): one reader for every stage.

The synthetic twin places its frames at real volcanoes (ingest/synthetic/gvp.py), the monitor names the
volcano of an alert and the dashboard draws volcanoes on its map: all read the same CSV
(`../shared/data/volcanoes/gvp_holocene.csv`: volcano_number, volcano_name, latitude, longitude,
elevation_m, ...) through this module, and compare names the same way (:func:`normalise_name`) and
positions the same way (:func:`nearest`, on the mean sphere).

Names: GVP files 85 names inverted ("Negra, Sierra", "Fournaise, Piton de la"); every name a table stores
or a page shows is :func:`display_name` of it ("Sierra Negra", "Piton de la Fournaise"), while matching
keeps comparing :func:`normalise_name` forms of both spellings (:func:`name_index`).

Places: a frame names only a volcano inside its footprint (:func:`place`; the STAC Items' volcanoes are
:func:`in_footprint`). A frame whose nearest listed volcano lies outside it names none and says so
(`Placement.note`: "nearest listed volcano Domuyo is 42 km outside the frame"), rather than giving the
frame a cone tens of kilometres away.
"""

from __future__ import annotations

import csv
import math
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from hephaestus.platform import storage
from hephaestus.platform.errors import InputError
from hephaestus.platform.schema import GRID_SPACING_DEG
from hephaestus.platform.shared_data import DEFAULT_GVP

EARTH_RADIUS_KM: Final = 6371.0088
"""Mean Earth radius (IUGG), for distances and the areas of lat/lon cells."""


class VolcanoTableError(InputError):
    """The GVP table (or a list matched against it) is unreadable or malformed."""


@dataclass(frozen=True)
class GvpVolcano:
    name: str  # as the GVP table files it ("Negra, Sierra"): match on it, show `display`
    lat: float
    lon: float
    elevation_m: float
    number: int | None = None  # GVP volcano number (None for volcanoes added by hand)

    @property
    def display(self) -> str:
        """The name as people write it (:func:`display_name`): what tables store and pages show."""
        return display_name(self.name)


def display_name(name: str) -> str:
    """A GVP name as people write it: "Negra, Sierra" -> "Sierra Negra", "Est, Ile de l'" -> "Ile de
    l'Est", "Sawad, Harra Es-" -> "Harra Es-Sawad" (GVP inverts a name at its one comma; an article
    ending in an apostrophe or a hyphen joins the name without a space). Other names are kept as written,
    with runs of blanks made one."""
    text = " ".join(name.split())
    if "," not in text:
        return text
    last, first = (part.strip() for part in text.split(",", 1))
    if not first:
        return last
    joint = "" if first.endswith(("'", "-")) else " "
    return f"{first}{joint}{last}"


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
        keys = {normalise_name(v.name), normalise_name(display_name(v.name))}
        if "," in v.name:  # "Sawad, Harra Es-" is also found as "Harra Es- Sawad"
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


Bbox = tuple[float, float, float, float]
"""A footprint: (west, south, east, north) in degrees, the pixel edges of a frame's grid."""


def footprint(lat: Sequence[float], lon: Sequence[float], spacing: float = GRID_SPACING_DEG) -> Bbox:
    """The footprint of a grid given its pixel-centre coordinates (the edges lie half a pixel beyond)."""
    half = spacing / 2
    west, east = float(min(lon)) - half, float(max(lon)) + half
    south, north = float(min(lat)) - half, float(max(lat)) + half
    return (round(west, 9), round(south, 9), round(east, 9), round(north, 9))


def km_outside(bbox: Bbox, lat: float, lon: float) -> float:
    """Great-circle distance from (lat, lon) to the footprint's nearest point (0 inside it)."""
    west, south, east, north = bbox
    return distance_km(lat, lon, min(max(lat, south), north), min(max(lon, west), east))


def _inside(bbox: Bbox, v: GvpVolcano) -> bool:
    west, south, east, north = bbox
    return south <= v.lat <= north and west <= v.lon <= east


def in_footprint(bbox: Bbox, table: str | os.PathLike[str] = DEFAULT_GVP) -> list[GvpVolcano]:
    """The listed volcanoes inside the footprint, nearest its centre first (the table is read once)."""
    west, south, east, north = bbox
    lat, lon = (south + north) / 2, (west + east) / 2
    inside = [v for v in _cached(os.fspath(table)) if _inside(bbox, v)]
    return sorted(inside, key=lambda v: (distance_km(lat, lon, v.lat, v.lon), v.name))


@dataclass(frozen=True)
class Placement:
    """The volcano a place in a frame names, or none and why (`note`)."""

    volcano: GvpVolcano | None
    note: str | None = None

    @property
    def name(self) -> str | None:
        return None if self.volcano is None else self.volcano.display

    @property
    def number(self) -> int | None:
        return None if self.volcano is None else self.volcano.number


def _km(distance: float) -> str:
    return f"{distance:.1f}" if distance < 10 else f"{distance:.0f}"


def place(
    lat: float, lon: float, bbox: Bbox, table: str | os.PathLike[str] = DEFAULT_GVP, max_km: float = 100.0
) -> Placement:
    """The volcano a point of a frame (a detection, or the frame's centre) belongs to.

    The listed volcano inside the frame's footprint nearest the point, when it lies within `max_km` of
    it; else none, with a note: the nearest listed volcano and how far outside the frame it lies (none
    inside), or how far from the point the nearest one inside is."""
    inside = [v for v in _cached(os.fspath(table)) if _inside(bbox, v)]
    if inside:
        best = min(inside, key=lambda v: distance_km(lat, lon, v.lat, v.lon))
        far = distance_km(lat, lon, best.lat, best.lon)
        if far <= max_km:
            return Placement(best, None)
        return Placement(None, f"nearest listed volcano in the frame, {best.display}, is {_km(far)} km away")
    outside = min(_cached(os.fspath(table)), key=lambda v: distance_km(lat, lon, v.lat, v.lon), default=None)
    if outside is None:
        return Placement(None, "no volcano listed")
    gap = km_outside(bbox, outside.lat, outside.lon)
    return Placement(None, f"nearest listed volcano {outside.display} is {_km(gap)} km outside the frame")
