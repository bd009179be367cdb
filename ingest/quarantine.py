"""Quarantine: one JSON record per refused source product, so that nothing is lost silently."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from hephaestus.platform import storage
from hephaestus.platform.layout import StoreLayout


@dataclass(frozen=True)
class QuarantineRecord:
    """A refused product: what it is, its files, why and at which stage."""

    frame: str
    product: str  # uniqueID, pair name "D1_D2", file name, or "frame"
    files: tuple[str, ...]
    reason: str
    stage: str  # scan | annotation | grid | pixels | era5
    kind: str = "pair"  # pair (one annotated pair refused) | frame | file
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def key(self) -> str:
        return StoreLayout.quarantine_name(self.frame, self.product)

    def to_json(self) -> str:
        d = asdict(self)
        d["files"] = [storage.redact(f) for f in self.files]
        return json.dumps(d, indent=1, sort_keys=True)


def write(store_url: str, record: QuarantineRecord) -> str:
    """Write (or replace) a record in the store's quarantine folder; returns its URL.

    An existing record with the same frame, product and reason is left as it is, so that a re-run
    over the same sources writes nothing.
    """
    url = StoreLayout(store_url).quarantine_record(record.frame, record.product)
    if storage.exists(url):
        try:
            old = json.loads(storage.read_bytes(url))
            if old.get("reason") == record.reason and old.get("stage") == record.stage:
                return url
        except (ValueError, OSError):
            pass
    storage.write_text_atomic(url, record.to_json())
    return url


def clear(store_url: str, frame: str, product: str) -> bool:
    """Remove the record of a product that is now ingested (a corrected file); True when one was there."""
    url = StoreLayout(store_url).quarantine_record(frame, product)
    if not storage.exists(url):
        return False
    storage.remove(url, recursive=False)
    return True
