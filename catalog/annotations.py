"""Read Hephaestus annotation JSON (tarball, folder or one JSON file) and the authors' availability index.

Every record is checked field by field, so that a malformed file is refused with its name and the
field at fault instead of turning into a wrong row of the catalog. Tarball members are matched by
file name (the real tarball carries a long absolute-looking prefix) and read in memory: nothing is
ever extracted to disk.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from hephaestus.platform import schema, storage

INT_FIELDS = schema.ANNOTATION_INT_FIELDS
LIST_FIELDS = schema.ANNOTATION_LIST_FIELDS
STR_FIELDS = schema.ANNOTATION_STR_FIELDS


class AnnotationError(ValueError):
    """An annotation file is not valid Hephaestus annotation JSON: names the file and the field."""


@dataclass(frozen=True)
class Rejected:
    """An annotation file that was skipped (with `strict=False`) and why."""

    source: str
    reason: str


def _is_date(text: str) -> bool:
    if len(text) != 8 or not text.isdigit():
        return False
    month, day = int(text[4:6]), int(text[6:8])
    return 1 <= month <= 12 and 1 <= day <= 31


def check_record(record: object, source: str) -> dict:
    """Return the record if it has every field with the published type, else raise AnnotationError."""
    if not isinstance(record, dict):
        raise AnnotationError(f"{source}: expected a JSON object, got {type(record).__name__}")
    missing = [
        k for k in ("uniqueID", *STR_FIELDS, *INT_FIELDS, *LIST_FIELDS, "confidence") if k not in record
    ]
    if missing:
        raise AnnotationError(f"{source}: missing field(s) {', '.join(missing)}")
    uid = record["uniqueID"]
    if isinstance(uid, bool) or not isinstance(uid, int) or uid < 0:
        raise AnnotationError(f"{source}: uniqueID must be a non-negative integer, got {uid!r}")
    for key in STR_FIELDS:
        if not isinstance(record[key], str):
            raise AnnotationError(f"{source}: {key} must be a string, got {type(record[key]).__name__}")
    for key in ("primary_date", "secondary_date"):
        if not _is_date(record[key]):
            raise AnnotationError(f"{source}: {key} must be YYYYMMDD, got {record[key]!r}")
    if record["secondary_date"] <= record["primary_date"]:
        raise AnnotationError(
            f"{source}: secondary_date {record['secondary_date']} is not after "
            f"primary_date {record['primary_date']}"
        )
    storage.safe_component(record["frameID"], what=f"{source}: frameID")
    for key in INT_FIELDS:
        value = record[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise AnnotationError(f"{source}: {key} must be an integer, got {value!r}")
    for key in LIST_FIELDS:
        value = record[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise AnnotationError(f"{source}: {key} must be a list of strings, got {value!r}")
    conf = record["confidence"]
    if isinstance(conf, bool) or not isinstance(conf, int | float):
        raise AnnotationError(f"{source}: confidence must be a number, got {conf!r}")
    masks = record.get("segmentation_mask", [])
    if not isinstance(masks, list) or not all(
        isinstance(p, list) and len(p) % 2 == 0 and all(isinstance(v, int | float) for v in p) for p in masks
    ):
        raise AnnotationError(
            f"{source}: segmentation_mask must be a list of flat [x1, y1, x2, y2, ...] polygons"
        )
    return record


def _parse(data: bytes, source: str) -> object:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"{source}: not valid JSON ({exc})") from exc


def _iter_tar(url: str) -> Iterator[tuple[str, bytes]]:
    """(member file name, bytes) of every *.json member, matched by file name, never extracted."""
    raw = storage.read_bytes(url)
    try:
        tar = tarfile.open(fileobj=io.BytesIO(raw), mode="r:*")
    except tarfile.TarError as exc:
        raise AnnotationError(f"{storage.redact(url)}: not a readable tar archive ({exc})") from exc
    with tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if not member.isfile() or not name.endswith(".json") or name.startswith("."):
                continue
            fh = tar.extractfile(member)
            if fh is not None:
                yield f"{storage.redact(url)}:{name}", fh.read()


def _iter_folder(url: str) -> Iterator[tuple[str, bytes]]:
    loc = storage.location(url)
    paths = sorted(
        p for p in loc.fs.find(loc.path) if p.endswith(".json") and not p.rsplit("/", 1)[-1].startswith(".")
    )
    for path in paths:
        with loc.fs.open(path, "rb") as fh:
            data = fh.read()
        yield (path if storage.is_local(url) else f"{storage.protocol_of(url)}://{path}"), data


def iter_annotation_bytes(url: str | os.PathLike[str]) -> Iterator[tuple[str, bytes]]:
    """(source name, raw bytes) of each annotation file of a tarball, a folder or one JSON file."""
    text = storage.normalize(url)
    loc = storage.location(text)
    if not loc.fs.exists(loc.path):
        raise AnnotationError(f"{storage.redact(text)}: annotations not found")
    if loc.fs.isdir(loc.path):
        yield from _iter_folder(text)
    elif text.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        yield from _iter_tar(text)
    else:
        yield storage.redact(text), storage.read_bytes(text)


def load_annotations(
    url: str | os.PathLike[str], *, strict: bool = True
) -> tuple[list[dict], list[Rejected]]:
    """All annotation records, checked; with `strict=False` bad files are set aside and reported.

    A single JSON file may hold one record, a list of records or a {uniqueID: record} mapping.
    Duplicate uniqueIDs are an error: they would make two catalog rows for one sample.
    """
    records: list[dict] = []
    rejected: list[Rejected] = []
    seen: dict[int, str] = {}
    for source, data in iter_annotation_bytes(url):
        try:
            obj = _parse(data, source)
        except AnnotationError as exc:
            if strict:
                raise
            rejected.append(Rejected(source, str(exc)))
            continue
        if isinstance(obj, dict) and "uniqueID" not in obj and obj:
            candidates = [(f"{source}[{k}]", v) for k, v in obj.items()]
        elif isinstance(obj, list):
            candidates = [(f"{source}[{i}]", v) for i, v in enumerate(obj)]
        else:
            candidates = [(source, obj)]
        for name, rec in candidates:
            try:
                rec = check_record(rec, name)
                uid = rec["uniqueID"]
                if uid in seen:
                    raise AnnotationError(f"{name}: uniqueID {uid} also in {seen[uid]}")
            except (AnnotationError, storage.UnsafePathComponentError) as exc:
                if strict:
                    raise AnnotationError(str(exc)) from exc
                rejected.append(Rejected(name, str(exc)))
                continue
            seen[uid] = name
            records.append(rec)
    if not records and not rejected:
        raise AnnotationError(f"{storage.redact(str(url))}: no annotation JSON found")
    return records, rejected


def load_available(url: str | os.PathLike[str]) -> set[int]:
    """uniqueIDs of the pairs that have a product.

    Accepts the authors' quality_timeseries.json ({frame: {primary: {uniqueID: [...]}}}) or a plain
    JSON list of uniqueIDs.
    """
    source = storage.redact(storage.normalize(url))
    try:
        obj = _parse(storage.read_bytes(storage.normalize(url)), source)
    except FileNotFoundError as exc:
        raise AnnotationError(f"{source}: availability file not found") from exc
    ids: set[int] = set()
    if isinstance(obj, list):
        values: Iterable[object] = obj
    elif isinstance(obj, Mapping):
        values = []
        for frame, groups in obj.items():
            if not isinstance(groups, Mapping):
                raise AnnotationError(f"{source}: frame {frame!r} must map primary dates to groups")
            for primary, group in groups.items():
                if not isinstance(group, Mapping) or not isinstance(group.get("uniqueID"), list):
                    raise AnnotationError(f"{source}: {frame}/{primary} has no uniqueID list")
                values.extend(group["uniqueID"])  # type: ignore[attr-defined]
    else:
        raise AnnotationError(f"{source}: expected quality_timeseries JSON or a list of uniqueIDs")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int):
            raise AnnotationError(f"{source}: uniqueID {v!r} is not an integer")
        ids.add(v)
    return ids
