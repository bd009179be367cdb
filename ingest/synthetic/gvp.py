"""The real volcanoes of the real frames: frame_names.json matched against the Smithsonian GVP
Holocene list (Global Volcanism Program, Volcanoes of the World v5.3.2, volcano.si.edu).

GVP names are inverted ("Negra, Sierra"), ASCII without accents and transliterated differently from
the frame list; names are compared accent-, case- and order-free, and the ones that still differ go
through ALIASES, a reviewed table. Names that are not Holocene volcanoes (volcanic fields older than
the list, geothermal areas, fragments such as "La" / "Gloria" of "la_gloria") are left out. Where a
name matches two volcanoes (two "Azul, Cerro"), the one nearest the frame's other volcanoes wins,
and only within MAX_OFFSET_DEG of them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from hephaestus.ingest.synthetic.frames import Volcano
from hephaestus.platform.volcanoes import GvpVolcano, VolcanoTableError, name_index, read_table
from hephaestus.platform.volcanoes import normalise_name as _norm

__all__ = ["ALIASES", "NOT_HOLOCENE", "GvpVolcano", "VolcanoTableError", "frame_volcanoes", "read_gvp"]

ALIASES: dict[str, str | None] = {
    "Nyamuragira": "Nyamulagira",
    "Taranaki [Egmont]": "Taranaki",
    "white_island": "Whakaari/White Island",
    "Hualalai2": "Hualalai",
    "la_gloria": "Gloria, La",
    "Krysuvik": "Krysuvik-Trolladyngja",
    "Tromen": "Tromen Volcanic Plateau",
    "Clear Lake": "Clear Lake Volcanic Field",
    "azul": "Azul, Cerro",
    "La": None,  # "La, Gloria" is la_gloria split at its comma
    "Gloria": None,
}
"""Frame-list spellings that the normalised comparison does not match, and what GVP calls them."""
NOT_HOLOCENE: dict[str, tuple[float, float, float]] = {
    "Tin Zaouatene Volcanic Field": (19.83, 2.83, 500.0),
    "Taftan": (28.60, 61.13, 3940.0),
    "Bazman": (28.07, 60.00, 3490.0),
}
"""(lat, lon, summit m) of the two frames' volcanoes that the Holocene list lacks (Pleistocene
volcanoes; approximate public positions and heights, reviewed by hand), so every frame has one."""
MAX_OFFSET_DEG = 3.0
"""An ambiguous name ("Unnamed") only matches a volcano this close to the frame's others."""
GLACIATED_SUMMIT_M = 4500.0
GLACIATED_LATITUDE = 60.0
"""Summits above this, or volcanoes poleward of this latitude, carry ice (glacier fringes)."""


def read_gvp(path: str | Path) -> dict[str, list[GvpVolcano]]:
    """Normalised name (as written and un-inverted) -> the GVP volcanoes of that name."""
    return name_index(read_table(path))


def _candidates(name: str, index: dict[str, list[GvpVolcano]]) -> list[GvpVolcano]:
    if name in NOT_HOLOCENE:
        return [GvpVolcano(name, *NOT_HOLOCENE[name])]
    target = ALIASES.get(name, name)
    return [] if target is None else index.get(_norm(target), [])


def frame_volcanoes(frame_names: str | Path, gvp: str | Path) -> dict[str, list[Volcano]]:
    """Frame id -> its volcanoes in the order frame_names.json lists them (unmatched names left out)."""
    try:
        names = json.loads(Path(frame_names).read_text())
    except (OSError, ValueError) as exc:
        raise VolcanoTableError(f"{frame_names}: cannot read the frame list ({exc})") from exc
    index = read_gvp(gvp)
    out: dict[str, list[Volcano]] = {}
    for fid, text in names.items():
        listed = [n.strip() for n in str(text).split(",") if n.strip()]
        found = {n: _candidates(n, index) for n in listed}
        unique = [c[0] for c in found.values() if len(c) == 1]
        if not unique:
            raise VolcanoTableError(f"{frame_names}: frame {fid} has no volcano in the GVP table")
        lat0 = sum(v.lat for v in unique) / len(unique)
        lon0 = sum(v.lon for v in unique) / len(unique)
        chosen: list[Volcano] = []
        seen: set[str] = set()
        for n in listed:
            cands = found[n]
            if not cands:
                continue
            v = min(cands, key=lambda c: math.hypot(c.lat - lat0, c.lon - lon0))
            if v.name in seen or math.hypot(v.lat - lat0, v.lon - lon0) > MAX_OFFSET_DEG:
                continue
            seen.add(v.name)
            icy = v.elevation_m >= GLACIATED_SUMMIT_M or abs(v.lat) >= GLACIATED_LATITUDE
            chosen.append(Volcano(v.name, v.lat, v.lon, max(v.elevation_m, 1.0), False, glaciated=icy))
        out[fid] = chosen
    return out
