"""The Hephaestus annotation model: find annotation files, parse and validate them, one way for every stage.

Ingest, the catalog and the demo all read annotations through this module, so the same file gets
the same verdict and the same message everywhere. Validation here is what one file can tell on its
own (types, codes, internal contradictions, a safe frame id); the checks that need the frame grid
(polygon inside the image, see `outside_image`) or other files (duplicate uniqueID) are done by the
caller that has them.

A file holds one record (the published form), a list of records or a {uniqueID: record} mapping.
Every failure, whatever its cause (bad JSON, a 5,000-digit integer, nesting too deep for the
decoder), is an :class:`AnnotationError` whose one-line message starts with the file.
"""

from __future__ import annotations

import json
import math
import posixpath
import reprlib
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from hephaestus.platform import schema, storage
from hephaestus.platform.errors import InputError, InputNotFoundError

MAX_MEMBER_BYTES = 16 * 1024 * 1024  # a real annotation is a few kB; refuse anything absurd
MAX_MEMBERS = 200_000
"""The most members an annotation tarball may hold: ten times the published set's 19,919 files (tarfile keeps
every member's header in memory as it reads)."""
MAX_REFUSED_RECORDS = 100
"""The most refused annotation files one run records one by one; past it, one record lists them all (a tarball
of 20,000 empty members is one record, not 20,000): ingest's quarantine and the catalog's skipped list."""
MAX_TOTAL_BYTES = 2 * 1024**3
"""The most annotation bytes one source may hold in all (the published set is about 100 MB)."""
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")

REQUIRED: tuple[str, ...] = schema.ANNOTATION_FIELDS
_INT_FIELDS = schema.ANNOTATION_INT_FIELDS
_BOOLEAN = {0, 1}


def intensity_of_fringes(n_fringes: float) -> str:
    """The annotators' intensity_level of a deformation of `n_fringes` fringes (counted as whole
    fringes): 1 or fewer Low, 2-3 Medium, more High (paper, section 3)."""
    n = math.floor(n_fringes)
    if n <= 1:
        return "Low"
    if n <= 3:
        return "Medium"
    return "High"


_ALLOWED = {
    "processing_error": set(schema.PROCESSING_ERROR.flag_values),
    "glacier_fringes": set(schema.GLACIER_FRINGES.flag_values),
    "orbital_fringes": set(schema.ORBITAL_FRINGES.flag_values),
    "atmospheric_fringes": set(schema.ATMOSPHERIC_FRINGES.flag_values),
}
_ACTIVITY = set(schema.ACTIVITY_TYPE.meanings.values()) - {"None"}
_INTENSITY = set(schema.INTENSITY.meanings.values())


def _short_repr() -> reprlib.Repr:
    """A repr for messages that keeps a hostile value (huge, deep) from making a message long or deep."""
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxdict, r.maxstring, r.maxother, r.maxlong = 3, 6, 6, 60, 60, 40
    return r


_show = _short_repr().repr


class AnnotationError(InputError):
    """An annotation file is malformed or contradicts itself; the message starts with the file.

    `frame_id` and `unique_id` hold what could be read of the record before it failed (None when
    unknown), so that callers can file the refusal under the right pair without parsing again.
    """

    def __init__(
        self, message: str, *, source: str = "", frame_id: str | None = None, unique_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.source = source
        self.frame_id = frame_id
        self.unique_id = unique_id


class AnnotationsNotFoundError(AnnotationError, InputNotFoundError):
    """The annotation folder, tarball or file does not exist."""


class _Invalid(AnnotationError):
    """Internal: why a record is invalid, before `validate` adds the file name."""


@dataclass(frozen=True)
class RawAnnotation:
    """One annotation file as found: its name, where it came from (redacted URL) and its bytes."""

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
    """A validated annotation: the pair it describes, its pair-level fields, its polygons, its record."""

    unique_id: int
    frame_id: str
    primary: np.datetime64
    secondary: np.datetime64
    fields: dict[str, object]  # pair-level scalars, keyed by cube variable name
    labels: tuple[str, ...]
    polygons: tuple[Polygon, ...]
    origin: str
    name: str
    record: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)
    """The decoded JSON object as published (the catalog keeps its lists and codes as they are)."""

    @property
    def pair_key(self) -> tuple[str, np.datetime64, np.datetime64]:
        return (self.frame_id, self.primary, self.secondary)


# ---------------------------------------------------------------------------------------------
# Finding the files
# ---------------------------------------------------------------------------------------------
def _is_annotation_name(name: str) -> bool:
    return name.endswith(".json") and not name.startswith(".")


def iter_raw(url: str) -> Iterator[RawAnnotation]:
    """Every `*.json` under a folder, every `*.json` member of a tar(.gz) (matched by file name,
    never extracted), or one JSON file."""
    text = storage.normalize(url)
    where = storage.redact(text)
    loc = storage.location(text)
    if not loc.fs.exists(loc.path):
        raise AnnotationsNotFoundError(f"{where}: annotations not found", source=where)
    if loc.fs.isdir(loc.path):
        for path in sorted(loc.fs.find(loc.path)):
            name = posixpath.basename(path)
            if _is_annotation_name(name):
                origin = f"{where}/{path[len(loc.path) :].lstrip('/')}"
                if loc.fs.size(path) > MAX_MEMBER_BYTES:  # the cap of tarball members, for folders too
                    yield RawAnnotation(name, origin, b"")
                    continue
                with loc.fs.open(path, "rb") as fh:
                    yield RawAnnotation(name, origin, fh.read(MAX_MEMBER_BYTES + 1))
        return
    if not text.endswith(TAR_SUFFIXES):
        yield RawAnnotation(posixpath.basename(loc.path), where, storage.read_bytes(text))
        return
    with loc.fs.open(loc.path, "rb") as raw:
        try:
            tar = tarfile.open(fileobj=raw, mode="r:*")
        except tarfile.TarError as exc:
            raise AnnotationError(f"{where}: not a readable tar archive ({exc})", source=where) from exc
        with tar:
            total = 0
            for count, member in enumerate(tar, 1):
                total += member.size
                if count > MAX_MEMBERS or total > MAX_TOTAL_BYTES:
                    raise AnnotationError(
                        f"{where}: more than {MAX_MEMBERS} members or {MAX_TOTAL_BYTES} bytes "
                        "(the limit of an annotation tarball); nothing more read",
                        source=where,
                    )
                if not member.isfile():  # links, devices and folders are never followed
                    continue
                name = posixpath.basename(member.name)
                if not _is_annotation_name(name):
                    continue
                origin = f"{where}!{member.name}"
                if member.size > MAX_MEMBER_BYTES:
                    yield RawAnnotation(name, origin, b"")
                    continue
                fh = tar.extractfile(member)
                yield RawAnnotation(name, origin, fh.read() if fh else b"")


# ---------------------------------------------------------------------------------------------
# Parsing one file
# ---------------------------------------------------------------------------------------------
def decode(raw: RawAnnotation) -> object:
    """The file's JSON value; AnnotationError for anything the decoder refuses, whatever the reason."""
    if not raw.data:
        raise AnnotationError(f"{raw.origin}: empty or oversized file", source=raw.origin)
    try:
        return json.loads(raw.data)
    except RecursionError as exc:
        raise AnnotationError(f"{raw.origin}: not valid JSON (nested too deep)", source=raw.origin) from exc
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, and int digit limits
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise AnnotationError(f"{raw.origin}: not valid JSON ({reason})", source=raw.origin) from exc


def parse_file(raw: RawAnnotation) -> list[Annotation]:
    """Every record of one file, validated: one record, a list, or a {uniqueID: record} mapping.

    One bad record refuses the whole file (the file is the unit a user fixes).
    """
    obj = decode(raw)
    if _is_mapping_of_records(obj):
        entries = [(f"{raw.origin}[{k}]", v) for k, v in obj.items()]
    elif isinstance(obj, list):
        entries = [(f"{raw.origin}[{i}]", v) for i, v in enumerate(obj)]
        if not entries:
            raise AnnotationError(f"{raw.origin}: empty list of records", source=raw.origin)
    else:
        entries = [(raw.origin, obj)]
    records = [validate(rec, origin, raw.name) for origin, rec in entries]
    _check_named_id(raw, obj, records)
    return records


def _check_named_id(raw: RawAnnotation, obj: object, records: list[Annotation]) -> None:
    """A lone record in `<number>.json` must carry that uniqueID: the published files are named so.

    A flipped or edited uniqueID would otherwise relabel the pair silently (another id in the cube
    and the catalog than the file the user holds); a file of any other name is not checked.
    """
    stem = raw.name.removesuffix(".json")
    lone = isinstance(obj, dict) and not _is_mapping_of_records(obj)
    if not (lone and stem.isdigit() and len(stem) < 20):
        return
    (record,) = records
    if record.unique_id != int(stem):
        raise AnnotationError(
            f"{raw.origin}: uniqueID {record.unique_id} does not match the file name {raw.name}",
            source=raw.origin,
            frame_id=record.frame_id,
            unique_id=record.unique_id,
        )


def _is_mapping_of_records(obj: object) -> bool:
    """{uniqueID: record}: every key a number and every value an object (a lone record is not one)."""
    return (
        isinstance(obj, dict)
        and bool(obj)
        and all(isinstance(k, str) and k.isdigit() and isinstance(v, dict) for k, v in obj.items())
    )


def validate(record: object, origin: str, name: str = "") -> Annotation:
    """Validate one decoded record; AnnotationError naming `origin` and the field at fault."""
    frame, uid = _ids(record)
    try:
        return _validate(record, origin, name)
    except _Invalid as exc:
        message = f"{origin}: {exc}"
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # never another exception type
        message = f"{origin}: unreadable record ({exc.__class__.__name__}: {_show(str(exc))})"
    raise AnnotationError(message, source=origin, frame_id=frame, unique_id=uid)


def _ids(record: object) -> tuple[str | None, int | None]:
    """frameID and uniqueID as far as they can be read (for filing a refusal)."""
    if not isinstance(record, dict):
        return None, None
    frame = record.get("frameID")
    uid = record.get("uniqueID")
    return (
        frame if isinstance(frame, str) else None,
        uid if isinstance(uid, int) and not isinstance(uid, bool) else None,
    )


def _date(value: object, name: str) -> np.datetime64:
    if not isinstance(value, str) or len(value) != 8 or not value.isdigit():
        raise _Invalid(f"{name} must be a 'YYYYMMDD' string, got {_show(value)}")
    try:
        return np.datetime64(f"{value[:4]}-{value[4:6]}-{value[6:]}", "D")
    except ValueError as exc:
        raise _Invalid(f"{name} {value!r} is not a calendar date") from exc


def _int(d: dict, name: str) -> int:
    value = d[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"{name} must be an int, got {type(value).__name__} {_show(value)}")
    return value


def _str_list(d: dict, name: str) -> list[str]:
    value = d[name]
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise _Invalid(f"{name} must be a list of strings, got {_show(value)}")
    return value


def _finite(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer too large for a float
        return False


def _per_polygon(values: list[str], n: int, name: str) -> list[str]:
    """Entry i goes with polygon i; one entry applies to every polygon; extra entries are ignored."""
    if len(values) >= n:
        return values[:n]
    if len(values) == 1:
        return values * n
    raise _Invalid(f"{name} has {len(values)} entries for {n} polygon(s)")


def _polygons(d: dict, labels: list[str]) -> tuple[Polygon, ...]:
    raw = d["segmentation_mask"]
    if not isinstance(raw, list):
        raise _Invalid("segmentation_mask must be a list of flat [x1, y1, x2, y2, ...] polygons")
    n = len(raw)
    activity = _str_list(d, "activity_type")
    intensity = _str_list(d, "intensity_level")
    if n == 0:
        if activity or intensity:
            raise _Invalid("activity_type/intensity_level given without any polygon")
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
            or not all(map(_finite, coords))
        ):
            raise _Invalid(f"polygon {i} is not a flat list of at least 3 finite (x, y) points")
        if act not in _ACTIVITY:
            raise _Invalid(f"polygon {i}: unknown activity_type {_show(act)}; known: {sorted(_ACTIVITY)}")
        if inten not in _INTENSITY:
            raise _Invalid(
                f"polygon {i}: unknown intensity_level {_show(inten)}; known: {sorted(_INTENSITY)}"
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


def _validate(d: object, origin: str, name: str) -> Annotation:
    if not isinstance(d, dict):
        raise _Invalid(f"expected a JSON object, got {type(d).__name__}")
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        raise _Invalid(f"missing field(s): {', '.join(missing)}")
    uid = _int(d, "uniqueID")
    if not 0 <= uid < 10 ** schema.STRING_LENGTHS["unique_id"]:
        raise _Invalid(f"uniqueID {_show(uid)} out of range")
    frame = d["frameID"]
    if not isinstance(frame, str) or not frame:
        raise _Invalid(f"frameID must be a non-empty string, got {_show(frame)}")
    try:
        storage.safe_component(frame, what="frameID")
    except storage.UnsafePathComponentError as exc:
        raise _Invalid(str(exc)) from exc
    primary = _date(d["primary_date"], "primary_date")
    secondary = _date(d["secondary_date"], "secondary_date")
    if secondary <= primary:
        raise _Invalid(f"secondary_date {d['secondary_date']} is not after primary_date {d['primary_date']}")
    ints = {k: _int(d, k) for k in _INT_FIELDS}
    for k, v in ints.items():
        allowed = _ALLOWED.get(k, _BOOLEAN)
        if v not in allowed:
            raise _Invalid(f"{k}={_show(v)} is not one of {sorted(allowed)}")
    labels = _str_list(d, "label")
    if not labels:
        raise _Invalid("label is empty")
    unknown = [x for x in labels if x not in schema.LABELS]
    if unknown:
        raise _Invalid(f"unknown label(s) {_show(unknown)}; known: {list(schema.LABELS)}")
    phase = d["phase"]
    if not isinstance(phase, str) or phase not in schema.PHASES:
        raise _Invalid(f"unknown phase {_show(phase)}; known: {list(schema.PHASES)}")
    conf = d["confidence"]
    if not _finite(conf) or not 0.0 <= float(conf) <= 1.0:
        raise _Invalid(f"confidence must be a number in 0..1, got {_show(conf)}")
    caption = d["caption"]
    if not isinstance(caption, str) or len(caption) > schema.STRING_LENGTHS["caption"]:
        raise _Invalid(f"caption must be a string of at most {schema.STRING_LENGTHS['caption']} characters")
    polygons = _polygons(d, labels)
    negative = schema.NEGATIVE_LABEL in labels
    if negative and len(labels) > 1:
        raise _Invalid(f"label {labels} mixes {schema.NEGATIVE_LABEL} with deformation classes")
    if negative and polygons:
        raise _Invalid(f"label {labels} but {len(polygons)} deformation polygon(s) drawn")
    if not negative and not polygons:
        raise _Invalid(f"label {labels} but no segmentation polygon")
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
    return Annotation(uid, frame, primary, secondary, fields, tuple(labels), polygons, origin, name, record=d)


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
