"""Load Hephaestus annotations for the catalog (tarball, folder or one JSON file) and the authors' availability index.

Files are found, parsed and validated by the platform's annotation model (platform/annotation.py),
the same one ingest uses, so `hmc catalog from-annotations` refuses exactly what `hmc ingest`
quarantines, with the same message. Tarball members are matched by file name and read in memory:
nothing is ever extracted to disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hephaestus.platform import storage
from hephaestus.platform.annotation import (
    MAX_REFUSED_RECORDS,
    AnnotationError,
    AnnotationsNotFoundError,
    RawAnnotation,
    decode,
    iter_raw,
    parse_file,
)

__all__ = ["AnnotationError", "Rejected", "load_annotations", "load_available"]


@dataclass(frozen=True)
class Rejected:
    """An annotation file that was skipped (with `strict=False`) and why."""

    source: str
    reason: str


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
    for raw in iter_raw(storage.normalize(url)):
        try:
            anns = parse_file(raw)
            for a in anns:
                if a.unique_id in seen:
                    raise AnnotationError(
                        f"{a.origin}: uniqueID {a.unique_id} also in {seen[a.unique_id]}", source=a.origin
                    )
        except AnnotationError as exc:
            if strict:
                raise
            rejected.append(Rejected(exc.source or raw.origin, str(exc)))
            continue
        for a in anns:
            seen[a.unique_id] = a.origin
            records.append(dict(a.record))
    if len(rejected) > MAX_REFUSED_RECORDS:  # one entry listing them, not thousands
        where = storage.redact(storage.normalize(url))
        listed = ", ".join(r.source for r in rejected)
        reason = f"{len(rejected)} annotation files refused; first: {rejected[0].reason}; files: {listed}"
        rejected = [Rejected(where, reason)]
    if not records and not rejected:
        raise AnnotationError(f"{storage.redact(storage.normalize(url))}: no annotation JSON found")
    return records, rejected


def load_available(url: str | os.PathLike[str]) -> set[int]:
    """uniqueIDs of the pairs that have a product.

    Accepts the authors' quality_timeseries.json ({frame: {primary: {uniqueID: [...]}}}) or a plain
    JSON list of uniqueIDs.
    """
    text = storage.normalize(url)
    source = storage.redact(text)
    try:
        obj = decode(RawAnnotation(os.path.basename(text), source, storage.read_bytes(text)))
    except FileNotFoundError as exc:
        raise AnnotationsNotFoundError(f"{source}: availability file not found", source=source) from exc
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
