"""Hephaestus annotation JSON: read from a folder or the shipped tarball, parse and validate.

Validation here is what one file can tell on its own (types, codes, internal contradictions); the
checks that need the frame grid (polygon inside the image) or other files (duplicate uniqueID) are
done by the planner.
"""

from __future__ import annotations

import json
import math
import posixpath
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from hephaestus.platform import schema, storage

MAX_MEMBER_BYTES = 16 * 1024 * 1024  # a real annotation is a few kB; refuse anything absurd

_INT_FIELDS = schema.ANNOTATION_INT_FIELDS
_ALLOWED = {
    "corrupted": {0, 1},
    "processing_error": set(schema.PROCESSING_ERROR.flag_values),
    "glacier_fringes": set(schema.GLACIER_FRINGES.flag_values),
    "orbital_fringes": set(schema.ORBITAL_FRINGES.flag_values),
    "atmospheric_fringes": set(schema.ATMOSPHERIC_FRINGES.flag_values),
    "low_coherence": {0, 1},
    "no_info": {0, 1},
    "image_artifacts": {0, 1},
    "is_crowd": {0, 1},
}
_ACTIVITY = set(schema.ACTIVITY_TYPE.meanings.values()) - {"None"}
_INTENSITY = set(schema.INTENSITY.meanings.values())


class AnnotationError(ValueError):
    """A malformed or self-contradictory annotation file."""


@dataclass(frozen=True)
class RawAnnotation:
    """One annotation file as found: where it came from and its text."""

    name: str  # file name (member basename for tarballs)
    origin: str  # URL of the file, or "tarball.tar.gz!member"
    data: bytes


@dataclass(frozen=True)
class Polygon:
    """One annotated polygon in pixel coordinates with the codes it burns into the masks."""

    xy: tuple[tuple[float, float], ...]  # (x = column, y = row)
    deformation: int
    activity: int
    intensity: int


@dataclass(frozen=True)
class Annotation:
    """A validated annotation: the pair it describes, its pair-level fields and its polygons."""

    unique_id: int
    frame_id: str
    primary: np.datetime64
    secondary: np.datetime64
    fields: dict[str, object]  # pair-level scalars, keyed by cube variable name
    labels: tuple[str, ...]
    polygons: tuple[Polygon, ...]
    origin: str
    name: str

    @property
    def pair_key(self) -> tuple[str, np.datetime64, np.datetime64]:
        return (self.frame_id, self.primary, self.secondary)


def iter_raw(url: str) -> Iterator[RawAnnotation]:
    """Every `*.json` under a folder, or every `*.json` member of a tar(.gz) matched by file name."""
    loc = storage.location(url)
    if loc.fs.isdir(loc.path):
        for path in sorted(loc.fs.find(loc.path)):
            name = posixpath.basename(path)
            if name.endswith(".json") and not name.startswith("."):
                with loc.fs.open(path, "rb") as fh:
                    yield RawAnnotation(
                        name, f"{loc.url.rstrip('/')}/{path[len(loc.path) :].lstrip('/')}", fh.read()
                    )
        return
    with loc.fs.open(loc.path, "rb") as raw, tarfile.open(fileobj=raw, mode="r:*") as tar:
        for member in tar:
            if not member.isfile():  # links, devices and folders are never followed
                continue
            name = posixpath.basename(member.name)
            if not name.endswith(".json") or name.startswith("."):
                continue
            if member.size > MAX_MEMBER_BYTES:
                yield RawAnnotation(name, f"{loc.url}!{member.name}", b"")
                continue
            fh = tar.extractfile(member)
            yield RawAnnotation(name, f"{loc.url}!{member.name}", fh.read() if fh else b"")


def _date(value: object, field: str) -> np.datetime64:
    if not isinstance(value, str) or len(value) != 8 or not value.isdigit():
        raise AnnotationError(f"{field} must be a 'YYYYMMDD' string, got {value!r}")
    try:
        return np.datetime64(f"{value[:4]}-{value[4:6]}-{value[6:]}", "D")
    except ValueError as exc:
        raise AnnotationError(f"{field} {value!r} is not a calendar date") from exc


def _int(d: dict, field: str) -> int:
    value = d[field]
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnnotationError(f"{field} must be an int, got {type(value).__name__} {value!r}")
    return value


def _str_list(d: dict, field: str) -> list[str]:
    value = d[field]
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise AnnotationError(f"{field} must be a list of strings, got {value!r}")
    return value


def _per_polygon(values: list[str], n: int, field: str) -> list[str]:
    """Entry i goes with polygon i; one entry applies to every polygon; extra entries are ignored."""
    if len(values) >= n:
        return values[:n]
    if len(values) == 1:
        return values * n
    raise AnnotationError(f"{field} has {len(values)} entries for {n} polygon(s)")


def _polygons(d: dict, labels: list[str]) -> tuple[Polygon, ...]:
    raw = d["segmentation_mask"]
    if not isinstance(raw, list):
        raise AnnotationError("segmentation_mask must be a list of flat [x1, y1, x2, y2, ...] polygons")
    n = len(raw)
    activity = _str_list(d, "activity_type")
    intensity = _str_list(d, "intensity_level")
    if n == 0:
        if activity or intensity:
            raise AnnotationError("activity_type/intensity_level given without any polygon")
        return ()
    activity = _per_polygon(activity, n, "activity_type")
    intensity = _per_polygon(intensity, n, "intensity_level")
    only_quake = "Earthquake" in labels and "Deformation" not in labels
    out = []
    for i, (coords, act, inten) in enumerate(zip(raw, activity, intensity, strict=True)):
        if (
            not isinstance(coords, list)
            or len(coords) < 6
            or len(coords) % 2
            or not all(
                isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in coords
            )
        ):
            raise AnnotationError(f"polygon {i} is not a flat list of at least 3 finite (x, y) points")
        if act not in _ACTIVITY:
            raise AnnotationError(f"polygon {i}: unknown activity_type {act!r}; known: {sorted(_ACTIVITY)}")
        if inten not in _INTENSITY:
            raise AnnotationError(
                f"polygon {i}: unknown intensity_level {inten!r}; known: {sorted(_INTENSITY)}"
            )
        quake = act == "Earthquake" or only_quake
        out.append(
            Polygon(
                xy=tuple((float(coords[k]), float(coords[k + 1])) for k in range(0, len(coords), 2)),
                deformation=schema.DEFORMATION.code("Earthquake" if quake else "Deformation"),
                activity=schema.ACTIVITY_TYPE.code(act),
                intensity=schema.INTENSITY.code(inten),
            )
        )
    return tuple(out)


REQUIRED = (
    "uniqueID",
    "frameID",
    "primary_date",
    "secondary_date",
    *_INT_FIELDS,
    "label",
    "activity_type",
    "intensity_level",
    "phase",
    "confidence",
    "segmentation_mask",
    "caption",
)


def parse(raw: RawAnnotation) -> Annotation:
    """Parse and validate one annotation; raises AnnotationError naming the problem."""
    if not raw.data:
        raise AnnotationError("empty or oversized file")
    try:
        d = json.loads(raw.data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"not valid JSON: {exc}") from exc
    if not isinstance(d, dict):
        raise AnnotationError(f"expected a JSON object, got {type(d).__name__}")
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        raise AnnotationError(f"missing field(s): {', '.join(missing)}")
    uid = _int(d, "uniqueID")
    if not 0 <= uid < 10 ** schema.STRING_LENGTHS["unique_id"]:
        raise AnnotationError(f"uniqueID {uid} out of range")
    frame = d["frameID"]
    if not isinstance(frame, str) or not frame:
        raise AnnotationError(f"frameID must be a non-empty string, got {frame!r}")
    primary = _date(d["primary_date"], "primary_date")
    secondary = _date(d["secondary_date"], "secondary_date")
    if secondary <= primary:
        raise AnnotationError(
            f"secondary_date {d['secondary_date']} is not after primary_date {d['primary_date']}"
        )
    ints = {k: _int(d, k) for k in _INT_FIELDS}
    for k, v in ints.items():
        if v not in _ALLOWED[k]:
            raise AnnotationError(f"{k}={v} is not one of {sorted(_ALLOWED[k])}")
    labels = _str_list(d, "label")
    if not labels:
        raise AnnotationError("label is empty")
    unknown = [x for x in labels if x not in schema.LABELS]
    if unknown:
        raise AnnotationError(f"unknown label(s) {unknown}; known: {list(schema.LABELS)}")
    phase = d["phase"]
    if phase not in schema.PHASES:
        raise AnnotationError(f"unknown phase {phase!r}; known: {list(schema.PHASES)}")
    conf = d["confidence"]
    if isinstance(conf, bool) or not isinstance(conf, int | float) or not 0.0 <= float(conf) <= 1.0:
        raise AnnotationError(f"confidence must be a number in 0..1, got {conf!r}")
    caption = d["caption"]
    if not isinstance(caption, str) or len(caption) > schema.STRING_LENGTHS["caption"]:
        raise AnnotationError(
            f"caption must be a string of at most {schema.STRING_LENGTHS['caption']} characters"
        )
    polygons = _polygons(d, labels)
    negative = schema.NEGATIVE_LABEL in labels
    if negative and len(labels) > 1:
        raise AnnotationError(f"label {labels} mixes {schema.NEGATIVE_LABEL} with deformation classes")
    if negative and polygons:
        raise AnnotationError(f"label {labels} but {len(polygons)} deformation polygon(s) drawn")
    if not negative and not polygons:
        raise AnnotationError(f"label {labels} but no segmentation polygon")
    fields: dict[str, object] = {
        "atmospheric_fringes": ints["atmospheric_fringes"],
        "glacier_fringes": ints["glacier_fringes"],
        "orbital_fringes": ints["orbital_fringes"],
        "corrupted": bool(ints["corrupted"]),
        "processing_error": bool(ints["processing_error"]),
        "low_coherence": bool(ints["low_coherence"]),
        "no_info": bool(ints["no_info"]),
        "is_crowd": bool(ints["is_crowd"]),
        "confidence": float(conf),
        "phase": phase,
        "caption": caption,
        "unique_id": str(uid),
    }
    return Annotation(uid, frame, primary, secondary, fields, tuple(labels), polygons, raw.origin, raw.name)


def outside_image(ann: Annotation, height: int, width: int) -> str | None:
    """Why a polygon does not lie in the image (x in 0..width, y in 0..height), or None."""
    for i, poly in enumerate(ann.polygons):
        xs = [p[0] for p in poly.xy]
        ys = [p[1] for p in poly.xy]
        if min(xs) < 0 or min(ys) < 0 or max(xs) > width or max(ys) > height:
            return (
                f"polygon {i} spans x {min(xs):.1f}..{max(xs):.1f}, y {min(ys):.1f}..{max(ys):.1f}: "
                f"outside the {width}x{height} image"
            )
    return None
