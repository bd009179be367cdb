"""The Smithsonian GVP volcano list (Volcanoes of the World, volcano.si.edu): one reader for every stage.

The synthetic twin places its frames at real volcanoes (ingest/synthetic/gvp.py), the monitor names the
volcano of an alert and the dashboard draws volcanoes on its map: all read the same CSV
(`../shared/data/volcanoes/gvp_holocene.csv`: volcano_number, volcano_name, latitude, longitude,
elevation_m, ...) through this module, and compare names the same way (:func:`normalise_name`).
"""

from __future__ import annotations

import csv
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from hephaestus.platform import storage
from hephaestus.platform.errors import InputError


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
    for row in csv.DictReader(text.splitlines()):
        try:
            number = row.get("volcano_number")
            out.append(
                GvpVolcano(
                    row["volcano_name"],
                    float(row["latitude"]),
                    float(row["longitude"]),
                    float(row["elevation_m"] or 0.0),
                    int(number) if number else None,
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise VolcanoTableError(
                f"{where}: row {row.get('volcano_number')!r} is malformed ({exc})"
            ) from exc
    return out


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
